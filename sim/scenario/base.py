"""Base pieces of the scenario schema modules: the strict model, the constrained number types, a
lever, and what an actor sends at a rung (one strike package, or a choice among several options).

``sim.scenario.schema`` and ``sim.scenario.dynamics`` both build on these; the schema re-exports
them under their old names, so ``from sim.scenario.schema import Probability`` keeps working.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, model_validator

from sim.scenario.ladder import HIGHEST, LOWEST

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
NonNegative = Annotated[float, Field(ge=0.0)]
Positive = Annotated[float, Field(gt=0.0)]
Count = Annotated[int, Field(ge=0)]
RungNumber = Annotated[int, Field(ge=LOWEST, le=HIGHEST)]
Identifier = Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$")]


class StrictModel(BaseModel):
    """Base: frozen, strict types, unknown keys rejected, numbers finite (no .inf or .nan)."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


class LeverSpec(StrictModel):
    """A named lever: a scenario value by path, the range a study should explore, and why."""

    path: str = Field(description="Dotted path of the value, e.g. relations.4.pressure.")
    low: float = Field(description="Lowest value a study explores, in the unit of the value.")
    high: float = Field(description="Highest value a study explores, in the unit of the value.")
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
        description="Projectiles by weapon, before the size multiplier; capped by the arsenal.",
    )
    size_sigma: NonNegative = Field(
        0.0, description="Log-normal spread of a multiplier on all counts (0 = exact counts)."
    )
    casualties_mean: NonNegative = Field(
        0.0,
        description="Mean casualties (Poisson) from means other than projectiles (air strikes, "
        "raids).",
    )
    damage_usd_mean: NonNegative = Field(
        0.0, description="Damage from means other than projectiles, US dollars."
    )
    cost_usd: NonNegative = Field(
        0.0, description="Cost to the attacker of means other than projectiles, US dollars."
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
        own = self.model_fields_set & set(Means.model_fields)
        if own:
            raise ValueError(f"with options, leave out the package's own {', '.join(sorted(own))}")
        names = [option.name for option in self.options]
        if len(set(names)) < len(names):
            raise ValueError(f"option names must differ, got {', '.join(names)}")
        total = sum(option.probability for option in self.options)
        if abs(total - 1.0) > 1e-9:
            raise ValueError(f"the options' probabilities must sum to 1, got {total:g}")
        return self
