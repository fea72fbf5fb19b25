"""The pure policy functions, table by table: no SimPy, no scenario file."""

import math

import numpy as np
import pytest

from sim.model.policies import (
    Observation,
    choose_rung,
    decide,
    escalation_probability,
    force,
    package_for,
    respond_probability,
)
from sim.scenario.schema import Policy, StrikePackage


def policy(**changes) -> Policy:
    """A policy with every term switched off unless ``changes`` switch it on."""
    spec = {
        "base_response_probability": 0.4,
        "red_line_rung": 3,
        "delay": {"median_days": 2.0, "sigma": 0.5},
        "packages": {1: {"projectiles": {"rocket": 10}}, 3: {"projectiles": {"drone": 100}}},
    }
    spec.update(changes)
    return Policy.model_validate(spec)


def logistic(z: float) -> float:
    return 1 / (1 + math.exp(-z))


LOGIT_BASE = math.log(0.4 / 0.6)
QUIET = Observation(actor="b", attacker="a", rung=2)

# (term, policy changes, observation changes, domestic pressure, expected change of the log-odds)
TERMS = [
    ("red line crossed", {"red_line_weight": 2.0}, {"rung": 3}, 0.0, 2.0),
    ("red line crossed well above", {"red_line_weight": 2.0}, {"rung": 6}, 0.0, 2.0),
    ("casualties", {"harm_weight": 0.5}, {"casualties": 9}, 0.0, 0.5 * math.log(10)),
    ("damage", {"harm_weight": 0.5}, {"damage_usd": 4e6}, 0.0, 0.5 * math.log(5)),
    ("thwarted", {"thwarted_weight": 1.5}, {"intercepted_share": 0.8}, 0.0, -1.2),
    ("domestic pressure", {"domestic_weight": 1.0}, {}, 0.7, 0.7),
    ("ally pressure", {"restraint_weight": 2.5}, {"ally_pressure": 0.6}, 0.0, -1.5),
]


@pytest.mark.parametrize(
    ("changes", "seen", "domestic", "shift"), [t[1:] for t in TERMS], ids=[t[0] for t in TERMS]
)
def test_each_logistic_term_moves_the_probability_its_documented_way(
    changes, seen, domestic, shift
):
    quiet = respond_probability(policy(**changes), QUIET, 0.0)
    assert quiet == pytest.approx(0.4)
    moved = respond_probability(policy(**changes), Observation(**{**vars(QUIET), **seen}), domestic)
    assert moved == pytest.approx(logistic(LOGIT_BASE + shift))
    assert (moved > quiet) == (shift > 0)
    # With its weight off, the same observation leaves the probability at the base.
    assert respond_probability(policy(), Observation(**{**vars(QUIET), **seen}), domestic) == (
        pytest.approx(0.4)
    )


def test_below_the_red_line_the_red_line_weight_does_nothing():
    p = policy(red_line_weight=5.0)
    assert respond_probability(p, Observation("b", "a", rung=2), 0.0) == pytest.approx(0.4)


@pytest.mark.parametrize(("base", "expected"), [(0.0, 0.0), (1.0, 1.0)])
def test_certain_bases_stay_certain_against_moderate_terms(base, expected):
    p = policy(base_response_probability=base, harm_weight=1.0, thwarted_weight=1.0)
    seen = Observation("b", "a", rung=2, casualties=5, intercepted_share=1.0)
    assert respond_probability(p, seen, 0.0) == pytest.approx(expected, abs=1e-6)


# (case, policy changes, incoming rung, ally pressure, probability of going up)
ESCALATION = [
    ("plain", {"escalate_probability": 0.5}, 2, 0.0, 0.5),
    ("self restraint", {"escalate_probability": 0.5, "self_restraint": 0.4}, 2, 0.0, 0.3),
    ("ally pressure", {"escalate_probability": 0.5}, 2, 0.5, 0.25),
    (
        "aversion at the red line",
        {"escalate_probability": 0.5, "escalation_aversion": 1.0},
        3,
        0,
        0.5,
    ),
    (
        "aversion two above",
        {"escalate_probability": 0.5, "escalation_aversion": 1.0},
        5,
        0.0,
        0.5 * math.exp(-2),
    ),
]


