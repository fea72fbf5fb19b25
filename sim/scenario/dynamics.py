"""Schema blocks of the model's escalation dynamics (issue 14), each optional: absent = switched off.

An actor's ``memory`` (the account it keeps with each adversary), the ``height`` of its answers as
an ordered choice over all rungs, and the ``timing`` of its answers by what it suffered live on its
policy; the scenario's ``severity`` scale, its ``ceasefire`` and ``end_when_settled`` endings live
on the scenario. The equations are in ``docs/model-odd.md``. A scenario that uses none of them runs
exactly as before, draw for draw. The strikes that start a round, and the checks that tie these
blocks to the rest of a scenario, are in ``sim.scenario.rounds``.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field, model_validator

from sim.scenario.base import (
    Identifier,
    Probability,
    StrictModel,
)


class SeverityScale(StrictModel):
    """One scale for how bad a strike was, in rung-equivalents, used by every mechanism below:
    ``severity = rung + harm_weight * log1p(casualties + damage_usd / 1e6)``."""

    harm_weight: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        0.5,
        description="Rung-equivalents added per unit of log1p(casualties + damage in US dollars "
        "/ 1e6), 0-5. At 0.5, the 7 IRGC officers killed in Damascus on 1 April 2024 add 1.0 to "
        "its rung 2; a harmless strike adds nothing.",
    )


class Memory(StrictModel):
    """The account an actor keeps with each adversary, and its war weariness.

    Per adversary it sums the severity it suffered and the severity it inflicted (its strikes that
    landed) and holds what its decided, not yet landed answers are meant to inflict (pending, their
    rung). ``unsettled = max(0, suffered - inflicted - pending)``. An account at or below
    ``settle_tolerance`` is settled: a strike that leaves it so is not answered (probability 0),
    and an answer that brings it there closes the account (logged). Otherwise the log-odds of
    answering gain ``account_weight * unsettled`` and lose
    ``weariness_weight * log1p(own costs so far / 1e9)``.
    """

    account_weight: Annotated[float, Field(ge=-10.0, le=10.0)] = Field(
        1.0, description="Log-odds of answering added per rung-equivalent of unsettled account."
    )
    settle_tolerance: Annotated[float, Field(ge=0.0, le=6.0)] = Field(
        0.5,
        description="Unsettled severity, rung-equivalents (0-6), at or below which the account "
        "is settled: nothing is owed, so nothing is answered.",
    )
    weariness_weight: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        0.0,
        description="Log-odds of answering removed per unit of log1p(own costs so far in US "
        "dollars / 1e9): strikes paid for, interceptors fired in its defence, damage suffered.",
    )


class Height(StrictModel):
    """The rung of an answer as an ordered choice over every rung 0..max_rung (ordered logit).

    The latent height is ``eta = s + escalation_bias + red_line_shift * [rung >= red_line_rung]
    - thwarted_shift * intercepted_share - restraint_shift * ally_pressure
    - self_restraint_shift * self_restraint``, where ``s`` is the unsettled account if the actor
    keeps a memory, else the severity of the strike answered (rung-equivalents). The answer is
    at most rung ``k`` with probability ``1 / (1 + exp(-(k + 0.5 - eta) / spread))`` for
    ``k < max_rung`` (the cut between two rungs lies half-way), and at most ``max_rung`` surely.
    Every rung up to ``max_rung`` keeps a positive chance whatever the levers; restraint moves
    the whole distribution down smoothly. It replaces the one-rung step (``escalate_probability``,
    ``deescalate_probability``, ``escalation_aversion``), which it ignores.
    """

    spread: Annotated[float, Field(ge=0.05, le=5.0)] = Field(
        0.5,
        description="Logistic scale of the latent height, rungs (0.05-5): small = the answer "
        "matches eta; 0.5 gives a jump of two or more rungs about 4% of the time.",
    )
    escalation_bias: Annotated[float, Field(ge=-6.0, le=6.0)] = Field(
        0.0, description="Rungs added to every answer (-6 to 6): > 0 answers above what was owed."
    )
    red_line_shift: Annotated[float, Field(ge=-6.0, le=6.0)] = Field(
        0.0, description="Rungs added when the strike answered is at or above red_line_rung."
    )
    thwarted_shift: Annotated[float, Field(ge=0.0, le=6.0)] = Field(
        0.0,
        description="Rungs removed per unit of intercepted share (0-1): a thwarted strike can be "
        "answered lower, to save face.",
    )
    restraint_shift: Annotated[float, Field(ge=0.0, le=12.0)] = Field(
        1.0, description="Rungs removed per unit of allies' restraint pressure (0-1)."
    )
    self_restraint_shift: Annotated[float, Field(ge=0.0, le=12.0)] = Field(
        1.0, description="Rungs removed per unit of the policy's self_restraint (0-1)."
    )


class Signals(StrictModel):
    """Claiming and attributing strikes: an unclaimed (deniable) strike weighs less on its target.

    A strike its attacker does not claim is weighed by the actor it concerns at ``a =
    attribution``: the odds of answering it are multiplied by ``a`` (log-odds ``+ log a``; at 0
    it is never answered) and the severity it observes and books as suffered is ``a * severity``
    (the attacker books what it inflicted in full). Without this block an actor weighs every
    strike in full. The actor's own answers are claimed with ``claim_probability``.
    """

    attribution: Probability = Field(
        0.5,
        description="Weight (0-1) of a strike nobody claimed in what this actor observes and "
        "books: 1 = pinned on the attacker as surely as a claimed one, 0 = ignored.",
    )
    claim_probability: Probability = Field(
        1.0, description="Chance (0-1) that this actor claims an answer it launches."
    )


class Campaign(StrictModel):
    """A campaign an actor keeps up on its own, unordered and unprovoked: strikes at one low rung
    on one target, at random times (a Poisson process, its own random stream ``campaign``).

    The rate is ``rate_per_day`` times the ``campaign_multiplier`` of every ``proxy`` relation in
    which the actor is the proxy: a patron raises it (> 1) or holds it back (< 1; 0 stops it).
    Each strike sends the actor's package for ``rung``, unannounced unless its option says so;
    nobody is obliged to answer it, but its target may, as it answers any strike.
    """

    target: Identifier = Field(description="The actor the campaign strikes, by key.")
    rate_per_day: Annotated[float, Field(ge=0.0, le=100.0)] = Field(
        description="Strikes per day (0-100) before any patron's multiplier."
    )
    rung: Annotated[int, Field(ge=0, le=2)] = Field(
        1, description="Rung of its strikes (0-2: shadow war, proxy exchanges, third countries)."
    )


class Timing(StrictModel):
    """The delay of an answer by the severity of what was suffered: the graver, the sooner.

    ``median_hours = 24 * delay.median_days * exp(-urgency * (s - reference_severity))``, kept
    within ``[min_median_hours, 24 * max_median_days]``, where ``s`` is the severity of the strike
    answered (rung-equivalents); the delay is log-normal around it with the policy's
    ``delay.sigma``. At urgency 1 a strike on the leadership (rung 5, 10 killed: severity 6.2) is
    answered after 4% of the median (13 hours for 13 days); a pinprick waits longer.
    """

    urgency: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        1.0,
        description="How much faster each rung-equivalent of severity above reference_severity "
        "makes the answer (log of the median delay per rung-equivalent, 0-5; 0 = no effect).",
    )
    reference_severity: Annotated[float, Field(ge=0.0, le=12.0)] = Field(
        3.0,
        description="Severity (rung-equivalents, 0-12) answered after delay.median_days.",
    )
    min_median_hours: Annotated[float, Field(ge=0.1, le=240.0)] = Field(
        2.0, description="Shortest median delay, hours (0.1-240): preparing a strike takes time."
    )
    max_median_days: Annotated[float, Field(ge=0.1, le=3650.0)] = Field(
        365.0, description="Longest median delay, days (0.1-3650)."
    )

    @model_validator(mode="after")
    def _ordered(self) -> Timing:
        if self.min_median_hours > 24 * self.max_median_days:
            raise ValueError(
                f"need min_median_hours <= 24 * max_median_days, got {self.min_median_hours:g} "
                f"and {self.max_median_days:g} days"
            )
        return self


class Ceasefire(StrictModel):
    """A mediator (or ally) who can bring a ceasefire that ends the round before the horizon.

    Every ``check_every_hours`` the round ends with chance ``1 - exp(-h * check_every_hours / 24)``,
    where the hazard per day is ``h = base_hazard_per_day * exp(rung_weight * R + cost_weight *
    log1p(C / 1e9) + pressure_weight * P)``: ``R`` the highest rung any strike has reached so far
    (0 before any), ``C`` what the round has cost every actor so far (US dollars), ``P`` the
    mediator's restraint pressure (the largest of its ``restrains`` relations, 0-1).
    """

    mediator: Identifier = Field(description="The actor who brokers the ceasefire, by key.")
    base_hazard_per_day: Annotated[float, Field(ge=0.0, le=1.0)] = Field(
        0.002,
        description="Hazard of a ceasefire per day when every term is zero, per day (0-1). With "
        "rung_weight 0.5 a round at rung 6 ends at 0.04 a day, in 25 days on average (the 2006 "
        "Lebanon war: UNSC 1701 after 34 days).",
    )
    rung_weight: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        0.5, description="Log-hazard added per rung of the highest rung reached (0-5)."
    )
    cost_weight: Annotated[float, Field(ge=0.0, le=5.0)] = Field(
        0.0,
        description="Log-hazard added per unit of log1p(every actor's costs so far in US dollars "
        "/ 1e9), 0-5.",
    )
    pressure_weight: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        0.0, description="Log-hazard added per unit of the mediator's restraint pressure (0-1)."
    )
    check_every_hours: Annotated[float, Field(ge=1.0, le=240.0)] = Field(
        24.0, description="Interval between two draws of the ceasefire, hours (1-240)."
    )
