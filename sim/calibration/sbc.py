"""Is the posterior honest? Simulation-based calibration (SBC) and expected interval coverage.

SBC (Talts et al. 2018, arXiv:1804.06788): draw parameters from the prior, simulate data from
them, run the sampler on those data, and rank each true value among the sampler's L posterior
draws (the number of draws below it, 0 to L). A sampler that returns the posterior gives ranks
uniform on 0..L for every parameter; one too narrow gives a U shape, one too wide a hump, one
biased a slope. Expected coverage asks the same question for the 50/80/90/95% central intervals:
the share of data sets whose true value lies inside should be the nominal level.

Two runners, one result (``SbcResult``):

- ``reference_table_sbc``: the affordable check of an ABC calibration. One reference table of
  prior simulations serves every synthetic data set: row j is the observed data, the ``accept``
  nearest other rows (by the calibration's own distance) its posterior. A data set costs one
  nearest-neighbour search, not a calibration.
- ``simulation_based_calibration``: the plain loop, for a sampler that can be called on data
  (the conjugate toy models of the tests).

Ties are broken at random, from the Generator passed in and nothing else: a true value tied with
posterior draws takes a uniformly random place among them; rows tied at the edge of the
``accept`` nearest are chosen at random among themselves (in an order set by their parameters,
not their positions, so the ranks do not depend on the order of the table's rows).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as scipy_stats

DEFAULT_LEVELS = (0.5, 0.8, 0.9, 0.95)
"""Nominal levels of the central posterior intervals whose coverage is checked."""
SIGNIFICANCE = 0.01
"""A parameter fails when its rank-uniformity test gives a p-value below this."""
MAX_BINS = 20
"""At most this many rank-histogram bins (Talts et al. use 20)."""
DATASETS_PER_BIN = 10
"""At least about this many data sets expected per bin, so the chi-square approximation holds."""
CONFIDENCE = 0.95
"""Level of the exact binomial (Clopper-Pearson) interval of each empirical coverage."""
BIAS_Z = 4.0
"""A mean normalised rank this many standard errors from 1/2 reads as a biased posterior."""


@dataclass(frozen=True, eq=False)
class SbcResult:
    """What an SBC run found: the ranks, the coverage and uniformity tables, and the verdicts.

    ``ranks`` (data sets x parameters): each true value's rank among its ``draws`` posterior draws
    (0 to ``draws``); ``coverage``: one row per level and parameter (``coverage_table``);
    ``uniformity``: one row per parameter (``uniformity_table``); ``setup``: what was run, in words.
    """

    names: tuple[str, ...]
    ranks: np.ndarray
    draws: int
    levels: tuple[float, ...]
    significance: float
    coverage: pd.DataFrame
    uniformity: pd.DataFrame
    setup: str

    @property
    def passed(self) -> dict[str, bool]:
        """Per parameter: True when its rank-uniformity p-value is at least ``significance``."""
        return dict(zip(self.uniformity.parameter, self.uniformity.passed, strict=True))

    def tables(self) -> dict[str, pd.DataFrame]:
        """``sbc_ranks`` (one row per data set), ``sbc_coverage`` and ``sbc_uniformity``."""
        ranks = pd.DataFrame(self.ranks, columns=list(self.names))
        ranks.insert(0, "dataset", np.arange(len(ranks)))
        return {
            "sbc_ranks": ranks.assign(draws=self.draws),
            "sbc_coverage": self.coverage.copy(),
            "sbc_uniformity": self.uniformity.assign(significance=self.significance),
        }

    def report_markdown(self) -> str:
        """A short report section: what was run, how to read it, and the result."""
        u, n = self.uniformity, len(self.ranks)
        failed = u[~u.passed]
        verdict = (
            f"**All {len(u)} parameters pass** (none of the rank histograms departs from "
            "uniform at this significance)."
            if failed.empty
            else f"**{len(failed)} of {len(u)} parameters fail**: "
            + "; ".join(f"`{r.parameter}` ({r.reads_as})" for r in failed.itertuples())
            + ". Their posterior intervals cannot be taken at face value."
        )
        wide = self.coverage.pivot(index="parameter", columns="level", values="empirical")
        low = self.coverage.pivot(index="parameter", columns="level", values="ci_low")
        high = self.coverage.pivot(index="parameter", columns="level", values="ci_high")
        expected = self.coverage.groupby("level").expected.first()
        cells = {
            f"{level:.0%} (expected {expected[level]:.3f})": [
                f"{wide.at[p, level]:.3f} [{low.at[p, level]:.3f}, {high.at[p, level]:.3f}]"
                for p in self.names
            ]
            for level in self.levels
        }
        coverage = pd.DataFrame({"parameter": list(self.names), **cells})
        tests = u[["parameter", "p_value", "mean_rank", "reads_as", "passed"]].assign(
            p_value=u.p_value.map("{:.3g}".format),
            mean_rank=u.mean_rank.map("{:.3f}".format),
            passed=u.passed.map({True: "yes", False: "no"}),
        )
        return "\n".join([
            "## Simulation-based calibration", "",
            f"{self.setup} Each true value is ranked among its posterior's {self.draws:,} "
            f"draws (the number of draws below it, 0 to {self.draws:,}; ties broken at "
            f"random); over {n:,} data sets the ranks of a calibrated posterior are uniform "
            "(Talts et al. 2018).", "",
            f"Uniformity: a chi-square test of each parameter's ranks in {int(u.bins.iloc[0])} "
            f"bins (expected counts exact for the discrete ranks); a parameter passes when "
            f"p >= {self.significance:g}, so {self.significance * len(u):.2g} of the {len(u)} "
            "parameters are expected to fail by chance alone. `mean_rank` is the mean of rank / draws (1/2 if calibrated); "
            "`reads_as` is a hint from the ranks' mean and the 50% coverage, not the pass "
            "rule.", "",
            tests.to_markdown(index=False, disable_numparse=True), "",
            "Coverage: the share of data sets whose true value lies in the central posterior "
            "interval (its posterior quantile (rank + 1/2) / (draws + 1) within [(1 - level) / "
            "2, (1 + level) / 2]), with the exact binomial 95% interval; the expected value is "
            "what a calibrated posterior gives with this many draws. Under-coverage: too narrow "
            "(or biased); over-coverage: too wide.", "",
            coverage.to_markdown(index=False, disable_numparse=True), "",
            verdict, "",
        ])  # fmt: skip


def rank_bins(draws: int, datasets: int) -> int:
    """Number of rank-histogram bins: about ``DATASETS_PER_BIN`` data sets per bin, at least 2,
    at most ``MAX_BINS`` and at most the L + 1 possible ranks."""
    return int(min(MAX_BINS, draws + 1, max(2, datasets // DATASETS_PER_BIN)))


def bin_probabilities(draws: int, bins: int) -> np.ndarray:
    """Probability of each bin under uniform ranks on 0..L: rank r falls in bin r * B // (L + 1),
    so bins hold floor or ceil of (L + 1) / B rank values each, and are weighted exactly so."""
    return np.bincount(np.arange(draws + 1) * bins // (draws + 1), minlength=bins) / (draws + 1)


def inside_interval(ranks: np.ndarray, draws: int, level: float) -> np.ndarray:
    """Whether each true value lies in the central ``level`` posterior interval: its posterior
    quantile, the mid-rank (r + 1/2) / (L + 1), lies within [(1 - level) / 2, (1 + level) / 2]
    (written |2r - L| <= level (L + 1), exact in integers on the left)."""
    return np.abs(2 * np.asarray(ranks) - draws) <= level * (draws + 1)


def expected_coverage(draws: int, level: float) -> float:
    """Coverage of the central ``level`` interval under a calibrated sampler: the share of the
    L + 1 equally likely ranks inside it (within 1 / (L + 1) of ``level``)."""
    return float(inside_interval(np.arange(draws + 1), draws, level).mean())


def ranks_with_ties(truth: np.ndarray, posterior: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Rank of each parameter's true value among its posterior draws (rows): the draws below it
    plus a uniformly random place among the draws equal to it (``uniforms`` in [0, 1), one per
    parameter), so a tied value still has a uniform rank under calibration."""
    below = (posterior < truth).sum(axis=0)
    equal = (posterior == truth).sum(axis=0)
    return below + np.floor(uniforms * (equal + 1)).astype(np.int64)