@pytest.mark.parametrize(
    ("changes", "incoming", "pressure", "up"),
    [e[1:] for e in ESCALATION],
    ids=[e[0] for e in ESCALATION],
)
def test_escalation_probability_is_damped_by_restraint_and_aversion(
    changes, incoming, pressure, up
):
    assert escalation_probability(policy(**changes), incoming, pressure) == pytest.approx(up)


# (case, escalate, deescalate, max rung, incoming, uniform draw, rung chosen)
RUNGS = [
    ("up", 0.3, 0.2, 6, 2, 0.0, 3),
    ("up just below the edge", 0.3, 0.2, 6, 2, 0.2999, 3),
    ("down at the edge", 0.3, 0.2, 6, 2, 0.3, 1),
    ("down just below the next edge", 0.3, 0.2, 6, 2, 0.4999, 1),
    ("same at the edge", 0.3, 0.2, 6, 2, 0.5, 2),
    ("same near 1", 0.3, 0.2, 6, 2, 0.9999, 2),
    ("never up", 0.0, 0.0, 6, 2, 0.0, 2),
    ("capped by max_rung", 1.0, 0.0, 4, 4, 0.5, 4),
    ("pulled down to max_rung", 0.0, 0.0, 4, 6, 0.5, 4),
    ("floor at 0", 0.0, 1.0, 6, 0, 0.5, 0),
    ("top of the ladder", 1.0, 0.0, 6, 6, 0.5, 6),
]


@pytest.mark.parametrize(
    ("escalate", "deescalate", "max_rung", "incoming", "u", "rung"),
    [r[1:] for r in RUNGS],
    ids=[r[0] for r in RUNGS],
)
def test_choose_rung_by_the_uniform_draw(escalate, deescalate, max_rung, incoming, u, rung):
    p = policy(escalate_probability=escalate, deescalate_probability=deescalate, max_rung=max_rung)
    assert choose_rung(p, incoming, 0.0, u) == rung


def test_ally_pressure_turns_an_escalation_into_the_same_rung():
    p = policy(escalate_probability=0.6)
    assert choose_rung(p, 2, 0.0, 0.5) == 3
    assert choose_rung(p, 2, 0.5, 0.5) == 2  # up is now 0.3


PACKAGES = {1: {}, 3: {"cost_usd": 3.0}, 5: {"cost_usd": 5.0}}


@pytest.mark.parametrize(
    ("rung", "chosen"),
    [(0, 1), (1, 1), (2, 1), (3, 3), (4, 3), (5, 5), (6, 5)],
)
def test_package_for_takes_the_highest_at_or_below_else_the_lowest_above(rung, chosen):
    got, package = package_for(policy(packages=PACKAGES), rung)
    assert got == chosen
    assert package == StrikePackage.model_validate(PACKAGES[chosen])


# (case, counts, size sigma, arsenal, z, expected counts)
FORCES = [
    ("exact", {"drone": 100, "ballistic": 20}, 0.0, {"drone": 500, "ballistic": 500}, 1.7, {"drone": 100, "ballistic": 20}),
    ("scaled up", {"drone": 100}, 0.5, {"drone": 500}, 1.0, {"drone": round(100 * math.e**0.5)}),
    ("scaled down", {"drone": 100}, 0.5, {"drone": 500}, -2.0, {"drone": round(100 / math.e)}),
    ("capped by stock", {"drone": 100, "cruise": 10}, 0.0, {"drone": 40, "cruise": 50}, 0.0, {"drone": 40, "cruise": 10}),
    ("scaled then capped", {"drone": 100}, 1.0, {"drone": 150}, 1.0, {"drone": 150}),
    ("weapon not held", {"drone": 100, "cruise": 10}, 0.0, {"drone": 500}, 0.0, {"drone": 100, "cruise": 0}),
    ("empty arsenal", {"drone": 100}, 0.3, {}, 0.5, {"drone": 0}),
]  # fmt: skip


@pytest.mark.parametrize(
    ("counts", "sigma", "arsenal", "z", "expected"),
    [f[1:] for f in FORCES],
    ids=[f[0] for f in FORCES],
)
def test_force_scales_and_caps_by_the_arsenal(counts, sigma, arsenal, z, expected):
    package = StrikePackage(projectiles=counts, size_sigma=sigma)
    assert force(package, arsenal, z) == expected


