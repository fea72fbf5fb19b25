"""Endings (issue 14 item 5): a mediated ceasefire and the round settled, as pure functions and as
tiny worlds whose exact logs end with how and when the round ended, and nothing after."""

import math

import pytest

from sim.model.endings import ceasefire_chance, ceasefire_hazard_per_day
from sim.model.events import DecisionMade, RoundEnded, StrikeLaunched, StrikeOutcome
from sim.model.memory import Accounts
from sim.model.outcomes import run_row
from sim.model.world import run_replication
from sim.scenario.dynamics import Ceasefire, Memory
from sim.scenario.loading import parse_scenario
from tests.test_memory import MEMORY, WITH_MEMORY, memory_world

# (case, ceasefire block, highest rung, costs in US dollars, mediator pressure, hazard per day)
HAZARDS = [
    ("before any strike", {}, -1, 0.0, 0.0, 0.002),
    ("rung 6: the 2006 war's pace", {}, 6, 0.0, 0.0, 0.002 * math.exp(3.0)),
    ("costs", {"rung_weight": 0.0, "cost_weight": 1.0}, 3, (math.e - 1) * 1e9, 0.0, 0.002 * math.e),
    (
        "the mediator's pressure",
        {"rung_weight": 0.0, "pressure_weight": 2.0},
        3,
        0.0,
        0.5,
        0.002 * math.e,
    ),
    ("no hazard at all", {"base_hazard_per_day": 0.0}, 6, 1e15, 1.0, 0.0),
]


@pytest.mark.parametrize(
    ("block", "rung", "costs", "pressure", "hazard"),
    [h[1:] for h in HAZARDS],
    ids=[h[0] for h in HAZARDS],
)
def test_the_ceasefire_hazard_table(block, rung, costs, pressure, hazard):
    spec = Ceasefire(mediator="m", **block)
    assert ceasefire_hazard_per_day(spec, rung, costs, pressure) == pytest.approx(hazard)


def test_the_chance_within_an_interval_is_the_exponential_of_the_hazard():
    assert ceasefire_chance(0.04, 24.0) == pytest.approx(1 - math.exp(-0.04))
    assert ceasefire_chance(0.04, 6.0) == pytest.approx(1 - math.exp(-0.01))
    assert ceasefire_chance(0.0, 24.0) == 0.0
    assert ceasefire_chance(math.exp(700), 24.0) == 1.0  # a certain ceasefire, no overflow


def test_accounts_settled_only_if_every_remembering_actor_is_within_its_tolerance():
    logged = []
    accounts = Accounts({"b": Memory(settle_tolerance=0.5)}, logged.append, lambda: 1.0)
    assert accounts.settled()
    accounts.landed(1, "a", "b", 3.0, (0.0, 0.0))  # b owes 3.0; a inflicted but keeps no memory
    assert not accounts.settled()
    accounts.landed(2, "b", "a", 2.6, (0.0, 0.0))
    assert accounts.settled()  # 0.4 left: within 0.5
    assert [(e.actor, e.unsettled, e.closed) for e in logged] == [
        ("b", 3.0, False),
        ("b", pytest.approx(0.4), True),  # b's own answer closed the matter
    ]


def test_a_settled_account_ends_the_round_when_the_last_actor_lets_it_be():
    """The memory world (b answers the raid and closes its account; a lets it be) ends there."""
    text = MEMORY.format(memory=WITH_MEMORY, rung=2, casualties=7) + "end_when_settled: true\n"
    events = run_replication(parse_scenario(text), 0)
    assert events[:-1] == memory_world()
    assert events[-1] == RoundEnded(84.0, "settled", "", 3, 0.0, 0.0)


