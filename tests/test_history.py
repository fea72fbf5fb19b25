"""Rounds that start mid-way (issue 14 item 6): a stated history is taken in, not re-decided; its
stocks are spent, its accounts booked, and only the answers it leaves pending are decided."""

import math

import pytest

from sim.model.events import (
    AccountChanged,
    DecisionMade,
    HistoryStruck,
    Interception,
    RoundEnded,
    StrikeLaunched,
    StrikeOutcome,
    WaveLaunched,
)
from sim.model.rng import Streams
from sim.model.trace import format_trace
from sim.model.world import World, run_replication
from sim.scenario.loading import parse_scenario

HISTORY = """\
version: 2
name: history
seed: 5
horizon_days: 4
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  a:
    name: A
    arsenal: {{rocket: 10}}
    defence:
      - {{name: dome, operator: a, kill_probability: {{rocket: 1.0}}, stock: 50, fire_channels: 50,
         engagement_minutes: 1, unit_cost_usd: 100}}
    policy:
      base_response_probability: 1
      delay: {{median_days: 2, sigma: 0}}
      packages: {{3: {{projectiles: {{rocket: 4}}}}}}{memory}
  b:
    name: B
    arsenal: {{rocket: 100}}
    policy:
      base_response_probability: 1
      delay: {{median_days: 1, sigma: 0}}
      packages: {{3: {{projectiles: {{rocket: 5}}}}}}{memory}
history:
  - {{day: -13, attacker: a, target: b, rung: 2, casualties: 7, description: damascus}}
  - {{day: -0.5, attacker: b, target: a, rung: 3, projectiles: {{rocket: 20}}, failed: 2,
     intercepted: 17, interceptors_fired: {{dome: 20}}, casualties: 1, description: answer}}
opening: []
{extra}"""
CERTAIN = 1.0 / (1.0 + 1e-9 / (1 - 1e-9))


def t(hours: float):
    """A time on the run's clock, hours, to the engine's time bins (under a minute)."""
    return pytest.approx(hours, abs=0.01)


def history_scenario(memory="", extra=""):
    return parse_scenario(HISTORY.format(memory=memory, extra=extra))


def decided(time, actor, strike, reason, attacker, casualties, share, target, delay, projectiles):
    return DecisionMade(
        time,
        actor,
        strike,
        reason,
        attacker,
        3,
        casualties,
        0.0,
        share,
        0.0,
        0.0,
        pytest.approx(CERTAIN),
        True,
        target,
        3,
        delay,
        False,
        projectiles,
    )


def test_exact_log_of_a_round_that_starts_after_an_answer():
    """a struck b (day -13) and b answered (day -0.5): b's answer is pending for a, who decides
    on it at the start; a's strike was answered in the history and nobody re-decides it. b's
    arsenal and a's interceptor stock start where the history left them (80 rockets, 30)."""
    world = World(history_scenario(), Streams(5, 0))
    events = world.run()
    assert events == [
        HistoryStruck(0.0, -312.0, -1, "a", "b", 2, False, (), 0, 0, 7, 0.0, "damascus"),
        HistoryStruck(
            0.0, -12.0, -2, "b", "a", 3, False, (("rocket", 20),), 2, 17, 1, 0.0, "answer"
        ),
        decided(0.0, "a", -2, "history: struck", "b", 1, 17 / 18, "b", 48.0, (("rocket", 4),)),
        StrikeLaunched(48.0, 1, "a", "b", 3, False, "history: struck", (("rocket", 4),)),
        WaveLaunched(48.0, 1, "rocket", 4, 48.0, t(48.1), t(48.1)),
        StrikeOutcome(t(48.1), 1, "a", "b", 3, 4, 0, 0, 4, 0, 0.0, 40.0, 0.0),
        decided(t(48.1), "b", 1, "struck", "a", 0, 0.0, "a", 24.0, (("rocket", 5),)),
        StrikeLaunched(t(72.1), 2, "b", "a", 3, False, "struck", (("rocket", 5),)),
        WaveLaunched(t(72.1), 2, "rocket", 5, t(72.1), t(72.2), t(72.2)),
        Interception(t(72.2), 2, "dome", "a", "a", "rocket", 5, 5, 5, 5, 500.0, 25, True),
        StrikeOutcome(t(72.2), 2, "b", "a", 3, 5, 0, 5, 0, 0, 0.0, 50.0, 500.0),
        decided(t(72.2), "a", 2, "struck", "b", 0, 1.0, "b", 48.0, (("rocket", 4),)),
    ]
    assert world.agents["b"].arsenal == {"rocket": 75}  # 100 - 20 in the history - 5
    assert world.agents["a"].arsenal == {"rocket": 6}


