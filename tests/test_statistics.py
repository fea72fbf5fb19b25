"""The statistics a calibration target may name: parsed from the name, computed from one run's
log (a table of cases on a hand-built log, no SimPy; then a tiny world with an exact expectation),
and the distance of whole tables equal to the distance of one value."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.calibration.statistics import KINDS, Statistic, layer_names, vocabulary
from sim.calibration.targets import (
    Target,
    graded,
    graded_rows,
    table_distance,
    target_distances,
)
from sim.model.events import (
    DecisionMade,
    HistoryStruck,
    Interception,
    RoundEnded,
    StrikeLaunched,
    StrikeOutcome,
    Unclaimed,
)
from sim.model.rng import Streams
from sim.model.world import World
from sim.scenario.loading import load_scenario, parse_scenario
from tests.test_history import HISTORY

MIX = (("ballistic", 120), ("cruise", 30), ("drone", 170))


def strike(sid, hours, attacker, target, rung, cause="struck", projectiles=(), telegraphed=False):
    return StrikeLaunched(hours, sid, attacker, target, rung, telegraphed, cause, projectiles)


def met(layer, weapon, entered, intercepted):
    return Interception(301.0, 2, layer, "israel", "israel", weapon, entered, entered,
                        intercepted, 0, 0.0, 0, True)  # fmt: skip


def decision(actor, trigger, pressure):
    return DecisionMade(306.0, actor, trigger, "struck", "iran", 3, 0, 0.0, 0.9, pressure, 0.0,
                        0.5, True, "iran", 3, 24.0, False)  # fmt: skip


LOG = [
    HistoryStruck(0.0, -48.0, -1, "israel", "iran", 2, False, (), 0, 0, 3, 0.0),
    strike(1, 0.0, "israel", "iran", 2, cause="opening", projectiles=(("standoff", 6),)),
    strike(2, 300.0, "iran", "israel", 3, projectiles=MIX, telegraphed=True),
    met("SM-3", "ballistic", 60, 10),
    met("Arrow 3", "ballistic", 50, 35),
    met("fighters", "drone", 170, 170),
    StrikeOutcome(306.0, 2, "iran", "israel", 3, 320, 60, 251, 9, 0, 0.0, 0.0, 0.0),
    decision("israel", 2, 0.6),
    strike(3, 320.0, "hezbollah", "israel", 4, cause="ordered by patron"),
    Unclaimed(320.0, 3, "hezbollah", "israel"),
    strike(4, 400.0, "iran", "israel", 3),
    Unclaimed(400.0, 4, "iran", "israel"),
    strike(5, 410.0, "israel", "iran", 4),
    strike(6, 500.0, "iran", "israel", 3),
    RoundEnded(600.0, "ceasefire", "us", 4, 0.0, 0.0),
]
"""A hand-built log: a history strike and an opening strike by Israel (neither is "in the run"),
Iran's answer (strike 2) with its defences, Hezbollah's unclaimed strike, an unprovoked Iranian
repeat (4), Israel's answer (5), a provoked Iranian strike (6), and a ceasefire on day 25."""

