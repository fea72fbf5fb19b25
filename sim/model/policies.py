"""Response policies: pure functions from what an actor observed (and a Generator) to a decision.

No SimPy here: a policy can be tested from a table of observations. Every decision draws the same
six numbers in the same order whatever it decides, so two settings compared with common random
numbers stay paired decision by decision. The rung of an answer is a one-rung step from the strike
answered (``choose_rung``) or, with a ``height`` block, an ordered logit over every rung
(``choose_height``); either way one uniform draw picks it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from sim.scenario.base import Means, PackageOption
from sim.scenario.schema import Policy, StrikePackage

MAX_LOG_FACTOR = 50.0
"""The largest log of a log-normal factor on a delay or a strike's size (e**50, about 5e21): a
cap no in-range draw reaches in practice (sigma <= 5 needs a normal draw above 10), and one that
keeps the arithmetic finite for any draw."""


@dataclass(frozen=True)
class Observation:
    """What an actor saw of a strike on itself (or on an ally it defends).

    ``severity`` is the strike's, rung-equivalents (``sim.model.memory.severity``); ``unsettled``
    is the actor's account with the attacker after it (None if the actor keeps no memory), and
    ``costs_usd`` what the round has cost the actor so far, US dollars. ``weight`` (0-1) is how
    much the strike counts for the actor: its ``signals.attribution`` if the strike was not
    claimed, else 1 (``severity`` is already weighed by it).
    """

    actor: str
    attacker: str
    rung: int
    casualties: int = 0
    damage_usd: float = 0.0
    intercepted_share: float = 0.0
    ally_pressure: float = 0.0
    attacker_patron: str | None = None
    severity: float = 0.0
    unsettled: float | None = None
    costs_usd: float = 0.0
    weight: float = 1.0


@dataclass(frozen=True)
class Decision:
    """Whether and how to respond, with the probability that drove it (for traces and tests)."""

    respond: bool
    respond_probability: float
    target: str
    rung: int
    delay_hours: float
    telegraphed: bool
    projectiles: dict[str, int] = field(default_factory=dict)
    package: Means | None = None
    claimed: bool = True
    option: str = ""
    option_probability: float = 1.0


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def respond_probability(policy: Policy, seen: Observation, domestic_pressure: float) -> float:
    """Chance of responding: the logistic model documented on ``sim.scenario.schema.Policy``, with
    the account and war-weariness terms of ``sim.scenario.dynamics.Memory`` if it keeps one, and
    ``log weight`` for a strike not claimed (``Signals``); below ``exp(-700)`` it is ``exp(-700)``
    (a nearly unattributed strike must not overflow)."""
    memory = policy.memory
    if memory is not None and (seen.unsettled or 0.0) <= memory.settle_tolerance:
        return 0.0
    if seen.weight <= 0.0:
        return 0.0
    harm = math.log1p(seen.casualties + seen.damage_usd / 1e6)
    z = (
        _logit(policy.base_response_probability)
        + policy.red_line_weight * (seen.rung >= policy.red_line_rung)
        + policy.harm_weight * harm
        - policy.thwarted_weight * seen.intercepted_share
        + policy.domestic_weight * domestic_pressure
        - policy.restraint_weight * seen.ally_pressure
    )
    if memory is not None:
        z += memory.account_weight * seen.unsettled
        z -= memory.weariness_weight * math.log1p(seen.costs_usd / 1e9)
    if seen.weight < 1.0:
        z += math.log(seen.weight)
    return 1.0 / (1.0 + math.exp(min(-z, 700.0)))


def escalation_probability(policy: Policy, incoming: int, ally_pressure: float) -> float:
    """Chance of answering one rung up: damped by the actor's own and its allies' restraint, and
    by its aversion to climbing further above its red line."""
    above_red_line = max(0, incoming - policy.red_line_rung)
    return (
        policy.escalate_probability
        * (1 - policy.self_restraint)
        * (1 - ally_pressure)
        * math.exp(-policy.escalation_aversion * above_red_line)
    )


def choose_rung(policy: Policy, incoming: int, ally_pressure: float, u: float) -> int:
    """Rung of the answer from one uniform draw ``u``: up, down or the same, within the caps."""
    up = escalation_probability(policy, incoming, ally_pressure)
    step = 1 if u < up else -1 if u < up + policy.deescalate_probability else 0
    return max(0, min(incoming + step, policy.max_rung))


def _logistic(x: float) -> float:
    """1 / (1 + exp(-x)), without overflow for any finite ``x``."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def latent_height(policy: Policy, seen: Observation) -> float:
    """``eta``, rungs: what is owed (the unsettled account, else the strike's severity), shifted
    by the red line, the thwarted share and restraint, as documented on ``Height``."""
    height = policy.height
    owed = seen.unsettled if policy.memory is not None and seen.unsettled is not None else None
    return (
        (seen.severity if owed is None else owed)
        + height.escalation_bias
        + height.red_line_shift * (seen.rung >= policy.red_line_rung)
        - height.thwarted_shift * seen.intercepted_share
        - height.restraint_shift * seen.ally_pressure
        - height.self_restraint_shift * policy.self_restraint
    )


def at_most(policy: Policy, seen: Observation) -> list[float]:
    """P(answer <= k) for k = 0..max_rung; the last is 1."""
    eta, spread = latent_height(policy, seen), policy.height.spread
    below = [_logistic((k + 0.5 - eta) / spread) for k in range(policy.max_rung)]
    return [*below, 1.0]


