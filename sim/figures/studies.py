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
from matplotlib.colors import LogNorm, Normalize
from matplotlib.patches import Rectangle
from matplotlib.ticker import FuncFormatter

from sim.figures.style import (
    BAND_ALPHA,
    EXTRAPOLATION_HATCH,
    ONE_COLUMN_INCHES,
    SCALES,
    TWO_COLUMNS_INCHES,
    PaperFigure,
    interval_points,
    paper_style,
    probability_limits,
    series_style,
    short_parameter,
    symbols,
    value_grid,
)


def path_labels(
    scenario_file: str | Path, paths: Iterable[str], meanings: bool = True
) -> dict[str, str]:
    """Readable names of scenario values given by path, for axis labels: a declared lever's
    meaning (the scenario's ``levers:``; only if ``meanings``), else the path with its relation
    named by alias (``proxy[hezbollah>iran].obey_probability``),
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


EXTRAPOLATION = "outside the calibration prior (extrapolation)"


def _extrapolated(
    data: pd.DataFrame, levers: Sequence[str], prior_ranges: Mapping[str, tuple[float, float]]
) -> pd.Series:
    """True where a lever's value lies outside its calibration prior (``prior_ranges``: a
    calibrated lever's prior bounds, by path): the model was never fitted there."""
    outside = pd.Series(False, index=data.index)
    for lever in levers:
        if lever in prior_ranges:
            low, high = prior_ranges[lever]
            outside |= (data[lever] < low) | (data[lever] > high)
    return outside


def sweep_probabilities(
    table: pd.DataFrame,
    levers: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
    scale: str = "linear",
    prior_ranges: Mapping[str, tuple[float, float]] | None = None,
) -> PaperFigure:
    """Outcome probabilities across one or two levers (a ``sim sweep`` table), with 95% Wilson
    intervals.

    ``table`` columns: one column per lever holding its value (named by its path; by default the
    columns before ``setting``), ``outcome`` (optionally ``label``), ``probability``, ``ci_low``,
    ``ci_high``. One lever: a line per outcome with its band, each with its own colour, marker
    and line style, on a probability axis scaled to the data (``scale``: "linear" or "log"). Two
    levers: a heatmap per outcome (``sweep_heatmap``). ``labels`` names a lever's axis (by its
    column; ``path_labels`` gives declared levers' meanings); a lever without one is named by its
    path. ``prior_ranges`` (a calibrated lever's prior bounds, by path) marks the points outside
    them as extrapolation (shaded; ``extrapolation`` in ``data``).
    """
    if scale not in SCALES:
        raise ValueError(f"scale: {scale!r} is not one of {', '.join(SCALES)}")
    levers = list(levers or sweep_levers(table))
    table = binary_outcomes(table)
    if len(levers) == 2:
        return sweep_heatmap(table, levers, labels, scale, prior_ranges)
    (lever,) = levers
    data = table.assign(outcome_label=_outcome_names(table))[
        [lever, "outcome", "outcome_label", "probability", "ci_low", "ci_high"]
    ].sort_values(["outcome", lever])
    data["extrapolation"] = _extrapolated(data, levers, prior_ranges or {})
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 2.4)
        axes = figure.add_subplot()
        for k, (_, part) in enumerate(data.groupby("outcome", sort=False)):
            style = series_style(k)
            axes.fill_between(
                part[lever], part.ci_low, part.ci_high, color=style["color"], alpha=BAND_ALPHA, lw=0
            )
            # A logarithmic axis has no 0: an estimate of 0 is left out of its line (the band
            # still shows its upper bound).
            drawn = (
                part.probability.where(part.probability > 0) if scale == "log" else part.probability
            )
            axes.plot(part[lever], drawn, ms=3, label=part.outcome_label.iloc[0], **style)
        _shade_extrapolation(axes, lever, (prior_ranges or {}).get(lever), data[lever])
        axes.set_yscale(scale)
        axes.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
        axes.set(
            xlabel=_wrap((labels or {}).get(lever) or lever),
            ylabel="probability" + (" (logarithmic axis)" if scale == "log" else ""),
            ylim=probability_limits(data.ci_low, data.ci_high, scale),
        )
        figure.legend(
            *axes.get_legend_handles_labels(), loc="outside lower center", ncols=2, handlelength=2.6
        )
    caption = "Outcome probabilities across the swept lever, with 95% Wilson bands."
    if scale == "log":
        caption += " Logarithmic axis: an estimate of 0 is left out of its line (its band stays)."
    if data.extrapolation.any():
        caption += " Shaded: lever values outside the calibration prior (extrapolation)."
    return figure.finish(data, caption)


