"""Calibration on the seed text's events: priors, targets, statistics of a run, posterior samples.

A calibration config (``calibration/calibrate.yaml``) declares uniform priors over scenario values
by dotted path, each with a reason, and targets: statistics of one simulated run, each with the
observed value, a tolerance and a reason. ``sim.calibration.smc`` fits the priors to the targets by ABC-SMC;
this module holds what the fit and its users share: reading the config, the statistics of a run's
event log, the distance of a run from the observations, predictive checks and the variance
decomposition. Applying a parameter set to a scenario and drawing from a posterior belong to
``sim.scenario.parameters``, which the world uses too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.schema import CalibrationFile, TargetSpec
from sim.model.events import (
    HOURS_PER_DAY,
    DecisionMade,
    Event,
    Interception,
    StrikeLaunched,
    StrikeOutcome,
)
from sim.scenario.loading import (
    Problem,
    ScenarioError,
    load_scenario,
    read_document,
    read_source,
    validate_model,
)
from sim.scenario.parameters import PosteriorSample, scenario_with
from sim.scenario.schema import Scenario

MISMATCH = 2.0  # distance of a binary target that is missed (a tolerance is 1)
UNDEFINED = 3.0  # distance of a statistic the run does not define (Iran never answered)


@dataclass(frozen=True)
class Prior:
    """A uniform prior over one scenario value, with the reason for its range."""

    path: str
    low: float
    high: float
    reason: str


@dataclass(frozen=True)
class Target:
    """An observed statistic and the range of simulated values that count as reproducing it.

    ``low``/``high`` bound the accepted range; a binary target (``binary``) must match exactly.
    """

    name: str
    observed: float
    low: float
    high: float
    reason: str
    binary: bool = False

    def distance(self, simulated: float) -> float:
        """0 at the observed value, 1 at the edge of the accepted range, capped at 2.

        A missed binary target is 2; a statistic the run does not define is 3.
        """
        if math.isnan(simulated):
            return UNDEFINED
        if self.binary:
            return 0.0 if simulated == self.observed else MISMATCH
        edge = self.high if simulated > self.observed else self.low
        span = abs(edge - self.observed)
        if span == 0:
            return 0.0 if simulated == self.observed else MISMATCH
        return min(MISMATCH, abs(simulated - self.observed) / span)

    def matches(self, simulated: float) -> bool:
        """Whether a simulated value reproduces the observation within the tolerance."""
        return self.distance(simulated) <= 1.0

    @classmethod
    def of(cls, name: str, spec: TargetSpec) -> Target:
        """The target ``name`` as its config entry ``spec`` declares it."""
        low, high = spec.bounds()
        return cls(name, spec.observed, low, high, spec.reason, binary=spec.match == "equal")


@dataclass(frozen=True)
class Config:
    """A calibration: scenario (short horizon), priors, targets, seed, ABC and check budgets."""

    scenario: Scenario
    full_scenario: Scenario
    priors: tuple[Prior, ...]
    targets: tuple[Target, ...]
    seed: int
    smc: Mapping[str, float]
    checks: Mapping[str, Any]
    source: Path

    @classmethod
    def load(cls, path: str | Path) -> Config:
        """Read and validate a config; every mistake is a ``ScenarioError`` whose lines read
        ``file:line: field: message`` (``sim.calibration.schema`` says what a config holds)."""
        path = Path(path)
        spec, lines = _read_config(path)
        scenario_path = path.parent / spec.scenario
        if not scenario_path.is_file():
            raise ScenarioError(
                [
                    Problem(
                        str(path),
                        lines.get(("scenario",)),
                        "scenario",
                        f"no such file: {scenario_path}",
                    )
                ]
            )
        priors = tuple(Prior(p, v.low, v.high, v.reason) for p, v in spec.priors.items())
        horizon = {"horizon_days": spec.horizon_days}
        _check_prior_ranges(scenario_path, horizon, priors, str(path), lines)
        point = {"parameters_from": None}  # the fit sets the parameters; it never draws them
        return cls(
            scenario=load_scenario(scenario_path, point | horizon),
            full_scenario=load_scenario(scenario_path, point),
            priors=priors,
            targets=tuple(Target.of(name, t) for name, t in spec.targets.items()),
            seed=spec.seed,
            smc=spec.smc.model_dump(),
            checks=spec.checks.model_dump(),
            source=path,
        )

    @property
    def paths(self) -> list[str]:
        """The calibrated values' dotted paths, in config order."""
        return [p.path for p in self.priors]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper prior bounds as arrays (config order)."""
        return np.array([p.low for p in self.priors]), np.array([p.high for p in self.priors])

    def draw_prior(self, rng: np.random.Generator) -> np.ndarray:
        """One parameter vector from the uniform priors."""
        low, high = self.bounds()
        return rng.uniform(low, high)

    def distance(self, stats: Mapping[str, float]) -> float:
        """How far a run is from the observations: the largest target distance (1 = tolerance).

        The maximum, not a sum, so that a distance of at most 1 means every target is reproduced
        within its tolerance: the final ABC tolerance has a meaning a reader can check.
        """
        return max(t.distance(stats[t.name]) for t in self.targets)


def _read_config(path: Path) -> tuple[CalibrationFile, dict[tuple, int]]:
    """The validated config file and the line of each of its keys; every target must name a
    statistic of ``target_statistics``."""
    source = str(path)
    text = read_source(path)
    if not text.strip():
        needs = ", ".join(CalibrationFile.model_fields)
        raise ScenarioError([Problem(source, None, "", f"file is empty; a config needs {needs}")])
    data, lines = read_document(text, source)
    spec = validate_model(CalibrationFile, data, {k: (source, n) for k, n in lines.items()}, source)
    unknown = [name for name in spec.targets if name not in STATISTICS]
    if unknown:
        known = f"not a statistic of a run; known: {', '.join(STATISTICS)}"
        raise ScenarioError(
            [Problem(source, lines.get(("targets", n)), f"targets.{n}", known) for n in unknown]
        )
    return spec, lines


def _check_prior_ranges(
    scenario_path: Path,
    horizon: Mapping[str, float],
    priors: tuple[Prior, ...],
    source: str,
    lines: Mapping[tuple, int],
) -> None:
    """Validate the scenario with every prior at its low end, then at its high end; a value the
    scenario refuses is reported at the prior's line in the config."""
    for corner in ("low", "high"):
        values = {p.path: getattr(p, corner) for p in priors}
        try:
            load_scenario(scenario_path, {**horizon, **values})
        except ScenarioError as exc:
            raise ScenarioError([
                Problem(source, lines.get(("priors", path)), f"priors.{path}",
                        f"{corner} {value} in {scenario_path}: {e.message}")
                for e in exc.problems
                for path, value in values.items()
                if e.field == path or e.field.startswith(path + ".") or path.startswith(e.field + ".")
            ] or exc.problems) from None  # fmt: skip