TWO = """\
name: two
seed: 5
horizon_days: 30
weapons:
  rocket: {flight_time: {min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}, unit_cost_usd: 10}
actors:
  a:
    name: A
    policy:
      base_response_probability: 1
      delay: {median_days: 1, sigma: 0}
      packages: {2: {cost_usd: 1.0e9}}
  b:
    name: B
    policy:
      base_response_probability: 1
      delay: {median_days: 2.5, sigma: 0}
      packages: {2: {damage_usd_mean: 1000, cost_usd: 50}}
  m:
    name: Mediator
relations:
  - {kind: restrains, ally: m, restrained: a, pressure: 0.5}
opening:
  - {day: 1, attacker: a, target: b, rung: 2, casualties: 7}
"""


def test_without_memory_the_round_is_settled_when_no_answer_is_pending():
    text = TWO.replace(
        "base_response_probability: 1\n      delay: {median_days: 1",
        ("base_response_probability: 0\n      delay: {median_days: 1"),
    )
    events = run_replication(parse_scenario(text + "end_when_settled: true\n"), 0)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "StrikeLaunched",
        "StrikeOutcome",
        "DecisionMade",
        "StrikeLaunched",
        "StrikeOutcome",
        "DecisionMade",
        "RoundEnded",
    ]
    assert events[-1] == RoundEnded(84.0, "settled", "", 2, 50.0 + 1000.0, 0.0)


def ceasefire(block: str) -> list:
    return run_replication(parse_scenario(TWO + f"ceasefire: {{mediator: m, {block}}}\n"), 0)


def test_a_certain_ceasefire_ends_the_round_at_its_first_check():
    """At hazard e^15 a day the first check (day 1, after the opening left) is a ceasefire: the
    opening's outcome, b's decision and everything after are never simulated."""
    events = ceasefire("base_hazard_per_day: 1.0, rung_weight: 5.0, check_every_hours: 24")
    assert events == [
        StrikeLaunched(24.0, 1, "a", "b", 2, False, "opening", ()),
        StrikeOutcome(24.0, 1, "a", "b", 2, 0, 0, 0, 0, 7, 0.0, 0.0, 0.0),
        RoundEnded(24.0, "ceasefire", "m", 2, 0.0, pytest.approx(math.exp(10.0))),
    ]


def test_the_exchange_goes_on_to_the_horizon_without_a_hazard():
    events = ceasefire("base_hazard_per_day: 0.0")
    assert events[-1] == RoundEnded(
        30 * 24.0, "horizon", "", 2, pytest.approx(events[-1].costs_usd), 0.0
    )
    assert sum(isinstance(e, StrikeLaunched) for e in events) > 10
    assert events[:-1] == run_replication(parse_scenario(TWO), 0)  # the same run, one more record


def test_a_ceasefire_comes_sooner_the_higher_its_hazard():
    """The mediator's pressure (0.5 on a) raises the hazard: the round ends no later, draw for
    draw (the ceasefire has its own stream, so the runs are paired)."""

    def end(block):
        (ending,) = [e for e in ceasefire(block) if isinstance(e, RoundEnded)]
        return ending

    calm = end("base_hazard_per_day: 0.05, rung_weight: 0.0")
    pressed = end("base_hazard_per_day: 0.05, rung_weight: 0.0, pressure_weight: 4.0")
    assert pressed.hazard_per_day == pytest.approx(0.05 * math.exp(2.0))
    assert pressed.time_hours <= calm.time_hours
    assert not any(
        isinstance(e, DecisionMade) and e.time_hours > pressed.time_hours
        for e in ceasefire("base_hazard_per_day: 0.05, rung_weight: 0.0, pressure_weight: 4.0")
    )


def test_the_runs_row_says_how_and_when_the_round_ended():
    text = MEMORY.format(memory=WITH_MEMORY, rung=2, casualties=7) + "end_when_settled: true\n"
    row = run_row(run_replication(parse_scenario(text), 0), 0, ["a", "b"])
    assert (row["ended_how"], row["ended_day"]) == ("settled", 3.5)
    horizon = run_row(ceasefire("base_hazard_per_day: 0.0"), 0, ["a", "b", "m"])
    assert horizon["ended_how"] == "horizon" and math.isnan(horizon["ended_day"])
    assert "ended_how" not in run_row(memory_world(), 0, ["a", "b"])  # no ending: no columns
