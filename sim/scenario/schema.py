"""The scenario schema: typed, frozen, strictly validated objects.

These classes are the documented contract of a scenario YAML file (``sim schema`` prints them as
JSON Schema; ``docs/scenario-reference.md`` is generated from them). Unknown keys are errors, types
are strict (a quoted number is not a number), and every field says what it means and in which unit.
Cross-references between sections (an actor named in a relation, a weapon named in an arsenal) are
checked in ``sim.scenario.loading``, which also turns every error into ``file:line: field: message``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.base import (
    Count,
    Days,
    Delay,
    Dollars,
    FlightTime,
    Identifier,
    LeverSpec,
    LogOdds,
    Minutes,
    Probability,
    Resupply,
    RungNumber,
    Seed,
    StrictModel,
    StrikePackage,
)
from sim.scenario.base import NonNegative as NonNegative  # re-exported for other steps
from sim.scenario.base import Positive as Positive  # re-exported for other steps
from sim.scenario.dynamics import (
    Campaign,
    Ceasefire,
    Height,
    Memory,
    SeverityScale,
    Signals,
    Timing,
)
from sim.scenario.ladder import HIGHEST, LOWEST
from sim.scenario.rounds import HistoryStrike, OpeningEvent, raise_round_problems


class Weapon(StrictModel):
    """A projectile type (drone, cruise missile, ballistic missile, rocket, ...)."""

    description: str = Field("", description="Free text for readers; the model does not use it.")
    flight_time: FlightTime = Field(
        description="Flight time of one projectile from launch to arrival (triangular), hours."
    )
    failure_probability: Probability = Field(
        0.0, description="Chance that one projectile fails at launch or in flight, probability 0-1."
    )
    unit_cost_usd: Dollars = Field(
        description="Cost of one projectile to its user, paid for every one launched, US dollars "
        "(0-1e13)."
    )
    damage_usd_per_hit: Dollars = Field(
        0.0, description="Damage done by one leaker (a projectile no layer kills), US dollars."
    )
    casualties_per_hit: Annotated[float, Field(ge=0.0, le=1e5)] = Field(
        0.0, description="Mean casualties (killed and wounded) per leaker (0-100,000); Poisson."
    )


class DefenceLayer(StrictModel):
    """One layer of air and missile defence protecting an actor (Arrow 3, Iron Dome, F-15Es ...).

    Layers are listed outer to inner; a projectile meets them in that order. A layer engages an
    arriving projectile if a fire channel is free within ``engagement_window_minutes`` of its arrival
    and stock remains; it then fires ``shots_per_target`` interceptors (fewer if the stock runs out),
    each killing independently with the layer's per-shot kill probability for that weapon, and the
    channel is busy for ``engagement_minutes``.
    """

    name: str = Field(description="Name of the layer, as shown in the event log and traces.")
    operator: Identifier = Field(
        description="The actor that operates and pays for this layer: the defended actor itself, "
        "or an ally with a `defends` relation to it."
    )
    kill_probability: dict[str, Probability] = Field(
        description="Per-shot kill probability (0-1) by weapon; weapons not listed are not engaged.",
        min_length=1,
    )
    stock: Count = Field(
        description="Interceptors on hand at the start of a run (0-1e7); each one fired is used up."
    )
    fire_channels: Annotated[int, Field(gt=0, le=10_000)] = Field(
        description="Targets the layer can engage at the same time (1-10,000)."
    )
    engagement_minutes: Annotated[float, Field(ge=0.01, le=1440.0)] = Field(
        description="Time one engagement occupies a fire channel, minutes (0.01-1440)."
    )
    engagement_window_minutes: Minutes = Field(
        0.0,
        description="How long an arriving projectile can wait for a free fire channel, minutes "
        "(0-1440; 0 = engaged only if a channel is free on arrival).",
    )
    shots_per_target: Annotated[int, Field(gt=0, le=100)] = Field(
        1, description="Interceptors fired per engagement (firing doctrine), 1-100."
    )
    unit_cost_usd: Dollars = Field(description="Cost of one interceptor, US dollars (0-1e13).")
    requires_warning: bool = Field(
        False, description="Engages only telegraphed strikes (forces must be moved into place)."
    )
    min_rung: RungNumber = Field(
        0, description="Engages only strikes at or above this rung (0-6) of the escalation ladder."
    )
    resupply: Resupply | None = Field(
        None, description="Periodic deliveries of interceptors; without it the stock never refills."
    )


class Policy(StrictModel):
    """An actor's response policy: what it observes -> whether, how high, when and how it strikes.

    The chance of responding to a strike is a logistic model whose terms a researcher can argue about:
    ``logit p = logit(base_response_probability) + red_line_weight * [rung >= red_line_rung]
    + harm_weight * log1p(casualties + damage_usd / 1e6) - thwarted_weight * intercepted_share
    + domestic_weight * domestic_pressure - restraint_weight * ally_pressure``.
    If it responds it goes one rung up with ``escalate_probability * (1 - self_restraint) *
    (1 - ally_pressure) * exp(-escalation_aversion * max(0, rung - red_line_rung))``, one down
    with ``deescalate_probability``, else stays at the same rung.
    """

    base_response_probability: Probability = Field(
        description="Chance of responding to a strike when every other term of the logistic "
        "model is zero, probability 0-1."
    )
    red_line_rung: RungNumber = Field(
        3,
        description="Rung (0-6) from which a strike crosses the actor's red line; "
        "escalation_aversion counts the rungs above it.",
    )
    red_line_weight: LogOdds = Field(
        0.0,
        description="Log-odds of responding added when a strike is at or above red_line_rung "
        "(-50 to 50, as every log-odds weight).",
    )
    harm_weight: LogOdds = Field(
        0.0,
        description="Log-odds of responding added per unit of log1p(casualties + damage in US "
        "dollars / 1e6).",
    )
    thwarted_weight: LogOdds = Field(
        0.0,
        description="Log-odds of responding removed per unit of intercepted share (0-1 of the "
        "projectiles that flew).",
    )
    domestic_pressure: Probability = Field(
        0.0, description="Domestic pressure to respond, 0-1, constant over a run."
    )
    domestic_weight: LogOdds = Field(
        0.0, description="Log-odds of responding added per unit of domestic_pressure."
    )
    restraint_weight: LogOdds = Field(
        0.0,
        description="Log-odds of responding removed per unit of allies' restraint pressure (0-1).",
    )
    escalate_probability: Probability = Field(
        0.0,
        description="Chance that a response goes one rung above the strike it answers, before "
        "restraint and aversion damp it.",
    )
    deescalate_probability: Probability = Field(
        0.0, description="Chance that a response goes one rung below the strike it answers."
    )
    self_restraint: Probability = Field(
        0.0,
        description="How much the actor holds back from escalating (0 none, 1 never escalates).",
    )
    escalation_aversion: Annotated[float, Field(ge=0.0, le=50.0)] = Field(
        0.0,
        description="How fast the will to climb falls with each rung above the red line, 0-50 "
        "(the chance of going up is multiplied by exp(-aversion * rungs above it)).",
    )
    max_rung: RungNumber = Field(
        HIGHEST,
        description="Highest rung (0-6) the actor chooses for a response or an ordered strike.",
    )
    delay: Delay = Field(description="Delay between deciding to respond and striking, days.")
    telegraph_probability: Probability = Field(
        0.0,
        description="Chance that a response is announced in advance, so layers that require "
        "warning can engage it.",
    )
    strike_patron_probability: Probability = Field(
        0.0, description="Chance to answer a proxy's strike by striking its patron instead."
    )
    proxy_order_probability: Probability = Field(
        0.0,
        description="As a patron: chance to order each proxy to join a strike it launches at "
        "rung 3 or above.",
    )
    packages: dict[RungNumber, StrikePackage] = Field(
        min_length=1,
        description="What the actor sends by rung (0-6), one package or a choice among several "
        "(`options`); a response at a rung without one is made at the nearest rung below, else "
        "the lowest above.",
    )
    memory: Memory | None = Field(
        None, description="The account kept with each adversary (absent: only the last strike)."
    )
    height: Height | None = Field(
        None, description="The answer's rung as a choice over all rungs (absent: one-rung steps)."
    )
    timing: Timing | None = Field(
        None, description="The answer's delay by what was suffered (absent: the same delay)."
    )
    signals: Signals | None = Field(
        None, description="Claiming answers, weighing unclaimed strikes (absent: all in full)."
    )
    proxy_weight: Probability | None = Field(
        None,
        description="As a patron: weight (0-1) of a strike on one of its proxies, which it then "
        "may answer for (absent: it is not told).",
    )
    campaign: Campaign | None = Field(None, description="A low-rung campaign of its own.")

    @model_validator(mode="after")
    def _rung_steps(self) -> Policy:
        if self.escalate_probability + self.deescalate_probability > 1.0:
            raise ValueError(
                "escalate_probability + deescalate_probability must be <= 1, got "
                f"{self.escalate_probability + self.deescalate_probability:g}"
            )
        return self


class Actor(StrictModel):
    """A state or armed group. Actors are data: add one in YAML, no code needed."""

    name: str = Field(
        description="Name for readers; the actor's key under `actors` names it everywhere else."
    )
    arsenal: dict[str, Count] = Field(
        default_factory=dict,
        description="Projectiles on hand by weapon (0-1e7 each); strikes draw them down.",
    )
    defence: list[DefenceLayer] = Field(
        default_factory=list, description="Defence layers protecting this actor, outer to inner."
    )
    abroad: list[DefenceLayer] | None = Field(
        None,
        description="Layers defending its assets in third countries ([] for none); strikes on it "
        "at rung 2 meet these, not its homeland's (absent: every strike meets the homeland's).",
    )
    policy: Policy | None = Field(
        None,
        description="How the actor responds to strikes; without a policy it never responds "
        "(it may still strike in the opening).",
    )


class Adversaries(StrictModel):
    """Two hostile actors. It documents the scenario and names levers (``adversaries[a,b]``);
    in a run, who strikes whom follows from the opening events and the answers they provoke."""

    kind: Literal["adversaries"] = Field(description="Relation type: `adversaries`.")
    actors: list[Identifier] = Field(
        min_length=2, max_length=2, description="The two actors, by key under `actors`."
    )


class Defends(StrictModel):
    """An ally that adds defence layers (with ``operator: ally``) and may join the fighting."""

    kind: Literal["defends"] = Field(description="Relation type: `defends`.")
    ally: Identifier = Field(
        description="The actor that may operate layers for the protected actor and fight for it."
    )
    protects: Identifier = Field(description="The actor the ally defends.")
    joins_combat_at_rung: Annotated[int, Field(ge=LOWEST, le=HIGHEST + 1)] = Field(
        HIGHEST + 1,
        description="A strike on the protected actor at or above this rung is treated as a strike "
        "on the ally too (7 = never).",
    )


class Restrains(StrictModel):
    """An ally that presses an actor to hold back; a first-class lever of restraint studies."""

    kind: Literal["restrains"] = Field(description="Relation type: `restrains`.")
    ally: Identifier = Field(description="The actor that presses for restraint.")
    restrained: Identifier = Field(description="The actor pressed to hold back.")
    pressure: Probability = Field(
        description="How hard the ally presses, 0 (none) to 1 (strongest); pressures on one "
        "actor add up, capped at 1."
    )


class ProxyOf(StrictModel):
    """A proxy and its patron: the patron may order it into a fight or hold it back."""

    kind: Literal["proxy"] = Field(description="Relation type: `proxy`.")
    proxy: Identifier = Field(description="The actor that fights on the patron's orders.")
    patron: Identifier = Field(description="The actor that orders the proxy in or holds it back.")
    obey_probability: Probability = Field(
        description="Chance the proxy joins when ordered, probability 0-1."
    )
    ordered_rung: RungNumber = Field(
        4,
        description="Rung (0-6) of the proxy's strike when it obeys an order, capped by its "
        "max_rung (4: all-out offensive).",
    )
    telegraph_probability: Probability | None = Field(
        None, description="Chance (0-1) that an ordered strike is announced (absent: never)."
    )
    campaign_multiplier: Annotated[float, Field(ge=0.0, le=10.0)] = Field(
        1.0, description="Multiplier (0-10) on the rate of the proxy's own campaign: 0 holds it."
    )


Relation = Annotated[Adversaries | Defends | Restrains | ProxyOf, Field(discriminator="kind")]


class Scenario(StrictModel):
    """A complete scenario: actors, weapons, relations, the opening, the horizon and the seed."""

    version: Annotated[int, Field(ge=2, le=2)] = Field(
        2,
        description="Schema version (2: the model with memory, endings and history); a file "
        "must write it as its first line, a scenario built in Python gets it by default.",
    )
    name: str = Field(description="Title of the scenario, shown by `sim validate` and `sim trace`.")
    description: str = Field("", description="What the scenario represents, in words.")
    seed: Seed = Field(description="Root of every random stream of every replication (0-2**63-1).")
    horizon_days: Days = Field(description="Length of every run, days (at most 3650).")
    max_strikes: Annotated[int, Field(gt=0, le=10_000)] = Field(
        200, description="Safety bound on strikes in one run (1-10,000); reaching it is recorded."
    )
    weapons: dict[Identifier, Weapon] = Field(
        min_length=1,
        description="Projectile types by key, the names arsenals, layers and strikes use.",
    )
    actors: dict[Identifier, Actor] = Field(
        min_length=2, description="States and armed groups by key, the names relations use."
    )
    relations: list[Relation] = Field(
        default_factory=list,
        description="Relations between actors (adversaries, defends, restrains, proxy), by `kind`.",
    )
    opening: list[OpeningEvent] = Field(
        description="The strikes that start the run, each launched on its day; at least one "
        "unless a `history` or a `campaign` is given."
    )
    severity: SeverityScale = Field(
        SeverityScale(), description="How bad a strike was, for the mechanisms that weigh it."
    )
    ceasefire: Ceasefire | None = Field(
        None, description="A mediator whose ceasefire can end the round (absent: none)."
    )
    history: list[HistoryStrike] = Field(
        default_factory=list, description="Strikes already done before the clock starts."
    )
    end_when_settled: bool = Field(
        False,
        description="End the round when every account is settled, no answer is pending and "
        "nothing is in the air.",
    )
    shared_defences: bool = Field(
        False,
        description="Strikes in the air at the same time share the defender's fire channels: "
        "each strike, in the order their first projectiles arrive, finds a layer's channels busy "
        "with the engagements of the strikes before it (false: every strike has all of them).",
    )
    levers: dict[Identifier, LeverSpec] = Field(
        default_factory=dict,
        description="Named levers for studies: sim sweep --lever NAME, sim sensitivity --uncertain "
        "NAME.",
    )
    parameters_from: str | None = Field(
        None,
        description="A posterior sample (Parquet, from `sim calibrate`), relative to this file: "
        "each replication draws one parameter set from it on its own random stream. "
        "`FILE#EPISODE` draws the shared columns and that episode's own (`EPISODE:PATH`); "
        "without it, the shared columns only.",
    )
    parameters_fixed: list[str] = Field(
        default_factory=list,
        description="Dotted paths that keep this scenario's value although `parameters_from` "
        "draws them. Every `--set` and every variant's `set:` adds the paths it sets, so an "
        "explicit value is never replaced by a draw.",
    )

    @model_validator(mode="after")
    def _round_references(self) -> Scenario:
        raise_round_problems(self)
        return self

    def relations_of(self, kind: type[StrictModel]) -> list:
        """All relations of one kind, in file order."""
        return [r for r in self.relations if isinstance(r, kind)]
