"""Memory and the account between two actors (issue 14 item 1): the pure bookkeeping and policy
terms table by table, then a tiny world whose exact log shows an account opened and settled."""

import math

import pytest

from sim.model.events import AccountChanged, DecisionMade, StrikeLaunched, StrikeOutcome
from sim.model.memory import Account, Ledger, severity
from sim.model.policies import Observation, respond_probability
from sim.model.world import run_replication
from sim.scenario.dynamics import SeverityScale
from sim.scenario.loading import parse_scenario
from sim.scenario.schema import Policy

SCALE = SeverityScale(harm_weight=0.5)


@pytest.mark.parametrize(
    ("rung", "casualties", "damage_usd", "expected"),
    [
        (3, 0, 0.0, 3.0),  # a harmless strike weighs its rung alone
        (2, 7, 0.0, 2 + 0.5 * math.log(8)),  # Damascus, 1 April 2024: 7 IRGC officers killed
        (0, 0, 4e6, 0.5 * math.log(5)),  # damage counts per million US dollars
        (5, 99, 0.0, 5 + 0.5 * math.log(100)),
    ],
)
def test_severity_is_the_rung_plus_weighted_harm(rung, casualties, damage_usd, expected):
    assert severity(SCALE, rung, casualties, damage_usd) == pytest.approx(expected)


def test_the_ledger_books_both_ends_of_a_strike_and_pending_answers():
    ledger = Ledger()
    ledger.landed("a", "b", 3.5, attacker_usd=10.0, target_usd=200.0)
    assert ledger.account("b", "a") == Account(suffered=3.5)
    assert ledger.account("a", "b") == Account(inflicted=3.5)
    assert (ledger.costs_usd["a"], ledger.costs_usd["b"]) == (10.0, 200.0)
    ledger.commit("b", "a", 3)
    assert ledger.account("b", "a").unsettled == pytest.approx(0.5)
    ledger.release("b", "a", 3)
    ledger.landed("b", "a", 4.0, attacker_usd=0.0, target_usd=0.0)
    assert ledger.account("b", "a").unsettled == 0.0  # answered more than suffered: nothing owed
    assert ledger.account("a", "b").unsettled == pytest.approx(0.5)
    ledger.release("b", "a", 3)  # a release never makes pending negative
    assert ledger.account("b", "a").pending == 0.0


def remembering(**memory) -> Policy:
    return Policy.model_validate(
        {
            "base_response_probability": 0.4,
            "delay": {"median_days": 2.0},
            "packages": {3: {}},
            "memory": memory,
        }
    )


LOGIT_BASE = math.log(0.4 / 0.6)


