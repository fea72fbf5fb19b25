"""Base pieces of the scenario schema modules: the strict model, the bounded number types (every
numeric field has a range a run can honour), a lever, what an actor sends at a rung (one strike
package, or a choice among several options), a flight time, a resupply, a delay, and the checks
of what the horizon makes impossible to run.

``sim.scenario.schema`` and ``sim.scenario.dynamics`` both build on these; the schema re-exports
them under their old names, so ``from sim.scenario.schema import Probability`` keeps working.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.scenario.ladder import HIGHEST, LOWEST

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Count = Annotated[int, Field(ge=0, le=10**7)]
"""Projectiles, interceptors or casualties (0-10,000,000): more than any arsenal or war holds."""
Seed = Annotated[int, Field(ge=0, le=2**63 - 1)]
"""A root seed: any non-negative 64-bit signed integer."""
LogOdds = Annotated[float, Field(ge=-50.0, le=50.0)]
"""A log-odds weight (-50 to 50): 50 turns a one-in-a-billion chance into a near certainty."""
Sigma = Annotated[float, Field(ge=0.0, le=5.0)]
"""A log-normal shape (0-5): at 5 one draw in six is 150 times the median or more."""
Dollars = Annotated[float, Field(ge=0.0, le=1e13)]
"""US dollars (0-1e13): ten trillion, more than any war has cost."""
Casualties = Annotated[float, Field(ge=0.0, le=1e7)]
"""A mean number of casualties (0-10,000,000)."""
FlightHours = Annotated[float, Field(ge=0.001, le=1000.0)]
"""A flight time, hours (0.001-1000: from 3.6 seconds to six weeks, beyond any projectile)."""
Minutes = Annotated[float, Field(ge=0.0, le=1440.0)]
"""A span of minutes (0-1440: at most a day)."""
Days = Annotated[float, Field(gt=0.0, le=3650.0)]
"""A span of days (above 0, at most 3,650: ten years)."""
RungNumber = Annotated[int, Field(ge=LOWEST, le=HIGHEST)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class StrictModel(BaseModel):
    """Base: frozen, strict types, unknown keys rejected, numbers finite (no .inf or .nan)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class LeverSpec(StrictModel):
    """A named lever: a scenario value by path, the range a study should explore, and why."""

    path: str = Field(description="Dotted path of the value, e.g. relations.4.pressure.")
    low: Annotated[float, Field(ge=-1e19, le=1e19)] = Field(
        description="Lowest value a study explores, in the unit of the value (within +-1e19, "
        "beyond every field's range)."
    )
    high: Annotated[float, Field(ge=-1e19, le=1e19)] = Field(
        description="Highest value a study explores, in the unit of the value (within +-1e19)."
    )
    meaning: str = Field(description="What moving this value means, in words a paper can use.")

    @model_validator(mode="after")
    def _ordered(self) -> LeverSpec:
        if not self.low < self.high:
            raise ValueError(f"need low < high, got {self.low}, {self.high}")
        return self


class Means(StrictModel):
    """What one strike sends: projectiles by weapon and the harm and cost of other means."""

    projectiles: dict[str, Count] = Field(
        default_factory=dict,
        description="Projectiles by weapon (0-1e7 each), before the size multiplier; capped by "
        "the arsenal.",
    )
    size_sigma: Sigma = Field(
        0.0, description="Log-normal spread (0-5) of a multiplier on all counts (0 = exact counts)."
    )
    casualties_mean: Casualties = Field(
        0.0,
        description="Mean casualties (Poisson, 0-1e7) from means other than projectiles (air "
        "strikes, raids).",
    )
    damage_usd_mean: Dollars = Field(
        0.0, description="Damage from means other than projectiles, US dollars (0-1e13)."
    )
    cost_usd: Dollars = Field(
        0.0,
        description="Cost to the attacker of means other than projectiles, US dollars (0-1e13).",
    )


class PackageOption(Means):
    """One of the packages an actor may send at a rung, with its chance of being the one."""

    name: Identifier = Field(description="Name of the package, as logged when it is chosen.")
    probability: Probability = Field(
        description="Chance (0-1) of choosing it when thwarted_shift is 0; the options' chances "
        "sum to 1."
    )
    thwarted_shift: Annotated[float, Field(ge=-10.0, le=10.0)] = Field(
        0.0,
        description="Log-weight added per unit of the intercepted share (0-1) of the strike "
        "answered (-10 to 10): > 0 favours this package after a thwarted strike.",
    )
    telegraphed: bool | None = Field(
        None,
        description="Whether this package is announced in advance (absent: the policy's "
        "telegraph_probability decides).",
    )


