"""The interception engine: exact small cases and properties that must hold for every input."""

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.interception import LayerState, Wave, intercept, triangular_cdf
from sim.schema import DefenceLayer, FlightTime

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
    seed=st.integers(0, 2**32 - 1),
)
def test_conservation_and_stocks_for_every_input(
    specs, ballistic, drones, failure, telegraphed, seed
):
    drone_flight = FlightTime(min_hours=1.0, mode_hours=2.0, max_hours=3.0)
    waves = [
        Wave("ballistic", ballistic, 1.8, FLIGHT, failure),
        Wave("drone", drones, 0.0, drone_flight, failure),
    ]

    def run():
        states = [LayerState.from_spec(s, "d") for s in specs]
        out = intercept(
            waves, states, telegraphed=telegraphed, rung=3, rng=np.random.default_rng(seed)
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
    again, _ = run()
    assert again.leaked == out.leaked
    assert [lay.killed for lay in again.layers] == [lay.killed for lay in out.layers]
