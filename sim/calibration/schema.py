"""The calibration config schema: what ``calibration/calibrate.yaml`` may contain.

Like the scenario schema (``sim.scenario.schema``), it is strict: unknown keys are errors, types are strict
and numbers finite, and ``sim.calibration.loading.load_config`` turns every mistake into
``file:line: field: message``. What needs the scenarios (a prior's path exists in an episode's
scenario, a target names a statistic, actor, weapon or layer it has) is checked there.

A config lists one or more episodes, each a scenario with its own observation window and
targets; shared priors apply to every episode whose scenario has the path, an episode's own
priors only to its runs.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, model_validator

from sim.scenario.schema import NonNegative, Positive, Probability, StrictModel

Reason = Annotated[str, Field(min_length=1, description="Why: the seed's words or a source.")]
AtLeastOne = Annotated[int, Field(ge=1)]
EpisodeName = Annotated[str, Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")]
"""An episode's name: lower-case letters, digits, '-' and '_' (it prefixes posterior columns as
``EPISODE:PATH`` and ends a ``parameters_from: FILE#EPISODE``)."""


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
    """The ABC-SMC budget (``sim.calibration.sampler``)."""

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


class CheckSpec(StrictModel):
    """The budget of ``sim calibrate --check`` (simulation-based calibration and coverage), and of
    the report's table of how much each episode narrows each parameter: one reference table of
    prior simulations, reused by every synthetic data set."""

    reference_runs: int = Field(
        ge=20, description="Prior draws simulated (each runs every episode)."
    )
    datasets: AtLeastOne = Field(description="Synthetic data sets ranked (rows of the table).")
    accept: int = Field(ge=2, description="Nearest reference rows taken as a posterior.")

    @model_validator(mode="after")
    def _fits(self) -> CheckSpec:
        if self.accept >= self.reference_runs:
            raise ValueError(
                f"need accept < reference_runs, got {self.accept}, {self.reference_runs}"
            )
        if self.datasets > self.reference_runs:
            raise ValueError(
                f"need datasets <= reference_runs, got {self.datasets}, {self.reference_runs}"
            )
        return self


class EpisodeSpec(StrictModel):
    """One observed round: a scenario, the window its runs last, its own priors and targets."""

    scenario: str = Field(
        min_length=1, description="Scenario file (version 2), relative to this file."
    )
    horizon_days: Positive = Field(
        description="Observation window: length of each fitted run, days."
    )
    description: str = Field("", description="What the episode is, in words.")
    weight: Positive = Field(
        1.0,
        description="Multiplies the episode's distance before the episodes are combined (their "
        "maximum): above 1 its tolerances tighten, below 1 they loosen.",
    )
    priors: dict[str, PriorSpec] = Field(
        default_factory=dict,
        description="Episode-specific priors: only this episode's runs use them.",
    )
    targets: dict[str, TargetSpec] = Field(min_length=1)


class CalibrationFile(StrictModel):
    """A calibration config file: shared priors, and the episodes fitted together."""

    seed: int = Field(ge=0)
    smc: SmcSpec
    checks: ChecksSpec
    check: CheckSpec
    priors: dict[str, PriorSpec] = Field(
        default_factory=dict,
        description="Shared priors: each applies to every episode whose scenario has that path.",
    )
    episodes: dict[EpisodeName, EpisodeSpec] = Field(min_length=1)
