"""Figures for papers, drawn from results tables only: one function per figure, one paper style.

Every function takes tables (a ``Results``, or the DataFrames named in its docstring) and returns
a ``PaperFigure``: a matplotlib ``Figure`` whose ``data`` attribute is a DataFrame of exactly the
numbers drawn and whose ``caption`` says what they are. Every estimate is shown with its 95%
interval or band. ``save_figure(figure, stem, formats, manifest)`` writes PDF/SVG (vector, TrueType
fonts) and/or 300-dpi PNG beside ``stem.csv``, with the scenario, seed, n, package version and git
commit in each file's metadata. Figures of study tables (sweeps, comparisons, Sobol indices) are in
``sim.figures.studies``, those of a calibration in ``sim.figures.calibration``; both are re-exported here.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import FuncFormatter

from sim.figures.calibration import predictive_check, prior_posterior
from sim.figures.paths import path_tree
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
    ratio_interval,
    save_figure,
)
from sim.model.events import EVENT_SCHEMA, HOURS_PER_DAY
from sim.model.outcomes import first_day_column
from sim.scenario.ladder import RUNGS, Rung
from sim.study.results import Results, ResultsError, wilson_interval

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


def _events(results: Results | pd.DataFrame) -> pd.DataFrame:
    return results.events if isinstance(results, Results) else results


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
        for color, (rung, part) in zip(OKABE_ITO, data.groupby("rung"), strict=False):
            axes.fill_between(
                part.day,
                part.ci_low,
                part.ci_high,
                step="post",
                color=color,
                alpha=BAND_ALPHA,
                lw=0,
            )
            axes.step(
                part.day,
                part.probability,
                where="post",
                color=color,
                label=f"{rung} {Rung(rung).label}",
            )
        axes.set(xlabel="days since the opening strike", ylabel="P(rung reached by day)")
        # Scaled to the data (a little above the highest band), so rare rungs are not flattened.
        top = min(1.0, np.ceil(data.ci_high.max() * 1.08 / 0.05) * 0.05) if n else 1.0
        axes.set(ylim=(0, max(top, 0.05)), xlim=(0, horizon_days))
        figure.legend(
            *axes.get_legend_handles_labels(), loc="outside lower center", ncols=2, handlelength=1.2
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
        for axes, color, (measure, part) in zip(
            panels, OKABE_ITO[2:5], data.groupby("measure", sort=False), strict=True
        ):
            positions = np.arange(len(part))[::-1]
            axes.barh(positions, part.estimate, color=color, height=0.65)
            _errorbars(axes, part.estimate, positions, part.ci_low, part.ci_high, horizontal=True)
            axes.set_yticks(positions, part.label, fontsize=6.5)
            # Values span three orders of magnitude: logarithmic above 1, linear from 0 to 1 (so
            # bars and zero-valued lower bounds start at 0).
            axes.set_xscale("symlog", linthresh=1, linscale=0.6)
            axes.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
            axes.set(xlabel=measure.replace(" per ", "\nper ") + " (log scale)")
            axes.set_xlim(0, max(part.ci_high.max(), 1) * 1.6)
            axes.set_ylabel("defence layer" if "run" in measure else "strike")
        panels[2].sharey(panels[1])
        panels[2].tick_params(labelleft=False)
        panels[2].set_ylabel("")
    caption = (
        f"Interception over n = {n} runs: interceptors fired per run by each layer, and leakers "
        "and interceptor cost per strike for the most frequent kinds of strike, with 95% "
        "intervals over runs; logarithmic scales (linear from 0 to 1)."
    )
    return figure.finish(data, caption)


def _typical_replication(runs: pd.DataFrame) -> int:
    """The lowest-numbered run that reached the median highest rung with the median strikes."""
    rung = runs.max_rung.median()
    candidates = runs[runs.max_rung == np.floor(rung)]
    strikes = candidates.strikes.median()
    chosen = candidates[candidates.strikes >= strikes]
    return int(chosen.replication.min())


def _timeline_strikes(axes: Axes, log: pd.DataFrame, actors: list[str]) -> pd.DataFrame:
    """Strikes (filled, labelled with target, rung and projectiles) and decisions (open circle:
    answer, cross: no answer) in one row per actor; returns the strikes drawn, each with the
    projectiles its waves launched (logged at launch, so a strike still in flight at the horizon
    counts too; a log from before waves were logged gives its outcomes' counts)."""
    waves = log[log.kind == "wave"].groupby("strike_id")["count"].sum()
    outcomes = log[log.kind == "outcome"].set_index("strike_id").launched
    strikes = log[log.kind == "strike"]
    launched = strikes.strike_id.map(waves).fillna(strikes.strike_id.map(outcomes)).fillna(0)
    strikes = strikes.assign(launched=launched.astype(int))
    days = strikes.time_hours / HOURS_PER_DAY
    rows = strikes.attacker.map(actors.index)
    axes.plot(days, rows, "o", ms=4, color="black", label="strike: target, rung (projectiles)")
    for day, row, strike in zip(days, rows, strikes.itertuples(), strict=True):
        text = f"{strike.target}, {int(strike.rung)} ({strike.launched})"
        axes.annotate(text, (day, row), xytext=(2, 4), textcoords="offset points", fontsize=7)
    decisions = log[log.kind == "decision"]
    for respond, marker, name in ((True, "o", "answer"), (False, "x", "no answer")):
        chosen = decisions[decisions.respond == respond]
        axes.plot(
            chosen.time_hours / HOURS_PER_DAY,
            chosen.actor.map(actors.index),
            marker,
            ms=5,
            mfc="none",
            color=OKABE_ITO[0],
            label=f"decision: {name}",
        )
    axes.set_yticks(range(len(actors)), actors)
    axes.set_ylim(-0.6, len(actors) - 0.2)
    axes.set(ylabel="actor", xlabel="days since the opening strike")
    return strikes


def _timeline_waves(
    axes: Axes, log: pd.DataFrame, strikes: pd.DataFrame, actors: list[str]
) -> pd.DataFrame:
    """Each wave of a strike as a segment below its attacker's row, from its launch to the last
    arrival it can have, one grey per weapon (colours mark the layers below); returns the waves
    drawn, with their attacker."""
    waves = (
        log[log.kind == "wave"]
        .drop(columns="attacker")
        .merge(strikes[["strike_id", "attacker"]], on="strike_id", how="left")
    )
    weapons = sorted(waves.weapon.unique())
    for k, weapon in enumerate(weapons):
        chosen = waves[waves.weapon == weapon]
        row = chosen.attacker.map(actors.index) - 0.15 - 0.3 * k / max(1, len(weapons) - 1)
        axes.hlines(
            row,
            chosen.launch_hours / HOURS_PER_DAY,
            chosen.last_arrival_hours / HOURS_PER_DAY,
            color=str(round(0.1 + 0.6 * k / max(1, len(weapons) - 1), 3)),  # a grey per weapon
            lw=1.6,
            capstyle="projecting",  # a wave of minutes still shows, as a dash of the line width
            label=f"{weapon} wave",
        )
    return waves


LAYER_COLOURS = (*OKABE_ITO[:3], *OKABE_ITO[4:], "0.6")
"""Colours of defence layers in a timeline; vermillion (``OKABE_ITO[3]``) is kept for leakers."""


def _timeline_interceptions(axes: Axes, log: pd.DataFrame) -> pd.DataFrame:
    """Stacked bars per strike: projectiles intercepted by each layer, then leakers on top."""
    caught = log[log.kind == "interception"].pivot_table(
        index="strike_id", columns="layer", values="intercepted", aggfunc="sum", sort=False
    )
    outcome = log[log.kind == "outcome"].set_index("strike_id")
    table = caught.reindex(outcome.index).fillna(0)
    table = table.loc[:, table.sum() > 0].assign(leakers=outcome.leaked)
    days = outcome.time_hours / HOURS_PER_DAY
    bottom = np.zeros(len(table))
    colours = [*LAYER_COLOURS[: len(table.columns) - 1], OKABE_ITO[3]]
    for colour, column in zip(colours, table.columns, strict=True):
        axes.bar(days, table[column], bottom=bottom, width=0.8, color=colour, label=column)
        bottom += table[column].to_numpy()
    axes.set(ylabel="projectiles", xlabel="days since the opening strike")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, handlelength=1)
    return table.assign(day=days).reset_index()


