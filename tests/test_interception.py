"""The interception engine: exact small cases and properties that must hold for every input."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.engagement import LayerRun
from sim.model.interception import LayerState, Wave, _wave_arrivals, intercept, triangular_cdf
from sim.scenario.schema import DefenceLayer, FlightTime

FLIGHT = FlightTime(min_hours=0.2, mode_hours=0.22, max_hours=0.25)


def layer(**changes) -> DefenceLayer:
    spec = {
        "name": "layer",
        "operator": "defender",
        "kill_probability": {"ballistic": 0.7},
        "stock": 1000,
        "fire_channels": 1000,
        "engagement_minutes": 1.0,
        "engagement_window_minutes": 5.0,
        "shots_per_target": 1,
        "unit_cost_usd": 1.0,
    }
    return DefenceLayer(**(spec | changes))


def strike(count, specs, *, failure=0.0, telegraphed=True, rung=3, seed=0, weapon="ballistic"):
    states = [LayerState.from_spec(s, "defender") for s in specs]
    waves = [Wave(weapon, count, 0.0, FLIGHT, failure)]
    out = intercept(
        waves, states, telegraphed=telegraphed, rung=rung, rng=np.random.default_rng(seed)
    )
    return out, states


def test_certain_kills_with_ample_channels_and_stock_stop_everything():
    out, states = strike(50, [layer(kill_probability={"ballistic": 1.0})])
    assert out.leaked == {"ballistic": 0}
    assert out.layers[0].killed == {"ballistic": 50}
    assert states[0].stock == 950


def test_shots_per_target_is_the_firing_doctrine():
    out, states = strike(20, [layer(shots_per_target=2, kill_probability={"ballistic": 1.0})])
    assert out.layers[0].interceptors_fired == {"ballistic": 40}
    assert states[0].stock == 960


def test_partial_salvo_when_the_stock_runs_out():
    out, states = strike(20, [layer(stock=5, shots_per_target=2)])
    assert out.layers[0].engaged == {"ballistic": 3}
    assert out.layers[0].interceptors_fired == {"ballistic": 5}
    assert states[0].stock == 0


def test_empty_stock_or_inactive_layer_does_nothing():
    for spec, kwargs in [
        (layer(stock=0), {}),
        (layer(requires_warning=True), {"telegraphed": False}),
        (layer(min_rung=4), {"rung": 3}),
        (layer(kill_probability={"drone": 0.9}), {}),
    ]:
        out, states = strike(30, [spec], **kwargs)
        assert out.leaked == {"ballistic": 30}
        assert sum(out.layers[0].interceptors_fired.values()) == 0
        assert states[0].stock == spec.stock


def test_warning_and_rung_switch_a_layer_on():
    certain = {"ballistic": 1.0}
    for spec, kwargs in [
        (layer(requires_warning=True, kill_probability=certain), {"telegraphed": True}),
        (layer(min_rung=3, kill_probability=certain), {"rung": 3}),
        (layer(min_rung=3, kill_probability=certain), {"rung": 5}),
    ]:
        out, states = strike(30, [spec], **kwargs)
        assert out.layers[0].active
        assert out.leaked == {"ballistic": 0}
        assert states[0].stock == spec.stock - 30


def test_layers_pass_on_what_they_do_not_kill():
    outer = layer(name="outer", stock=10, kill_probability={"ballistic": 1.0})
    inner = layer(name="inner", stock=15, kill_probability={"ballistic": 1.0})
    out, states = strike(40, [outer, inner])
    assert [lay.entered for lay in out.layers] == [{"ballistic": 40}, {"ballistic": 30}]
    assert [lay.killed for lay in out.layers] == [{"ballistic": 10}, {"ballistic": 15}]
    assert out.leaked == {"ballistic": 15}
    assert [s.stock for s in states] == [0, 0]


def test_stock_carries_over_between_strikes_and_is_never_refilled():
    states = [LayerState.from_spec(layer(stock=25, shots_per_target=2), "defender")]
    rng = np.random.default_rng(3)
    fired = []
    for _ in range(3):
        out = intercept(
            [Wave("ballistic", 10, 0.0, FLIGHT, 0.0)], states, telegraphed=True, rung=3, rng=rng
        )
        fired.append(out.layers[0].interceptors_fired["ballistic"])
    assert fired == [20, 5, 0]
    assert states[0].stock == 0


def test_failures_never_reach_the_defences():
    out, _ = strike(100, [layer()], failure=1.0)
    assert out.failed == {"ballistic": 100}
    assert out.layers[0].entered == {"ballistic": 0}


def test_one_channel_without_waiting_engages_little_of_a_dense_salvo():
    out, _ = strike(
        200, [layer(fire_channels=1, engagement_minutes=2.0, engagement_window_minutes=0.0)]
    )
    assert out.layers[0].engaged["ballistic"] <= 3


def test_triangular_cdf_matches_scipy():
    from scipy import stats

    hours = np.linspace(0.1, 0.3, 41)
    expected = stats.triang(c=0.4, loc=0.2, scale=0.05).cdf(hours)
    assert np.allclose(triangular_cdf(hours, FLIGHT), expected)


def test_a_channel_freed_late_catches_a_waiting_cohort_with_the_continuous_chance():
    """Window 1.5 coarse bins: a channel freed one bin after the arrival bin takes the cohort if it
    frees before U + 0.5 (U, V uniform): 1 - 0.5**2 / 2; two bins after, if V < U - 0.5: 0.5**2 / 2."""
    spec = layer(engagement_minutes=2.0, engagement_window_minutes=1.5 * 2.0 / 32)
    fine_width = 2.0 / 60 / 32
    run = LayerRun(LayerState.from_spec(spec, "d"), [0.7], fine_width, np.random.default_rng(0))
    assert run.factor == 1 and run.release_bins == 32 and run.reach == 2
    assert [run._catch(age) for age in (0, 1, 2)] == [1.0, 0.875, 0.125]


def test_arrivals_sampled_or_multinomial_follow_the_flight_time_distribution():
    wave = Wave("ballistic", 0, 1.0, FLIGHT, 0.0)
    start, width, bins = 1.2, 0.0025, 21
    edges = start + width * np.arange(bins + 1) - wave.launch_hours
    expected = np.diff(triangular_cdf(edges, FLIGHT))
    rng = np.random.default_rng(5)
    for n, draws in [(20, 3000), (60_000, 1)]:
        counts = sum(_wave_arrivals(wave, n, start, width, bins, rng) for _ in range(draws))
        assert counts.sum() == n * draws
        chi2 = ((counts - n * draws * expected) ** 2 / (n * draws * expected + 1e-12)).sum()
        assert chi2 < 45, (n, chi2)  # 20 degrees of freedom: P(chi2 > 45) < 0.001


def test_fixed_flight_time_lands_every_projectile_in_one_bin():
    fixed = FlightTime(min_hours=0.5, mode_hours=0.5, max_hours=0.5)
    for n in (3, 10_000):
        counts = _wave_arrivals(
            Wave("x", n, 0.0, fixed, 0.0), n, 0.5, 0.01, 2, np.random.default_rng(0)
        )
        assert counts.tolist() == [n, 0]


layers_strategy = st.lists(
    st.builds(
        layer,
        kill_probability=st.fixed_dictionaries(
            {}, optional={"ballistic": st.floats(0, 1), "drone": st.floats(0, 1)}
        ).filter(bool),
        stock=st.integers(0, 60),
        fire_channels=st.integers(1, 8),
        engagement_minutes=st.floats(0.2, 5),
        engagement_window_minutes=st.floats(0, 10),
        shots_per_target=st.integers(1, 3),
        requires_warning=st.booleans(),
        min_rung=st.integers(0, 6),
    ),
    min_size=1,
    max_size=4,
)


@settings(max_examples=60, deadline=None)
@given(
    specs=layers_strategy,
    ballistic=st.integers(0, 150),
    drones=st.integers(0, 150),
    failure=st.floats(0, 1),
    telegraphed=st.booleans(),
    rung=st.integers(0, 6),
    seed=st.integers(0, 2**32 - 1),
)
def test_conservation_and_stocks_for_every_input(
    specs, ballistic, drones, failure, telegraphed, rung, seed
):
    drone_flight = FlightTime(min_hours=1.0, mode_hours=2.0, max_hours=3.0)
    waves = [
        Wave("ballistic", ballistic, 1.8, FLIGHT, failure),
        Wave("drone", drones, 0.0, drone_flight, failure),
    ]

    def run():
        states = [LayerState.from_spec(s, "d") for s in specs]
        out = intercept(
            waves, states, telegraphed=telegraphed, rung=rung, rng=np.random.default_rng(seed)
        )
        return out, states

    out, states = run()
    for weapon in out.weapons:
        intercepted = sum(lay.killed[weapon] for lay in out.layers)
        assert out.launched[weapon] == out.failed[weapon] + intercepted + out.leaked[weapon]
        flying = out.launched[weapon] - out.failed[weapon]
        assert out.layers[0].entered[weapon] == flying
        for outer, inner in zip(out.layers, out.layers[1:], strict=False):
            assert inner.entered[weapon] == outer.entered[weapon] - outer.killed[weapon]
        for lay in out.layers:
            assert 0 <= lay.killed[weapon] <= lay.engaged[weapon] <= lay.entered[weapon]
    for spec, state, lay in zip(specs, states, out.layers, strict=True):
        fired = sum(lay.interceptors_fired.values())
        assert 0 <= state.stock == spec.stock - fired
        assert lay.stock_after == state.stock
        engaged = sum(lay.engaged.values())
        assert engaged <= fired <= engaged * spec.shots_per_target
        assert fired == engaged * spec.shots_per_target or state.stock == 0
        switched_on = (
            rung >= spec.min_rung
            and (telegraphed or not spec.requires_warning)
            and any(w in out.launched for w in spec.kill_probability)
        )
        assert lay.active == switched_on
        if not switched_on:
            assert engaged == fired == 0
    again, _ = run()
    assert again == out