def nearest_rows(
    distances: np.ndarray,
    own: int,
    accept: int,
    theta: np.ndarray,
    rng: np.random.Generator,
) -> np.ndarray:
    """The ``accept`` rows nearest to row ``own`` (itself excluded), NaN distances counting as
    infinite. Rows tied at the cut-off distance are drawn at random among themselves, listed in
    the order of their parameters ``theta`` (not of their positions: rows whose parameters are
    equal rank a true value alike, so the ranks do not depend on the order of the rows)."""
    distances = np.where(np.isnan(distances), np.inf, distances)
    others = np.delete(np.arange(len(distances)), own)
    cut = np.partition(distances[others], accept - 1)[accept - 1]
    closer = others[distances[others] < cut]
    tied = others[distances[others] == cut]
    if len(closer) + len(tied) == accept:
        return np.concatenate([closer, tied])
    tied = tied[np.lexsort(theta[tied].T[::-1])]
    chosen = rng.choice(len(tied), accept - len(closer), replace=False)
    return np.concatenate([closer, tied[np.sort(chosen)]])


def reference_table_ranks(
    theta: np.ndarray,
    stats: np.ndarray,
    rows: Sequence[int],
    accept: int,
    distance: Callable[[np.ndarray, np.ndarray], np.ndarray],
    rng: np.random.Generator,
) -> np.ndarray:
    """Ranks (one row per data set in ``rows``, one column per parameter) of each data set's
    true parameters among its ``accept`` nearest other rows of the table."""
    ranks = np.empty((len(rows), theta.shape[1]), dtype=np.int64)
    for i, row in enumerate(rows):
        distances = np.asarray(distance(stats, stats[row]), dtype=float)
        if distances.shape != (len(stats),):
            raise ValueError(
                f"distance returned shape {distances.shape}; expected ({len(stats)},), one "
                "distance per reference row"
            )
        posterior = theta[nearest_rows(distances, row, accept, theta, rng)]
        ranks[i] = ranks_with_ties(theta[row], posterior, rng.random(theta.shape[1]))
    return ranks