def _first(events: list[Event], kind: type, test) -> Any:
    return next((e for e in events if isinstance(e, kind) and test(e)), None)


def target_statistics(events: list[Event], window_hours: float = 24.0) -> dict[str, float]:
    """The calibration statistics of one run's log (NaN where a statistic is undefined).

    Iran's answer is its first strike on Israel. What the text reports as not having happened
    (Hezbollah all-out) is checked up to ``window_hours`` after that answer's launch, when the text
    was written (up to day 14 if Iran never answered). Delays are in days from the opening strike.
    """
    answer = _first(events, StrikeLaunched, lambda e: e.attacker == "iran" and e.target == "israel")
    end = (answer.time_hours if answer else 14 * HOURS_PER_DAY - window_hours) + window_hours
    stats = {"iran_responds": float(answer is not None)}
    stats.update(_answer_statistics(events, answer))
    stats["hezbollah_all_out"] = float(
        any(
            isinstance(e, StrikeLaunched)
            and e.attacker == "hezbollah"
            and e.rung >= 4
            and e.time_hours <= end
            for e in events
        )
    )
    stats["iran_unprovoked_repeat"] = _unprovoked_repeats(events, answer)
    return stats


def _answer_statistics(events: list[Event], answer: StrikeLaunched | None) -> dict[str, float]:
    """Statistics of Iran's answer: when, how high, signalled, how big, the mix, the defence."""
    nan = math.nan
    if answer is None:
        names = ("response_delay_days", "response_rung", "telegraphed", "response_projectiles")
        names += ("drone_share", "ballistic_intercepted_share", "salvo_stopped_share")
        return {n: nan for n in names} | {"us_pressure_on_israel": 0.0}
    sid = answer.strike_id
    counts = dict(answer.projectiles)
    total = sum(counts.values())
    outcome = _first(events, StrikeOutcome, lambda e: e.strike_id == sid)
    ballistic = [e for e in events if isinstance(e, Interception) and e.strike_id == sid
                 and e.weapon == "ballistic"]  # fmt: skip
    flying = max((e.entered for e in ballistic), default=0)
    decision = _first(
        events, DecisionMade, lambda e: e.actor == "israel" and e.trigger_strike_id == sid
    )
    return {
        "response_delay_days": answer.time_hours / HOURS_PER_DAY,
        "response_rung": float(answer.rung),
        "telegraphed": float(answer.telegraphed),
        "response_projectiles": float(total),
        "drone_share": counts.get("drone", 0) / total if total else nan,
        "ballistic_intercepted_share": (
            sum(e.intercepted for e in ballistic) / flying if flying else nan
        ),
        "salvo_stopped_share": (
            1 - outcome.leaked / outcome.launched if outcome and outcome.launched else nan
        ),
        "us_pressure_on_israel": float(decision is not None and decision.ally_pressure > 0),
    }