def logistic(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# (case, memory block, what is unsettled, costs so far in US dollars, expected probability)
ACCOUNTS = [
    ("settled account: nothing owed", {}, 0.0, 0.0, 0.0),
    ("within the tolerance", {"settle_tolerance": 0.5}, 0.5, 0.0, 0.0),
    ("unanswered harmless strike at rung 0", {}, severity(SCALE, 0, 0, 0.0), 0.0, 0.0),
    ("owed two rungs", {"account_weight": 1.0}, 2.0, 0.0, logistic(LOGIT_BASE + 2.0)),
    ("owed more weighs more", {"account_weight": 0.5}, 4.0, 0.0, logistic(LOGIT_BASE + 2.0)),
    (
        "war weariness",
        {"account_weight": 1.0, "weariness_weight": 2.0},
        2.0,
        (math.e - 1) * 1e9,
        logistic(LOGIT_BASE + 2.0 - 2.0),
    ),
]


@pytest.mark.parametrize(
    ("memory", "unsettled", "costs", "expected"),
    [c[1:] for c in ACCOUNTS],
    ids=[c[0] for c in ACCOUNTS],
)
def test_the_account_drives_the_chance_of_answering(memory, unsettled, costs, expected):
    seen = Observation(actor="b", attacker="a", rung=3, unsettled=unsettled, costs_usd=costs)
    assert respond_probability(remembering(**memory), seen, 0.0) == pytest.approx(expected)


def test_without_memory_the_account_is_ignored():
    forgetful = remembering().model_copy(update={"memory": None})
    for unsettled in (None, 0.0, 5.0):
        seen = Observation(actor="b", attacker="a", rung=3, unsettled=unsettled, costs_usd=1e12)
        assert respond_probability(forgetful, seen, 0.0) == pytest.approx(0.4)


MEMORY = """\
version: 2
name: memory
seed: 5
horizon_days: 30
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  a:
    name: A
    policy:
      base_response_probability: 1
      delay: {{median_days: 1, sigma: 0}}
      packages: {{2: {{}}}}{memory}
  b:
    name: B
    policy:
      base_response_probability: 1
      escalate_probability: 1
      delay: {{median_days: 2.5, sigma: 0}}
      packages: {{3: {{}}}}{memory}
opening:
  - {{day: 1, attacker: a, target: b, rung: {rung}, casualties: {casualties}, description: raid}}
"""
WITH_MEMORY = "\n      memory: {account_weight: 1.0, settle_tolerance: 0.5}"
CERTAIN = 1.0 / (1.0 + 1e-9 / (1 - 1e-9))  # base_response_probability 1, clipped away from 1
RAID = 2 + 0.5 * math.log(8)  # rung 2, 7 casualties: 3.04 rung-equivalents


def memory_world(memory=WITH_MEMORY, rung=2, casualties=7):
    text = MEMORY.format(memory=memory, rung=rung, casualties=casualties)
    return run_replication(parse_scenario(text), 0)


def decision(time, actor, strike, attacker, rung, casualties, p, respond, target, answer, delay):
    return DecisionMade(
        time_hours=time,
        actor=actor,
        trigger_strike_id=strike,
        reason="struck",
        attacker=attacker,
        observed_rung=rung,
        casualties=casualties,
        damage_usd=0.0,
        intercepted_share=0.0,
        ally_pressure=0.0,
        domestic_pressure=0.0,
        respond_probability=p,
        respond=respond,
        target=target,
        rung=answer,
        delay_hours=delay,
        telegraphed=False,
    )


def account(time, actor, adversary, suffered, inflicted, pending, settled, closed=False):
    owed = max(0.0, suffered - inflicted - pending)
    numbers = [pytest.approx(x) for x in (suffered, inflicted, pending, owed)]
    return AccountChanged(time, actor, adversary, *numbers, settled, closed)


def test_exact_log_of_an_account_opened_answered_and_closed():
    """b suffers a raid worth 3.04, answers at rung 3 (3.0 inflicted: within 0.5 of it), which
    closes b's account; a, who inflicted 3.04 and suffered 3.0, owes nothing and lets it be."""
    raid = RAID
    assert memory_world() == [
        StrikeLaunched(24.0, 1, "a", "b", 2, False, "opening", (), "raid"),
        StrikeOutcome(24.0, 1, "a", "b", 2, 0, 0, 0, 0, 7, 0.0, 0.0, 0.0),
        account(24.0, "b", "a", raid, 0.0, 0.0, False),
        account(24.0, "a", "b", 0.0, raid, 0.0, True),
        decision(24.0, "b", 1, "a", 2, 7, pytest.approx(CERTAIN), True, "a", 3, 60.0),
        account(24.0, "b", "a", raid, 0.0, 3.0, True),
        StrikeLaunched(84.0, 2, "b", "a", 3, False, "struck", ()),
        StrikeOutcome(84.0, 2, "b", "a", 3, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0),
        account(84.0, "a", "b", 3.0, raid, 0.0, True),
        account(84.0, "b", "a", raid, 3.0, 0.0, True, closed=True),
        decision(84.0, "a", 2, "b", 3, 0, 0.0, False, "b", 2, 24.0),
    ]


def test_without_memory_the_same_world_answers_back_and_logs_no_account():
    events = memory_world(memory="")
    assert not any(isinstance(e, AccountChanged) for e in events)
    answers = [e.respond for e in events if isinstance(e, DecisionMade)]
    assert answers[:2] == [True, True]  # a answers b's answer: the exchange goes on


def test_a_strike_that_did_little_is_left_unanswered():
    """A harmless rung-0 strike weighs 0 rung-equivalents: b owes nothing and does not answer."""
    events = memory_world(rung=0, casualties=0)
    (only,) = [e for e in events if isinstance(e, DecisionMade)]
    assert (only.actor, only.respond, only.respond_probability) == ("b", False, 0.0)
    assert sum(isinstance(e, StrikeLaunched) for e in events) == 1