def _check_table(theta, stats, n_datasets: int, accept: int, names: Sequence[str]) -> None:
    """ValueError unless the table, the budget and the names fit together."""
    n = len(theta)
    if theta.ndim != 2 or stats.ndim != 2 or len(stats) != n:
        raise ValueError(f"theta {theta.shape} and stats {stats.shape}: need (n, d) and (n, k)")
    if not np.isfinite(theta).all():
        raise ValueError("theta: prior draws must be finite")
    if len(names) != theta.shape[1]:
        raise ValueError(f"names: {len(names)} names for {theta.shape[1]} parameters")
    if not 1 <= accept <= n - 1:
        raise ValueError(f"accept: {accept}; must be 1 to {n - 1} (the other rows)")
    if not 1 <= n_datasets <= n:
        raise ValueError(f"n_datasets: {n_datasets}; must be 1 to {n} (the table's rows)")


def reference_table_sbc(
    theta: np.ndarray,
    stats: np.ndarray,
    *,
    n_datasets: int,
    accept: int,
    distance: Callable[[np.ndarray, np.ndarray], np.ndarray],
    rng: np.random.Generator,
    names: Sequence[str],
    levels: Sequence[float] = DEFAULT_LEVELS,
    significance: float = SIGNIFICANCE,
) -> SbcResult:
    """SBC of rejection ABC on one reference table of prior simulations.

    ``theta`` (n, d): prior draws; ``stats`` (n, k): their simulated statistics (NaN allowed);
    ``distance(stats_rows (m, k), observed (k,)) -> (m,)``: the calibration's distance. Draws
    ``n_datasets`` rows without replacement; each in turn is the observed data, its posterior the
    ``accept`` nearest other rows, and its parameters are ranked there. Rejection ABC is close to
    calibrated when ``accept`` is a small share of the table, so a failure here means the
    statistics and distance cannot locate the parameters at this budget, or the table is too
    small; it checks this rejection posterior, a proxy for the fitted one.
    """
    theta, stats = np.asarray(theta, dtype=float), np.asarray(stats, dtype=float)
    _check_table(theta, stats, n_datasets, accept, names)
    rows = rng.choice(len(theta), n_datasets, replace=False)
    ranks = reference_table_ranks(theta, stats, rows, accept, distance, rng)
    n = len(theta)
    setup = (
        f"One reference table of {n:,} prior simulations serves every synthetic data set: "
        f"{n_datasets:,} of its rows, drawn without replacement, are each taken in turn as the "
        f"observed data, with the {accept:,} nearest other rows by the calibration's distance "
        f"({accept / n:.1%} of the table) as its posterior (rejection ABC). Reusing the table is "
        f"what makes the check affordable: a synthetic data set costs one nearest-neighbour "
        f"search over {n:,} rows (distances only, no new simulation), not a calibration, so the "
        f"whole check costs {n:,} simulations instead of {n_datasets:,} calibrations. It checks "
        f"this rejection posterior with the calibration's statistics and distance, a proxy for "
        f"the fitted posterior; rejection ABC is close to calibrated when the accepted share is "
        f"small."
    )
    return summarise_ranks(ranks, accept, names, levels, significance, setup)


