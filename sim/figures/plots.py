"""Figures for papers, drawn from results tables only: one function per figure, one paper style.

Every function takes tables (a ``Results``, or the DataFrames named in its docstring) and returns
a ``PaperFigure``: a matplotlib ``Figure`` whose ``data`` attribute is a DataFrame of exactly the
numbers drawn and whose ``caption`` says what they are. Every estimate is shown with its 95%
interval or band. ``save_figure(figure, stem, formats, manifest)`` writes PDF/SVG (vector, TrueType
fonts) and/or 300-dpi PNG beside ``stem.csv``, with the scenario, seed, n, package version and git
commit in each file's metadata. The path tree and one run's timeline are in ``sim.figures.paths``;
figures of study tables (sweeps, comparisons, Sobol indices) are in
``sim.figures.studies``, those of a calibration in ``sim.figures.calibration``; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter, LogLocator

from sim.figures.calibration import predictive_check, prior_posterior
from sim.figures.paths import path_tree, run_timeline
from sim.figures.studies import paired_differences, sobol_indices, sweep_probabilities
from sim.figures.style import (
    BAND_ALPHA,
    OKABE_ITO,
    ONE_COLUMN_INCHES,
    TWO_COLUMNS_INCHES,
    PaperFigure,
    interval_points,
    mean_interval,
    paper_style,
    probability_limits,
    ratio_interval,
    save_figure,
    series_style,
)
from sim.model.outcomes import first_day_column
from sim.scenario.ladder import RUNGS, Rung
from sim.study.results import Results, wilson_interval

__all__ = [
    "OKABE_ITO",
    "ONE_COLUMN_INCHES",
    "RESULTS_FIGURES",
    "TWO_COLUMNS_INCHES",
    "PaperFigure",
    "cumulative_rung_probability",
    "interception_outcomes",
    "max_rung_distribution",
    "paired_differences",
    "paper_style",
    "path_tree",
    "predictive_check",
    "prior_posterior",
    "run_timeline",
    "save_figure",
    "sobol_indices",
    "sweep_probabilities",
]


def _runs(results: Results | pd.DataFrame) -> pd.DataFrame:
    return results.runs if isinstance(results, Results) else results


def _errorbars(axes: Axes, x, y, low, high, horizontal: bool = False) -> None:
    """Black 95% interval whiskers (no marker) on bars: around ``y``, or ``x`` when ``horizontal``."""
    interval_points(axes, x, y, low, high, horizontal, fmt="none", ecolor="black", lw=0.7)


def cumulative_rung_probability(
    results: Results | pd.DataFrame, rungs: Sequence[int] = (3, 4, 5, 6), horizon_days: float = 90
) -> PaperFigure:
    """P(a run has reached each rung by day t): the empirical CDF of ``first_day_rung_R`` (runs
    table) at every day a run first reached the rung, with pointwise 95% Wilson bands."""
    runs = _runs(results)
    n = len(runs)
    parts = []
    for rung in rungs:
        first = np.sort(runs[first_day_column(rung)].dropna().to_numpy())
        days = np.unique(np.concatenate([[0.0], first[first <= horizon_days], [horizon_days]]))
        reached = np.searchsorted(first, days, side="right")
        low, high = wilson_interval(reached, np.full(len(days), n))
        parts.append(
            pd.DataFrame(
                {"rung": rung, "day": days, "runs_reached": reached, "n": n}
                | {"probability": reached / n, "ci_low": low, "ci_high": high}
            )
        )
    data = pd.concat(parts, ignore_index=True)
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 2.5)
        axes = figure.add_subplot()
        for k, (rung, part) in enumerate(data.groupby("rung")):
            style = series_style(k)
            axes.fill_between(
                part.day,
                part.ci_low,
                part.ci_high,
                step="post",
                color=style["color"],
                alpha=BAND_ALPHA,
                lw=0,
            )
            axes.step(
                part.day,
                part.probability,
                where="post",
                ms=2.5,
                markevery=(0.03 * k, 0.15),  # a few markers, evenly spaced, staggered by series
                label=f"{rung} {Rung(rung).label}",
                **style,
            )
        axes.set(xlabel="days since the opening strike", ylabel="P(rung reached by day)")
        # Scaled to the data (a little above the highest band), so rare rungs are not flattened.
        limits = probability_limits(data.ci_low, data.ci_high, "linear") if n else (0.0, 1.0)
        axes.set(ylim=limits, xlim=(0, horizon_days))
        figure.legend(
            *axes.get_legend_handles_labels(), loc="outside lower center", ncols=2, handlelength=2.6
        )
    caption = (
        "Probability that a run has reached each rung by each day (empirical distribution of "
        f"the first day at the rung, n = {n} runs), with pointwise 95% Wilson bands."
    )
    return figure.finish(data, caption)


def max_rung_distribution(results: Results | pd.DataFrame) -> PaperFigure:
    """Distribution of the highest rung a run reaches (``max_rung`` of the runs table), with 95%
    Wilson intervals."""
    runs = _runs(results)
    n = len(runs)
    counts = np.array([(runs["max_rung"] == int(r)).sum() for r in RUNGS])
    low, high = wilson_interval(counts, np.full(len(counts), n))
    data = pd.DataFrame(
        {
            "rung": [int(r) for r in RUNGS],
            "label": [r.label for r in RUNGS],
            "runs": counts,
            "n": n,
            "probability": counts / n,
            "ci_low": low,
            "ci_high": high,
        }
    )
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 2.5)
        axes = figure.add_subplot()
        axes.bar(data.rung, data.probability, color=OKABE_ITO[0], width=0.7)
        _errorbars(axes, data.rung, data.probability, data.ci_low, data.ci_high)
        axes.set(xlabel="highest rung reached", ylabel="share of runs", ylim=(0, 1))
        axes.set_xticks(
            data.rung,
            [f"{r}\n{Rung(r).label.replace(' ', chr(10))}" for r in data.rung],
            fontsize=6,
        )
    caption = f"Highest rung reached in a run (n = {n} runs), with 95% Wilson intervals."
    return figure.finish(data, caption)


def _strike_table(events: pd.DataFrame) -> pd.DataFrame:
    """One row per strike that carried projectiles: its kind, leakers and interceptor cost."""
    keys = ["replication", "strike_id"]
    interceptions = events[events.kind == "interception"]
    spent = interceptions.groupby(keys)["interceptor_cost_usd"].sum()
    strikes = events[(events.kind == "outcome") & (events.launched > 0)]
    strikes = strikes[["replication", "strike_id", "attacker", "target", "rung", "leaked"]]
    strikes = strikes.join(spent, on=keys).fillna({"interceptor_cost_usd": 0.0})
    strikes["label"] = (
        strikes.attacker
        + " on "
        + strikes.target
        + ", rung "
        + strikes.rung.astype(int).astype(str)
    )
    return strikes


def _per_strike_rows(strikes: pd.DataFrame, n: int, top: int) -> list[dict]:
    """Leakers and interceptor cost per strike, by kind of strike: ratios of per-run sums."""
    rows = []
    for label in strikes["label"].value_counts().head(top).index:
        group = strikes[strikes["label"] == label].groupby("replication")
        count = group.size().reindex(range(n), fill_value=0).to_numpy()
        for measure, column, scale in (
            ("leakers per strike", "leaked", 1.0),
            ("interceptor cost per strike (US$ M)", "interceptor_cost_usd", 1e-6),
        ):
            total = group[column].sum().reindex(range(n), fill_value=0).to_numpy() * scale
            estimate, low, high = ratio_interval(total[count > 0], count[count > 0])
            rows.append(
                {"measure": measure, "label": label, "strikes": int(count.sum())}
                | {"estimate": estimate, "ci_low": max(low, 0.0), "ci_high": high}
            )
    return rows


def _per_run_rows(events: pd.DataFrame, n: int) -> list[dict]:
    """Interceptors fired per run by each layer, means over all runs."""
    fired = events[events.kind == "interception"].groupby(["layer", "replication"])
    fired = fired["interceptors_fired"].sum()
    rows = []
    for layer in fired.index.get_level_values("layer").unique():
        values = fired[layer].reindex(range(n), fill_value=0).to_numpy()
        estimate, low, high = mean_interval(values)
        rows.append(
            {"measure": "interceptors fired per run", "label": layer, "strikes": np.nan}
            | {"estimate": estimate, "ci_low": max(low, 0.0), "ci_high": high}
        )
    return sorted(rows, key=lambda row: -row["estimate"])


def interception_outcomes(results: Results, top: int = 6) -> PaperFigure:
    """Interceptors fired per run by layer, and leakers and interceptor cost per strike for the
    ``top`` most frequent kinds of strike, from the events table (kinds ``interception`` and
    ``outcome``). Intervals are 95% and treat runs, not strikes, as independent: Student-t over
    runs for per-run means, cluster-robust (delta method) for per-strike ratios."""
    events, n = results.events, len(results.runs)
    rows = _per_run_rows(events, n) + _per_strike_rows(_strike_table(events), n, top)
    data = pd.DataFrame(rows)
    order = {m: i for i, m in enumerate(dict.fromkeys(data.measure))}
    data = data.sort_values("measure", key=lambda m: m.map(order), kind="stable")
    with paper_style():
        figure = PaperFigure(TWO_COLUMNS_INCHES, 2.6)
        panels = figure.subplots(1, 3)
        limits = _log_limits(data)
        for axes, (measure, part) in zip(panels, data.groupby("measure", sort=False), strict=True):
            _interception_panel(axes, part, limits)
            axes.set_xlabel(measure.replace(" per ", "\nper ") + "\n(logarithmic axis)")
            axes.set_ylabel("defence layer" if "run" in measure else "strike")
        panels[2].sharey(panels[1])
        panels[2].tick_params(labelleft=False)
        panels[2].set_ylabel("")
    caption = (
        f"Interception over n = {n} runs: interceptors fired per run by each layer, and leakers "
        "and interceptor cost per strike for the most frequent kinds of strike; means with 95% "
        "intervals over runs on logarithmic axes (a mean of 0 is written as 0 at the left edge)."
    )
    return figure.finish(data, caption)


def _plain_number(value: float, _position: int | None = None) -> str:
    """A logarithmic axis's ticks as plain numbers: 0.01, 0.1, 1, 10, 1,000."""
    decimals = max(0, -int(np.floor(np.log10(value)))) if value > 0 else 0
    return f"{value:,.{decimals}f}"


