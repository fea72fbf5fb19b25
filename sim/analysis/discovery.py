"""Scenario discovery on an explore study: where in the factor space the runs of interest live.

``discover(experiments, runs, outcome)`` finds a PRIM box (``sim.analysis.prim``), a CART box and
feature scores (``sim.analysis.cart``), and states how much of the answer is Monte Carlo noise:

- coverage and density carry bootstrap 95% intervals over replications (each point's runs
  resampled with replacement, the box held fixed);
- the box's stability is how often two independent half-studies find it again. Replications of
  a point draw from independent streams, so splitting each point's runs in two at random gives
  two studies as a re-run with another seed would, each with half the replications; the box is
  found again when the two halves' boxes hold nearly the same design points (intersection
  over union at least ``sim.analysis.prim.AGREEMENT``). Bootstrap resamples would not do:
  each inherits the noise of the sample it is drawn from, so a box that noise made would be
  "found again". Halves have half the replications, so the stability is that of a study half
  as long: a lower bound.

The box's limits carry the 2.5% and 97.5% quantiles of the limits the half-studies found.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from sim.analysis.cart import CartBox, tree_views
from sim.analysis.prim import (
    Design,
    DiscoveryError,
    Limits,
    bootstrap_intervals,
    half_study_stability,
    quasi_p_values,
    search,
    weighted_design,
)
from sim.model.rng import Streams

STUDY_TABLES = ("experiments.parquet", "runs.parquet", "manifest.json")
RUN_KEYS = ("point", "replication")


@dataclass(frozen=True)
class DiscoveryResult:
    """What ``discover`` found, with its Monte Carlo uncertainty (like scipy.stats results).

    ``box``: one row per restricted factor: ``factor``, ``low``, ``high`` (the box's limits, in
    the factor's unit; for a categorical factor ``categories`` lists the kept ones), the factor's
    ``range_low`` and ``range_high`` in the design, ``low_q025``/``low_q975`` and
    ``high_q025``/``high_q975`` (the limits half-studies found), ``qp_low``/``qp_high``
    (quasi-p-values of each restricted side, Bryant and Lempert 2010) and ``restricted_share``
    (how many half-studies' boxes restrict the factor). ``tradeoff``: PRIM's coverage-density
    curve (``sim.analysis.prim.PrimTrajectory``), ``chosen`` marking the box, whose row holds
    the intervals (``coverage_low``, ``coverage_high``, ``density_low``, ``density_high``).
    ``coverage``/``density`` and their ``*_interval``: the box's values over the runs and
    bootstrap 95% intervals. ``stability``: share of half-study pairs that find the same box;
    ``stability_iou``: their mean intersection over union. ``base_rate``: share of all runs of
    interest. ``cart``: the CART box; ``scores``: feature scores (both None without
    scikit-learn, an optional dependency). ``rates``: per design
    ``point``, its ``runs`` and ``runs_of_interest``.
    """

    outcome: str
    box: pd.DataFrame
    tradeoff: pd.DataFrame
    coverage: float
    coverage_interval: tuple[float, float]
    density: float
    density_interval: tuple[float, float]
    stability: float
    stability_iou: float
    base_rate: float
    cart: CartBox | None
    scores: pd.DataFrame | None
    points: int
    runs: int
    rates: pd.DataFrame
    settings: dict = field(default_factory=dict)

    def summary(self) -> str:
        """The box as a few lines of text, as ``sim discover`` prints it."""
        lines = [
            f"{self.outcome}: {self.runs} runs at {self.points} points, base rate "
            f"{self.base_rate:.3f}",
            f"PRIM box: coverage {self.coverage:.3f} "
            f"[{self.coverage_interval[0]:.3f}, {self.coverage_interval[1]:.3f}], "
            f"density {self.density:.3f} "
            f"[{self.density_interval[0]:.3f}, {self.density_interval[1]:.3f}], "
            f"found again by {self.stability:.0%} of half-study pairs "
            f"(mean IoU {self.stability_iou:.2f})",
        ]
        if self.box.empty:
            lines.append("  no factor restricted: no box is denser for its coverage than all runs")
        for row in self.box.itertuples():
            qp = f"qp {_qp_text(row.qp_low)} / {_qp_text(row.qp_high)}"
            if isinstance(row.categories, str) and row.categories:
                lines.append(f"  {row.factor}: in {{{row.categories}}} ({qp})")
                continue
            lines.append(
                f"  {row.factor}: {row.low:.4g} .. {row.high:.4g} "
                f"(of {row.range_low:.4g} .. {row.range_high:.4g}; {qp})"
            )
        if self.cart is None or self.scores is None:
            lines.append("CART and feature scores need scikit-learn: pip install scikit-learn")
            return "\n".join(lines)
        cart_limits = (
            f"{r.factor} {r.low:.4g} .. {r.high:.4g}" for r in self.cart.limits.itertuples()
        )
        lines.append(
            f"CART box: coverage {self.cart.coverage:.3f}, density {self.cart.density:.3f}: "
            + ", ".join(cart_limits)
        )
        top = ", ".join(f"{r.factor} {r.score:.2f}" for r in self.scores.head(5).itertuples())
        lines.append(f"feature scores: {top}")
        return "\n".join(lines)


def _qp_text(value: float) -> str:
    return "-" if np.isnan(value) else f"{value:.2g}"


def runs_of_interest(
    runs: pd.DataFrame, outcome: str, threshold: float | None = None, source: str = "runs"
) -> tuple[np.ndarray, str]:
    """Which runs are of interest (True/False) and the outcome's label.

    A 0/1 outcome is of interest where it is 1; any other outcome needs ``threshold`` and is of
    interest where it is at least that. ``source`` names the table in error messages.
    """
    outcomes = [c for c in runs.columns if c not in RUN_KEYS]
    if outcome not in outcomes:
        raise DiscoveryError(
            f"{source}: outcome: no outcome {outcome!r}; the study has {', '.join(outcomes)}"
        )
    values = pd.to_numeric(runs[outcome], errors="coerce").to_numpy(float)
    if np.isnan(values).any():
        raise DiscoveryError(f"{source}: {outcome}: has missing or non-numeric values")
    if threshold is not None:
        return values >= threshold, f"{outcome}>={threshold:g}"
    other = values[(values != 0) & (values != 1)]
    if len(other):
        raise DiscoveryError(
            f"{source}: {outcome}: is not 0/1 (it takes {other[0]:g}, say); give a threshold: "
            f"the runs with {outcome} >= threshold are those of interest"
        )
    return values == 1, outcome


def _design(experiments: pd.DataFrame, runs: pd.DataFrame, source: str) -> pd.DataFrame:
    """The design, one row per point indexed by ``point``, checked against the runs: every run's
    point is in it, and each point has a value of every factor and at least 2 replications (the
    stability splits them)."""
    for table, name, keys in ((experiments, "experiments", ("point",)), (runs, source, RUN_KEYS)):
        missing = [k for k in keys if k not in table.columns]
        if missing:
            raise DiscoveryError(f"{name}: {missing[0]}: column missing")
    if experiments["point"].duplicated().any():
        raise DiscoveryError("experiments: point: a design point appears twice")
    design = experiments.set_index("point")
    unknown = set(runs["point"]) - set(design.index)
    if unknown:
        raise DiscoveryError(f"{source}: point: {min(unknown)} is not in the experiments")
    if design.shape[1] == 0:
        raise DiscoveryError("experiments: the design has no factors")
    missing = design.columns[design.isna().any()]
    if len(missing):
        raise DiscoveryError(f"experiments: {missing[0]}: a design point has no value")
    if runs["point"].value_counts().min() < 2:
        raise DiscoveryError(f"{source}: replication: stability needs at least 2 a point")
    return design


def _with_intervals(tradeoff: pd.DataFrame, chosen: int, coverage_ci, density_ci) -> pd.DataFrame:
    """The trade-off curve with the chosen box marked and its intervals in its row (NaN in the
    others), so the table alone redraws the figure."""
    table = tradeoff.assign(chosen=tradeoff["box"] == chosen)
    for name, (low, high) in (("coverage", coverage_ci), ("density", density_ci)):
        table[f"{name}_low"] = np.where(table["chosen"], low, np.nan)
        table[f"{name}_high"] = np.where(table["chosen"], high, np.nan)
    return table


def _box_row(name, limit, full, quasi_p, halves) -> dict:
    """One restricted factor of the box: limits, range, spread over half-studies, quasi-p."""
    row = {"factor": name, "categories": ""}
    if isinstance(limit, frozenset):
        row["categories"] = ", ".join(sorted(map(str, limit)))
        row.update({column: np.nan for column in BOX_COLUMNS[2:10]})
    else:
        row.update(low=limit[0], high=limit[1], range_low=full[0], range_high=full[1])
        for side, index in (("low", 0), ("high", 1)):
            found = [h[name][index] for h, _ in halves]
            row[f"{side}_q025"], row[f"{side}_q975"] = np.quantile(found, [0.025, 0.975])
    row["qp_low"], row["qp_high"] = quasi_p
    row["restricted_share"] = float(np.mean([name in factors for _, factors in halves]))
    return row


def _box_table(design: Design, limits: Limits, factors: list[str], halves) -> pd.DataFrame:
    """The chosen box's restricted factors with their limits, spread and quasi-p-values."""
    whole, quasi_p = design.whole(), quasi_p_values(design, limits)
    rows = [_box_row(name, limits[name], whole[name], quasi_p[name], halves) for name in factors]
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


BOX_COLUMNS = [
    "factor", "categories", "low", "high", "range_low", "range_high",
    "low_q025", "low_q975", "high_q025", "high_q975", "qp_low", "qp_high", "restricted_share",
]  # fmt: skip


def _check_settings(peel_alpha, paste_alpha, mass_min, resamples, splits) -> None:
    """PRIM's steps are shares in (0, 1), its smallest box one in [0, 1); counts at least 1."""
    checks = [
        ("peel_alpha", peel_alpha, 0 < peel_alpha < 1, "a share between 0 and 1"),
        ("paste_alpha", paste_alpha, 0 < paste_alpha < 1, "a share between 0 and 1"),
        ("mass_min", mass_min, 0 <= mass_min < 1, "a share from 0 to below 1"),
        ("resamples", resamples, resamples >= 1, "at least 1"),
        ("splits", splits, splits >= 1, "at least 1"),
    ]
    for name, value, valid, expected in checks:
        if not valid:
            raise DiscoveryError(f"{name}: {value:g} must be {expected}")


def discover(
    experiments: pd.DataFrame,
    runs: pd.DataFrame,
    outcome: str,
    threshold: float | None = None,
    min_density: float | None = None,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    resamples: int = 1000,
    splits: int = 20,
    seed: int = 0,
    source: str = "runs",
) -> DiscoveryResult:
    """Scenario discovery for ``outcome`` on an explore study's tables.

    ``experiments``: one row per design ``point`` with one column per factor; ``runs``: one row
    per ``point`` and ``replication`` with one column per outcome. ``threshold``: runs with the
    outcome at least this are of interest (needed unless the outcome is 0/1). ``min_density``:
    report the box of highest coverage among those at least this dense (default: the box of
    highest coverage x density). ``peel_alpha``, ``paste_alpha``, ``mass_min``: PRIM's step
    sizes and smallest box, as shares of the runs. ``resamples``: bootstrap resamples for the
    intervals; ``splits``: half-study pairs for the stability. ``seed``: the random streams of
    the bootstrap, the splits and the trees (``sim.model.rng``).
    """
    _check_settings(peel_alpha, paste_alpha, mass_min, resamples, splits)
    interest, label = runs_of_interest(runs, outcome, threshold, source)
    design = _design(experiments, runs, source)
    points = runs["point"].to_numpy()
    options = dict(
        outcome=label,
        peel_alpha=peel_alpha,
        paste_alpha=paste_alpha,
        mass_min=mass_min,
        min_density=min_density,
    )
    weighted = weighted_design(design, points, interest)
    trajectory, chosen, factors, inside = search(weighted, options)
    streams = Streams(seed, 0)
    agreements, halves = half_study_stability(
        design, points, interest, options, streams.get("discover", "splits"), splits
    )
    per_point, interest_per_point = weighted.runs, weighted.interest
    coverage_ci, density_ci = bootstrap_intervals(
        per_point, interest_per_point, inside, streams.get("discover", "bootstrap"), resamples
    )
    tree_seed = int(streams.get("discover", "trees").integers(2**31))
    cart, scores = tree_views(design, per_point, interest_per_point, mass_min, tree_seed)
    tradeoff = _with_intervals(trajectory.tradeoff, chosen, coverage_ci, density_ci)
    return DiscoveryResult(
        outcome=label,
        box=_box_table(weighted, trajectory.limits[chosen], factors, halves),
        tradeoff=tradeoff,
        coverage=float(tradeoff.loc[chosen, "coverage"]),
        coverage_interval=coverage_ci,
        density=float(tradeoff.loc[chosen, "density"]),
        density_interval=density_ci,
        stability=float(agreements[:, 1].mean()),
        stability_iou=float(agreements[:, 0].mean()),
        base_rate=float(interest.mean()),
        cart=cart,
        scores=scores,
        points=len(design),
        runs=len(runs),
        rates=pd.DataFrame(
            {"point": design.index, "runs": per_point, "runs_of_interest": interest_per_point}
        ),
        settings={**options, "resamples": resamples, "splits": splits, "seed": seed},
    )


def read_explore_study(folder: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    """An explore study folder's experiments, runs and manifest, or a clear error."""
    folder = Path(folder)
    missing = [name for name in STUDY_TABLES if not (folder / name).is_file()]
    if missing:
        raise DiscoveryError(
            f"{folder}: not an explore study (no {', '.join(missing)}); `sim explore` writes one"
        )
    try:
        manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise DiscoveryError(f"{folder / 'manifest.json'}: unreadable: {exc}") from exc
    kind = manifest.get("kind", "explore") if isinstance(manifest, dict) else None
    if kind != "explore":
        raise DiscoveryError(f"{folder / 'manifest.json'}: kind: {kind!r}, not an explore study")
    if manifest.get("status", "complete") != "complete":
        raise DiscoveryError(
            f"{folder / 'manifest.json'}: status: {manifest['status']!r}: the study is not "
            "finished; resume it with `sim explore` first"
        )
    tables = []
    for name in STUDY_TABLES[:2]:
        try:
            tables.append(pd.read_parquet(folder / name))
        except Exception as exc:  # pyarrow raises several types for a damaged file
            raise DiscoveryError(f"{folder / name}: unreadable: {exc}") from exc
    return tables[0], tables[1], manifest


def outcome_column(runs: pd.DataFrame, outcome: str, manifest: dict) -> str:
    """The runs column of ``outcome``: the column itself, or the outcome the manifest labels so
    (``sim explore`` names columns by expression and keeps readable labels beside them)."""
    if outcome in runs.columns:
        return outcome
    for entry in manifest.get("outcomes") or []:
        if isinstance(entry, dict) and entry.get("label") == outcome and entry.get("outcome"):
            return str(entry["outcome"])
    return outcome


def discover_folder(folder: Path, outcome: str, **options) -> tuple[DiscoveryResult, dict]:
    """``discover`` on an explore study folder (``outcome`` by column or by label); also
    returns the folder's manifest."""
    experiments, runs, manifest = read_explore_study(folder)
    source = str(Path(folder) / "runs.parquet")
    column = outcome_column(runs, outcome, manifest)
    return discover(experiments, runs, column, source=source, **options), manifest