def run_timeline(results: Results | pd.DataFrame, replication: int | None = None) -> PaperFigure:
    """One run as a timeline, from the events table: strikes by attacker (label: target and rung),
    their waves (a segment per weapon from launch to the last possible arrival), decisions (open
    circle: answer, cross: no answer), and for each strike the projectiles each
    layer intercepted and the leakers. ``replication`` defaults to a typical run (median highest
    rung, at least the median number of strikes). A single run has no estimates to bound."""
    events = _events(results).reindex(columns=EVENT_SCHEMA.names)  # older logs lack wave columns
    if replication is None:
        replication = _typical_replication(results.runs) if isinstance(results, Results) else 0
    log = events[events.replication == replication].sort_values("time_hours", kind="stable")
    if log.empty:  # every run logs at least its opening strike
        known = events.replication
        raise ResultsError(
            f"no replication {replication} in these results (they hold {known.min()}-{known.max()})"
        )
    actors = list(dict.fromkeys([*log.attacker.dropna(), *log.actor.dropna()]))
    with paper_style():
        figure = PaperFigure(TWO_COLUMNS_INCHES, 3.2)
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[1, 1.2])
        strikes = _timeline_strikes(top, log, actors)
        waves = _timeline_waves(top, log, strikes, actors)
        top.legend(loc="upper left", bbox_to_anchor=(0, 1.42), ncols=3, fontsize=7)
        table = _timeline_interceptions(bottom, log)
        top.set_xlabel("")
        top.tick_params(labelbottom=False)
        bottom.set_xlim(left=-1)
    data = log[log.kind.isin(["strike", "decision"])][
        ["kind", "time_hours", "strike_id", "attacker", "actor", "target", "rung", "respond"]
    ]
    launched = strikes.set_index("strike_id").launched  # as each strike's label gives it
    data = data.assign(launched=data.strike_id.map(launched).where(data.kind == "strike"))
    wave_columns = ["kind", "time_hours", "strike_id", "attacker", "weapon", "count"]
    wave_columns += ["launch_hours", "last_arrival_hours"]
    data = pd.concat(
        [data, waves[wave_columns], table.assign(kind="interception")], ignore_index=True
    )
    caption = (
        f"Replication {replication}: strikes, their waves (launch to last arrival), decisions, "
        "interceptions by layer and leakers."
    )
    return figure.finish(data.assign(replication=replication), caption)


RESULTS_FIGURES = {
    "cumulative": cumulative_rung_probability,
    "max-rung": max_rung_distribution,
    "path-tree": path_tree,
    "interception": interception_outcomes,
    "timeline": run_timeline,
}
"""Figures drawn from a ``sim run`` results folder, by the name ``sim plot --kind`` takes."""
