"""Base pieces of every scenario schema module: the strict model and the constrained number types.

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
