"""The shipped April 2024 defences against the reported strike reproduce the reported outcome.

Reported (calibration/sources.md S2-S6): about 170 drones, 30 cruise and 120 ballistic missiles;
about half the ballistic missiles failed; no drone reached Israel; 25 of 30 cruise missiles were
downed outside Israel; of the 55-65 ballistic missiles that flew, about 9 hit (84-86% intercepted).
Tolerances are wider than the reports' own spread because single figures from one night are noisy.
"""

from pathlib import Path

import numpy as np
import pytest

from sim.interception import LayerState, intercept
from sim.scenario import load_scenario
from sim.strikes import coordinated_waves

APRIL = load_scenario(Path(__file__).parents[1] / "scenarios" / "april-2024.yaml")
REPORTED_MIX = {"drone": 170, "cruise": 30, "ballistic": 120}


@pytest.fixture(scope="module")
def strikes():
    rng = np.random.default_rng(2024)
    outcomes = []
    for _ in range(400):
        layers = [LayerState.from_spec(spec, "israel") for spec in APRIL.actors["israel"].defence]
        waves = coordinated_waves(REPORTED_MIX, APRIL.weapons, 0.0)
        outcomes.append(intercept(waves, layers, telegraphed=True, rung=3, rng=rng))
    return outcomes


def mean(values) -> float:
    return float(np.mean(list(values)))


def test_about_nine_ballistic_missiles_hit(strikes):
    assert 5 <= mean(o.leaked["ballistic"] for o in strikes) <= 12


def test_share_of_flying_ballistic_missiles_intercepted_is_near_85_percent(strikes):
    share = mean(
        1 - o.leaked["ballistic"] / (o.launched["ballistic"] - o.failed["ballistic"])
        for o in strikes
    )
    assert 0.80 <= share <= 0.92


def test_about_half_the_ballistic_missiles_fail(strikes):
    assert 0.45 <= mean(o.failed["ballistic"] / 120 for o in strikes) <= 0.55


def test_drones_and_cruise_missiles_almost_never_get_through(strikes):
    assert mean(o.leaked["drone"] for o in strikes) < 1
    assert mean(o.leaked["cruise"] for o in strikes) < 1


def test_allies_do_much_of_the_work_against_drones(strikes):
    allied = mean(
        sum(layer.killed["drone"] for layer in o.layers if layer.operator == "us") for o in strikes
    )
    assert allied >= 70