MEMORY = "\n      memory: {account_weight: 1.0, settle_tolerance: 0.5}"
DAMASCUS = 2 + 0.5 * math.log(8)  # 3.04
ANSWER = 3 + 0.5 * math.log(2)  # 3.35


def test_with_memory_the_history_leaves_the_accounts_settled_and_nothing_is_answered():
    """The history's accounts: a suffered 3.35 and inflicted 3.04, within its tolerance of 0.5,
    so a lets b's answer be; with end_when_settled the round ends as it starts."""
    events = run_replication(history_scenario(MEMORY, "end_when_settled: true\n"), 0)
    accounts = [e for e in events if isinstance(e, AccountChanged)]
    # each history strike books its target's account, then its attacker's
    assert [(e.actor, e.adversary) for e in accounts] == [
        ("b", "a"),
        ("a", "b"),
        ("a", "b"),
        ("b", "a"),
    ]
    last_of_a = accounts[2]
    assert (last_of_a.suffered, last_of_a.inflicted) == (
        pytest.approx(ANSWER),
        pytest.approx(DAMASCUS),
    )
    assert last_of_a.settled
    (decision,) = [e for e in events if isinstance(e, DecisionMade)]
    assert (decision.actor, decision.respond, decision.respond_probability) == ("a", False, 0.0)
    costs = 20 * 10.0 + 20 * 100.0  # b's rockets and a's interceptors, in the history
    assert events[-1] == RoundEnded(0.0, "settled", "", 3, costs, 0.0)
    assert not any(isinstance(e, StrikeLaunched) for e in events)


def test_an_unanswered_history_strike_is_decided_on_and_an_answered_one_is_not():
    """Only the last strike between a pair is pending, and only if its target did not strike
    back later in the history."""
    text = HISTORY.format(memory="", extra="").replace(
        "  - {day: -0.5, attacker: b, target: a, rung: 3, projectiles: {rocket: 20}, failed: 2,\n"
        "     intercepted: 17, interceptors_fired: {dome: 20}, casualties: 1, description: answer}\n",
        "  - {day: -2, attacker: a, target: b, rung: 3, description: again}\n",
    )
    events = run_replication(parse_scenario(text), 0)
    decisions = [e for e in events if isinstance(e, DecisionMade) and e.time_hours == 0.0]
    assert [(e.actor, e.trigger_strike_id, e.reason) for e in decisions] == [
        ("b", -2, "history: struck")
    ]


def test_the_trace_shows_the_history_as_such():
    text = format_trace(run_replication(history_scenario(), 0), "history")
    lines = text.splitlines()
    assert lines[2] == (
        "day    0.00  HISTORY #-1 (day -13.00) a -> b at rung 2 (third-country strikes): "
        "no projectiles; 7 casualties, damage $0 - damascus"
    )
    assert lines[3].startswith("day    0.00  HISTORY #-2 (day -0.50) b -> a at rung 3")
    assert "20 rocket, 2 failed, 17 intercepted; 1 casualties" in lines[3]


def test_the_new_records_go_into_the_events_table():
    """History, account and ending records table like every other record (one schema)."""
    from sim.model.events import EVENT_SCHEMA, events_arrow

    log = run_replication(history_scenario(MEMORY, "end_when_settled: true\n"), 0)
    table = events_arrow([(0, log)])
    assert table.schema.equals(EVENT_SCHEMA)
    kinds = table.column("kind").to_pylist()
    assert kinds[:2] == ["history", "history"] and kinds[-1] == "ending"
    assert "account" in kinds
    rows = table.to_pylist()
    assert rows[1]["launch_hours"] == -12.0 and rows[1]["projectiles"] == "rocket:20"
    assert rows[-1]["how"] == "settled"
