"""The height of an answer as an ordered choice over all rungs (issue 14 item 2): the pure ordered
logit table by table, then a tiny world whose exact log holds a jump from rung 2 to rung 5."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from sim.model.events import DecisionMade, StrikeLaunched, StrikeOutcome
from sim.model.policies import (
    Observation,
    choose_height,
    decide,
    latent_height,
    rung_probabilities,
)
from sim.model.rng import Streams
from sim.model.world import run_replication
from sim.scenario.loading import parse_scenario
from sim.scenario.schema import Policy


def policy(height=None, **changes) -> Policy:
    spec = {
        "base_response_probability": 1.0,
        "red_line_rung": 3,
        "delay": {"median_days": 1.0, "sigma": 0.0},
        "packages": {k: {} for k in range(7)},
        "height": height or {},
    }
    spec.update(changes)
    return Policy.model_validate(spec)


def seen(**changes) -> Observation:
    return Observation(**{"actor": "b", "attacker": "a", "rung": 3, "severity": 3.0, **changes})


MEDIAN = 0.5  # the median draw picks the rung nearest eta

# (case, height block, policy changes, observation changes, expected eta, rung at the median)
CASES = [
    ("answer in kind", {}, {}, {}, 3.0, 3),
    ("a leadership strike answered at rung 5", {}, {}, {"rung": 5, "severity": 5.2}, 5.2, 5),
    (
        "a jump from rung 2 to rung 5",
        {"escalation_bias": 2.5},
        {},
        {"rung": 2, "severity": 2.6},
        5.1,
        5,
    ),
    (
        "a face-saving answer three rungs down",
        {"thwarted_shift": 3.0},
        {},
        {"rung": 4, "severity": 4.0, "intercepted_share": 1.0},
        1.0,
        1,
    ),
    ("red line crossed", {"red_line_shift": 1.0}, {}, {}, 4.0, 4),
    ("ally restraint", {"restraint_shift": 2.0}, {}, {"ally_pressure": 1.0}, 1.0, 1),
    ("self restraint", {"self_restraint_shift": 1.5}, {"self_restraint": 0.4}, {}, 2.4, 2),
    ("capped by max_rung", {"escalation_bias": 3.0}, {"max_rung": 4}, {}, 6.0, 4),
    (
        "the unsettled account, not the strike",
        {},
        {"memory": {}},
        {"severity": 6.0, "unsettled": 2.2},
        2.2,
        2,
    ),
]


@pytest.mark.parametrize(
    ("height", "changes", "observed", "eta", "rung"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_the_ordered_logit_table(height, changes, observed, eta, rung):
    chosen = policy(height, **changes)
    assert latent_height(chosen, seen(**observed)) == pytest.approx(eta)
    assert choose_height(chosen, seen(**observed), MEDIAN) == rung
    probabilities = rung_probabilities(chosen, seen(**observed))
    assert len(probabilities) == chosen.max_rung + 1
    assert sum(probabilities) == pytest.approx(1.0)


def test_the_chance_of_each_rung_is_the_logistic_between_its_cuts():
    probabilities = rung_probabilities(policy({"spread": 0.5}), seen())
    logistic = [1 / (1 + math.exp(-(k + 0.5 - 3.0) / 0.5)) for k in range(6)]
    expected = np.diff([0.0, *logistic, 1.0])
    assert probabilities == pytest.approx(list(expected))
    assert probabilities[3] == pytest.approx(math.tanh(0.5))  # sigma(1) - sigma(-1)


@given(
    pressure=st.floats(0, 1),
    restraint_shift=st.floats(0, 12),
    severity=st.floats(0, 40),
    spread=st.floats(0.05, 5),
)
def test_no_lever_value_makes_a_rung_impossible_and_restraint_lowers_smoothly(
    pressure, restraint_shift, severity, spread
):
    """Every rung keeps a chance > 0 (no ``1 - pressure`` factor), and more pressure never
    raises the mean answer."""
    chosen = policy({"restraint_shift": restraint_shift, "spread": spread})
    probabilities = rung_probabilities(chosen, seen(severity=severity, ally_pressure=pressure))
    assert sum(probabilities) == pytest.approx(1.0)
    assert all(p >= 0 for p in probabilities)
    eta = latent_height(chosen, seen(severity=severity, ally_pressure=pressure))
    if abs(eta - 3.0) <= 4 * spread:  # within reach of every rung in float arithmetic
        assert all(p > 0 for p in probabilities)
    more = rung_probabilities(
        chosen, seen(severity=severity, ally_pressure=min(1.0, pressure + 0.1))
    )

    def mean(ps):
        return sum(k * p for k, p in enumerate(ps))

    assert mean(more) <= mean(probabilities) + 1e-9


def test_decide_uses_the_same_draws_with_and_without_height():
    """The ordered logit reads the same uniform the one-rung step reads: nothing else moves."""
    stepwise = policy(height=None).model_copy(update={"height": None})
    with_height = policy()
    a = decide(stepwise, seen(), domestic_pressure=0.0, arsenal={}, rng=np.random.default_rng(3))
    b = decide(with_height, seen(), domestic_pressure=0.0, arsenal={}, rng=np.random.default_rng(3))
    assert (a.respond, a.delay_hours, a.telegraphed, a.target) == (
        b.respond,
        b.delay_hours,
        b.telegraphed,
        b.target,
    )


JUMP = """\
version: 2
name: jump
seed: 5
horizon_days: 30
weapons:
  rocket: {flight_time: {min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}, unit_cost_usd: 10}
