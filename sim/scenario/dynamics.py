"""Schema blocks of the model's escalation dynamics (issue 14), each optional: absent = switched off.

An actor's ``memory`` (the account it keeps with each adversary), the ``height`` of its answers as
an ordered choice over all rungs, and the ``timing`` of its answers by what it suffered live on its
policy; the scenario's ``severity`` scale, its ``ceasefire`` and ``end_when_settled`` endings live
on the scenario. The equations are in ``docs/model-odd.md``. A scenario that uses none of them runs
exactly as before, draw for draw.

The strikes that start a round are here too: the ``opening`` strikes the run flies and the
``history`` strikes already done before the clock starts.
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from sim.scenario.base import (
    Count,
    Dollars,
    Identifier,
    Probability,
    RungNumber,
    StrictModel,
    horizon_problems,
)


class OpeningEvent(StrictModel):
    """A strike that starts the run, with its outcome given (no projectiles) or simulated."""

    day: Annotated[float, Field(ge=0.0, le=3650.0)] = Field(
        description="When the strike is launched, days after the start (0-3650), before the "
        "horizon."
    )
    attacker: Identifier = Field(description="The actor that strikes.")
    target: Identifier = Field(description="The actor struck.")
    rung: RungNumber = Field(description="Rung (0-6) of the strike on the escalation ladder.")
    description: str = Field(
        "", description="What happened, in words; shown in the event log and traces."
    )
    telegraphed: bool = Field(
        False, description="Announced in advance, so layers that require warning can engage it."
    )
    claimed: bool = Field(
        True,
        description="Claimed by its attacker; an unclaimed strike is weighed by its "
        "target's signals.attribution.",
    )
    projectiles: dict[str, Count] = Field(
        default_factory=dict,
        description="Projectiles by weapon (0-1e7 each), flown through the target's defences; "
        "not drawn from the attacker's arsenal.",
    )
    casualties: Count = Field(
        0,
        description="Casualties (killed and wounded, 0-1e7) given, added to those of any leakers.",
    )
    damage_usd: Dollars = Field(
        0.0, description="Damage given, US dollars (0-1e13), added to that of any leakers."
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


class HistoryStrike(StrictModel):
    """A strike that already happened before the clock starts, with what it achieved.

    History is not re-decided: the strike is not flown again, its projectiles are taken from the
    attacker's arsenal and the interceptors it drew from the target's layers, and it enters the
    accounts of both sides. The latest strike of an attacker on a target that the target has not
    answered later in the history is decided on at the start (its pending answer)."""

    day: Annotated[float, Field(ge=-3650.0, le=0.0)] = Field(
        description="When it was launched, days relative to the start of the clock (-3650 to 0): "
        "history comes before the start, never after it."
    )
    attacker: Identifier = Field(description="The actor that struck.")
    target: Identifier = Field(description="The actor struck.")
    rung: RungNumber = Field(description="Rung (0-6) of the strike on the escalation ladder.")
    description: str = Field("", description="What happened, in words; shown in traces.")
    telegraphed: bool = Field(False, description="Whether it was announced in advance.")
    claimed: bool = Field(True, description="Whether its attacker claimed it.")
    projectiles: dict[str, Annotated[int, Field(ge=0, le=10**6)]] = Field(
        default_factory=dict,
        description="Projectiles launched by weapon (0-1,000,000 each), taken from the "
        "attacker's arsenal.",
    )
    failed: Annotated[int, Field(ge=0, le=10**7)] = Field(
        0, description="Projectiles that failed at launch or in flight."
    )
    intercepted: Annotated[int, Field(ge=0, le=10**7)] = Field(
        0, description="Projectiles intercepted; the rest of those that flew hit."
    )
    interceptors_fired: dict[str, Annotated[int, Field(ge=0, le=10**6)]] = Field(
        default_factory=dict,
        description="Interceptors fired by layer name of the layers the strike met (0-1,000,000 "
        "each: the target's layers abroad for a rung-2 strike on an actor with `abroad:`, else "
        "its homeland defence), taken from those layers' stocks.",
    )
    casualties: Annotated[int, Field(ge=0, le=10**7)] = Field(
        0, description="Casualties (killed and wounded) it caused."
    )
    damage_usd: Annotated[float, Field(ge=0.0, le=1e13)] = Field(
        0.0, description="Damage it did, US dollars (0-1e13)."
    )

    @model_validator(mode="after")
    def _achieved(self) -> HistoryStrike:
        launched = sum(self.projectiles.values())
        if self.failed + self.intercepted > launched:
            raise ValueError(
                f"failed + intercepted ({self.failed} + {self.intercepted}) exceeds the "
                f"{launched} projectiles launched"
            )
        return self


def raise_round_problems(scenario: Any) -> None:
    """Cross-references of these blocks, raised as one pydantic error each at its own location
    (so the loader reports ``file:line: field: message``): a layer abroad must be operated by its
    actor or an ally that defends it and name known weapons; a ceasefire's mediator, a campaign's
    target (not the actor itself) and a history strike's actors must be actors of the scenario,
    its weapons (and a package option's) known, its layers the target's, the history cannot
    spend more than an arsenal or a layer's stock holds, a scenario without a history or a
    campaign needs an opening, and the horizon must leave every run an end (``horizon_problems``)."""
    problems: list[tuple[tuple, str, Any]] = []
    actors = scenario.actors

    def need(kind: str, names: Any, name: str, loc: tuple) -> bool:
        if name in names:
            return True
        problems.append((loc, f"unknown {kind} {name!r} (known: {', '.join(sorted(names))})", name))
        return False

    campaigns = [a.policy.campaign for a in actors.values() if a.policy and a.policy.campaign]
    if not scenario.opening and not scenario.history and not campaigns:
        problems.append((("opening",), "must have at least 1 item(s), got []", []))
    if scenario.ceasefire is not None:
        need("actor", actors, scenario.ceasefire.mediator, ("ceasefire", "mediator"))
    defends = {(r.ally, r.protects) for r in scenario.relations if r.kind == "defends"}
    for actor_id, actor in actors.items():
        for i, layer in enumerate(actor.abroad or ()):
            place = ("actors", actor_id, "abroad", i)
            if layer.operator != actor_id and (layer.operator, actor_id) not in defends:
                problems.append(
                    (
                        (*place, "operator"),
                        f"{layer.operator!r} operates a layer abroad for {actor_id!r} but no "
                        f"'defends' relation says {layer.operator!r} protects {actor_id!r}",
                        layer.operator,
                    )
                )
            for weapon in layer.kill_probability:
                need("weapon", scenario.weapons, weapon, (*place, "kill_probability", weapon))
        campaign = actor.policy.campaign if actor.policy else None
        if campaign is not None:
            place = ("actors", actor_id, "policy", "campaign", "target")
            if need("actor", actors, campaign.target, place) and campaign.target == actor_id:
                problems.append((place, "an actor cannot strike itself", campaign.target))
        for rung, package in actor.policy.packages.items() if actor.policy else ():
            for i, option in enumerate(package.options):
                for weapon in option.projectiles:
                    place = ("policy", "packages", rung, "options", i, "projectiles", weapon)
                    need("weapon", scenario.weapons, weapon, ("actors", actor_id, *place))
    for i, strike in enumerate(scenario.history):
        for role in ("attacker", "target"):
            need("actor", actors, getattr(strike, role), ("history", i, role))
        for weapon in strike.projectiles:
            need("weapon", scenario.weapons, weapon, ("history", i, "projectiles", weapon))
        if strike.target in actors:
            layers = {layer.name for layer in layers_met(actors[strike.target], strike.rung)}
            where = "abroad" if layers_abroad(actors[strike.target], strike.rung) else "homeland"
            for name in strike.interceptors_fired:
                need(
                    f"{where} layer of {strike.target}",
                    layers,
                    name,
                    ("history", i, "interceptors_fired", name),
                )
    problems += horizon_problems(scenario)
    if not problems:
        problems += _overspent(scenario)
    if problems:
        raise ValidationError.from_exception_data(
            "Scenario",
            [
                InitErrorDetails(
                    type=PydanticCustomError("reference", "{message}", {"message": message}),
                    loc=loc,
                    input=given,
                )
                for loc, message, given in problems
            ],
        )


def layers_abroad(actor: Any, rung: int) -> bool:
    """Whether a strike at ``rung`` on ``actor`` meets its layers abroad: a rung-2 strike (on
    assets in third countries) does, if the actor declares ``abroad:``."""
    return rung == 2 and actor.abroad is not None


def layers_met(actor: Any, rung: int) -> list:
    """The layers a strike at ``rung`` on ``actor`` flies into: abroad or at home."""
    return actor.abroad if layers_abroad(actor, rung) else actor.defence


def _overspent(scenario: Any) -> list[tuple[tuple, str, Any]]:
    """The history strike at which an arsenal or a layer's stock would go below zero (a layer
    abroad and a homeland layer of the same name hold separate stocks)."""
    problems = []
    spent: dict[tuple[str, str, str, bool], int] = {}
    for i, strike in enumerate(scenario.history):
        target = scenario.actors[strike.target]
        abroad = layers_abroad(target, strike.rung)
        stocks = {layer.name: layer.stock for layer in layers_met(target, strike.rung)}
        for kind, owner, amounts, field in (
            ("arsenal", strike.attacker, strike.projectiles, "projectiles"),
            ("stock", strike.target, strike.interceptors_fired, "interceptors_fired"),
        ):
            for name, n in amounts.items():
                key = (kind, owner, name, abroad and kind == "stock")
                spent[key] = spent.get(key, 0) + n
                held = (
                    scenario.actors[owner].arsenal.get(name, 0)
                    if kind == "arsenal"
                    else stocks[name]
                )
                if spent[key] > held:
                    problems.append(
                        (
                            ("history", i, field, name),
                            f"the history spends {spent[key]} of {owner}'s {name} but its "
                            f"{kind} holds {held}",
                            n,
                        )
                    )
    return problems
