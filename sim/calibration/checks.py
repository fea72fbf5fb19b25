"""What a fitted calibration is checked by: posterior predictive checks per episode, the posterior
against the prior, and how much of the headline outcomes' spread comes from the parameters."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from sim.calibration.config import DISTANCE, Config, Episode
from sim.calibration.targets import EPISODE_SEPARATOR
from sim.model.events import StrikeLaunched
from sim.scenario.parameters import PosteriorSample, scenario_with

SOURCES = ("posterior", "prior", "scenario")
ALL_TARGETS = "all targets at once"
EVERY_EPISODE = "every episode at once"


def simulate_statistics(
    config: Config, n: int, seed: int, source: str, posterior: PosteriorSample | None = None
) -> pd.DataFrame:
    """Statistics of ``n`` parameter sets, each run once in every episode, one row per set.

    ``source``: ``"posterior"`` (set ``r`` is drawn from ``posterior`` on the stream
    ``Streams(seed, r).get("parameters")``), ``"prior"`` (from the priors, same stream) or
    ``"scenario"`` (each episode's scenario with its own written values). Columns as
    ``Config.simulate`` writes them.
    """
    from sim.model.rng import Streams

    rows = []
    for r in range(n):
        rng = Streams(seed, r).get("parameters")
        values = None
        if source == "posterior":
            values = posterior.draw(rng)
        elif source == "prior":
            values = dict(zip(config.paths, map(float, config.draw_prior(rng)), strict=True))
        rows.append(config.simulate_values(values, r, seed))
    return pd.DataFrame(rows)


def predictive_check(config: Config, stats: pd.DataFrame) -> pd.DataFrame:
    """For each episode and target: the observed value beside the simulated distribution, and a
    verdict; then per episode the share of runs reproducing all its targets at once, and the
    share reproducing every target of every episode at once.

    A target passes when at least ``checks.plausible_share`` of the runs reproduce it within its
    tolerance and the observed value lies inside the simulated 5-95% range widened by the
    tolerance. One episode is one draw from the model: the check asks that the episode be an
    ordinary outcome of the calibrated model, not that it be certain.
    """
    threshold = float(config.checks["plausible_share"])
    rows = []
    for episode in config.episodes:
        for t, column in zip(episode.targets, episode.statistic_columns(), strict=True):
            values = stats[column]
            share = float(values.map(t.matches).mean())
            defined = values.dropna()
            q05, q50, q95 = defined.quantile([0.05, 0.5, 0.95]) if len(defined) else [math.nan] * 3
            inside = bool(q05 - (t.observed - t.low) <= t.observed <= q95 + (t.high - t.observed))
            rows.append({
                "episode": episode.name, "target": t.name, "observed": t.observed, "low": t.low,
                "high": t.high, "share_matching": share, "simulated_q05": float(q05),
                "simulated_median": float(q50), "simulated_q95": float(q95),
                "share_defined": len(defined) / len(values),
                "passes": bool(share >= threshold and inside),
            })  # fmt: skip
        distance = stats[f"{DISTANCE}{EPISODE_SEPARATOR}{episode.name}"]
        rows.append({"episode": episode.name, "target": ALL_TARGETS,
                     "share_matching": float((distance <= 1.0).mean())})  # fmt: skip
    every = np.ones(len(stats), bool)
    for episode in config.episodes:
        every &= stats[f"{DISTANCE}{EPISODE_SEPARATOR}{episode.name}"].to_numpy(float) <= 1.0
    rows.append({"episode": "", "target": EVERY_EPISODE, "share_matching": float(every.mean())})
    return pd.DataFrame(rows)


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of ``values`` under normalised ``weights`` (inverse of the weighted CDF)."""
    order = np.argsort(values, kind="stable")
    cdf = np.cumsum(weights[order]) / weights.sum()
    return float(values[order][min(np.searchsorted(cdf, q), len(values) - 1)])


def width_ratio(values: np.ndarray, weights: np.ndarray, low: float, high: float) -> float:
    """The weighted 5-95% width over the uniform prior's (0.9 of its range): near 1, the data
    say little about the parameter."""
    q05, q95 = (weighted_quantile(values, weights, q) for q in (0.05, 0.95))
    return (q95 - q05) / (0.9 * (high - low))


def posterior_summary(config: Config, particles: pd.DataFrame) -> pd.DataFrame:
    """Per parameter: prior range and mean beside the weighted posterior mean and 5/50/95%.

    ``width_ratio`` is the posterior 5-95% width over the prior's: near 1, the episodes say
    little about that parameter; ``shift`` is the posterior mean's move in prior-range units;
    ``episode`` is blank for a shared parameter.
    """
    weights = particles["weight"].to_numpy(float)
    rows = []
    for p in config.priors:
        values = particles[p.path].to_numpy(float)
        q05, q50, q95 = (weighted_quantile(values, weights, q) for q in (0.05, 0.5, 0.95))
        mean = float(np.average(values, weights=weights))
        rows.append({
            "parameter": p.path, "episode": p.episode or "", "prior_low": p.low,
            "prior_high": p.high, "prior_mean": (p.low + p.high) / 2, "posterior_mean": mean,
            "posterior_q05": q05, "posterior_median": q50, "posterior_q95": q95,
            "width_ratio": width_ratio(values, weights, p.low, p.high),
            "shift": (mean - (p.low + p.high) / 2) / (p.high - p.low), "reason": p.reason,
        })  # fmt: skip
    return pd.DataFrame(rows)


HEADLINE = {"rung>=3": 3, "rung>=5": 5, "rung>=6": 6}


def variance_decomposition(
    episode: Episode, posterior: PosteriorSample, parameter_sets: int, replications: int,
    seed: int,
) -> pd.DataFrame:  # fmt: skip
    """How much of the spread of each headline outcome comes from parameters, how much chance,
    in ``episode``'s scenario over its own (full) horizon.

    ``parameter_sets`` posterior draws (draw ``m`` on ``Streams(seed, m).get("parameters")``) with
    ``replications`` independent runs each (run ``m * replications + r``). For the indicator Y of
    reaching a rung, Var(Y) = E[Var(Y | theta)] + Var(E[Y | theta]); the second term is estimated
    without bias by the variance of the per-draw means minus the within-draw variance / R.
    """
    from sim.model.rng import Streams
    from sim.model.world import run_replication

    reached = np.zeros((len(HEADLINE), parameter_sets, replications))
    for m in range(parameter_sets):
        values = episode.values(posterior.draw(Streams(seed, m).get("parameters")))
        drawn = scenario_with(episode.full_scenario, values)
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
