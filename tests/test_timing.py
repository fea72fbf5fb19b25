"""Timing that depends on the situation (issue 14 item 3): the median delay of an answer by the
severity of what was suffered, table by table, then a tiny world answering a leadership strike
within hours."""

import math

import pytest

from sim.model.events import DecisionMade, StrikeLaunched
from sim.model.policies import Observation, delay_hours
from sim.model.world import run_replication
from sim.scenario.loading import parse_scenario
from sim.scenario.schema import Policy


def policy(timing=None, median_days=13.0) -> Policy:
    spec = {
        "base_response_probability": 1.0,
        "delay": {"median_days": median_days, "sigma": 0.5},
        "packages": {3: {}},
    }
    if timing is not None:
        spec["timing"] = timing
    return Policy.model_validate(spec)


def suffered(severity: float) -> Observation:
    return Observation(actor="b", attacker="a", rung=3, severity=severity)


DAMASCUS = 2 + 0.5 * math.log(8)  # rung 2, 7 killed: 3.04 rung-equivalents

# (case, timing block, severity suffered, expected median delay in hours)
CASES = [
    ("no timing block: the median whatever happened", None, 6.2, 13 * 24),
    ("at the reference severity: the policy's median", {}, 3.0, 13 * 24),
    ("Damascus, 1 April 2024", {}, DAMASCUS, 13 * 24 * math.exp(-(DAMASCUS - 3.0))),
    ("a leadership strike (6.2): within hours", {}, 6.2, 13 * 24 * math.exp(-3.2)),
    ("a pinprick (rung 1) waits longer", {}, 1.0, 13 * 24 * math.exp(2.0)),
    ("urgency 0: no effect", {"urgency": 0.0}, 6.2, 13 * 24),
    ("the floor", {"min_median_hours": 20.0}, 6.2, 20.0),
    ("the ceiling", {"max_median_days": 20.0}, 0.0, 20 * 24),
]


@pytest.mark.parametrize(
    ("timing", "severity", "median"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_the_median_delay_by_severity(timing, severity, median):
    assert delay_hours(policy(timing), suffered(severity), 0.0) == pytest.approx(median)
    spread = delay_hours(policy(timing), suffered(severity), 1.0)
    assert spread == pytest.approx(median * math.exp(0.5))  # log-normal around it


def test_the_floor_must_not_exceed_the_ceiling():
    with pytest.raises(ValueError, match="min_median_hours <= 24 \\* max_median_days"):
        policy({"min_median_hours": 100.0, "max_median_days": 1.0})


LEADERSHIP = """\
version: 2
name: leadership
seed: 5
horizon_days: 30
weapons:
  rocket: {{flight_time: {{min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}}, unit_cost_usd: 10}}
actors:
  a:
    name: A
    policy:
      base_response_probability: 0
      delay: {{median_days: 1, sigma: 0}}
      packages: {{2: {{}}}}
  b:
    name: B
    policy:
      base_response_probability: 1
      delay: {{median_days: 13, sigma: 0}}
      packages: {{3: {{}}}}{timing}
opening:
  - {{day: 1, attacker: a, target: b, rung: {rung}, casualties: {casualties}}}
"""


def answer_time(timing: str, rung: int, casualties: int) -> tuple[float, float | None]:
    """b's decided delay and the time its answer left (None if due after the horizon), hours."""
    text = LEADERSHIP.format(timing=timing, rung=rung, casualties=casualties)
    events = run_replication(parse_scenario(text), 0)
    (decision,) = [e for e in events if isinstance(e, DecisionMade) and e.actor == "b"]
    answers = [e.time_hours for e in events if isinstance(e, StrikeLaunched) and e.attacker == "b"]
    return decision.delay_hours, (answers[0] if answers else None)


TIMED = "\n      timing: {urgency: 1.0, reference_severity: 3.0, max_median_days: 3650}"


@pytest.mark.parametrize(
    ("rung", "casualties", "delay", "launched_at"),
    [
        (5, 10, 13 * 24 * math.exp(-(5 + 0.5 * math.log(11) - 3.0)), 24.0 + 12.73),
        (3, 0, 13 * 24.0, 24.0 + 13 * 24.0),
        (1, 0, 13 * 24 * math.exp(2.0), None),  # 96 days: after the 30-day horizon
    ],
    ids=["leadership strike: within hours", "reference: 13 days", "pinprick: 96 days"],
)
def test_a_world_answers_a_leadership_strike_within_hours(rung, casualties, delay, launched_at):
    decided, launched = answer_time(TIMED, rung, casualties)
    assert decided == pytest.approx(delay)
    assert launched == (None if launched_at is None else pytest.approx(launched_at, abs=0.05))


def test_without_timing_every_strike_waits_the_same_median():
    assert answer_time("", 5, 10) == (13 * 24.0, 24.0 + 13 * 24.0)
    assert answer_time("", 1, 0) == (13 * 24.0, 24.0 + 13 * 24.0)


def test_exact_log_of_a_leadership_strike_answered_within_hours():
    from sim.model.events import StrikeOutcome

    text = LEADERSHIP.format(timing=TIMED, rung=5, casualties=10)
    delay = 13 * 24 * math.exp(-(5 + 0.5 * math.log(11) - 3.0))  # 12.7 hours
    certain = 1.0 / (1.0 + 1e-9 / (1 - 1e-9))
    never = 1.0 / (1.0 + (1 - 1e-9) / 1e-9)

    def decided(time, actor, strike, attacker, rung, casualties, p, respond, answer, wait):
        return DecisionMade(
            time,
            actor,
            strike,
            "struck",
            attacker,
            rung,
            casualties,
            0.0,
            0.0,
            0.0,
            0.0,
            p,
            respond,
            attacker,
            answer,
            wait,
            False,
        )

    assert run_replication(parse_scenario(text), 0) == [
        StrikeLaunched(24.0, 1, "a", "b", 5, False, "opening", ()),
        StrikeOutcome(24.0, 1, "a", "b", 5, 0, 0, 0, 0, 10, 0.0, 0.0, 0.0),
        decided(24.0, "b", 1, "a", 5, 10, pytest.approx(certain), True, 3, pytest.approx(delay)),
        StrikeLaunched(pytest.approx(24.0 + delay), 2, "b", "a", 3, False, "struck", ()),
        StrikeOutcome(pytest.approx(24.0 + delay), 2, "b", "a", 3, 0, 0, 0, 0, 0, 0.0, 0.0, 0.0),
        decided(
            pytest.approx(24.0 + delay), "a", 2, "b", 3, 0, pytest.approx(never), False, 2, 24.0
        ),
    ]
