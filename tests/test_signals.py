"""Signals and attribution (issue 14 item 4): a strike its attacker does not claim weighs less on
its target, by the target's ``signals.attribution``, in what it observes, its chance of answering
and the severity it books; an actor claims its own answers with ``signals.claim_probability``."""

import math

import numpy as np
import pytest

from sim.model.events import AccountChanged, DecisionMade, StrikeLaunched, Unclaimed
from sim.model.policies import Observation, decide, respond_probability
from sim.model.rng import Streams
from sim.model.trace import format_trace
from sim.model.world import World, run_replication
from sim.scenario.loading import parse_scenario
from sim.scenario.schema import Policy

POLICY = {
    "base_response_probability": 0.5,
    "harm_weight": 1.0,
    "delay": {"median_days": 1.0, "sigma": 0.0},
    "packages": {3: {"projectiles": {"rocket": 2}}},
}


def policy(**changes) -> Policy:
    return Policy.model_validate({**POLICY, **changes}, strict=False)


def odds(p: float) -> float:
    return p / (1 - p)


HARM = {"casualties": 7, "severity": 3.0}
ATTRIBUTION_CASES = [
    # weight, the odds of answering it relative to a claimed strike
    (1.0, 1.0),
    (0.5, 0.5),
    (0.1, 0.1),
]


@pytest.mark.parametrize(("weight", "ratio"), ATTRIBUTION_CASES)
def test_an_unclaimed_strike_is_observed_weaker(weight, ratio):
    """The odds of answering an unclaimed strike are the claimed odds times its attribution."""
    claimed = Observation("b", "a", 2, **HARM)
    unclaimed = Observation("b", "a", 2, weight=weight, **HARM)
    p_claimed = respond_probability(policy(), claimed, 0.0)
    p_unclaimed = respond_probability(policy(), unclaimed, 0.0)
    assert p_claimed == pytest.approx(1 / (1 + 1 / 8))  # logit 0.5 + log(8)
    assert odds(p_unclaimed) == pytest.approx(ratio * odds(p_claimed))


def test_a_strike_nobody_can_pin_on_the_attacker_is_never_answered():
    seen = Observation("b", "a", 5, weight=0.0, **HARM)
    assert respond_probability(policy(base_response_probability=1.0), seen, 0.0) == 0.0


def test_an_unclaimed_strike_is_answered_lower():
    """The height of an answer follows the severity observed, which attribution weighs: a rung-4
    strike (severity 4) is answered at rung 4 claimed and at rung 2 at attribution 0.5."""
    packages = {r: {"projectiles": {"rocket": 1}} for r in range(7)}
    height = policy(
        packages=packages,
        height={"spread": 0.05, "restraint_shift": 0, "self_restraint_shift": 0},
    )
    rungs = [
        decide(
            height,
            Observation("b", "a", 4, severity=weight * 4.0, weight=weight),
            domestic_pressure=0.0,
            arsenal={"rocket": 9},
            rng=np.random.default_rng(seed),
        ).rung
        for weight in (1.0, 0.5)
        for seed in range(5)
    ]
    assert rungs == [4] * 5 + [2] * 5


@pytest.mark.parametrize(("claim_probability", "claimed"), [(0.0, False), (1.0, True)])
def test_an_actor_claims_its_answers_with_its_claim_probability(claim_probability, claimed):
    signals = policy(signals={"claim_probability": claim_probability})
    seen = Observation("b", "a", 3)
    decision = decide(signals, seen, domestic_pressure=0.0, arsenal={}, rng=np.random.default_rng())
    assert decision.claimed is claimed


def test_without_signals_a_decision_draws_six_numbers_and_is_claimed():
    """The seventh draw (claimed?) is taken only with a signals block: version-1 draws stay."""
    rng, fresh = np.random.default_rng(3), np.random.default_rng(3)
    decision = decide(policy(), Observation("b", "a", 3), domestic_pressure=0, arsenal={}, rng=rng)
    fresh.random(4), fresh.standard_normal(2)
    assert decision.claimed and rng.random() == fresh.random()
    with_signals = np.random.default_rng(3)
    decide(
        policy(signals={}),
        Observation("b", "a", 3),
        domestic_pressure=0,
        arsenal={},
        rng=with_signals,
    )
    fresh = np.random.default_rng(3)
    fresh.random(4), fresh.standard_normal(2), fresh.random()
    assert with_signals.random() == fresh.random()


