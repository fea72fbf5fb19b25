"""Figures of explore studies and scenario discovery: PRIM's trade-off curve, a box's limits
against the factors' ranges, a two-factor heatmap of an outcome, and Morris mu*-sigma.

Each function takes the table its docstring describes (``sim.analysis.discovery`` and
``sim explore`` write them) and returns a ``PaperFigure`` whose ``data`` holds exactly the
numbers drawn, every estimate with its interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.colors import Normalize

from sim.figures.style import (
    OKABE_ITO,
    ONE_COLUMN_INCHES,
    PaperFigure,
    interval_points,
    paper_style,
    symbols,
    value_grid,
)

TRADEOFF_COLUMNS = ["box", "coverage", "density", "mass", "restricted", "chosen"]
INTERVAL_COLUMNS = ["coverage_low", "coverage_high", "density_low", "density_high"]


def tradeoff_curve(tradeoff: pd.DataFrame, outcome: str = "") -> PaperFigure:
    """PRIM's coverage-density trade-off: each box of the peeling and pasting trajectory, coloured
    by how many factors it restricts, the chosen box ringed with its bootstrap 95% intervals.

    ``tradeoff``: ``DiscoveryResult.tradeoff`` (columns ``box``, ``coverage``, ``density``,
    ``mass``, ``restricted``, ``chosen``, and the chosen row's ``coverage_low``,
    ``coverage_high``, ``density_low``, ``density_high``). ``outcome`` names it in the caption.
    """
    data = tradeoff[TRADEOFF_COLUMNS + INTERVAL_COLUMNS].sort_values("box")
    chosen = data[data["chosen"]].iloc[0]
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 2.6)
        axes = figure.add_subplot()
        axes.plot(data["coverage"], data["density"], color="0.75", lw=0.6, zorder=1)
        for k, (count, part) in enumerate(data.groupby("restricted")):
            axes.scatter(
                part["coverage"],
                part["density"],
                s=9,
                color=OKABE_ITO[k % len(OKABE_ITO)],
                label=f"{count} restricted",
                zorder=2,
            )
        axes.errorbar(
            chosen["coverage"],
            chosen["density"],
            xerr=_whisker(chosen, "coverage"),
            yerr=_whisker(chosen, "density"),
            fmt="o",
            ms=7,
            mfc="none",
            mec="black",
            ecolor="black",
            capsize=2,
            lw=0.8,
            zorder=3,
            label="chosen box (95% CI)",
        )
        axes.set(xlabel="coverage", ylabel="density", xlim=(0, 1.02))
        axes.legend(loc="lower left")
    caption = (
        f"PRIM trade-off{_for(outcome)}: coverage against density of each box on the peeling "
        f"and pasting trajectory. Chosen box {int(chosen['box'])}: coverage "
        f"{chosen['coverage']:.2f} ({chosen['coverage_low']:.2f}-{chosen['coverage_high']:.2f}), "
        f"density {chosen['density']:.2f} ({chosen['density_low']:.2f}-"
        f"{chosen['density_high']:.2f}), {int(chosen['restricted'])} factors restricted; "
        "bootstrap 95% intervals over replications."
    )
    return figure.finish(data, caption)


def _whisker(row: pd.Series, name: str) -> list[list[float]]:
    """Errorbar lengths below and above ``row[name]`` (never negative)."""
    return [
        [max(row[name] - row[f"{name}_low"], 0.0)],
        [max(row[f"{name}_high"] - row[name], 0.0)],
    ]


def _for(outcome: str) -> str:
    return f" for {symbols(outcome)}" if outcome else ""


def box_limits(box: pd.DataFrame, outcome: str = "") -> PaperFigure:
    """The box's limits on each restricted factor against the factor's range in the design.

    ``box``: ``DiscoveryResult.box``. A factor's range is drawn as a grey bar scaled to [0, 1],
    the box as a coloured bar inside it, its restricted limits written in the factor's unit,
    each with a whisker spanning the limits half-studies found (their 2.5% to 97.5%
    quantiles). A categorical factor is a row naming the categories kept.
    """
    data = box.copy()
    span = (data["range_high"] - data["range_low"]).replace(0, np.nan)
    for column in ("low", "high", "low_q025", "low_q975", "high_q025", "high_q975"):
        data[f"{column}_scaled"] = (data[column] - data["range_low"]) / span
    rows = len(data)
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 0.9 + 0.32 * max(rows, 1))
        axes = figure.add_subplot()
        for y, row in enumerate(data.itertuples()):
            axes.barh(y, 1, left=0, height=0.5, color="0.88", lw=0)
            if row.categories:
                axes.text(0.5, y, f"in {{{row.categories}}}", ha="center", va="center")
                continue
            axes.barh(
                y,
                row.high_scaled - row.low_scaled,
                left=row.low_scaled,
                height=0.5,
                color=OKABE_ITO[0],
                alpha=0.8,
                lw=0,
            )
            restricted = {"low": row.low > row.range_low, "high": row.high < row.range_high}
            for side in (side for side, narrower in restricted.items() if narrower):
                axes.plot(
                    [getattr(row, f"{side}_q025_scaled"), getattr(row, f"{side}_q975_scaled")],
                    [y, y],
                    color="black",
                    lw=0.8,
                    marker="|",
                    ms=5,
                )
                limit = getattr(row, side)
                axes.text(
                    getattr(row, f"{side}_scaled"), y + 0.4, f"{limit:.3g}", ha="center", fontsize=7
                )
        axes.set_yticks(range(rows), [_factor_label(row) for row in data.itertuples()])
        axes.set(xlim=(-0.03, 1.03), ylim=(-0.6, rows - 0.2))
        axes.set_xlabel("share of the factor's range in the design")
        axes.invert_yaxis()
    caption = (
        f"Box limits{_for(outcome)} (blue) within each restricted factor's range (grey), "
        "with the 2.5%-97.5% spread of the limits independent half-studies found (whiskers)."
    )
    return figure.finish(data, caption)


def _factor_label(row) -> str:
    """A factor's name over its range in the design (a categorical factor: its name)."""
    if row.categories:
        return symbols(row.factor)
    return f"{symbols(row.factor)}\n{row.range_low:.3g}\u2013{row.range_high:.3g}"


