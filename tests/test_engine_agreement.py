"""The aggregated engine agrees in distribution with the per-projectile reference.

For each case, leakers and interceptors fired are compared over many replications with a two-sample
Kolmogorov-Smirnov test and by their means (difference within 3 standard errors).
"""

from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from sim.interception import LayerState, Wave, intercept
from sim.scenario import load_scenario
from sim.schema import DefenceLayer, FlightTime
from sim.strikes import coordinated_waves
from tests.reference_model import reference_intercept

REPLICATIONS = 300
BALLISTIC = FlightTime(min_hours=0.2, mode_hours=0.22, max_hours=0.25)
APRIL = Path(__file__).parents[1] / "scenarios" / "april-2024.yaml"


def layer(**changes) -> DefenceLayer:
    spec = {
        "name": "layer",
        "operator": "defender",
        "kill_probability": {"ballistic": 0.7},
        "stock": 1000,
        "fire_channels": 50,
        "engagement_minutes": 2.0,
        "engagement_window_minutes": 2.0,
        "shots_per_target": 1,
        "unit_cost_usd": 1.0,
    }
    return DefenceLayer(**(spec | changes))


def one_wave(count: int, failure: float = 0.2) -> list[Wave]:
    return [Wave("ballistic", count, 0.0, BALLISTIC, failure)]


def samples(engine, waves, specs, seed):
    """Leakers and interceptors fired over REPLICATIONS runs of one engine."""
    rng = np.random.default_rng(seed)
    leaked, fired = [], []
    for _ in range(REPLICATIONS):
        states = [LayerState.from_spec(s, "defender") for s in specs]
        out = engine(waves, states, telegraphed=True, rung=3, rng=rng)
        leaked.append(sum(out.leaked.values()))
        fired.append(sum(sum(lay.interceptors_fired.values()) for lay in out.layers))
    return np.array(leaked), np.array(fired)


def assert_agree(fast: np.ndarray, slow: np.ndarray, what: str) -> None:
    standard_error = np.sqrt(fast.var(ddof=1) / len(fast) + slow.var(ddof=1) / len(slow))
    gap = abs(fast.mean() - slow.mean())
    assert gap <= 3 * standard_error + 1e-12, (
        f"{what}: engine mean {fast.mean():.2f} vs reference {slow.mean():.2f} "
        f"(3 SE = {3 * standard_error:.2f})"
    )
    if fast.std() or slow.std():
        p_value = stats.ks_2samp(fast, slow, method="asymp").pvalue
        assert p_value > 0.001, f"{what}: KS p = {p_value:.2g}"


CASES = {
    "stock-limited": (one_wave(60), [layer(stock=30, shots_per_target=2)]),
    "channel-limited": (
        one_wave(80, 0.0),
        [layer(fire_channels=3, engagement_window_minutes=3.0)],
    ),
    "channel-limited, no waiting": (
        one_wave(40, 0.0),
        [layer(fire_channels=4, engagement_minutes=1.0, engagement_window_minutes=0.0)],
    ),
    "two layers, both limits": (
        one_wave(100, 0.1),
        [
            layer(name="outer", fire_channels=4, stock=25, shots_per_target=2),
            layer(
                name="inner",
                fire_channels=6,
                engagement_minutes=1.0,
                stock=40,
                kill_probability={"ballistic": 0.5},
            ),
        ],
    ),
}


@pytest.mark.parametrize("case", CASES)
def test_engine_matches_reference(case):
    waves, specs = CASES[case]
    fast_leaked, fast_fired = samples(intercept, waves, specs, seed=1)
    slow_leaked, slow_fired = samples(reference_intercept, waves, specs, seed=2)
    assert_agree(fast_leaked, slow_leaked, f"{case}: leakers")
    assert_agree(fast_fired, slow_fired, f"{case}: interceptors fired")


def test_engine_matches_reference_on_the_april_defences():
    """The reported mix, scaled down by ten, against the shipped Israeli defences."""
    scenario = load_scenario(APRIL)
    specs = list(scenario.actors["israel"].defence)
    waves = coordinated_waves({"drone": 17, "cruise": 3, "ballistic": 12}, scenario.weapons, 0.0)
    fast_leaked, fast_fired = samples(intercept, waves, specs, seed=3)
    slow_leaked, slow_fired = samples(reference_intercept, waves, specs, seed=4)
    assert_agree(fast_leaked, slow_leaked, "april: leakers")
    assert_agree(fast_fired, slow_fired, "april: interceptors fired")
