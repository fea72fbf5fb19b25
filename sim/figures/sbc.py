"""Figures of simulation-based calibration (``sim.calibration.sbc.SbcResult``): the rank
histogram of each parameter and the coverage curve, and writing both with their numbers.

How to read them: a calibrated posterior gives flat rank histograms, inside the grey band, and
coverage points on the diagonal. Too narrow a posterior: a U-shaped histogram (true values fall
outside the draws) and points below the diagonal (under-coverage). Too wide: a hump and points
above it. Biased: a slope (ranks piled high: the posterior sits below the true values).
"""

from __future__ import annotations

import io
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.calibration.sbc import SbcResult, bin_probabilities, rank_bins
from sim.figures.style import (
    OKABE_ITO,
    ONE_COLUMN_INCHES,
    TWO_COLUMNS_INCHES,
    PaperFigure,
    interval_points,
    paper_style,
    series_style,
    short_parameter,
    trace_text,
)
from sim.study.results import atomic_write_bytes
from sim.study.tables import write_csv_safely

BAND = 0.99
"""Coverage of the grey band of a rank histogram: the binomial interval of each bin's count
under uniform ranks (Talts et al. 2018, figure 1)."""
PANELS_PER_ROW = 3
COVERAGE_DODGE = 0.012
"""Horizontal spread of the parameters' points at one level, so their whiskers do not overlap."""
AXIS_TICKS = (0, 0.25, 0.5, 0.75, 1)
"""Labelled ticks of both coverage axes; the checked levels get unlabelled minor ticks."""
STEMS = ("sbc_rank_histograms", "sbc_coverage_curve")
"""File names (without extension) ``write_sbc_figures`` gives the two figures: distinct from
the tables' names (``SbcResult.tables``), which may share the folder."""