def outcome_heatmap(
    table: pd.DataFrame,
    across: str,
    up: str,
    value: str = "estimate",
    bins: int | None = None,
    label: str = "",
) -> PaperFigure:
    """An outcome across two factors, the convention of two-lever sweeps (cividis, each cell's
    value written in it).

    ``table``: one row per design point with columns ``across``, ``up`` (factor values) and
    ``value`` (``ci_low``/``ci_high`` are carried into ``data`` when present). Without ``bins``
    the points must form a grid (a cell per pair of values); with ``bins``, each factor's range
    is cut into that many equal bins and a cell shows the mean of its points (``points`` in
    ``data`` counts them; empty cells are blank).
    """
    if bins is None:
        data = _grid_cells(table, across, up, value)
    else:
        data = _binned_cells(table, across, up, value, bins)
    norm = Normalize(float(np.nanmin(data[value])), float(np.nanmax(data[value])))
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 2.8)
        axes = figure.add_subplot()
        mesh = value_grid(axes, data, "across_cell", "up_cell", value, norm, fontsize=6)
        axes.set(xlabel=symbols(across), ylabel=symbols(up))
        bar = figure.colorbar(mesh, ax=axes, shrink=0.9, pad=0.02)
        bar.set_label(symbols(label or value))
    how = "each cell one design point" if bins is None else f"means over {bins} x {bins} bins"
    caption = (
        f"{symbols(label or value)} across {symbols(across)} and {symbols(up)} ({how}, its "
        f"value written in it); from {data[value].min():.2f} to {data[value].max():.2f}."
    )
    return figure.finish(data, caption)


