"""The scenario schema: typed, frozen, strictly validated objects.

These classes are the documented contract of a scenario YAML file (``sim schema`` prints them as
JSON Schema; ``docs/scenario-reference.md`` is generated from them). Unknown keys are errors, types
are strict (a quoted number is not a number), and every field says what it means and in which unit.
Cross-references between sections (an actor named in a relation, a weapon named in an arsenal) are
checked in ``sim.scenario``, which also turns every error into ``file:line: field: message``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.ladder import HIGHEST, LOWEST

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Count = Annotated[int, Field(ge=0)]
RungNumber = Annotated[int, Field(ge=LOWEST, le=HIGHEST)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class StrictModel(BaseModel):
    """Base: frozen, strict types, unknown keys rejected, numbers finite (no .inf or .nan)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class FlightTime(StrictModel):
    """Triangular distribution of one projectile's flight time from launch to arrival, in hours."""

    min_hours: Positive
    mode_hours: Positive
    max_hours: Positive

    @model_validator(mode="after")
    def _ordered(self) -> FlightTime:
        if not self.min_hours <= self.mode_hours <= self.max_hours:
            raise ValueError(
                "need min_hours <= mode_hours <= max_hours, got "
                f"{self.min_hours}, {self.mode_hours}, {self.max_hours}"
            )
        return self


class Weapon(StrictModel):
    """A projectile type (drone, cruise missile, ballistic missile, rocket, ...)."""

    description: str = ""
    flight_time: FlightTime
    failure_probability: Probability = Field(
        0.0, description="Chance that one projectile fails at launch or in flight."
    )
    unit_cost_usd: NonNegative = Field(
        description="Cost of one projectile to its user, US dollars."
    )
    damage_usd_per_hit: NonNegative = Field(
        0.0, description="Damage done by one leaker, US dollars."
    )
    casualties_per_hit: NonNegative = Field(
        0.0, description="Mean casualties (killed and wounded) per leaker; Poisson."
    )


class Resupply(StrictModel):
    """Interceptors added to a layer's stock at a fixed interval."""

    interceptors: Annotated[int, Field(gt=0)]
    every_days: Positive


class DefenceLayer(StrictModel):
    """One layer of air and missile defence protecting an actor (Arrow 3, Iron Dome, F-15Es ...).

    Layers are listed outer to inner; a projectile meets them in that order. A layer engages an
    arriving projectile if a fire channel is free within ``engagement_window_minutes`` of its arrival
    and stock remains; it then fires ``shots_per_target`` interceptors (fewer if the stock runs out),
    each killing independently with the layer's per-shot kill probability for that weapon, and the
    channel is busy for ``engagement_minutes``.
    """

    name: str
    operator: Identifier = Field(description="The actor that operates and pays for this layer.")
    kill_probability: dict[str, Probability] = Field(
        description="Per-shot kill probability by weapon; weapons not listed are not engaged.",
        min_length=1,
    )
    stock: Count = Field(description="Interceptors on hand at the start, projectiles.")
    fire_channels: Annotated[int, Field(gt=0)] = Field(
        description="Targets the layer can engage at the same time."
    )
    engagement_minutes: Positive = Field(description="Time one engagement occupies a channel.")
    engagement_window_minutes: NonNegative = Field(
        0.0, description="How long an arriving projectile stays engageable while channels are busy."
    )
    shots_per_target: Annotated[int, Field(gt=0)] = Field(
        1, description="Interceptors fired per engagement (firing doctrine)."
    )
    unit_cost_usd: NonNegative = Field(description="Cost of one interceptor, US dollars.")
    requires_warning: bool = Field(
        False, description="Engages only telegraphed strikes (forces must be moved into place)."
    )
    min_rung: RungNumber = Field(0, description="Engages only strikes at or above this rung.")
    resupply: Resupply | None = None


class StrikePackage(StrictModel):
    """What an actor sends when it strikes at one rung."""

    projectiles: dict[str, Count] = Field(default_factory=dict, description="Counts by weapon.")
    size_sigma: NonNegative = Field(
        0.0, description="Log-normal spread of a multiplier on all counts (0 = exact counts)."
    )
    casualties_mean: NonNegative = Field(
        0.0, description="Mean casualties from means other than projectiles (air strikes, raids)."
    )
    damage_usd_mean: NonNegative = Field(0.0, description="Damage from other means, US dollars.")
    cost_usd: NonNegative = Field(0.0, description="Cost of the other means, US dollars.")