def simulation_based_calibration(
    draw_prior: Callable[[np.random.Generator], np.ndarray],
    simulate: Callable[[np.ndarray, np.random.Generator], Any],
    sampler: Callable[[Any, np.random.Generator], np.ndarray],
    n_datasets: int,
    rng: np.random.Generator,
    *,
    names: Sequence[str] | None = None,
    levels: Sequence[float] = DEFAULT_LEVELS,
    significance: float = SIGNIFICANCE,
) -> SbcResult:
    """SBC of a sampler one can call: ``n_datasets`` times draw theta = ``draw_prior(rng)`` (d,),
    data = ``simulate(theta, rng)``, draws = ``sampler(data, rng)`` (L, d), the same L each time,
    and rank theta among the draws. ``names`` default to ``theta[0]``, ``theta[1]``, ..."""
    ranks, sizes = [], set()
    for _ in range(n_datasets):
        truth = np.atleast_1d(np.asarray(draw_prior(rng), dtype=float))
        draws = np.asarray(sampler(simulate(truth, rng), rng), dtype=float).reshape(-1, len(truth))
        sizes.add(len(draws))
        ranks.append(ranks_with_ties(truth, draws, rng.random(len(truth))))
    if len(sizes) != 1:
        raise ValueError(f"sampler returned {sorted(sizes)} draws; it must return the same number")
    (draws_per_dataset,) = sizes
    d = len(ranks[0])
    setup = (
        f"{n_datasets:,} data sets, each simulated from parameters drawn from the prior, each "
        f"given to the sampler, which returned {draws_per_dataset:,} posterior draws."
    )
    chosen = list(names) if names is not None else [f"theta[{i}]" for i in range(d)]
    return summarise_ranks(np.array(ranks), draws_per_dataset, chosen, levels, significance, setup)


