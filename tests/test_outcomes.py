"""Outcomes of the user's choosing: the language, its errors, and values with known answers."""

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy import stats

from sim.analysis.compare import compare, outcome_indicator
from sim.analysis.outcomes import (
    OutcomeError,
    custom_outcome,
    estimate,
    layer_slug,
    parse_outcome,
    parse_outcomes,
)
from sim.scenario.loading import load_scenario
from sim.study.results import wilson_interval

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
SCENARIO = load_scenario(APRIL)
NAN = math.nan


@pytest.mark.parametrize(
    ("text", "kind", "label"),
    [
        ("rung>=6", "binary", "P(regional war)"),
        ("rung>=1", "binary", "P(rung >= 1)"),
        ("strike:israel>iran>=3", "binary", "P(israel strikes iran at rung >= 3)"),
        ("days_to_rung>=4", "numeric", "mean days to rung >= 4 (censored at the horizon)"),
        ("days_to_rung>=4<=14", "binary", "P(rung >= 4 within 14 days)"),
        ("casualties:israel", "numeric", "mean casualties suffered by israel (people)"),
        ("casualties:israel>=10", "binary", "P(casualties suffered by israel (people) >= 10)"),
        ("damage:israel", "numeric", "mean damage to israel (US dollars)"),
        ("cost:iran", "numeric", "mean cost to iran of strikes and interceptors (US dollars)"),
        ("interceptors:israel", "numeric", "mean interceptors fired by israel"),
        ("leakers:israel>0", "binary", "P(projectiles leaking onto israel > 0)"),
        ("exhausted:israel/arrow-3", "binary", "P(israel's Arrow 3 exhausted)"),
        ("exhausted:israel/david-s-sling", "binary", "P(israel's David's Sling exhausted)"),
        (
            "exchange:iran>israel",
            "numeric",
            "mean cost-exchange ratio: US$ intercepting iran over israel per US$ it spent",
        ),
        (
            " casualties : israel >= 1e2 ",
            "binary",
            "P(casualties suffered by israel (people) >= 100)",
        ),
    ],
)
def test_valid_outcomes_parse_with_their_kind_and_label(text, kind, label):
    outcome = parse_outcome(text, SCENARIO, APRIL)
    assert (outcome.kind, outcome.label) == (kind, label)
    assert outcome.horizon_days == SCENARIO.horizon_days


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("war", "outcome 'war': unknown outcome; valid forms: rung>=R, strike:ATTACKER>TARGET>=R,"),
        ("rung>=7", "outcome 'rung>=7': malformed; expected rung>=R (R a rung 0-6"),
        ("strike:israel>iran", "malformed; expected strike:ATTACKER>TARGET>=R"),
        ("casualties:israel>=ten", "malformed; expected casualties:ACTOR[>=X]"),
        ("casualties:israel>=1e999", "the threshold must be a finite number"),
        ("days_to_rung>=4<=x", "malformed; expected days_to_rung>=R[<=DAYS]"),
        ("exhausted:israel", "malformed; expected exhausted:ACTOR/LAYER"),
        (
            "casualties:isreal",
            f"outcome 'casualties:isreal': {APRIL} has no actor isreal (actors: israel, iran,",
        ),
        ("exchange:iran>isreal", "has no actor isreal"),
        (
            "exhausted:israel/arrow3",
            f"outcome 'exhausted:israel/arrow3': {APRIL}: israel has no defence layer arrow3 "
            "(layers: allied-fighters-us-uk-jordan-france, us-navy-sm-3-destroyers,",
        ),
        ("exhausted:us/arrow-3", "us has no defence layer arrow-3 (layers: none)"),
    ],
)
def test_bad_outcomes_get_one_line_errors_saying_what_is_valid(text, message):
    with pytest.raises(OutcomeError) as caught:
        parse_outcome(text, SCENARIO, APRIL)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_outcome_lists_refuse_none_and_repeats():
    with pytest.raises(OutcomeError, match="no outcome given"):
        parse_outcomes([], SCENARIO)
    with pytest.raises(OutcomeError, match="outcome 'rung>=3' given twice"):
        parse_outcomes(["rung>=3", "rung >= 3"], SCENARIO)


def test_layer_slugs():
    assert layer_slug("Arrow 3") == "arrow-3"
    assert layer_slug("Iranian SAMs (S-300, Bavar-373)") == "iranian-sams-s-300-bavar-373"