class Delay(StrictModel):
    """Log-normal delay between a decision to respond and the response."""

    median_days: Positive
    sigma: NonNegative = Field(0.5, description="Log-normal shape; 0 = always the median.")


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

    base_response_probability: Probability
    red_line_rung: RungNumber = 3
    red_line_weight: float = 0.0
    harm_weight: float = 0.0
    thwarted_weight: float = 0.0
    domestic_pressure: Probability = 0.0
    domestic_weight: float = 0.0
    restraint_weight: float = Field(0.0, description="Log-odds removed per unit of ally pressure.")
    escalate_probability: Probability = 0.0
    deescalate_probability: Probability = 0.0
    self_restraint: Probability = Field(
        0.0,
        description="How much the actor holds back from escalating (0 none, 1 never escalates).",
    )
    escalation_aversion: NonNegative = Field(
        0.0,
        description="How fast the will to climb falls with each rung above the red line "
        "(the chance of going up is multiplied by exp(-aversion * rungs above it)).",
    )
    max_rung: RungNumber = HIGHEST
    delay: Delay
    telegraph_probability: Probability = 0.0
    strike_patron_probability: Probability = Field(
        0.0, description="Chance to answer a proxy's strike by striking its patron instead."
    )
    proxy_order_probability: Probability = Field(
        0.0, description="As a patron: chance to order its proxies to join a strike it launches."
    )
    packages: dict[RungNumber, StrikePackage] = Field(min_length=1)

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

    name: str
    arsenal: dict[str, Count] = Field(
        default_factory=dict, description="Projectiles on hand by weapon; strikes draw them down."
    )
    defence: list[DefenceLayer] = Field(
        default_factory=list, description="Defence layers protecting this actor, outer to inner."
    )
    policy: Policy | None = Field(None, description="Without a policy the actor never strikes.")


class Adversaries(StrictModel):
    """Two actors that may strike each other."""

    kind: Literal["adversaries"]
    actors: list[Identifier] = Field(min_length=2, max_length=2)


class Defends(StrictModel):
    """An ally that adds defence layers (with ``operator: ally``) and may join the fighting."""

    kind: Literal["defends"]
    ally: Identifier
    protects: Identifier
    joins_combat_at_rung: Annotated[int, Field(ge=LOWEST, le=HIGHEST + 1)] = Field(
        HIGHEST + 1,
        description="A strike on the protected actor at or above this rung is treated as a strike "
        "on the ally too (7 = never).",
    )


class Restrains(StrictModel):
    """An ally that presses an actor to hold back; a first-class lever of restraint studies."""

    kind: Literal["restrains"]
    ally: Identifier
    restrained: Identifier
    pressure: Probability = Field(description="0 = no pressure, 1 = the strongest pressure.")


class ProxyOf(StrictModel):
    """A proxy and its patron: the patron may order it into a fight or hold it back."""

    kind: Literal["proxy"]
    proxy: Identifier
    patron: Identifier
    obey_probability: Probability = Field(description="Chance the proxy joins when ordered.")
    ordered_rung: RungNumber = Field(
        4, description="Rung of the proxy's strike when it obeys an order (4: all-out offensive)."
    )


Relation = Annotated[Adversaries | Defends | Restrains | ProxyOf, Field(discriminator="kind")]


class OpeningEvent(StrictModel):
    """A strike that starts the run, with its outcome given (no projectiles) or simulated."""

    day: NonNegative
    attacker: Identifier
    target: Identifier
    rung: RungNumber
    description: str = ""
    telegraphed: bool = False
    projectiles: dict[str, Count] = Field(default_factory=dict)
    casualties: Count = 0
    damage_usd: NonNegative = 0.0


class LeverSpec(StrictModel):
    """A named lever: a scenario value by path, the range a study should explore, and why."""

    path: str = Field(description="Dotted path of the value, e.g. relations.4.pressure.")
    low: float
    high: float
    meaning: str = Field(description="What moving this value means, in words a paper can use.")

    @model_validator(mode="after")
    def _ordered(self) -> LeverSpec:
        if not self.low < self.high:
            raise ValueError(f"need low < high, got {self.low}, {self.high}")
        return self


class Scenario(StrictModel):
    """A complete scenario: actors, weapons, relations, the opening, the horizon and the seed."""

    name: str
    description: str = ""
    seed: Count = Field(description="Root of every random stream of every replication.")
    horizon_days: Positive
    max_strikes: Annotated[int, Field(gt=0)] = Field(
        200, description="Safety bound on strikes in one run; reaching it is recorded."
    )
    weapons: dict[Identifier, Weapon] = Field(min_length=1)
    actors: dict[Identifier, Actor] = Field(min_length=2)
    relations: list[Relation] = Field(default_factory=list)
    opening: list[OpeningEvent] = Field(min_length=1)
    levers: dict[Identifier, LeverSpec] = Field(
        default_factory=dict,
        description="Named levers for studies: sim sweep --lever NAME, sim sensitivity --uncertain "
        "NAME.",
    )
    parameters_from: str | None = Field(
        None,
        description="A posterior sample (Parquet, from `sim calibrate`), relative to this file: "
        "each replication draws one parameter set from it on its own random stream.",
    )
    parameters_fixed: list[str] = Field(
        default_factory=list,
        description="Dotted paths that keep this scenario's value although `parameters_from` "
        "draws them. Every `--set` and every variant's `set:` adds the paths it sets, so an "
        "explicit value is never replaced by a draw.",
    )

    def relations_of(self, kind: type[StrictModel]) -> list:
        """All relations of one kind, in file order."""
        return [r for r in self.relations if isinstance(r, kind)]