actors:
  a:
    name: A
    policy:
      base_response_probability: 0
      delay: {median_days: 1, sigma: 0}
      packages: {2: {}}
  b:
    name: B
    policy:
      base_response_probability: 1
      delay: {median_days: 2.5, sigma: 0}
      packages: {2: {}, 5: {damage_usd_mean: 5.0e8}}
      height: {spread: 0.05, escalation_bias: 2.0}
opening:
  - {day: 1, attacker: a, target: b, rung: 2, casualties: 7, description: raid}
"""
CERTAIN = 1.0 / (1.0 + 1e-9 / (1 - 1e-9))
NEVER = 1.0 / (1.0 + (1 - 1e-9) / 1e-9)


def test_exact_log_of_a_jump_from_rung_2_to_rung_5():
    """The raid (rung 2, 7 casualties) weighs 3.04; with a bias of 2 rungs eta is 5.04 and the
    answer jumps three rungs to 5 (its package there: $500M of damage)."""
    scenario = parse_scenario(JUMP)
    u_rung = Streams(5, 0).get("policy", "b").random(4)[1]
    raid = seen(rung=2, casualties=7, severity=2 + 0.5 * math.log(8))
    assert choose_height(scenario.actors["b"].policy, raid, u_rung) == 5

    def decision(
        time, actor, strike, attacker, rung, casualties, damage, p, respond, answer, delay
    ):
        return DecisionMade(
            time,
            actor,
            strike,
            "struck",
            attacker,
            rung,
            casualties,
            damage,
            0.0,
            0.0,
            0.0,
            p,
            respond,
            attacker,
            answer,
            delay,
            False,
        )

    assert run_replication(scenario, 0) == [
        StrikeLaunched(24.0, 1, "a", "b", 2, False, "opening", (), "raid"),
        StrikeOutcome(24.0, 1, "a", "b", 2, 0, 0, 0, 0, 7, 0.0, 0.0, 0.0),
        decision(24.0, "b", 1, "a", 2, 7, 0.0, pytest.approx(CERTAIN), True, 5, 60.0),
        StrikeLaunched(84.0, 2, "b", "a", 5, False, "struck", ()),
        StrikeOutcome(84.0, 2, "b", "a", 5, 0, 0, 0, 0, 0, 5e8, 0.0, 0.0),
        decision(84.0, "a", 2, "b", 5, 0, 5e8, pytest.approx(NEVER), False, 2, 24.0),
    ]