def _log_limits(data: pd.DataFrame) -> tuple[float, float]:
    """One logarithmic range, in whole decades, for every interception panel: from the decade
    below the smallest positive number drawn to the decade above the largest."""
    values = data[["estimate", "ci_low", "ci_high"]].to_numpy().ravel()
    positive = values[values > 0]
    if not len(positive):
        return 0.1, 10.0
    return 10 ** np.floor(np.log10(positive.min())), 10 ** np.ceil(np.log10(positive.max()))


def _interception_panel(axes: Axes, part: pd.DataFrame, limits: tuple[float, float]) -> None:
    """Means as points with 95% whiskers on a logarithmic axis, one row each (black: colour
    would mean nothing here); a mean of 0, which a logarithmic axis cannot place, is written as
    "0" at the left edge."""
    positions = np.arange(len(part))[::-1]
    shown = part.estimate.to_numpy() > 0
    interval_points(
        axes,
        part.estimate[shown],
        positions[shown],
        part.ci_low[shown],
        part.ci_high[shown],
        color="black",
        capsize=2,
    )
    for y in positions[~shown]:
        axes.text(limits[0], y, " 0", va="center", ha="left", fontsize=7)
    axes.set_xscale("log")
    axes.set_xlim(*limits)
    axes.xaxis.set_major_locator(LogLocator(base=10, numticks=12))
    axes.xaxis.set_major_formatter(FuncFormatter(_plain_number))
    axes.set_yticks(positions, part.label, fontsize=6.5)
    axes.set_ylim(-0.7, len(part) - 0.3)
    axes.grid(axis="x", color="0.9", lw=0.5)


RESULTS_FIGURES = {
    "cumulative": cumulative_rung_probability,
    "max-rung": max_rung_distribution,
    "path-tree": path_tree,
    "interception": interception_outcomes,
    "timeline": run_timeline,
}
"""Figures drawn from a ``sim run`` results folder, by the name ``sim plot --kind`` takes."""
