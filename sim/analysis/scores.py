"""Proper scores of probability forecasts, skill against a reference, and reliability.

Pure functions of numpy arrays, no simulation. Every score is a loss, lower is better, averaged
over questions by the caller:

- Brier score of a binary forecast: (p - y)^2, from 0 (certain and right) to 1 (certain, wrong).
- Log score: -ln of the probability given to what happened, in nats; p is first clipped to
  [LOG_CLIP, 1 - LOG_CLIP], so a forecast of 0 or 1 that turns out wrong costs ln(1000) = 6.9
  nats instead of infinity (a Monte Carlo estimate of 0 out of n runs is not a certainty).
- Ranked probability score (RPS) of a forecast over the rungs 0-6: the mean, over the six
  thresholds r = 1..6, of the Brier score of P(rung >= r); 0 for a certain, right forecast, and a
  forecast one rung off costs less than one six rungs off.

All three are strictly proper: the expected score is lowest when the forecast is the true
probability. Skill against a reference is 1 - mean score / mean reference score: 0 is no better
than the reference, 1 is perfect, below 0 is worse. Its 95% interval is a paired bootstrap over
questions (the model and the reference are scored on the same resampled questions).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.study.results import wilson_interval

LOG_CLIP = 1e-3
"""Forecast probabilities are clipped to [LOG_CLIP, 1 - LOG_CLIP] before the log score."""
DEFAULT_RESAMPLES = 2000
"""Bootstrap resamples of the questions for a skill score's interval."""
DEFAULT_BINS = 10
"""Equal-width bins of forecast probability in a reliability table."""


def brier_score(probability: np.ndarray, outcome: np.ndarray) -> np.ndarray:
    """Per-question Brier score (p - y)^2 of forecast probabilities ``p`` of 0/1 outcomes ``y``."""
    p, y = _binary(probability, outcome)
    return (p - y) ** 2


def log_score(probability: np.ndarray, outcome: np.ndarray, clip: float = LOG_CLIP) -> np.ndarray:
    """Per-question log score, -ln(p) if the outcome happened and -ln(1 - p) if not (nats);
    ``p`` clipped to [clip, 1 - clip] first."""
    p, y = _binary(probability, outcome)
    p = np.clip(p, clip, 1 - clip)
    return -np.where(y == 1, np.log(p), np.log1p(-p))


def ranked_probability_score(distribution: np.ndarray, observed: np.ndarray) -> np.ndarray:
    """Per-question RPS of forecasts over ordered categories (rows of ``distribution``, each
    summing to 1) for the observed category indices: the mean over thresholds of the squared
    difference between the forecast's and the observation's cumulative distributions."""
    forecast = np.atleast_2d(np.asarray(distribution, dtype=float))
    observed = np.atleast_1d(np.asarray(observed))
    categories = forecast.shape[1]
    if len(observed) != len(forecast):
        raise ValueError(f"{len(forecast)} forecasts but {len(observed)} observations")
    if np.any((observed < 0) | (observed >= categories)) or categories < 2:
        raise ValueError(f"observations must be categories 0-{categories - 1}, got {observed}")
    if not np.allclose(forecast.sum(axis=1), 1) or np.any(forecast < 0):
        raise ValueError("each forecast must be a distribution: shares >= 0 summing to 1")
    reached = np.arange(1, categories)[None, :] <= observed[:, None]
    forecast_reached = 1 - np.cumsum(forecast, axis=1)[:, :-1]
    return ((forecast_reached - reached) ** 2).mean(axis=1)


def _binary(probability: np.ndarray, outcome: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Forecasts and outcomes as float arrays of one length, checked: p in [0, 1], y in {0, 1}."""
    p = np.atleast_1d(np.asarray(probability, dtype=float))
    y = np.atleast_1d(np.asarray(outcome, dtype=float))
    if p.shape != y.shape:
        raise ValueError(f"{p.shape} forecasts but {y.shape} outcomes")
    if np.any(~((p >= 0) & (p <= 1))):
        raise ValueError(f"probabilities must be in [0, 1], got {p}")
    if np.any((y != 0) & (y != 1)):
        raise ValueError(f"outcomes must be 0 or 1, got {y}")
    return p, y


def skill_score(scores: np.ndarray, reference: np.ndarray) -> float:
    """1 - mean(scores) / mean(reference); NaN when the reference is perfect (mean 0)."""
    reference_mean = float(np.mean(reference))
    if reference_mean == 0:
        return float("nan")
    return 1 - float(np.mean(scores)) / reference_mean


def bootstrap_skill(
    scores: np.ndarray,
    reference: np.ndarray,
    rng: np.random.Generator,
    resamples: int = DEFAULT_RESAMPLES,
    confidence: float = 0.95,
) -> dict[str, float]:
    """Skill of ``scores`` against ``reference`` (per-question scores of the same questions) with
    a paired percentile bootstrap interval: questions are resampled with replacement, the same
    draw for both. Resamples in which the reference is perfect have no skill and are left out;
    ``undefined_resamples`` counts them (the interval is NaN if all are)."""
    scores, reference = np.asarray(scores, dtype=float), np.asarray(reference, dtype=float)
    if scores.shape != reference.shape or scores.ndim != 1 or len(scores) == 0:
        raise ValueError("scores and reference must be per-question arrays of one length")
    picks = rng.integers(0, len(scores), size=(resamples, len(scores)))
    reference_means = reference[picks].mean(axis=1)
    defined = reference_means > 0
    skills = 1 - scores[picks].mean(axis=1)[defined] / reference_means[defined]
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(skills, [tail, 100 - tail]) if len(skills) else (np.nan, np.nan)
    return {
        "skill": skill_score(scores, reference),
        "ci_low": float(low),
        "ci_high": float(high),
        "undefined_resamples": int((~defined).sum()),
    }


def reliability_table(
    probability: np.ndarray, outcome: np.ndarray, bins: int = DEFAULT_BINS
) -> pd.DataFrame:
    """Forecasts binned by probability (equal widths over [0, 1], the last bin closed), against
    how often the outcome happened in each bin, with a Wilson 95% interval; non-empty bins only.
    A reliable forecaster's observed frequencies lie on the diagonal."""
    p, y = _binary(probability, outcome)
    edges = np.linspace(0, 1, bins + 1)
    index = np.clip(np.searchsorted(edges, p, side="right") - 1, 0, bins - 1)
    rows = []
    for b in np.unique(index):
        members = index == b
        rows.append(
            {
                "bin_low": edges[b],
                "bin_high": edges[b + 1],
                "n": int(members.sum()),
                "mean_forecast": float(p[members].mean()),
                "happened": int(y[members].sum()),
            }
        )
    columns = ["bin_low", "bin_high", "n", "mean_forecast", "happened"]
    table = pd.DataFrame(rows, columns=columns)
    table["observed_frequency"] = table["happened"] / table["n"]
    low, high = wilson_interval(table["happened"].to_numpy(), table["n"].to_numpy())
    table["ci_low"], table["ci_high"] = low, high
    return table
