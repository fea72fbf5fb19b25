"""Shared defences (issue 14 item 9): strikes in the air at once share a layer's fire channels.

With ``shared_defences: true`` a layer keeps the engagements of the strikes it met
(``LayerState.committed``); a later strike finds the channels they hold busy, and their engagements
still to begin take a free channel before any of its projectiles. First the channel sharing as a
pure function of the record (no SimPy), then a tiny world whose two strikes arrive together.
"""

import numpy as np
import pytest

from sim.model.engagement import LayerRun, LayerState
from sim.model.events import Interception, StrikeLaunched, StrikeOutcome, WaveLaunched
from sim.model.interception import Wave, intercept
from sim.model.world import run_replication
from sim.scenario.loading import parse_scenario
from sim.scenario.schema import DefenceLayer, FlightTime

MINUTE = 1 / 60
"""Hours."""
FINE = MINUTE / 32
"""A fine bin of a layer whose engagement takes a minute: 32 bins per engagement."""


def two_channels(window_minutes: float = 0.0) -> DefenceLayer:
    """Two channels, a one-minute engagement, every shot a kill, a large stock."""
    return DefenceLayer(
        name="dome",
        operator="d",
        kill_probability={"rocket": 1.0},
        stock=100,
        fire_channels=2,
        engagement_minutes=1.0,
        engagement_window_minutes=window_minutes,
        unit_cost_usd=1.0,
    )


def engaged(committed, arrivals, window_minutes=0.0):
    """Projectiles engaged of ``arrivals`` (per fine bin, from the clock's hour 0) by a layer
    whose record of earlier strikes' engagements is ``committed`` (None: not shared)."""
    state = LayerState(two_channels(window_minutes), "d", 100, committed)
    fine = np.array([arrivals], dtype=np.int64)
    _, by_weapon, _ = LayerRun(state, [1.0], FINE, np.random.default_rng(0)).run(fine)
    return by_weapon[0], state


@pytest.mark.parametrize(
    ("committed", "arrivals", "expected"),
    [
        # three arrive at once at two free channels: two engaged
        ([], [3], 2),
        # an earlier strike's engagement begun half a minute before still holds one channel
        ([(-0.5 * MINUTE, 1)], [3], 1),
        # two of them hold both channels: none engaged (no window to wait in)
        ([(-0.5 * MINUTE, 2)], [3], 0),
        # engagements that ended a minute before hold nothing
        ([(-2 * MINUTE, 2)], [3], 2),
        # an earlier strike's engagement beginning in the same bin takes its channel first
        ([(0.5 * FINE, 1)], [3], 1),
        # one arrival and one held channel: channels suffice (no walk), one engaged
        ([(-0.5 * MINUTE, 1)], [1], 1),
        # engagements beginning after the arrivals' window cannot take their channels
        ([(5 * FINE, 2)], [3], 2),
        # not shared: a strike has every channel
        (None, [3], 2),
    ],
    ids=[
        "free",
        "one held",
        "both held",
        "ended before",
        "begins with it",
        "fast path",
        "begins later",
        "not shared",
    ],
)
def test_earlier_engagements_hold_channels(committed, arrivals, expected):
    assert engaged(committed, arrivals)[0] == expected


def test_a_held_channel_frees_within_a_window():
    """Three arrive with a window of one minute while both channels are held for half a minute
    more: the two channels free in time to take two of them."""
    assert engaged([(-0.5 * MINUTE, 2)], [3], window_minutes=1.0)[0] == 2


def test_a_strike_adds_its_engagements_to_the_record():
    """One entry per coarse bin of engagements begun, at the middle of the bin: three arrive
    in bin 0 and take the one free channel, two in bin 20 take the one the earlier engagement
    frees in bin 16 (half a minute after bin 0)."""
    _, state = engaged([(-0.5 * MINUTE, 1)], [3] + [0] * 19 + [2])
    assert state.committed == [(-0.5 * MINUTE, 1), (0.5 * FINE, 1), (20.5 * FINE, 1)]


def test_records_are_not_kept_when_not_shared():
    assert engaged(None, [3, 0, 2])[1].committed is None


@pytest.mark.parametrize(("shared", "second_engaged"), [(True, 0), (False, 3)])
def test_two_strikes_arriving_together(shared, second_engaged):
    """Two strikes of five rockets each arrive together at a layer of three channels busy for an
    hour: the first takes all three; the second finds none free if they share the layer."""
    spec = DefenceLayer(
        name="dome",
        operator="d",
        kill_probability={"rocket": 1.0},
        stock=50,
        fire_channels=3,
        engagement_minutes=60.0,
        engagement_window_minutes=1.0,
        unit_cost_usd=1.0,
    )
    states = [LayerState.from_spec(spec, "d", shared=shared)]
    flight = FlightTime(min_hours=0.1, mode_hours=0.1, max_hours=0.1)
    rng = np.random.default_rng(0)
    first, second = (
        intercept([Wave("rocket", 5, 0.0, flight, 0.0)], states, telegraphed=True, rung=3, rng=rng)
        for _ in range(2)
    )
    assert first.layers[0].engaged == {"rocket": 3}
    assert second.layers[0].engaged == {"rocket": second_engaged}
    assert states[0].stock == 50 - 3 - second_engaged


WORLD = """\
version: 2
name: two strikes at once
seed: 5
horizon_days: 1
shared_defences: {shared}
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  a: {{name: A, arsenal: {{rocket: 5}}}}
  c: {{name: C, arsenal: {{rocket: 5}}}}
  b:
    name: B
    defence:
      - {{name: dome, operator: b, kill_probability: {{rocket: 1.0}}, stock: 50, fire_channels: 3,
         engagement_minutes: 60, engagement_window_minutes: 1, unit_cost_usd: 100}}
opening:
  - {{day: 0, attacker: a, target: b, rung: 3, projectiles: {{rocket: 5}}}}
  - {{day: 0, attacker: c, target: b, rung: 3, projectiles: {{rocket: 5}}}}
"""


@pytest.mark.parametrize(("shared", "second"), [(True, 0), (False, 3)], ids=["shared", "own"])
def test_exact_log_of_two_strikes_sharing_a_layer(shared, second):
    """Both strikes leave at hour 0 and arrive at hour 0.1; the dome's three channels stay busy
    for an hour. The first strike flown gets all three; the second, sharing, gets none and all
    five of its rockets hit (with channels of its own it would get three)."""
    events = run_replication(parse_scenario(WORLD.format(shared=str(shared).lower())), 0)
    landed = 0.1 + 60 / 60 / 32  # the end of the fine bin (a 32nd of an engagement) they arrive in
    expected = []
    for strike, attacker in ((1, "a"), (2, "c")):
        expected += [
            StrikeLaunched(0.0, strike, attacker, "b", 3, False, "opening", (("rocket", 5),), ""),
            WaveLaunched(0.0, strike, "rocket", 5, 0.0, 0.1, 0.1),
        ]
    for strike, got in ((1, 3), (2, second)):
        stock = 50 - 3 - (got if strike == 2 else 0)
        expected.append(
            Interception(
                0.1, strike, "dome", "b", "b", "rocket", 5, got, got, got, got * 100.0, stock, True
            )
        )
    for strike, attacker, got in ((1, "a", 3), (2, "c", second)):
        expected.append(
            StrikeOutcome(
                landed, strike, attacker, "b", 3, 5, 0, got, 5 - got, 0, 0.0, 50.0, got * 100.0
            )
        )
    assert events == expected