def test_force_does_not_touch_the_arsenal():
    arsenal = {"drone": 40}
    force(StrikePackage(projectiles={"drone": 100}), arsenal, 0.0)
    assert arsenal == {"drone": 40}


# Policies and observations that lead decide down different branches.
DECISION_CASES = [
    ("never responds", {"base_response_probability": 0.0}, QUIET),
    ("always responds", {"base_response_probability": 1.0}, QUIET),
    (
        "escalates and telegraphs",
        {"base_response_probability": 1.0, "escalate_probability": 1.0, "telegraph_probability": 1.0},
        QUIET,
    ),
    (
        "strikes the patron",
        {"base_response_probability": 1.0, "strike_patron_probability": 1.0},
        Observation("b", "proxy", rung=1, attacker_patron="patron"),
    ),
    ("no patron to strike", {"strike_patron_probability": 1.0}, QUIET),
    ("exact delay", {"delay": {"median_days": 3.0, "sigma": 0.0}}, QUIET),
    ("everything on", {
        "base_response_probability": 0.5, "red_line_weight": 1.0, "harm_weight": 0.5,
        "thwarted_weight": 1.0, "domestic_weight": 1.0, "restraint_weight": 1.0,
        "escalate_probability": 0.4, "deescalate_probability": 0.3,
        "packages": {0: {"size_sigma": 0.4}, 4: {"projectiles": {"drone": 7}, "size_sigma": 0.4}},
    }, Observation("b", "a", rung=4, casualties=3, intercepted_share=0.5, ally_pressure=0.3)),
]  # fmt: skip


@pytest.mark.parametrize(
    ("changes", "seen"), [c[1:] for c in DECISION_CASES], ids=[c[0] for c in DECISION_CASES]
)
@pytest.mark.parametrize("seed", [0, 1, 2024])
def test_decide_draws_six_numbers_whatever_it_decides(changes, seen, seed):
    p = policy(**changes)
    rng, reference = np.random.default_rng(seed), np.random.default_rng(seed)
    decision = decide(p, seen, domestic_pressure=0.5, arsenal={"drone": 50}, rng=rng)
    u_respond, u_rung, u_target, u_telegraph = reference.random(4)
    z_delay, z_size = reference.standard_normal(2)
    assert rng.bit_generator.state == reference.bit_generator.state
    # The decision is what the documented functions make of those draws.
    prob = respond_probability(p, seen, 0.5)
    rung, package = package_for(p, choose_rung(p, seen.rung, seen.ally_pressure, u_rung))
    patron = seen.attacker_patron and u_target < p.strike_patron_probability
    assert decision.respond_probability == prob
    assert decision.respond == (u_respond < prob)
    assert decision.target == (seen.attacker_patron if patron else seen.attacker)
    assert (decision.rung, decision.package) == (rung, package)
    assert decision.telegraphed == (u_telegraph < p.telegraph_probability)
    assert decision.projectiles == force(package, {"drone": 50}, z_size)
    expected_delay = 24 * p.delay.median_days * math.exp(p.delay.sigma * z_delay)
    assert decision.delay_hours == pytest.approx(expected_delay)


def test_decide_branches_as_labelled():
    rng = np.random.default_rng(5)
    never = decide(
        policy(base_response_probability=0.0), QUIET, domestic_pressure=0, arsenal={}, rng=rng
    )
    assert not never.respond
    loud = policy(
        base_response_probability=1.0, escalate_probability=1.0, telegraph_probability=1.0
    )
    up = decide(loud, QUIET, domestic_pressure=0, arsenal={"drone": 1000}, rng=rng)
    assert up.respond and up.telegraphed and up.rung == 3 and up.projectiles == {"drone": 100}
    proxy_strike = Observation("b", "proxy", rung=1, attacker_patron="patron")
    patron = policy(base_response_probability=1.0, strike_patron_probability=1.0)
    assert decide(patron, proxy_strike, domestic_pressure=0, arsenal={}, rng=rng).target == "patron"
    exact = policy(delay={"median_days": 3.0, "sigma": 0.0})
    assert decide(exact, QUIET, domestic_pressure=0, arsenal={}, rng=rng).delay_hours == 72.0