def _shade_extrapolation(axes, lever: str, prior: tuple[float, float] | None, values) -> None:
    """Shade (hatched grey) the lever values outside the calibration prior ``prior``."""
    if prior is None:
        return
    low, high = prior
    first, last = float(values.min()), float(values.max())
    spans = [(first, low)] if first < low else []
    spans += [(high, last)] if last > high else []
    for k, (start, stop) in enumerate(spans):
        axes.axvspan(
            start,
            stop,
            facecolor="0.94",
            edgecolor="0.7",
            hatch="////",
            lw=0,
            zorder=0,
            label=EXTRAPOLATION if k == 0 else None,
        )


NUMBERED_CELL_INCHES = 0.22
"""The narrowest heatmap cell that still holds its estimate written at 6.5 points (inches)."""


def binary_outcomes(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of a sweep or comparison table whose outcome is a probability: numeric outcomes
    (a mean casualty count, a day) have no place on a probability axis, so figures of
    probabilities leave them out (their estimates are in the table); refuse a table with none."""
    if "kind" not in table:
        return table
    binary = table[table.kind != "numeric"]
    if binary.empty:
        raise ValueError("this table holds no probability outcome to draw (numeric outcomes only)")
    return binary


def sweep_heatmap(
    table: pd.DataFrame,
    levers: Sequence[str],
    labels: Mapping[str, str] | None = None,
    scale: str = "linear",
    prior_ranges: Mapping[str, tuple[float, float]] | None = None,
) -> PaperFigure:
    """Outcome probabilities across two levers (a ``sim sweep`` table): one heatmap per outcome,
    the first lever across and the second up, each cell the probability at one grid point
    (written in it), on one colour scale (cividis, which keeps its order in greyscale) scaled
    to the data (``scale``: "linear" or "log"). The 95% Wilson interval of every cell is in
    ``data`` (``ci_low``, ``ci_high``); cells outside the calibration prior are hatched."""
    across, up = levers
    data = table.assign(outcome_label=_outcome_names(table))[
        [across, up, "outcome", "outcome_label", "probability", "ci_low", "ci_high"]
    ].sort_values(["outcome", up, across])
    data["extrapolation"] = _extrapolated(data, levers, prior_ranges or {})
    groups = list(data.groupby("outcome", sort=False))
    low, high = probability_limits(data.probability, data.probability, scale)
    norm = LogNorm(low, high) if scale == "log" else Normalize(low, high)
    with paper_style():
        width = ONE_COLUMN_INCHES if len(groups) == 1 else TWO_COLUMNS_INCHES
        figure = PaperFigure(width, 2.6)
        panels = np.atleast_1d(figure.subplots(1, len(groups), sharey=True))
        cell = (width - 1.2) / len(groups) / data[across].nunique()  # inches across a cell
        numbered = cell >= NUMBERED_CELL_INCHES
        for axes, (_, part) in zip(panels, groups, strict=True):
            mesh = value_grid(
                axes,
                part,
                across,
                up,
                "probability",
                norm,
                numbered=numbered,
                hatched=part.extrapolation,
            )
            axes.set_title(part.outcome_label.iloc[0])
            axes.set_xlabel(_wrap((labels or {}).get(across) or across, 36))
        panels[0].set_ylabel(_wrap((labels or {}).get(up) or up, 36))
        bar = figure.colorbar(mesh, ax=list(panels), shrink=0.9, pad=0.02)
        bar.set_label("probability" + (" (logarithmic scale)" if scale == "log" else ""))
        if data.extrapolation.any():
            proxy = Rectangle((0, 0), 1, 1, **EXTRAPOLATION_HATCH)
            figure.legend([proxy], [EXTRAPOLATION], loc="outside lower center")
    caption = (
        "Outcome probabilities across two swept levers (each cell one grid point"
        + (", its estimate written in it" if numbered else "")
        + "); the 95% Wilson interval of every cell is in the figure's table."
    )
    if data.extrapolation.any():
        caption += " Hatched: lever values outside the calibration prior (extrapolation)."
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
        for k, setting in enumerate(settings):
            style = series_style(k, lines=False)
            color = style["color"]
            part = data[data.setting == setting]
            y = len(outcomes) - 1 - part.outcome_label.map(outcomes.index) + 0.35 - (k + 0.5) * step
            interval_points(
                axes,
                part.difference,
                y,
                part.ci_low,
                part.ci_high,
                color=color,
                fmt=style["marker"],
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


SOBOL_LIMITS = (-0.15, 1.15)
"""The Sobol axis: the indices' possible range [0, 1] (marked) with a margin; a bootstrap interval
running beyond it ends in an arrowhead at the edge (its ends are in ``data``)."""


def sobol_indices(table: pd.DataFrame, labels: Mapping[str, str] | None = None) -> PaperFigure:
    """First-order and total Sobol indices per parameter and outcome (a ``sim sensitivity``
    table), with bootstrap 95% intervals, on an axis of the indices' possible range [0, 1].

    ``table`` columns: ``parameter``, ``outcome``, ``first_order``, ``first_order_low``,
    ``first_order_high``, ``total``, ``total_low``, ``total_high``. One panel per outcome.
    ``labels`` names a parameter (by its ``parameter`` value; ``sobol_labels`` gives declared
    levers' meanings); a parameter without one is named by its shortened path.
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
    parameters = list(dict.fromkeys(data.parameter))
    names = [_wrap((labels or {}).get(p) or short_parameter(p), 30) for p in parameters[::-1]]
    lines = max(name.count("\n") + 1 for name in names)
    with paper_style():
        width = ONE_COLUMN_INCHES if len(outcomes) == 1 else TWO_COLUMNS_INCHES
        figure = PaperFigure(width, (0.14 + 0.11 * lines) * len(parameters) + 1.0)
        panels = np.atleast_1d(figure.subplots(1, len(outcomes), sharex=True, sharey=True))
        positions = {p: i for i, p in enumerate(parameters[::-1])}
        for axes, outcome in zip(panels, outcomes, strict=True):
            part = data[data.outcome == outcome]
            y = part.parameter.map(positions).to_numpy(dtype=float)
            for k, (offset, kind) in enumerate(((0.15, "first_order"), (-0.15, "total"))):
                style = series_style(k, lines=False)
                interval_points(
                    axes,
                    part[kind],
                    y + offset,
                    part[f"{kind}_low"],
                    part[f"{kind}_high"],
                    color=style["color"],
                    fmt=style["marker"],
                    label=kind.replace("_", " "),
                )
                _beyond_the_axis(axes, part[f"{kind}_low"], part[f"{kind}_high"], y + offset, style)
            for bound in (0, 1):
                axes.axvline(bound, color="0.3", lw=0.5)
            axes.set_xlim(*SOBOL_LIMITS)
            axes.set_xticks([0, 0.25, 0.5, 0.75, 1])
            axes.set(
                xlabel="Sobol index", ylabel="" if axes is not panels[0] else "uncertain input"
            )
            axes.set_title(symbols(titles.get(outcome, outcome)), fontsize=7)
            axes.set_yticks(list(positions.values()), names, fontsize=6.5)
        panels[0].legend(loc="lower right")
    caption = (
        "First-order and total Sobol indices with bootstrap 95% intervals, on the indices' "
        "possible range [0, 1] (vertical lines); an arrowhead is an interval running beyond it."
    )
    return figure.finish(data, caption)


def _beyond_the_axis(axes, low: pd.Series, high: pd.Series, y: np.ndarray, style) -> None:
    """An arrowhead at the edge of the Sobol axis for each interval end beyond it."""
    for ends, edge, marker in ((low, SOBOL_LIMITS[0], "<"), (high, SOBOL_LIMITS[1], ">")):
        beyond = (ends.to_numpy() < edge) if marker == "<" else (ends.to_numpy() > edge)
        if beyond.any():
            axes.plot(
                np.full(beyond.sum(), edge),
                y[beyond],
                marker,
                ms=3.5,
                color=style["color"],
                clip_on=False,
            )