def rank_histogram_table(result: SbcResult) -> pd.DataFrame:
    """Per parameter and bin: the ranks it holds, the data sets counted, the count expected under
    uniform ranks and the ``BAND`` binomial interval of that count."""
    n, draws = len(result.ranks), result.draws
    bins = rank_bins(draws, n)
    probabilities = bin_probabilities(draws, bins)
    bin_of_rank = np.arange(draws + 1) * bins // (draws + 1)
    first = np.searchsorted(bin_of_rank, np.arange(bins), side="left")
    last = np.searchsorted(bin_of_rank, np.arange(bins), side="right") - 1
    tail = (1 - BAND) / 2
    frames = [
        pd.DataFrame({
            "parameter": name, "bin": np.arange(bins), "first_rank": first, "last_rank": last,
            "count": np.bincount(bin_of_rank[result.ranks[:, p]], minlength=bins),
            "expected": n * probabilities,
            "band_low": stats.binom.ppf(tail, n, probabilities),
            "band_high": stats.binom.ppf(1 - tail, n, probabilities),
        })
        for p, name in enumerate(result.names)
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def rank_histograms(result: SbcResult) -> PaperFigure:
    """One small panel per parameter: the count of data sets in each rank bin (bars), the count
    expected of a calibrated posterior (dashed steps) and its 99% binomial band (grey)."""
    data = rank_histogram_table(result)
    p_values = dict(zip(result.uniformity.parameter, result.uniformity.p_value, strict=True))
    d = len(result.names)
    columns = min(d, PANELS_PER_ROW)
    rows = math.ceil(d / columns)
    with paper_style():
        width = ONE_COLUMN_INCHES if columns == 1 else TWO_COLUMNS_INCHES
        figure = PaperFigure(width, 1.45 * rows + 0.45)
        grid = figure.subplots(rows, columns, squeeze=False)
        for index, (axes, name) in enumerate(zip(grid.flat, result.names, strict=False)):
            part = data[data.parameter == name]
            _rank_panel(axes, part, result.draws, labelled=index == 0)
            verdict = "passes" if result.passed[name] else "fails"
            axes.set_title(f"{short_parameter(name)}\np = {p_values[name]:.2g}, {verdict}")
        for axes in list(grid.flat)[d:]:
            axes.set_visible(False)
        figure.legend(loc="outside lower center", ncols=3)
    caption = (
        f"Rank of each true parameter among its posterior's {result.draws} draws, over "
        f"{len(result.ranks)} simulated data sets: a calibrated posterior's ranks are uniform "
        f"(dashed), within the grey {BAND:.0%} binomial band per bin. U shape: too narrow; hump: "
        "too wide; slope: biased."
    )
    return figure.finish(data, caption)


def _rank_panel(axes, part: pd.DataFrame, draws: int, labelled: bool) -> None:
    """Band, bars and expected steps of one parameter's rank histogram, on the rank axis."""
    left = part.first_rank.to_numpy()
    widths = (part.last_rank - part.first_rank + 1).to_numpy()
    axes.bar(
        left,
        part.band_high - part.band_low,
        widths,
        bottom=part.band_low,
        align="edge",
        color="0.82",
        label=f"{BAND:.0%} band if calibrated" if labelled else None,
    )
    axes.bar(
        left,
        part["count"],
        widths,
        align="edge",
        color=OKABE_ITO[0],
        alpha=0.75,
        edgecolor="white",
        linewidth=0.3,
        label="data sets" if labelled else None,
    )
    edges = np.r_[left, draws + 1]
    axes.plot(
        edges,
        np.r_[part.expected, part.expected.iloc[-1]],
        drawstyle="steps-post",
        color="black",
        linestyle="--",
        linewidth=0.8,
        label="expected if calibrated" if labelled else None,
    )
    axes.set(xlim=(0, draws + 1), xlabel="rank", ylabel="data sets")


def coverage_points(result: SbcResult) -> pd.DataFrame:
    """The coverage table with each point's plotted position (``x``: the expected coverage,
    dodged per parameter) and its label."""
    table = result.coverage.copy()
    order = {name: i for i, name in enumerate(result.names)}
    index = table.parameter.map(order).to_numpy()
    offsets = (index - (len(result.names) - 1) / 2) * COVERAGE_DODGE
    return table.assign(label=table.parameter.map(short_parameter), x=table.expected + offsets)


def coverage_curve(result: SbcResult) -> PaperFigure:
    """Empirical against expected coverage of the central posterior intervals, one series per
    parameter with exact binomial 95% whiskers, and the diagonal a calibrated posterior lies
    on; both axes run from 0 to 1, the checked levels marked by minor ticks."""
    data = coverage_points(result)
    d = len(result.names)
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 3.1 + 0.13 * (d + 1))
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], color="0.45", linestyle=":", linewidth=0.9, label="calibrated")
        for index, name in enumerate(result.names):
            part = data[data.parameter == name]
            interval_points(
                axes,
                part.x,
                part.empirical,
                part.ci_low,
                part.ci_high,
                horizontal=False,
                **_series(index),
                label=short_parameter(name),
            )
        for set_ticks in (axes.set_xticks, axes.set_yticks):
            set_ticks(AXIS_TICKS, [f"{t:g}" for t in AXIS_TICKS])
            set_ticks(result.levels, minor=True)
        axes.set(
            xlim=(0, 1),
            ylim=(0, 1),
            aspect="equal",
            xlabel="expected coverage (central interval's level)",
            ylabel="empirical coverage",
        )
        figure.legend(loc="outside lower center", ncols=1)
    caption = (
        f"Share of {len(result.ranks)} simulated data sets whose true value lies in the central "
        f"{', '.join(f'{v:.0%}' for v in result.levels)} posterior intervals, with exact "
        "binomial 95% intervals, against the share a calibrated posterior gives (the level, "
        f"within 1/{result.draws + 1} for {result.draws} draws). Below the diagonal: too "
        "narrow; above: too wide."
    )
    return figure.finish(data, caption)


def _series(index: int) -> dict[str, Any]:
    """The index-th parameter's point style: the shared series cycle, hollow on its second
    round, so up to 16 parameters differ by shape in greyscale."""
    style = series_style(index, lines=False)
    hollow = (index // len(OKABE_ITO)) % 2 == 1
    return {
        "fmt": style["marker"],
        "color": style["color"],
        "linestyle": "none",
        **({"markerfacecolor": "none"} if hollow else {}),
    }


def write_sbc_figures(
    result: SbcResult, folder: Path, manifest: Mapping[str, Any] | None = None
) -> list[Path]:
    """Write each figure as PNG with its numbers as CSV into ``folder`` (``STEMS``), every file
    atomically (a reader sees the old file or the whole new one); return the paths written."""
    folder = Path(folder)
    written = []
    for stem, figure in zip(STEMS, (rank_histograms(result), coverage_curve(result)), strict=True):
        csv, png = folder / f"{stem}.csv", folder / f"{stem}.png"
        write_csv_safely(figure.data, csv)
        buffer = io.BytesIO()
        metadata = {"Title": figure.caption}
        metadata |= {"Description": trace_text(manifest)} if manifest else {}
        with paper_style():
            figure.savefig(buffer, format="png", metadata=metadata)
        atomic_write_bytes(png, buffer.getvalue())
        written += [csv, png]
    return written