def hand_made() -> tuple[pd.DataFrame, pd.DataFrame]:
    """Three runs, listed out of replication order, and their events, with known totals."""
    runs = pd.DataFrame(
        {
            "replication": [2, 0, 1],
            "max_rung": [6, 4, 2],
            "path": ["iran>israel:3 israel>iran:6", "israel>iran:2 iran>israel:4", "iran>us:2"],
            "first_day_rung_4": [30.0, 10.0, NAN],
            "casualties_israel": [20, 5, 0],
            "damage_usd_israel": [3e6, 1e6, 0.0],
            "cost_usd_iran": [7e6, 2e6, 1e5],
        }
    )

    def interception(rep, layer, operator, fired, stock):
        return {
            "replication": rep,
            "kind": "interception",
            "layer": layer,
            "operator": operator,
            "defended": "israel",
            "interceptors_fired": fired,
            "stock_after": stock,
        }

    def outcome(rep, attacker, target, leaked, defended, spent):
        return {
            "replication": rep,
            "kind": "outcome",
            "attacker": attacker,
            "target": target,
            "leaked": leaked,
            "defender_cost_usd": defended,
            "attacker_cost_usd": spent,
        }

    events = pd.DataFrame(
        [
            interception(0, "Arrow 3", "israel", 3, 10),
            interception(0, "Allied fighters", "us", 7, 50),
            interception(0, "Arrow 2", "israel", 2, 0),
            interception(2, "Arrow 3", "israel", 4, 2),
            interception(2, "Arrow 3", "israel", 1, 0),
            outcome(0, "iran", "israel", 2, 300.0, 100.0),
            outcome(1, "iran", "us", 0, 0.0, 10.0),
            outcome(2, "iran", "israel", 0, 50.0, 100.0),
            outcome(2, "israel", "iran", 9, 0.0, 500.0),
        ]
    )
    return runs, events


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("rung>=4", [1, 0, 1]),
        ("strike:iran>israel>=4", [1, 0, 0]),
        ("days_to_rung>=4", [10, 90, 30]),
        ("days_to_rung>=4<=20", [1, 0, 0]),
        ("casualties:israel", [5, 0, 20]),
        ("casualties:israel>=10", [0, 0, 1]),
        ("damage:israel<1e6", [0, 1, 0]),
        ("cost:iran", [2e6, 1e5, 7e6]),
        ("interceptors:israel", [5, 0, 5]),
        ("interceptors:us", [7, 0, 0]),
        ("leakers:israel", [2, 0, 0]),
        ("leakers:iran", [0, 0, 9]),
        ("exchange:iran>israel", [3.0, NAN, 0.5]),
        ("exchange:iran>israel>1", [1, 0, 0]),
        ("exhausted:israel/arrow-3", [0, 0, 1]),
        ("exhausted:israel/arrow-2", [1, 0, 0]),
    ],
)
def test_values_on_a_hand_made_table(text, expected):
    runs, events = hand_made()
    values = parse_outcome(text, SCENARIO, APRIL).values(runs, events)
    np.testing.assert_array_equal(values, np.array(expected, dtype=float))


def test_censoring_and_estimates_of_known_values():
    runs, events = hand_made()
    days = parse_outcome("days_to_rung>=4", SCENARIO)
    values = days.values(runs, events)
    assert days.censored(values) == pytest.approx(1 / 3)
    assert parse_outcome("casualties:israel", SCENARIO).censored(np.array([5.0])) == 0
    mean = estimate(values, "numeric")
    low, high = stats.t.interval(0.95, 2, loc=np.mean(values), scale=stats.sem(values))
    assert mean == pytest.approx({"estimate": 130 / 3, "ci_low": low, "ci_high": high, "n": 3})
    ratio = estimate(
        parse_outcome("exchange:iran>israel", SCENARIO).values(runs, events), "numeric"
    )
    assert ratio["estimate"] == 1.75 and ratio["n"] == 2
    share = estimate(np.array([1.0, 0.0, 1.0]), "binary")
    wilson = wilson_interval(np.array([2]), np.array([3]))
    assert share == pytest.approx(
        {"estimate": 2 / 3, "ci_low": wilson[0][0], "ci_high": wilson[1][0], "n": 3}
    )


def test_an_outcome_that_needs_events_says_so_without_them():
    runs, _ = hand_made()
    with pytest.raises(OutcomeError, match="needs the events of its runs"):
        outcome_indicator(runs, "interceptors:israel")
    with pytest.raises(OutcomeError, match="parse it with its scenario"):
        parse_outcome("days_to_rung>=4").values(runs)


def events_in_run(row, events):
    """A custom outcome: how many events the run logged, plus its highest rung."""
    return len(events) + row["max_rung"]


def israel_struck_iran(row, events):
    return "israel>iran" in row["path"]


def test_a_python_function_over_a_runs_row_and_events():
    runs, events = hand_made()
    counted = custom_outcome(events_in_run)
    assert (counted.text, counted.kind, counted.label) == (
        "events_in_run",
        "numeric",
        "events_in_run",
    )
    np.testing.assert_array_equal(counted.values(runs, events), [4 + 4, 1 + 2, 4 + 6])
    struck = custom_outcome(israel_struck_iran, "israel hits iran", binary=True)
    assert struck.kind == "binary"
    np.testing.assert_array_equal(struck.values(runs, events), [1, 0, 1])
    with pytest.raises(
        OutcomeError, match="returned 3 for replication 0; expected True/False or 0/1"
    ):
        custom_outcome(lambda row, ev: 3, "three", binary=True).values(runs, events)
    with pytest.raises(OutcomeError, match="returned 'x' for replication 0; expected a number"):
        custom_outcome(lambda row, ev: "x", "text").values(runs, events)


