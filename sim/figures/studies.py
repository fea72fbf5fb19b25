"""Figures of study tables: restraint sweeps, paired comparisons and Sobol indices.

Each function takes the DataFrame its docstring describes (the tables ``sim sweep``,
``sim compare`` and ``sim sensitivity`` write) and returns a ``PaperFigure``
whose ``data`` holds exactly the numbers drawn, every estimate with its interval.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from sim.figures.style import (
    BAND_ALPHA,
    OKABE_ITO,
    ONE_COLUMN_INCHES,
    TWO_COLUMNS_INCHES,
    PaperFigure,
    interval_points,
    paper_style,
    short_parameter,
    symbols,
)


def path_labels(
    scenario_file: str | Path, paths: Iterable[str], meanings: bool = True
) -> dict[str, str]:
    """Readable names of scenario values given by path, for axis labels: a declared lever's
    meaning (the scenario's ``levers:``; only if ``meanings``), else the path with its relation
    named by alias (``relations.5.obey_probability`` -> ``proxy[hezbollah>iran].obey_probability``),
    else the path itself."""
    from sim.scenario.levers import relation_aliases, resolve_path
    from sim.scenario.loading import load_scenario

    scenario = load_scenario(scenario_file)
    declared = (
        {resolve_path(scenario, s.path): s.meaning for s in scenario.levers.values()}
        if meanings
        else {}
    )
    aliases = {index: alias for alias, index in relation_aliases(scenario).items()}
    labels = {}
    for path in paths:
        parts = path.split(".")
        relation = parts[0] == "relations" and len(parts) > 1 and parts[1].isdigit()
        if path in declared:
            labels[path] = declared[path]
        elif relation and int(parts[1]) in aliases:
            labels[path] = ".".join([aliases[int(parts[1])], *parts[2:]])
        else:
            labels[path] = path
    return labels


def _wrap(text: str, width: int = 52) -> str:
    """A long axis label in lines of at most ``width`` characters; a closing parenthesis (a
    lever's scale, say) goes on a line of its own."""
    if len(text) <= width:
        return text
    head, sep, tail = text.partition(" (")
    if sep and tail.endswith(")") and len(head) <= width:
        return f"{head}\n({tail}"
    return "\n".join(textwrap.wrap(text, width)) or text


def _outcome_names(table: pd.DataFrame) -> pd.Series:
    names = table["label"] if "label" in table else table["outcome"]
    return names.map(symbols)


def sweep_levers(table: pd.DataFrame) -> list[str]:
    """The lever columns of a ``sim sweep`` table: those before ``setting``, named by path."""
    return list(table.columns[: list(table.columns).index("setting")])


def sweep_probabilities(
    table: pd.DataFrame,
    levers: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> PaperFigure:
    """Outcome probabilities across one or two levers (a ``sim sweep`` table), with 95% bands.

    ``table`` columns: one column per lever holding its value (named by its path; by default the
    columns before ``setting``), ``outcome`` (optionally ``label``), ``probability``, ``ci_low``,
    ``ci_high``. One lever: a line per outcome. Two levers: a panel per outcome, a line per value
    of the second lever. ``labels`` names a lever's axis (by its column; ``path_labels`` gives
    declared levers' meanings); a lever without one is named by its path.
    """
    levers = list(levers or sweep_levers(table))
    names = {lever: _wrap((labels or {}).get(lever) or lever) for lever in levers}
    data = table.assign(outcome_label=_outcome_names(table))[
        [*levers, "outcome", "outcome_label", "probability", "ci_low", "ci_high"]
    ].sort_values(["outcome", *levers[::-1]])
    groups = list(data.groupby("outcome", sort=False))
    panels = 1 if len(levers) == 1 else len(groups)
    with paper_style():
        width = ONE_COLUMN_INCHES if panels == 1 else TWO_COLUMNS_INCHES
        figure = PaperFigure(width, 2.4)
        axes_list = np.atleast_1d(figure.subplots(1, panels, sharey=True))
        for index, (_, part) in enumerate(groups):
            axes = axes_list[0 if panels == 1 else index]
            lines = (
                [(part.outcome_label.iloc[0], part)]
                if len(levers) == 1
                else [(f"{value:g}", sub) for value, sub in part.groupby(levers[1])]
            )
            shift = index if panels == 1 else 0
            for color, (name, sub) in zip(OKABE_ITO[shift:], lines, strict=False):
                axes.fill_between(
                    sub[levers[0]], sub.ci_low, sub.ci_high, color=color, alpha=BAND_ALPHA, lw=0
                )
                axes.plot(
                    sub[levers[0]], sub.probability, color=color, marker="o", ms=3, label=name
                )
            if panels > 1:
                axes.set_title(part.outcome_label.iloc[0])
            axes.set(xlabel=names[levers[0]], ylabel="probability", ylim=(0, 1))
        figure.legend(
            *axes_list[0].get_legend_handles_labels(),
            loc="outside lower center",
            ncols=2 if len(levers) == 1 else len(lines),
            title=None if len(levers) == 1 else names[levers[1]],
        )
    caption = "Outcome probabilities across the swept lever(s), with 95% Wilson bands."
    return figure.finish(data, caption)


def paired_differences(table: pd.DataFrame) -> PaperFigure:
    """Paired differences from the baseline (a ``sim compare`` table), with 95% intervals.

    ``table`` columns: ``setting`` (the first is the baseline), ``outcome`` (optionally
    ``label``), ``difference``, and its interval as ``diff_ci_low``/``diff_ci_high`` (what
    ``sim compare`` writes; there ``ci_low``/``ci_high`` bound the probability) or, when those
    are absent, ``ci_low``/``ci_high``. The baseline's rows (differences of zero) are left out.
    """
    low, high = ("diff_ci_low", "diff_ci_high") if "diff_ci_low" in table else ("ci_low", "ci_high")
    baseline = table.setting.iloc[0]
    data = table[table.setting != baseline].assign(outcome_label=_outcome_names(table))
    data = data[["setting", "outcome", "outcome_label", "difference", low, high]]
    data = data.rename(columns={low: "ci_low", high: "ci_high"}).reset_index(drop=True)
    outcomes = list(dict.fromkeys(data.outcome_label))
    settings = list(dict.fromkeys(data.setting))
    step = 0.7 / max(len(settings), 1)
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 0.12 * len(data) + 0.25 * len(outcomes) + 1.0)
        axes = figure.add_subplot()
        for k, (color, setting) in enumerate(zip(OKABE_ITO, settings, strict=False)):
            part = data[data.setting == setting]
            y = len(outcomes) - 1 - part.outcome_label.map(outcomes.index) + 0.35 - (k + 0.5) * step
            interval_points(
                axes,
                part.difference,
                y,
                part.ci_low,
                part.ci_high,
                color=color,
                label=setting,
                capsize=2.5,
                zorder=3,
            )
            # An interval of zero width (every paired run agreed) is drawn as a tall tick, so it
            # reads as an interval, not as a point whose interval is missing.
            zero = (part.ci_high - part.ci_low).to_numpy() <= 1e-12
            x, y = part.difference.to_numpy(), np.asarray(y, dtype=float)
            axes.plot(x[zero], y[zero], "|", ms=8, mew=2, color=color, zorder=3)
        if (data.ci_high - data.ci_low <= 1e-12).any():
            axes.plot([], [], "|", ms=8, mew=2, color="0.3", label="interval of zero width")
        axes.axvline(0, color="0.6", lw=0.5, ls="--", zorder=1)
        axes.set_yticks(np.arange(len(outcomes))[::-1], outcomes, fontsize=6.5)
        axes.set(
            xlabel=f"difference in probability from {baseline}\n(0.1 = 10 percentage points)",
            ylabel="outcome",
        )
        figure.legend(loc="outside lower center", ncols=2, handlelength=1)
    caption = (
        f"Paired differences in outcome probability from {baseline} (common random numbers), "
        "with 95% intervals; a tall tick is an interval of zero width (every pair of runs agreed)."
    )
    return figure.finish(data, caption)


def sobol_indices(table: pd.DataFrame) -> PaperFigure:
    """First-order and total Sobol indices per parameter and outcome (a ``sim sensitivity``
    table), with bootstrap 95% intervals.

    ``table`` columns: ``parameter``, ``outcome``, ``first_order``, ``first_order_low``,
    ``first_order_high``, ``total``, ``total_low``, ``total_high``. One panel per outcome.
    """
    data = table[
        [
            "outcome",
            "parameter",
            "first_order",
            "first_order_low",
            "first_order_high",
            "total",
            "total_low",
            "total_high",
        ]
    ].reset_index(drop=True)
    outcomes = list(dict.fromkeys(data.outcome))
    titles = dict(zip(table.outcome, table["label"], strict=True)) if "label" in table else {}
    with paper_style():
        width = ONE_COLUMN_INCHES if len(outcomes) == 1 else TWO_COLUMNS_INCHES
        parameters = list(dict.fromkeys(data.parameter))
        figure = PaperFigure(width, 0.25 * len(parameters) + 1.0)
        panels = np.atleast_1d(figure.subplots(1, len(outcomes), sharex=True, sharey=True))
        positions = {p: i for i, p in enumerate(parameters[::-1])}
        for axes, outcome in zip(panels, outcomes, strict=True):
            part = data[data.outcome == outcome]
            y = part.parameter.map(positions).to_numpy(dtype=float)
            for offset, kind, color, fmt in (
                (0.15, "first_order", OKABE_ITO[0], "o"),
                (-0.15, "total", OKABE_ITO[1], "s"),
            ):
                interval_points(
                    axes,
                    part[kind],
                    y + offset,
                    part[f"{kind}_low"],
                    part[f"{kind}_high"],
                    color=color,
                    fmt=fmt,
                    label=kind.replace("_", " "),
                )
            axes.axvline(0, color="0.3", lw=0.5)
            title = symbols(titles.get(outcome, outcome))
            axes.set(
                xlabel="Sobol index", ylabel="" if axes is not panels[0] else "uncertain input"
            )
            axes.set_title(title, fontsize=7)
            axes.set_yticks(
                list(positions.values()), [short_parameter(p) for p in positions], fontsize=6.5
            )
        panels[0].legend(loc="lower right")
    caption = "First-order and total Sobol indices with bootstrap 95% intervals."
    return figure.finish(data, caption)
