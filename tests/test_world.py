"""Tiny hand-built worlds with exact event logs, and properties of the shipped scenarios."""

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.events import (
    DecisionMade,
    Interception,
    StrikeCapReached,
    StrikeLaunched,
    StrikeOutcome,
)
from sim.scenario import load_scenario, parse_scenario
from sim.world import run_replication

SCENARIOS = sorted((Path(__file__).parents[1] / "scenarios").glob("*.yaml"))
APRIL = load_scenario(SCENARIOS[0].parent / "april-2024.yaml")

TINY = """\
name: tiny
seed: 1
horizon_days: 30
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  a:
    name: A
    arsenal: {{rocket: 100}}
    policy:
      base_response_probability: {respond_a}
      delay: {{median_days: 2, sigma: 0}}
      packages: {{3: {{projectiles: {{rocket: 5}}}}}}
  b:
    name: B
    arsenal: {{rocket: 100}}
    defence:
      - {{name: dome, operator: b, kill_probability: {{rocket: 1.0}}, stock: {stock},
         fire_channels: 50, engagement_minutes: 1, engagement_window_minutes: 10,
         unit_cost_usd: 100{resupply}}}
    policy:
      base_response_probability: {respond_b}
      delay: {{median_days: 3, sigma: 0}}
      packages: {{3: {{projectiles: {{rocket: 4}}, casualties_mean: 0}}}}
relations:
  - {{kind: adversaries, actors: [a, b]}}
max_strikes: {max_strikes}
opening:
  - {{day: 1, attacker: a, target: b, rung: 3, casualties: 2, projectiles: {{rocket: 6}}}}
"""


def tiny(respond_a=0, respond_b=1, stock=100, max_strikes=200, resupply=""):
    return parse_scenario(
        TINY.format(
            respond_a=respond_a,
            respond_b=respond_b,
            stock=stock,
            max_strikes=max_strikes,
            resupply=resupply,
        )
    )


def test_exact_log_of_a_strike_and_a_certain_response():
    events = run_replication(tiny(), 0)
    kinds = [type(e).__name__ for e in events]
    assert kinds == [
        "StrikeLaunched",
        "Interception",
        "StrikeOutcome",
        "DecisionMade",
        "StrikeLaunched",
        "StrikeOutcome",
        "DecisionMade",
    ]
    opening, intercepted, outcome, decision, answer, answered, last = events
    assert opening.time_hours == 24.0 and opening.projectiles == (("rocket", 6),)
    assert intercepted.intercepted == 6 and intercepted.interceptors_fired == 6
    assert (outcome.launched, outcome.intercepted, outcome.leaked) == (6, 6, 0)
    assert outcome.casualties == 2 and outcome.defender_cost_usd == 600.0
    assert decision.actor == "b" and decision.respond and decision.respond_probability > 0.99
    assert answer.time_hours == pytest.approx(decision.time_hours + 72.0)
    assert (answer.attacker, answer.target, answer.rung) == ("b", "a", 3)
    assert answered.leaked == 4
    assert last.actor == "a" and not last.respond


def test_no_response_when_the_policy_never_responds():
    events = run_replication(tiny(respond_b=0), 0)
    assert sum(isinstance(e, StrikeLaunched) for e in events) == 1
    assert [e.respond for e in events if isinstance(e, DecisionMade)] == [False]


def test_strike_cap_stops_an_endless_exchange():
    events = run_replication(tiny(respond_a=1, respond_b=1, max_strikes=5), 0)
    assert sum(isinstance(e, StrikeLaunched) for e in events) == 5
    assert sum(isinstance(e, StrikeCapReached) for e in events) == 1
    assert all(e.time_hours <= 30 * 24 for e in events)


def test_stocks_deplete_across_strikes_and_resupply_only_when_declared():
    exchange = run_replication(tiny(respond_a=1, respond_b=1, stock=10), 0)
    stocks = [e.stock_after for e in exchange if isinstance(e, Interception)]
    assert stocks[:2] == [4, 0] and set(stocks[2:]) == {0}
    resupplied = run_replication(
        tiny(
            respond_a=1,
            respond_b=1,
            stock=10,
            resupply=", resupply: {interceptors: 50, every_days: 3}",
        ),
        0,
    )
    stocks = [e.stock_after for e in resupplied if isinstance(e, Interception)]
    assert max(stocks[1:]) > 4


def test_proxy_ordered_in_and_ally_joining():
    scenario = load_scenario(
        SCENARIOS[0].parent / "april-2024.yaml",
        {
            "actors.iran.policy.proxy_order_probability": 1.0,
            "relations.5.obey_probability": 1.0,
            "actors.iran.policy.base_response_probability": 1.0,
            "actors.iran.policy.escalate_probability": 1.0,
            "actors.iran.policy.self_restraint": 0.0,
            "actors.iran.policy.deescalate_probability": 0.0,
        },
    )
    events = run_replication(scenario, 0)
    iran_strike = next(e for e in events if isinstance(e, StrikeLaunched) and e.attacker == "iran")
    joined = [e for e in events if isinstance(e, StrikeLaunched) and e.attacker == "hezbollah"]
    assert joined and joined[0].time_hours == iran_strike.time_hours
    assert joined[0].cause == "ordered by patron" and joined[0].rung == 4


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.name for p in SCENARIOS])
def test_every_shipped_scenario_loads_and_runs(path):
    events = run_replication(load_scenario(path), 0)
    first_strike = next(e for e in events if isinstance(e, StrikeLaunched))
    assert first_strike.cause == "opening" and first_strike.time_hours == 0.0


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**31), replication=st.integers(0, 10**6))
def test_properties_of_the_april_scenario(seed, replication):
    events = run_replication(APRIL, replication, seed)
    assert events == run_replication(APRIL, replication, seed)
    for outcome in (e for e in events if isinstance(e, StrikeOutcome)):
        assert outcome.launched == outcome.failed + outcome.intercepted + outcome.leaked
    last_stock = {}
    for event in (e for e in events if isinstance(e, Interception)):
        assert event.stock_after >= 0
        key = (event.defended, event.layer)
        assert event.stock_after <= last_stock.get(key, event.stock_after)
        last_stock[key] = event.stock_after
    times = [e.time_hours for e in events]
    assert times == sorted(times) and times[-1] <= APRIL.horizon_days * 24