WORLD = """\
version: 2
name: deniable
seed: 3
horizon_days: 3
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  a:
    name: A
    arsenal: {{rocket: 10}}
  b:
    name: B
    arsenal: {{rocket: 10}}
    policy:
      base_response_probability: 0.5
      harm_weight: 1.0
      delay: {{median_days: 1, sigma: 0}}
      packages: {{2: {{projectiles: {{rocket: 2}}}}}}
      memory: {{account_weight: 0.0, settle_tolerance: 0.5}}{signals}
opening:
  - {{day: 0, attacker: a, target: b, rung: 2, casualties: 7, claimed: {claimed}}}
"""
DAMASCUS = 2 + 0.5 * math.log(8)  # the severity of the opening strike, rung-equivalents
SIGNALS = "\n      signals: {attribution: 0.25}"


def world_of(claimed="true", signals=SIGNALS):
    return parse_scenario(WORLD.format(claimed=claimed, signals=signals))


def test_exact_log_of_an_unclaimed_strike_weighed_by_its_target():
    """a does not claim its strike; b weighs it at 0.25: a quarter of the odds of answering
    (1/(1 + 4/8) = 2/3 instead of 8/9) and a quarter of its severity booked as suffered."""
    world = World(world_of("false"), Streams(3, 0))
    events = world.run()
    assert events[:2] == [
        StrikeLaunched(0.0, 1, "a", "b", 2, False, "opening", ()),
        Unclaimed(0.0, 1, "a", "b"),
    ]
    accounts = [e for e in events if isinstance(e, AccountChanged) and e.actor == "b"]
    assert accounts[0].suffered == pytest.approx(0.25 * DAMASCUS)
    decision = next(e for e in events if isinstance(e, DecisionMade))
    assert decision.respond_probability == pytest.approx(2 / 3)


def test_the_same_strike_claimed_is_weighed_in_full_and_logs_no_unclaimed_record():
    events = run_replication(world_of("true"), 0)
    assert not any(isinstance(e, Unclaimed) for e in events)
    decision = next(e for e in events if isinstance(e, DecisionMade))
    assert decision.respond_probability == pytest.approx(8 / 9)
    account = next(e for e in events if isinstance(e, AccountChanged) and e.actor == "b")
    assert account.suffered == pytest.approx(DAMASCUS)


def test_without_signals_an_unclaimed_strike_is_weighed_in_full():
    events = run_replication(world_of("false", signals=""), 0)
    decision = next(e for e in events if isinstance(e, DecisionMade))
    assert decision.respond_probability == pytest.approx(8 / 9)
    assert any(isinstance(e, Unclaimed) for e in events)


def test_an_unclaimed_history_strike_is_weighed_by_its_target():
    text = WORLD.format(claimed="true", signals=SIGNALS).replace(
        "opening:\n  - {day: 0, attacker: a, target: b, rung: 2, casualties: 7, claimed: true}\n",
        "opening: []\nhistory:\n  - {day: -1, attacker: a, target: b, rung: 2, casualties: 7,"
        " claimed: false}\n",
    )
    events = run_replication(parse_scenario(text), 0)
    assert Unclaimed(0.0, -1, "a", "b") in events
    decision = next(e for e in events if isinstance(e, DecisionMade))
    assert (decision.trigger_strike_id, decision.respond_probability) == (-1, pytest.approx(2 / 3))


def test_an_unclaimed_answer_is_logged_as_such():
    """b answers without claiming it (claim_probability 0): its strike has an Unclaimed record."""
    signals = "\n      signals: {attribution: 1.0, claim_probability: 0.0}"
    text = WORLD.format(claimed="true", signals=signals).replace(
        "base_response_probability: 0.5", "base_response_probability: 1"
    )
    events = run_replication(parse_scenario(text), 0)
    answer = next(e for e in events if isinstance(e, StrikeLaunched) and e.attacker == "b")
    assert Unclaimed(answer.time_hours, answer.strike_id, "b", "a") in events
    assert "#2 is NOT CLAIMED by b" in format_trace(events, "deniable")


def test_an_attribution_outside_0_1_is_refused_with_its_line(tmp_path):
    from tests.test_dynamics_errors import line_of, problems_of

    text = WORLD.format(claimed="false", signals="\n      signals: {attribution: 1.5}")
    (problem,) = problems_of(tmp_path, text)
    line = line_of(text, "signals:")
    assert problem == (
        f"{tmp_path / 'bad.yaml'}:{line}: actors.b.policy.signals.attribution: "
        "must be <= 1.0, got 1.5"
    )