@given(
    casualties=st.lists(st.integers(0, 10_000), min_size=1, max_size=30),
    threshold=st.floats(-1e5, 1e5, allow_nan=False),
)
def test_a_threshold_is_the_comparison_for_every_input(casualties, threshold):
    runs = pd.DataFrame({"replication": range(len(casualties)), "casualties_israel": casualties})
    values = parse_outcome(f"casualties:israel>={threshold!r}", SCENARIO).values(runs)
    np.testing.assert_array_equal(values, np.array(casualties) >= threshold)
    result = estimate(values, "binary")
    assert result["ci_low"] <= result["estimate"] <= result["ci_high"]


@given(st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=2, max_size=40))
def test_a_mean_lies_within_its_interval_for_every_sample(values):
    result = estimate(np.array(values), "numeric")
    tolerance = 1e-9 * max(1.0, abs(result["estimate"]))
    assert result["ci_low"] - tolerance <= result["estimate"] <= result["ci_high"] + tolerance
    assert result["n"] == len(values)


def test_compare_estimates_numeric_and_event_outcomes_from_each_settings_study(tmp_path):
    outcomes = ["casualties:israel", "interceptors:israel", "exhausted:israel/arrow-3"]
    table = compare(
        APRIL,
        ["strong: restrains[us>israel].pressure=1"],
        n=60,
        out=tmp_path,
        outcomes=outcomes,
        executor="serial",
    )
    base = table[table.setting == "april-2024"].set_index("outcome")
    runs = pd.read_parquet(tmp_path / "april-2024" / "runs.parquet")
    events = pd.read_parquet(tmp_path / "april-2024" / "events.parquet")
    assert base.loc["casualties:israel", "estimate"] == runs["casualties_israel"].mean()
    fired = events[(events.kind == "interception") & (events.operator == "israel")]
    assert base.loc["interceptors:israel", "estimate"] == fired.interceptors_fired.sum() / 60
    assert base.loc["casualties:israel", "kind"] == "numeric"
    assert np.isnan(base.loc["casualties:israel", "probability"])
    assert (
        base.loc["exhausted:israel/arrow-3", "probability"]
        == base.loc["exhausted:israel/arrow-3", "estimate"]
    )
    assert table.label.tolist()[:3] == [parse_outcome(o, SCENARIO).label for o in outcomes]
    assert table.estimate.nunique() > 2  # the outcomes differ: the checks above say something


V1 = ROOT / "scenarios" / "april-2024-v1-mechanisms.yaml"
STILL = load_scenario(V1)  # version-1 mechanisms: no ceasefire, no settled ending
SETTLING = load_scenario(V1, {"end_when_settled": True})


def test_endings_parse_only_for_a_scenario_that_can_end():
    with pytest.raises(OutcomeError) as caught:
        parse_outcome("ended:settled", STILL, V1)
    assert str(caught.value) == (
        f"outcome 'ended:settled': {V1} cannot end that way before the horizon "
        "(ceasefire: not set, end_when_settled: false)"
    )
    with pytest.raises(OutcomeError, match="cannot end that way"):
        parse_outcome("days_to_end", STILL, V1)
    with pytest.raises(OutcomeError, match="cannot end that way"):
        parse_outcome("ended:ceasefire", SETTLING, V1)
    assert parse_outcome("ended:ceasefire", SCENARIO).label == "P(round ended: ceasefire)"
    assert parse_outcome("ended:settled", SETTLING).label == "P(round ended: settled)"
    assert parse_outcome("days_to_end", SETTLING).kind == "numeric"
    assert parse_outcome("days_to_end<=30", SETTLING).label == "P(days to the end <= 30)"


def test_ending_values_on_a_hand_made_table():
    runs = pd.DataFrame(
        {
            "replication": [2, 0, 1],
            "ended_how": ["ceasefire", "settled", "horizon"],
            "ended_day": [30.0, 12.0, NAN],
        }
    )
    assert parse_outcome("ended:settled").values(runs).tolist() == [1, 0, 0]
    assert parse_outcome("ended:ceasefire").values(runs).tolist() == [0, 0, 1]
    assert parse_outcome("ended:any").values(runs).tolist() == [1, 0, 1]
    days = parse_outcome("days_to_end", SETTLING)
    values = days.values(runs)
    assert values.tolist() == [12, 90, 30] and days.censored(values) == pytest.approx(1 / 3)
    assert parse_outcome("days_to_end<=20", SETTLING).values(runs).tolist() == [1, 0, 0]


@pytest.mark.parametrize(
    ("sd", "n", "confidence", "expected"),
    [
        (2.0, 4, 0.95, 3.182446305284263),
        (1.0, 2, 0.90, 6.313752 / math.sqrt(2)),
        (3.0, 1, 0.95, math.nan),
    ],
)
def test_the_student_t_half_width_is_the_textbook_one(sd, n, confidence, expected):
    from sim.study.summary import t_half_width

    assert t_half_width(sd, n, confidence) == pytest.approx(expected, rel=1e-3, nan_ok=True)