def _grid_cells(table: pd.DataFrame, across: str, up: str, value: str) -> pd.DataFrame:
    """A grid design's cells: one per point, its factor values as the cell's coordinates."""
    if table.duplicated([across, up]).any():
        raise ValueError(
            f"{across}, {up}: several points share a cell; not a grid: give bins to average them"
        )
    extra = [c for c in ("ci_low", "ci_high") if c in table]
    data = table[[across, up, value, *extra]].copy()
    data["across_cell"], data["up_cell"] = data[across], data[up]
    data["points"] = 1
    return data.sort_values([up, across], ignore_index=True)


def _binned_cells(table: pd.DataFrame, across: str, up: str, value: str, bins: int):
    """Equal-width bins over each factor's range; a cell's value is its points' mean, and its
    coordinates the bin's middle (a bin no point falls in is not drawn)."""
    cells = pd.DataFrame(index=table.index)
    for name, cell in ((across, "across_cell"), (up, "up_cell")):
        edges = np.linspace(table[name].min(), table[name].max(), bins + 1)
        which = np.clip(np.searchsorted(edges, table[name], side="right") - 1, 0, bins - 1)
        cells[cell] = (edges[which] + edges[which + 1]) / 2
    cells[value] = table[value]
    data = cells.groupby(["up_cell", "across_cell"], as_index=False).agg(
        **{value: (value, "mean"), "points": (value, "size")}
    )
    data[across], data[up] = data["across_cell"], data["up_cell"]
    return data[[across, up, value, "points", "across_cell", "up_cell"]]


def morris_effects(table: pd.DataFrame, outcome: str = "") -> PaperFigure:
    """Morris elementary effects: mu* (mean absolute effect) with its 95% interval across,
    sigma (their spread: interactions or non-linearity) up, one labelled point per factor,
    and the line sigma = mu* (above it, a factor acts mostly through interactions).

    ``table`` columns: ``factor``, ``mu_star``, ``mu_star_low``, ``mu_star_high``, ``sigma``
    (or ``mu_star_conf``, the interval's half-width, in place of the two bounds).
    """
    data = table.copy()
    if "mu_star_low" not in data and "mu_star_conf" in data:
        data["mu_star_low"] = data["mu_star"] - data["mu_star_conf"]
        data["mu_star_high"] = data["mu_star"] + data["mu_star_conf"]
    data = data[["factor", "mu_star", "mu_star_low", "mu_star_high", "sigma"]]
    data = data.sort_values("mu_star", ascending=False, ignore_index=True)
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 2.6)
        axes = figure.add_subplot()
        top = float(max(data["mu_star_high"].max(), data["sigma"].max()) * 1.1) or 1.0
        axes.plot([0, top], [0, top], color="0.6", ls="--", lw=0.7, label="\u03c3 = \u03bc*")
        interval_points(
            axes,
            data["mu_star"],
            data["sigma"],
            data["mu_star_low"],
            data["mu_star_high"],
            color=OKABE_ITO[0],
            label="factor (95% CI of \u03bc*)",
        )
        for row in data.itertuples():
            axes.annotate(
                symbols(row.factor),
                (row.mu_star, row.sigma),
                xytext=(3, 3),
                textcoords="offset points",
                fontsize=6,
            )
        axes.set(xlim=(0, top), ylim=(0, top), xlabel="\u03bc* (mean |elementary effect|)")
        axes.set_ylabel("\u03c3 (spread of elementary effects)")
        axes.legend(loc="upper left")
    first = data.iloc[0]
    caption = (
        f"Morris screening{_for(outcome)}: \u03bc* with 95% bootstrap intervals against \u03c3; "
        f"the most influential factor is {symbols(first['factor'])} (\u03bc* "
        f"{first['mu_star']:.3g}, {first['mu_star_low']:.3g}-{first['mu_star_high']:.3g})."
    )
    return figure.finish(data, caption)