def _unprovoked_repeats(events: list[Event], answer: StrikeLaunched | None) -> float:
    """Iran's strikes on Israel after its answer with no strike on Iran between: the text's
    "it will onli escal further if it is attack again" says there are none."""
    if answer is None:
        return 0.0
    later = [e for e in events if isinstance(e, StrikeLaunched) and e.strike_id > answer.strike_id]
    provoked, repeats = False, 0
    for strike in sorted(later, key=lambda e: e.strike_id):
        if strike.target == "iran":
            provoked = True
        elif strike.attacker == "iran" and strike.target == "israel" and not provoked:
            repeats += 1
    return float(repeats)


STATISTICS = tuple(target_statistics([]))
"""The statistics a target may name: ``target_statistics`` defines all of them for any log."""


def simulate_statistics(
    config: Config, n: int, seed: int, source: str, posterior: PosteriorSample | None = None
) -> pd.DataFrame:
    """Statistics of ``n`` runs of the calibration scenario, one row per run.

    ``source``: ``"posterior"`` (run ``r`` draws its parameters from ``posterior`` on the stream
    ``Streams(seed, r).get("parameters")``), ``"prior"`` (from the priors, same stream) or
    ``"scenario"`` (the shipped scenario's own values).
    """
    from sim.model.rng import Streams
    from sim.model.world import run_replication

    rows = []
    for r in range(n):
        rng = Streams(seed, r).get("parameters")
        values: dict[str, float] = {}
        if source == "posterior":
            values = posterior.draw(rng)
        elif source == "prior":
            values = dict(zip(config.paths, map(float, config.draw_prior(rng)), strict=True))
        events = run_replication(scenario_with(config.scenario, values), r, seed)
        rows.append(target_statistics(events))
    return pd.DataFrame(rows)


