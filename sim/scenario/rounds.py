"""The strikes that start a round: the ``opening`` strikes a run flies and the ``history`` strikes
already done before the clock starts; and the checks that tie the version-2 blocks
(``sim.scenario.dynamics``) to the rest of a scenario (``raise_round_problems``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

from sim.scenario.base import (
    Count,
    Dollars,
    Identifier,
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