def clopper_pearson(
    successes: int, trials: int, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """The exact binomial (Clopper-Pearson) interval of a share, from the beta quantiles that
    define it: the same numbers as ``scipy.stats.binomtest(...).proportion_ci(method="exact")``,
    at a thirtieth of its cost."""
    tail = (1 - confidence) / 2
    low = scipy_stats.beta.ppf(tail, successes, trials - successes + 1) if successes else 0.0
    high = (
        scipy_stats.beta.ppf(1 - tail, successes + 1, trials - successes)
        if successes < trials
        else 1.0
    )
    return float(low), float(high)


def coverage_table(
    ranks: np.ndarray, draws: int, names: Sequence[str], levels: Sequence[float]
) -> pd.DataFrame:
    """Per level and parameter: nominal level, coverage expected of a calibrated sampler with L
    draws, empirical coverage with its exact binomial (Clopper-Pearson) 95% interval, and whether
    the expected value lies inside that interval."""
    rows = []
    for level in sorted(levels):
        inside = inside_interval(ranks, draws, level)
        for p, name in enumerate(names):
            covered = int(inside[:, p].sum())
            ci_low, ci_high = clopper_pearson(covered, len(ranks))
            expected = expected_coverage(draws, level)
            rows.append({
                "level": float(level), "parameter": name, "expected": expected,
                "covered": covered, "datasets": len(ranks), "empirical": covered / len(ranks),
                "ci_low": ci_low, "ci_high": ci_high,
                "consistent": bool(ci_low <= expected <= ci_high),
            })  # fmt: skip
    return pd.DataFrame(rows)


def reading(mean_rank_z: float, expected_50: float, ci_50: tuple[float, float]) -> str:
    """How a parameter's ranks read (a hint for the reader, not the pass rule): biased when the
    mean normalised rank is ``BIAS_Z`` standard errors from 1/2 (high ranks: the posterior sits
    below the truth), else too narrow or too wide when the 50% coverage interval excludes the
    expected coverage from above or below; else consistent."""
    if abs(mean_rank_z) >= BIAS_Z:
        return "biased low" if mean_rank_z > 0 else "biased high"
    if ci_50[1] < expected_50:
        return "too narrow"
    if ci_50[0] > expected_50:
        return "too wide"
    return "consistent"


def uniformity_table(
    ranks: np.ndarray, draws: int, names: Sequence[str], significance: float
) -> pd.DataFrame:
    """Per parameter: the chi-square test of uniform ranks in B bins (expected counts exact for
    the discrete ranks 0..L), its p-value and verdict (passes when p >= ``significance``), the
    mean normalised rank r / L (1/2 if calibrated) with its z-score (against the ranks' own
    spread, so a U shape alone does not read as a bias), and the reading."""
    n = len(ranks)
    bins = rank_bins(draws, n)
    probabilities = bin_probabilities(draws, bins)
    half = expected_coverage(draws, 0.5)
    rows = []
    for p, name in enumerate(names):
        counts = np.bincount(ranks[:, p] * bins // (draws + 1), minlength=bins)
        test = scipy_stats.chisquare(counts, n * probabilities)
        normalised = ranks[:, p] / draws
        mean_rank = float(normalised.mean())
        z = (mean_rank - 0.5) / max(normalised.std(ddof=1) / np.sqrt(n), 1e-12) if n > 1 else 0.0
        covered = int(inside_interval(ranks[:, p], draws, 0.5).sum())
        rows.append({
            "parameter": name, "bins": bins, "chi_square": float(test.statistic),
            "p_value": float(test.pvalue), "passed": bool(test.pvalue >= significance),
            "mean_rank": mean_rank, "mean_rank_z": float(z),
            "reads_as": reading(float(z), half, clopper_pearson(covered, n)),
        })  # fmt: skip
    return pd.DataFrame(rows)


def summarise_ranks(
    ranks: np.ndarray,
    draws: int,
    names: Sequence[str],
    levels: Sequence[float] = DEFAULT_LEVELS,
    significance: float = SIGNIFICANCE,
    setup: str = "",
) -> SbcResult:
    """The result of an SBC run from its ranks (data sets x parameters, each 0 to ``draws``)."""
    ranks = np.asarray(ranks, dtype=np.int64)
    if ranks.ndim != 2 or len(names) != ranks.shape[1] or len(ranks) == 0:
        raise ValueError(f"ranks {ranks.shape}: need (data sets, {len(names)} parameters)")
    if draws < 1 or ranks.min() < 0 or ranks.max() > draws:
        raise ValueError(f"ranks must lie in 0..{draws}, with at least one posterior draw")
    if len(set(names)) != len(names):
        raise ValueError(f"names {list(names)}: each parameter needs its own name")
    if not all(0 < level < 1 for level in levels):
        raise ValueError(f"levels {list(levels)}: each must lie strictly between 0 and 1")
    return SbcResult(
        names=tuple(names),
        ranks=ranks,
        draws=int(draws),
        levels=tuple(sorted(float(v) for v in levels)),
        significance=float(significance),
        coverage=coverage_table(ranks, draws, names, levels),
        uniformity=uniformity_table(ranks, draws, names, significance),
        setup=setup,
    )