NAN = math.nan
CASES = {
    "answered[iran>israel]": 1,
    "answered[us>iran]": 0,
    "answered[israel>iran]": 1,  # strike 5: the opening is not an answer
    "answer_delay_days[iran>israel]": 300 / 24,  # from the opening (hour 0), not the history
    "answer_delay_days[israel>iran]": 10 / 24,  # from strike 4, the latest on Israel before 5
    "answer_delay_days[hezbollah>israel]": NAN,  # Israel never struck Hezbollah
    "answer_rung[iran>israel]": 3,
    "answer_rung[us>iran]": NAN,
    "answer_telegraphed[iran>israel]": 1,
    "answer_telegraphed[israel>iran]": 0,
    "answer_claimed[iran>israel]": 1,
    "answer_claimed[hezbollah>israel]": 0,
    "answer_projectiles[iran>israel]": 320,
    "answer_weapon_share[iran>israel:drone]": 170 / 320,
    "answer_weapon_share[iran>israel:all]": 1,
    "answer_weapon_share[iran>israel:rocket]": 0,
    "answer_weapon_share[israel>iran:drone]": NAN,  # strike 5 launched no projectiles
    "answer_intercepted_share[iran>israel:ballistic]": 45 / 60,  # 60 flew into the first layer
    "answer_intercepted_share[iran>israel:all]": 215 / 230,
    "answer_intercepted_share[iran>israel:cruise]": NAN,  # no layer met a cruise missile
    "answer_stopped_share[iran>israel]": 1 - 9 / 320,
    "answer_stopped_share[israel>iran]": NAN,
    "answer_layer_share[iran>israel:ballistic:Arrow 3]": 35 / 120,
    "answer_layer_share[iran>israel:all:fighters]": 170 / 320,
    "answer_layer_share[iran>israel:cruise:SM-3]": 0,
    "strikes[iran>israel]": 3,
    "strikes[israel>iran]": 1,
    "strikes[us>iran]": 0,
    "unprovoked_repeats[iran>israel]": 1,  # strike 4; strike 6 followed Israel's strike 5
    "unprovoked_repeats[us>iran]": 0,
    "restrained[israel]": 1,
    "restrained[iran]": 0,
    "max_rung_by[hezbollah]": 4,
    "max_rung_by[israel]": 4,
    "max_rung_by[us]": -1,
    "ended[ceasefire]": 1,
    "ended[settled]": 0,
    "ended_day": 25,
}


@pytest.mark.parametrize("name", CASES, ids=list(CASES))
def test_each_statistic_of_a_hand_built_log(name):
    value = Statistic.parse(name).of(LOG)
    expected = CASES[name]
    assert (math.isnan(value) and math.isnan(expected)) or value == pytest.approx(expected)


def test_every_kind_is_covered_by_the_table():
    assert {Statistic.parse(n).kind for n in CASES} == set(KINDS)


def test_a_round_that_did_not_end_has_no_ending_day():
    horizon = [*LOG[:-1], RoundEnded(720.0, "horizon", "", 4, 0.0, 0.0)]
    assert Statistic.parse("ended[ceasefire]").of(horizon) == 0
    assert math.isnan(Statistic.parse("ended_day").of(horizon))


BAD_NAMES = {
    "nonsense[a>b]": "not a statistic of a run; valid names: answered[A>B], ",
    "answered": "answered needs arguments: write answered[A>B]",
    "answered[iran]": "write answered[A>B], got answered[iran]",
    "answered[iran>]": "write answered[A>B], got answered[iran>]",
    "answer_weapon_share[iran>israel]": "write answer_weapon_share[A>B:W]",
    "answer_layer_share[iran>israel:drone]": "write answer_layer_share[A>B:W:LAYER]",
    "restrained[us>israel]": "write restrained[A], got restrained[us>israel]",
    "ended_day[5]": "ended_day takes no arguments: write ended_day",
}


@pytest.mark.parametrize("name", BAD_NAMES, ids=list(BAD_NAMES))
def test_a_malformed_name_says_how_to_write_it(name):
    with pytest.raises(ValueError, match="^" + BAD_NAMES[name].replace("[", r"\[")):
        Statistic.parse(name)


def test_names_the_scenario_lacks_are_listed_with_the_valid_ones():
    april = load_scenario("scenarios/april-2024.yaml", {"parameters_from": None})
    layers = layer_names(april)
    assert "Arrow 3" in layers and "Iron Dome" in layers
    said = Statistic.parse("answer_layer_share[iran>isreal:laser:Arrow 4]").problems(april)
    assert said == [
        "no actor 'isreal' in the scenario; known: israel, iran, us, hezbollah",
        "no weapon 'laser' in the scenario; known: drone, cruise, ballistic, rocket, standoff, "
        "tomahawk, all",
        f"no layer 'Arrow 4' in the scenario; known: {', '.join(layers)}",
    ]
    assert Statistic.parse("ended[forever]").problems(april) == [
        "'forever' is not an ending; known: settled, ceasefire"
    ]
    assert (
        Statistic.parse("answer_layer_share[iran>israel:ballistic:Arrow 3]").problems(april) == []
    )
    assert "ended_day" in vocabulary() and "answer_layer_share[A>B:W:LAYER]" in vocabulary()


