"""Figures for papers, drawn from results tables only: one function per figure, one paper style.

Every figure function takes tables (a ``Results`` or DataFrames), returns ``(figure, data)`` where
``data`` is the DataFrame of exactly the numbers drawn, and shows a confidence band or interval on
every estimate. ``save_figure`` writes the figure as PDF, SVG and/or PNG (300 dpi) beside a CSV of
``data``, with the scenario, seed, n, package version and git commit in the files' metadata.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.ladder import RUNGS, Rung
from sim.outcomes import first_day_column
from sim.results import Results, wilson_interval

ONE_COLUMN_INCHES = 3.5
TWO_COLUMNS_INCHES = 7.2
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
"""Colour-blind-safe palette (Okabe and Ito, 2008)."""

PAPER_STYLE = {
    "font.family": "serif",
    "font.serif": ["DejaVu Serif", "Times New Roman", "Times"],
    "mathtext.fontset": "cm",
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
    "legend.frameon": False,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "savefig.bbox": "tight",
    "savefig.dpi": 300,
}


@contextmanager
def paper_style() -> Iterator[None]:
    """The paper style for the figures made inside the block (global settings untouched)."""
    with matplotlib.rc_context(PAPER_STYLE):
        yield


def _figure(width: float = ONE_COLUMN_INCHES, height: float = 2.4) -> tuple[Figure, Axes]:
    figure = Figure(figsize=(width, height), layout="constrained")
    return figure, figure.add_subplot()


def _runs(results: Results | pd.DataFrame) -> pd.DataFrame:
    return results.runs if isinstance(results, Results) else results


def cumulative_rung_probability(
    results: Results | pd.DataFrame, rungs: Sequence[int] = (3, 4, 5, 6), horizon_days: float = 90
) -> tuple[Figure, pd.DataFrame]:
    """P(a run has reached each rung by day t), with pointwise 95% Wilson bands."""
    runs = _runs(results)
    days = np.linspace(0, horizon_days, 181)
    rows = []
    for rung in rungs:
        first = runs[first_day_column(rung)].to_numpy()
        reached = np.array([(first <= day).sum() for day in days])
        low, high = wilson_interval(reached, np.full(len(days), len(runs)))
        rows.append(
            pd.DataFrame(
                {
                    "rung": rung,
                    "day": days,
                    "probability": reached / len(runs),
                    "ci_low": low,
                    "ci_high": high,
                }
            )
        )
    data = pd.concat(rows, ignore_index=True)
    with paper_style():
        figure, axes = _figure()
        for color, (rung, part) in zip(OKABE_ITO, data.groupby("rung"), strict=False):
            axes.fill_between(part.day, part.ci_low, part.ci_high, color=color, alpha=0.25, lw=0)
            axes.plot(part.day, part.probability, color=color, label=f"{rung}: {Rung(rung).label}")
        axes.set(
            xlabel="days since the opening strike",
            ylabel="P(rung reached)",
            ylim=(0, 1),
            xlim=(0, horizon_days),
        )
        axes.legend(loc="upper left", title="rung")
    return figure, data


def max_rung_distribution(results: Results | pd.DataFrame) -> tuple[Figure, pd.DataFrame]:
    """Distribution of the highest rung a run reaches, with 95% Wilson intervals."""
    runs = _runs(results)
    counts = np.array([(runs["max_rung"] == int(r)).sum() for r in RUNGS])
    low, high = wilson_interval(counts, np.full(len(counts), len(runs)))
    data = pd.DataFrame(
        {
            "rung": [int(r) for r in RUNGS],
            "label": [r.label for r in RUNGS],
            "runs": counts,
            "probability": counts / len(runs),
            "ci_low": low,
            "ci_high": high,
        }
    )
    with paper_style():
        figure, axes = _figure()
        axes.bar(data.rung, data.probability, color=OKABE_ITO[0], width=0.7)
        axes.errorbar(
            data.rung,
            data.probability,
            yerr=[data.probability - data.ci_low, data.ci_high - data.probability],
            fmt="none",
            ecolor="black",
            capsize=2,
            lw=0.8,
        )
        axes.set(
            xlabel="highest rung reached", ylabel="share of runs", ylim=(0, 1), xticks=data.rung
        )
    return figure, data


def path_shares(
    results: Results | pd.DataFrame, top: int = 8, column: str = "path"
) -> tuple[Figure, pd.DataFrame]:
    """The most frequent escalation paths (who struck whom at which rung), with 95% intervals."""
    runs = _runs(results)
    counts = runs[column].value_counts().head(top)
    low, high = wilson_interval(counts.to_numpy(), np.full(len(counts), len(runs)))
    data = pd.DataFrame(
        {
            "path": counts.index.astype(str),
            "runs": counts.to_numpy(),
            "share": counts.to_numpy() / len(runs),
            "ci_low": low,
            "ci_high": high,
        }
    )
    labels = [p.replace(" ", "\n") if column == "path" else p for p in data.path]
    with paper_style():
        figure, axes = _figure(TWO_COLUMNS_INCHES, 0.45 * top + 1.0)
        positions = np.arange(len(data))[::-1]
        axes.barh(positions, data.share, color=OKABE_ITO[0], height=0.7)
        axes.errorbar(
            data.share,
            positions,
            xerr=[data.share - data.ci_low, data.ci_high - data.share],
            fmt="none",
            ecolor="black",
            capsize=2,
            lw=0.8,
        )
        axes.set_yticks(positions, labels, fontsize=6)
        axes.set(xlabel="share of runs", ylabel="path (strikes in order)")
    return figure, data


def interception_outcomes(results: Results, top: int = 8) -> tuple[Figure, pd.DataFrame]:
    """Leakers and interceptor cost per strike that met defences, for the ``top`` most frequent
    kinds of strike: means with 95% normal intervals across strikes, clipped at zero."""
    events = results.events
    keys = ["replication", "strike_id"]
    spent = (
        events[events.kind == "interception"]
        .groupby(keys)["interceptor_cost_usd"]
        .sum()
        .rename("interceptor_cost_usd")
    )
    outcomes = events[events.kind == "outcome"].drop(columns="interceptor_cost_usd")
    strikes = outcomes.join(spent, on=keys, how="inner")
    strikes["strike"] = (
        strikes.attacker + ">" + strikes.target + " rung " + strikes.rung.astype(int).astype(str)
    )
    rows = []
    for name in strikes["strike"].value_counts().head(top).index:
        group = strikes[strikes["strike"] == name]
        for measure, values in (
            ("leakers", group.leaked),
            ("interceptor cost (US$ M)", group.interceptor_cost_usd / 1e6),
        ):
            mean = float(values.mean())
            half = float(1.96 * values.std(ddof=1) / np.sqrt(len(values))) if len(values) > 1 else 0
            rows.append(
                {
                    "strike": name,
                    "measure": measure,
                    "strikes": len(values),
                    "mean": mean,
                    "ci_low": max(0.0, mean - half),
                    "ci_high": mean + half,
                }
            )
    data = pd.DataFrame(rows)
    with paper_style():
        figure = Figure(figsize=(TWO_COLUMNS_INCHES, 2.6), layout="constrained")
        for axes, (measure, part) in zip(
            figure.subplots(1, 2), data.groupby("measure", sort=False), strict=False
        ):
            positions = np.arange(len(part))
            axes.barh(positions, part["mean"], color=OKABE_ITO[2], height=0.7)
            axes.errorbar(
                part["mean"],
                positions,
                xerr=[part["mean"] - part.ci_low, part.ci_high - part["mean"]],
                fmt="none",
                ecolor="black",
                capsize=2,
                lw=0.8,
            )
            axes.set_yticks(positions, part.strike, fontsize=6)
            axes.set(xlabel=f"{measure} per strike", ylabel="strike")
    return figure, data


def sweep_probabilities(table: pd.DataFrame, lever: str) -> tuple[Figure, pd.DataFrame]:
    """Outcome probabilities against one lever (a ``sim sweep`` table), with 95% bands.

    ``table`` columns: ``lever``, outcome, probability, ci_low, ci_high.
    """
    data = table[[lever, "outcome", "probability", "ci_low", "ci_high"]].sort_values(
        ["outcome", lever]
    )
    with paper_style():
        figure, axes = _figure()
        for color, (outcome, part) in zip(OKABE_ITO, data.groupby("outcome"), strict=False):
            axes.fill_between(part[lever], part.ci_low, part.ci_high, color=color, alpha=0.25, lw=0)
            axes.plot(part[lever], part.probability, color=color, marker="o", ms=3, label=outcome)
        axes.set(xlabel=lever, ylabel="probability within the horizon", ylim=(0, 1))
        axes.legend(loc="best")
    return figure, data


def paired_differences(table: pd.DataFrame) -> tuple[Figure, pd.DataFrame]:
    """Paired differences from the baseline (a ``sim compare`` table), as 95% intervals.

    ``table`` columns: setting, outcome, difference, diff_ci_low, diff_ci_high; the baseline's
    rows (all differences zero) are left out.
    """
    baseline = table.setting.iloc[0]
    data = table[table.setting != baseline][
        ["setting", "outcome", "difference", "diff_ci_low", "diff_ci_high"]
    ].reset_index(drop=True)
    labels = data.setting + ": " + data.outcome
    with paper_style():
        figure, axes = _figure(ONE_COLUMN_INCHES, 0.3 * len(data) + 1.0)
        positions = np.arange(len(data))[::-1]
        axes.errorbar(
            data.difference,
            positions,
            xerr=[data.difference - data.diff_ci_low, data.diff_ci_high - data.difference],
            fmt="o",
            ms=3,
            color=OKABE_ITO[0],
            ecolor=OKABE_ITO[0],
            capsize=2,
            lw=0.8,
        )
        axes.axvline(0, color="black", lw=0.6)
        axes.set_yticks(positions, labels, fontsize=6)
        axes.set(xlabel=f"difference in probability from {baseline}", ylabel="setting: outcome")
    return figure, data


def save_figure(
    figure: Figure,
    data: pd.DataFrame,
    stem: Path,
    formats: Sequence[str],
    manifest: dict | None = None,
) -> list[Path]:
    """Write the figure in each format and its numbers as ``stem.csv``; return the paths."""
    stem.parent.mkdir(parents=True, exist_ok=True)
    m = manifest or {}
    trace = (
        f"scenario {m.get('scenario_name')} (sha256 {str(m.get('scenario_sha256'))[:12]}), "
        f"seed {m.get('seed')}, n {m.get('n')}, escalation-sim {m.get('package_version')}, "
        f"commit {m.get('git_commit')}"
    )
    metadata = {
        "pdf": {"Subject": trace, "Creator": "escalation-sim"},
        "svg": {"Description": trace},
        "png": {"Description": trace},
    }
    written = [stem.with_suffix(".csv")]
    data.to_csv(written[0], index=False)
    for fmt in formats:
        path = stem.with_suffix(f".{fmt}")
        figure.savefig(path, format=fmt, metadata=metadata[fmt])
        written.append(path)
    return written


RESULTS_FIGURES = {
    "cumulative": cumulative_rung_probability,
    "max-rung": max_rung_distribution,
    "paths": path_shares,
    "interception": interception_outcomes,
}
"""Figures drawn from a ``sim run`` results folder, by name."""