def rung_probabilities(policy: Policy, seen: Observation) -> list[float]:
    """P(answer = k) for k = 0..max_rung: each positive (for a finite eta), summing to 1.

    A rung whose cuts lie above ``eta`` takes the difference of the upper tails
    (``logistic(-x)``), not of the cumulative chances near 1, so a rung 40 spreads away keeps
    its chance of about 4e-18 instead of rounding to 0."""
    eta, spread = latent_height(policy, seen), policy.height.spread
    cuts = [(k + 0.5 - eta) / spread for k in range(policy.max_rung)]
    chances = []
    for low, high in zip([-math.inf, *cuts], [*cuts, math.inf], strict=True):
        if low + high <= 0:
            chances.append(_logistic(high) - _logistic(low))
        else:
            chances.append(_logistic(-low) - _logistic(-high))
    return chances


def choose_height(policy: Policy, seen: Observation, u: float) -> int:
    """The rung the uniform draw ``u`` picks: the lowest ``k`` with ``u < P(answer <= k)``."""
    return next(k for k, c in enumerate(at_most(policy, seen)) if u < c)


def delay_hours(policy: Policy, seen: Observation, z: float) -> float:
    """The answer's delay, hours, from one standard normal ``z``: log-normal around the policy's
    median, or around the median its ``timing`` block gives for the severity suffered."""
    median_hours = 24 * policy.delay.median_days
    timing = policy.timing
    if timing is not None:
        shift = -timing.urgency * (seen.severity - timing.reference_severity)
        median_hours = min(
            max(median_hours * math.exp(min(shift, MAX_LOG_FACTOR)), timing.min_median_hours),
            24 * timing.max_median_days,
        )
    return float(median_hours * math.exp(min(policy.delay.sigma * z, MAX_LOG_FACTOR)))


def package_for(policy: Policy, rung: int) -> tuple[int, StrikePackage]:
    """The package for ``rung``: the highest one at or below it, else the lowest one above it."""
    below = [r for r in policy.packages if r <= rung]
    chosen = max(below) if below else min(policy.packages)
    return chosen, policy.packages[chosen]


def option_chances(package: StrikePackage, intercepted_share: float) -> list[float]:
    """The chance of each of a package's options: ``probability * exp(thwarted_shift *
    intercepted_share)``, normalised to sum to 1."""
    weights = [
        option.probability * math.exp(option.thwarted_shift * intercepted_share)
        for option in package.options
    ]
    total = sum(weights)
    return [w / total for w in weights]


def choose_option(
    package: StrikePackage, intercepted_share: float, u: float
) -> tuple[PackageOption, float]:
    """The option the uniform draw ``u`` picks, with its chance; an option of chance 0 never."""
    chances = option_chances(package, intercepted_share)
    cumulative = 0.0
    for option, chance in zip(package.options, chances, strict=True):
        cumulative += chance
        if u < cumulative and chance > 0:
            return option, chance
    last = max(i for i, chance in enumerate(chances) if chance > 0)
    return package.options[last], chances[last]


@dataclass(frozen=True)
class Sent:
    """The means a strike sends, whether it is telegraphed, and the option chosen ("" if the
    package has none) with its chance."""

    means: Means
    telegraphed: bool
    option: str = ""
    chance: float = 1.0


def means_of(
    package: StrikePackage, intercepted_share: float, telegraphed: bool, rng: np.random.Generator
) -> Sent:
    """A package's means, or the option one draw of ``rng`` chooses if it has options (which
    then says whether it is telegraphed, unless it leaves that to ``telegraphed``)."""
    if not package.options:
        return Sent(package, telegraphed)
    option, chance = choose_option(package, intercepted_share, rng.random())
    if option.telegraphed is not None:
        telegraphed = option.telegraphed
    return Sent(option, telegraphed, option.name, chance)


def force(package: Means, arsenal: dict[str, int], z: float) -> dict[str, int]:
    """Projectile counts for a package, scaled by ``exp(size_sigma * z)`` (at most
    ``exp(MAX_LOG_FACTOR)``) and capped by stocks."""
    scale = math.exp(min(package.size_sigma * z, MAX_LOG_FACTOR))
    return {
        weapon: min(round(count * scale), arsenal.get(weapon, 0))
        for weapon, count in package.projectiles.items()
    }


def decide(
    policy: Policy,
    seen: Observation,
    *,
    domestic_pressure: float,
    arsenal: dict[str, int],
    rng: np.random.Generator,
) -> Decision:
    """Decide the answer to ``seen``; always draws six numbers from ``rng``, then one (is the
    answer claimed?) if the policy has a ``signals`` block, and one (which option?) if the
    package for the rung chosen has ``options``."""
    u_respond, u_rung, u_target, u_telegraph = rng.random(4)
    z_delay, z_size = rng.standard_normal(2)
    signals = policy.signals
    claimed = signals is None or bool(rng.random() < signals.claim_probability)
    p = respond_probability(policy, seen, domestic_pressure)
    if policy.height is None:
        wanted = choose_rung(policy, seen.rung, seen.ally_pressure, u_rung)
    else:
        wanted = choose_height(policy, seen, u_rung)
    rung, package = package_for(policy, wanted)
    telegraphed = bool(u_telegraph < policy.telegraph_probability)
    sent = means_of(package, seen.intercepted_share, telegraphed, rng)
    target = seen.attacker
    if seen.attacker_patron and u_target < policy.strike_patron_probability:
        target = seen.attacker_patron
    return Decision(
        respond=bool(u_respond < p),
        respond_probability=p,
        target=target,
        rung=rung,
        delay_hours=delay_hours(policy, seen, z_delay),
        telegraphed=sent.telegraphed,
        projectiles=force(sent.means, arsenal, z_size),
        package=sent.means,
        claimed=claimed,
        option=sent.option,
        option_probability=sent.chance,
    )