def test_statistics_of_a_tiny_world_with_an_exact_log():
    """tests/test_history.py's world: b struck a 12 hours before the clock started (history);
    a answers at hour 48 with 4 rockets (b has no defence), b answers at about hour 72.1 with 5,
    all shot down by a's dome; nothing ends the round before its 4 days."""
    events = World(parse_scenario(HISTORY.format(memory="", extra="")), Streams(5, 0)).run()
    expected = {
        "answered[a>b]": 1, "answer_delay_days[a>b]": (48 + 12) / 24, "answer_rung[a>b]": 3,
        "answer_projectiles[a>b]": 4, "answer_weapon_share[a>b:rocket]": 1,
        "answer_intercepted_share[a>b:rocket]": NAN, "answer_stopped_share[a>b]": 0,
        "answer_claimed[a>b]": 1, "answer_telegraphed[a>b]": 0,
        "answer_delay_days[b>a]": (72.1 - 48) / 24, "answer_intercepted_share[b>a:all]": 1,
        "answer_layer_share[b>a:rocket:dome]": 1, "answer_stopped_share[b>a]": 1,
        "strikes[a>b]": 1, "strikes[b>a]": 1, "unprovoked_repeats[b>a]": 0,
        "restrained[a]": 0, "max_rung_by[b]": 3, "ended[settled]": 0, "ended_day": NAN,
    }  # fmt: skip
    for name, value in expected.items():
        got = Statistic.parse(name).of(events)
        assert (math.isnan(got) and math.isnan(value)) or got == pytest.approx(value, abs=0.01), (
            name
        )


finite = st.floats(-50, 50, allow_nan=False)
values = st.one_of(finite, st.just(math.nan))


@given(observed=finite, below=st.floats(0, 20), above=st.floats(0, 20), binary=st.booleans(),
       simulated=st.lists(values, min_size=1, max_size=8))  # fmt: skip
def test_table_distance_is_the_distance_of_each_value(observed, below, above, binary, simulated):
    """The vectorised distance (used on reference tables) agrees with ``Target.distance`` (used
    in the fit) for any observed value, tolerance and simulated values, NaN included."""
    target = Target("t", observed, observed - below, observed + above, "r", binary=binary)
    vector = target_distances(np.array(simulated), observed, below, above, binary)
    assert vector.tolist() == pytest.approx([target.distance(v) for v in simulated])


def test_table_distance_moves_tolerances_to_the_observed_row_and_combines_by_grading():
    delay = Target("d", 12.0, 7.0, 21.0, "r")
    answered = Target("a", 1.0, 1.0, 1.0, "r", binary=True)
    distance = table_distance([(1.0, (delay, answered)), (0.5, (answered,))])
    rows = np.array([[10.0, 1.0, 1.0], [10.0, 1.0, 0.0], [NAN, 0.0, 1.0], [20.0, 0.0, 0.0]])
    # Observed 10 with the range [-5, +9] around it. Row 0 is exact; row 1 misses the episode of
    # weight 1/2 (2 x 0.5 = 1, within); row 2: episode 1 is 1 + (2 + 1) / 2 = 2.5 (undefined
    # delay, missed answer), episode 2 is 0, so 1 + 1.5 / 2; row 3: delay 10/9 and a miss give
    # 1 + (1/9 + 1) / 2 for episode 1, and episode 2 is 1, so 1 + (5/9) / 2.
    expected = [0, 1, 1.75, 1 + 5 / 18]
    assert distance(rows, np.array([10.0, 1.0, 1.0])).tolist() == pytest.approx(expected)
    # Observed NaN: only a NaN reproduces it; row 3 is 1 + (3 - 1) / 2 = 2 for episode 1 and
    # misses episode 2 (1), so 1 + 1 / 2.
    expected = [1.75, 1.75, 0, 1.5]
    assert distance(rows, np.array([NAN, 0.0, 1.0])).tolist() == pytest.approx(expected)


@given(st.lists(st.floats(0, 3), min_size=1, max_size=10))
def test_graded_distance_is_within_tolerance_exactly_when_every_distance_is(distances):
    combined = graded(distances)
    assert (combined <= 1) == (max(distances) <= 1)
    if combined <= 1:
        assert combined == max(distances)
    assert graded_rows(np.array([distances]))[0] == pytest.approx(combined)