def predictive_check(config: Config, stats: pd.DataFrame) -> pd.DataFrame:
    """For each target: the observed value beside the simulated distribution, and a verdict.

    A target passes when at least ``checks.plausible_share`` of the runs reproduce it within its
    tolerance and the observed value lies inside the simulated 5-95% range widened by the
    tolerance. One episode is one draw from the model: the check asks that the episode be an
    ordinary outcome of the calibrated model, not that it be certain.
    """
    threshold = float(config.checks["plausible_share"])
    rows = []
    for t in config.targets:
        values = stats[t.name]
        share = float(values.map(t.matches).mean())
        defined = values.dropna()
        q05, q50, q95 = defined.quantile([0.05, 0.5, 0.95]) if len(defined) else [math.nan] * 3
        inside = bool(q05 - (t.observed - t.low) <= t.observed <= q95 + (t.high - t.observed))
        rows.append({
            "target": t.name, "observed": t.observed, "low": t.low, "high": t.high,
            "share_matching": share, "simulated_q05": float(q05),
            "simulated_median": float(q50), "simulated_q95": float(q95),
            "share_defined": len(defined) / len(values),
            "passes": bool(share >= threshold and inside),
        })  # fmt: skip
    joint = stats.apply(lambda row: config.distance(row) <= 1.0, axis=1).mean()
    rows.append({"target": "all targets at once", "share_matching": float(joint)})
    return pd.DataFrame(rows)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` under normalised ``weights`` (inverse of the weighted CDF)."""
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(np.searchsorted(cdf, q), len(values) - 1)])


def posterior_summary(config: Config, particles: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: prior range and mean beside the weighted posterior mean and 5/50/95%.

    ``width_ratio`` is the posterior 5-95% width over the prior's: near 1, one episode says
    little about that parameter; ``shift`` is the posterior mean's move in prior-range units.
    """
    weights = particles["weight"].to_numpy(float)
    rows = []
    for p in config.priors:
        values = particles[p.path].to_numpy(float)
        q05, q50, q95 = (weighted_quantile(values, weights, q) for q in (0.05, 0.5, 0.95))
        mean = float(np.average(values, weights=weights))
        rows.append({
            "parameter": p.path, "prior_low": p.low, "prior_high": p.high,
            "prior_mean": (p.low + p.high) / 2, "posterior_mean": mean, "posterior_q05": q05,
            "posterior_median": q50, "posterior_q95": q95,
            "width_ratio": (q95 - q05) / (0.9 * (p.high - p.low)),
            "shift": (mean - (p.low + p.high) / 2) / (p.high - p.low), "reason": p.reason,
        })  # fmt: skip
    return pd.DataFrame(rows)


HEADLINE = {"rung>=3": 3, "rung>=5": 5, "rung>=6": 6}


def variance_decomposition(
    scenario: Scenario, posterior: PosteriorSample, parameter_sets: int, replications: int,
    seed: int,
) -> pd.DataFrame:  # fmt: skip
    """How much of the spread of each headline outcome comes from parameters, how much chance.

    ``parameter_sets`` posterior draws (draw ``m`` on ``Streams(seed, m).get("parameters")``) with
    ``replications`` independent runs each (run ``m * replications + r``). For the indicator Y of
    reaching a rung, Var(Y) = E[Var(Y | theta)] + Var(E[Y | theta]); the second term is estimated
    without bias by the variance of the per-draw means minus the within-draw variance / R.
    """
    from sim.model.rng import Streams
    from sim.model.world import run_replication

    reached = np.zeros((len(HEADLINE), parameter_sets, replications))
    for m in range(parameter_sets):
        drawn = scenario_with(scenario, posterior.draw(Streams(seed, m).get("parameters")))
        for r in range(replications):
            events = run_replication(drawn, m * replications + r, seed)
            top = max((e.rung for e in events if isinstance(e, StrikeLaunched)), default=-1)
            reached[:, m, r] = [top >= rung for rung in HEADLINE.values()]
    rows = []
    for name, values in zip(HEADLINE, reached, strict=True):
        chance = float(values.var(axis=1, ddof=1).mean())
        between = float(values.mean(axis=1).var(ddof=1))
        parameters = max(0.0, between - chance / replications)
        total = chance + parameters
        rows.append({
            "outcome": name, "probability": float(values.mean()),
            "between_draws_sd": float(np.sqrt(parameters)),
            "share_from_parameters": parameters / total if total else 0.0,
            "share_from_chance": chance / total if total else 0.0,
        })  # fmt: skip
    return pd.DataFrame(rows)
