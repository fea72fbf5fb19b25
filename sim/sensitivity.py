"""Global sensitivity: which uncertain parameter drives an outcome (Sobol indices with CIs).

Each evaluation of the model at a parameter point is the mean of an outcome indicator over the same
``replications`` replication indices (common random numbers), so differences between points are
not swamped by chance. Indices and their bootstrap 95% intervals come from
``scipy.stats.sobol_indices`` (Saltelli sampling with the Jansen estimators).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.compare import outcome_indicator
from sim.outcomes import run_row
from sim.parameters import scenario_with
from sim.results import ResultsError
from sim.scenario import load_scenario
from sim.schema import LeverSpec
from sim.world import run_replication


@dataclass(frozen=True)
class Uncertain:
    """A scenario value by path, uncertain over a uniform range."""

    path: str
    low: float
    high: float

    @classmethod
    def parse(cls, text: str, named: Mapping[str, LeverSpec] | None = None) -> Uncertain:
        """``PATH=LOW:HIGH``, or the name of a lever the scenario declares (its range)."""
        named = named or {}
        if text in named:
            return cls(named[text].path, named[text].low, named[text].high)
        path, sep, bounds = text.partition("=")
        try:
            low, high = (float(v) for v in bounds.split(":"))
        except ValueError:
            raise ResultsError(f"{text!r}: expected PATH=LOW:HIGH") from None
        if not sep or not low < high:
            raise ResultsError(f"{text!r}: expected PATH=LOW:HIGH with LOW < HIGH")
        return cls(path.strip(), low, high)


def sobol(
    func: Callable[[np.ndarray], np.ndarray],
    bounds: Sequence[tuple[float, float]],
    n: int,
    seed: int,
    names: Sequence[str],
) -> pd.DataFrame:
    """First-order and total Sobol indices of ``func`` (columns of points -> one value each)
    over independent uniform inputs, with bootstrap 95% intervals; one row per input."""
    dists = [stats.uniform(loc=low, scale=high - low) for low, high in bounds]
    result = stats.sobol_indices(func=func, n=n, dists=dists, rng=np.random.default_rng(seed))
    ci = result.bootstrap(confidence_level=0.95, n_resamples=500)
    return pd.DataFrame(
        {
            "parameter": list(names),
            "first_order": result.first_order.ravel(),
            "first_order_low": ci.first_order.confidence_interval.low.ravel(),
            "first_order_high": ci.first_order.confidence_interval.high.ravel(),
            "total": result.total_order.ravel(),
            "total_low": ci.total_order.confidence_interval.low.ravel(),
            "total_high": ci.total_order.confidence_interval.high.ravel(),
        }
    )


def scenario_sensitivity(
    file: str | Path,
    uncertain: Sequence[Uncertain],
    outcome: str,
    *,
    n: int = 64,
    replications: int = 20,
    seed: int = 0,
    progress: Any = None,
) -> pd.DataFrame:
    """Sobol indices of P(``outcome``) over the uncertain scenario values."""
    for bound in ("low", "high"):
        base = load_scenario(file, {u.path: getattr(u, bound) for u in uncertain})
    actors = list(base.actors)
    total = n * (len(uncertain) + 2)
    if progress:
        progress.start(total * replications, 0)

    def probability(points: np.ndarray) -> np.ndarray:
        values = []
        for point in points.T:
            scenario = scenario_with(
                base, {u.path: float(v) for u, v in zip(uncertain, point, strict=True)}
            )
            rows = pd.DataFrame(
                [run_row(run_replication(scenario, r), r, actors) for r in range(replications)]
            )
            values.append(outcome_indicator(rows, outcome).mean())
            if progress:
                progress.advance(replications)
        return np.array(values)

    table = sobol(
        probability, [(u.low, u.high) for u in uncertain], n, seed, [u.path for u in uncertain]
    )
    table.insert(1, "outcome", outcome)
    return table