class StrikePackage(Means):
    """What an actor sends when it strikes at one rung: these means, or one of its ``options``.

    With ``options`` the package is a choice: option ``i`` is sent with chance ``w_i / sum(w)``,
    ``w_i = probability_i * exp(thwarted_shift_i * intercepted_share)``, where
    ``intercepted_share`` is that of the strike answered (0 for an order or a campaign); the
    package's own means must then be left out."""

    options: list[PackageOption] = Field(
        default_factory=list,
        max_length=20,
        description="Packages to choose from, by name, instead of the means above (none: the "
        "means above, always).",
    )

    @model_validator(mode="after")
    def _a_choice(self) -> StrikePackage:
        if not self.options:
            return self
        if len(self.options) < 2:
            raise ValueError("a choice needs at least 2 options")
        own = [  # a mean at its default is no mean of the package's own (a dump writes it)
            name
            for name in self.model_fields_set & set(Means.model_fields)
            if getattr(self, name)
            != Means.model_fields[name].get_default(call_default_factory=True)
        ]
        if own:
            raise ValueError(f"with options, leave out the package's own {', '.join(sorted(own))}")
        names = [option.name for option in self.options]
        if len(set(names)) < len(names):
            raise ValueError(f"option names must differ, got {', '.join(names)}")
        total = sum(option.probability for option in self.options)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"the options' probabilities must sum to 1, got {total:g}")
        return self


class FlightTime(StrictModel):
    """Triangular distribution of one projectile's flight time from launch to arrival, in hours."""

    min_hours: FlightHours = Field(description="Shortest flight time, hours (0.001-1000).")
    mode_hours: FlightHours = Field(
        description="Most likely flight time, hours; waves of a strike are timed so their modes "
        "coincide."
    )
    max_hours: FlightHours = Field(description="Longest flight time, hours (0.001-1000).")

    @model_validator(mode="after")
    def _ordered(self) -> FlightTime:
        if not self.min_hours <= self.mode_hours <= self.max_hours:
            raise ValueError(
                "need min_hours <= mode_hours <= max_hours, got "
                f"{self.min_hours}, {self.mode_hours}, {self.max_hours}"
            )
        return self


class Resupply(StrictModel):
    """Interceptors added to a layer's stock at a fixed interval."""

    interceptors: Annotated[int, Field(gt=0, le=10**6)] = Field(
        description="Interceptors added to the layer's stock at each delivery (1-1,000,000)."
    )
    every_days: Annotated[float, Field(ge=0.01, le=3650.0)] = Field(
        description="Interval between deliveries, days (0.01-3650, and at most 10,000 deliveries "
        "within the horizon); the first comes one interval after the start."
    )


class Delay(StrictModel):
    """Log-normal delay between a decision to respond and the response."""

    median_days: Annotated[float, Field(gt=0.0, le=3650.0)] = Field(
        description="Median delay from decision to strike, days (above 0, at most 3650)."
    )
    sigma: Sigma = Field(
        0.5, description="Log-normal shape (sigma of the log of the delay, 0-5); 0 = the median."
    )


MAX_RESUPPLIES = 10_000
"""The most deliveries one layer may receive within the horizon; each is a simulated event, and
``every_days: 1e-9`` asked for 9e10 of them (the run never ended)."""


def horizon_problems(scenario: Any) -> list[tuple[tuple, str, Any]]:
    """(location, message, value) for what the horizon makes impossible to run: an opening
    strike on or after it (no run would see it) and a layer resupplied more than
    ``MAX_RESUPPLIES`` times within it (the run would not end in any reasonable time)."""
    horizon = scenario.horizon_days
    problems = [
        (
            ("opening", i, "day"),
            f"day {opening.day:g} is not before the horizon ({horizon:g} days): no run would see it",
            opening.day,
        )
        for i, opening in enumerate(scenario.opening)
        if opening.day >= horizon
    ]
    for key, actor in scenario.actors.items():
        for place, layers in (("defence", actor.defence), ("abroad", actor.abroad or ())):
            for i, layer in enumerate(layers):
                every = layer.resupply.every_days if layer.resupply else math.inf
                if horizon / every > MAX_RESUPPLIES:
                    problems.append(
                        (
                            ("actors", key, place, i, "resupply", "every_days"),
                            f"{every:g} days makes {horizon / every:.3g} deliveries within the "
                            f"{horizon:g}-day horizon; at most {MAX_RESUPPLIES:,} per run",
                            every,
                        )
                    )
    return problems
