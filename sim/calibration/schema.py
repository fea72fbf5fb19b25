"""The calibration config schema: what ``calibration/calibrate.yaml`` may contain.

Like the scenario schema (``sim.scenario.schema``), it is strict: unknown keys are errors, types are strict
and numbers finite, and ``sim.calibration.targets.Config.load`` turns every mistake into
``file:line: field: message``. What needs the scenario or the simulator (a prior's path exists,
a target names a statistic the simulator computes) is checked there.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.schema import NonNegative, Positive, Probability, StrictModel

Reason = Annotated[str, Field(min_length=1, description="Why: the seed's words or a source.")]
AtLeastOne = Annotated[int, Field(ge=1)]


class PriorSpec(StrictModel):
    """A uniform prior over one scenario value (the key is its dotted path)."""

    low: float
    high: float
    reason: Reason

    @model_validator(mode="after")
    def _ordered(self) -> PriorSpec:
        if not self.low < self.high:
            raise ValueError(f"need low < high, got {self.low}, {self.high}")
        return self


class TargetSpec(StrictModel):
    """An observed statistic and which simulated values reproduce it: exactly one of
    ``match: equal``, ``tolerance`` (observed +- T) or ``interval`` ([LOW, HIGH])."""

    observed: float
    match: Literal["equal"] | None = None
    tolerance: NonNegative | None = None
    interval: Annotated[list[float], Field(min_length=2, max_length=2)] | None = None
    reason: Reason

    @model_validator(mode="after")
    def _one_rule(self) -> TargetSpec:
        rules = [k for k in ("match", "tolerance", "interval") if getattr(self, k) is not None]
        if len(rules) != 1:
            raise ValueError(
                f"give exactly one of match: equal, tolerance, interval; got {rules or 'none'}"
            )
        if self.interval is not None and not self.interval[0] <= self.observed <= self.interval[1]:
            raise ValueError(f"observed {self.observed} outside interval {list(self.interval)}")
        return self

    def bounds(self) -> tuple[float, float]:
        """The accepted range of simulated values."""
        if self.interval is not None:
            return self.interval[0], self.interval[1]
        tolerance = self.tolerance or 0.0
        return self.observed - tolerance, self.observed + tolerance


class SmcSpec(StrictModel):
    """The ABC-SMC budget (``sim.calibration.smc``)."""

    particles: int = Field(ge=20, description="Accepted particles per generation.")
    quantile: float = Field(gt=0.0, lt=1.0, description="Next tolerance: this distance quantile.")
    final_epsilon: Positive = Field(description="The fit stops at this tolerance (1 = targets).")
    max_generations: AtLeastOne
    chunk: AtLeastOne = Field(description="Proposals per task (does not change the result).")
    max_proposals: AtLeastOne = Field(description="Per generation, before giving up.")


class VarianceSpec(StrictModel):
    """Law-of-total-variance budget: parameter sets drawn, replications of each."""

    parameter_sets: int = Field(ge=2)
    replications: int = Field(ge=2)


class ChecksSpec(StrictModel):
    """Posterior predictive checks and the variance decomposition."""

    seed: int = Field(ge=0)
    predictive_runs: AtLeastOne
    plausible_share: Probability
    variance: VarianceSpec


class CalibrationFile(StrictModel):
    """A calibration config file."""

    scenario: str = Field(min_length=1, description="Scenario file, relative to this file.")
    horizon_days: Positive = Field(description="Horizon of each fitted run, days.")
    seed: int = Field(ge=0)
    smc: SmcSpec
    checks: ChecksSpec
    priors: dict[str, PriorSpec] = Field(min_length=1)
    targets: dict[str, TargetSpec] = Field(min_length=1)
