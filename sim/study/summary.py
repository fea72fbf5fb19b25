"""The headline numbers of a study: each rung's probability with its Wilson 95% interval, the
median day it is first reached, and the most frequent escalation paths, from a runs table in
memory or on disk (read a row group at a time)."""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from statistics import NormalDist

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.model.outcomes import first_day_column
from sim.scenario.ladder import RUNGS


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions (vectorised); NaN where trials == 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return np.fmin(low, p), np.fmax(high, p)


def t_half_width(sd: float, n: int, confidence: float = 0.95) -> float:
    """Half-width of the Student-t interval of a mean of ``n`` values with standard deviation
    ``sd`` (NaN for fewer than two). scipy.stats is imported here, not with the command line,
    which it would slow by almost half a second."""
    if n < 2:
        return math.nan
    from scipy import stats

    return float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / math.sqrt(n))


def rung_table(runs: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """For each rung: runs reaching it, probability with CI, median days to reach (if reached)."""
    days = [runs[first_day_column(rung)].dropna().to_numpy() for rung in RUNGS]
    return _rung_rows(len(runs), days, confidence)


def _rung_rows(n: int, days: list[np.ndarray], confidence: float) -> pd.DataFrame:
    """The rung table of ``n`` runs, from the days (of the horizon) each rung was first reached
    in the runs that reached it."""
    rows = [
        {
            "rung": int(rung),
            "label": rung.label,
            "runs_reaching": len(reached),
            "n": n,
            "median_days_to_reach": float(np.median(reached)) if len(reached) else np.nan,
        }
        for rung, reached in zip(RUNGS, days, strict=True)
    ]
    table = pd.DataFrame(rows)
    table.insert(4, "probability", table["runs_reaching"] / n if n else np.nan)
    low, high = wilson_interval(
        table["runs_reaching"].to_numpy(), np.full(len(table), n), confidence
    )
    table.insert(5, "ci_low", low)
    table.insert(6, "ci_high", high)
    return table


def path_table(
    runs: pd.DataFrame, column: str = "rung_path", top: int = 10, confidence: float = 0.95
) -> pd.DataFrame:
    """The ``top`` most frequent escalation paths with their shares and Wilson CIs."""
    counts = Counter({str(k): int(v) for k, v in runs[column].value_counts().items()})
    return _top_paths(counts, len(runs), top, confidence)


def _top_paths(counts: Counter, n: int, top: int, confidence: float) -> pd.DataFrame:
    """The ``top`` paths of ``counts`` (most frequent first, ties in alphabetical order, so the
    order never depends on the order the runs were read in)."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))[:top]
    paths = [path for path, _ in ordered]
    runs = np.array([count for _, count in ordered], dtype=np.int64)
    low, high = wilson_interval(runs, np.full(len(runs), n), confidence)
    return pd.DataFrame(
        {"path": paths, "runs": runs, "share": runs / n, "ci_low": low, "ci_high": high}
    )


def summary_of_table(path: Path, top_paths: int = 10, confidence: float = 0.95) -> Summary:
    """The summary of a runs table on disk, read a row group at a time (in one thread).

    The driver's memory then barely grows with the study: one row group's columns (about
    10,000 runs), the days each rung was reached (8 bytes a run that reached it) for the
    medians, and one count per distinct path. Reading whole columns at once (or with Arrow's
    threads, a row group each) made the peak grow with the number of row groups.
    """
    source = pq.ParquetFile(path, page_checksum_verification=True)
    day_columns = [first_day_column(rung) for rung in RUNGS]
    days: list[list[np.ndarray]] = [[] for _ in RUNGS]
    counts = {"rung_path": Counter(), "path": Counter()}
    for group in range(source.metadata.num_row_groups):
        table = source.read_row_group(group, columns=day_columns + list(counts), use_threads=False)
        for reached, column in zip(days, day_columns, strict=True):
            values = table[column].to_numpy()  # not reached: null or NaN, as pandas reads both
            reached.append(values[~np.isnan(values)])
        for column, counter in counts.items():
            for item in pc.value_counts(table[column]).to_pylist():
                if item["values"] is not None:
                    counter[str(item["values"])] += item["counts"]
    n = source.metadata.num_rows
    return Summary(
        rungs=_rung_rows(n, [np.concatenate(d) if d else np.array([]) for d in days], confidence),
        paths=_top_paths(counts["rung_path"], n, top_paths, confidence),
        actor_paths=_top_paths(counts["path"], n, top_paths, confidence),
        n=n,
    )


def max_half_width(runs_reaching: np.ndarray, n: int, confidence: float = 0.95) -> float:
    """Largest CI half-width over the rung probabilities (for ``--until-ci``)."""
    low, high = wilson_interval(runs_reaching, np.full(len(runs_reaching), n), confidence)
    return float(np.max((high - low) / 2))


@dataclass(frozen=True)
class Summary:
    """The headline numbers of a study: rung probabilities and the most frequent paths."""

    rungs: pd.DataFrame
    paths: pd.DataFrame
    actor_paths: pd.DataFrame
    n: int
