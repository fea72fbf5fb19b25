"""The paper style shared by every figure, the figure type that carries its numbers, and saving.

Nothing here changes matplotlib's global settings: the style applies inside ``paper_style()``
blocks only (``matplotlib.rc_context``), and figures are made without pyplot.
"""

from __future__ import annotations

import io
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle
from scipy import stats

from sim.study.tables import write_csv_safely

ONE_COLUMN_INCHES = 3.5
"""Width of one column of a two-column journal page."""
TWO_COLUMNS_INCHES = 7.2
"""Width of a full two-column page."""
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")
"""Colour-blind-safe palette (Okabe and Ito, 2008): blue, orange, green, vermillion, purple,
sky blue, yellow, black."""
BAND_ALPHA = 0.25

SERIES_MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
SERIES_LINESTYLES = ("-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 2)), (0, (8, 2)), "-")
"""Each series' marker and line style, beside its colour (``OKABE_ITO``): the k-th series of
every figure is told apart by its shape and dash pattern where colour is lost (greyscale print,
colour-blind readers), not by colour alone."""


EXTRAPOLATION_HATCH = {"fill": False, "hatch": "////", "edgecolor": "0.55", "lw": 0}
"""How lever values outside the calibration prior are marked: the model was never fitted there."""

HEATMAP_COLOURS = "cividis"
"""The colour map of every heatmap: colour-blind-safe, and its lightness rises steadily with the
value, so a heatmap reads the same printed in greyscale."""


def series_style(index: int, lines: bool = True) -> dict[str, Any]:
    """Colour, marker and (if ``lines``) line style of the ``index``-th series of a figure: one
    shared cycle, so series k looks the same in every figure."""
    k = index % len(OKABE_ITO)
    style: dict[str, Any] = {"color": OKABE_ITO[k], "marker": SERIES_MARKERS[k]}
    return style | ({"linestyle": SERIES_LINESTYLES[k]} if lines else {})


FONTS = {
    "stix": {"font.serif": ["STIXGeneral", "DejaVu Serif"], "mathtext.fontset": "stix"},
    "cm": {"font.serif": ["CMU Serif", "STIXGeneral", "DejaVu Serif"], "mathtext.fontset": "cm"},
}
"""Text and mathematics fonts. ``stix`` (the default) ships with matplotlib, covers Unicode and
matches Times-based journal templates; ``cm`` uses Computer Modern (CMU Serif for text when it is
installed, STIX otherwise; Computer Modern for mathematics) to match LaTeX's default fonts. No
LaTeX is needed for either."""

PAPER_STYLE = {
    "font.family": "serif",
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "legend.fontsize": 7,
    "legend.title_fontsize": 7,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "axes.linewidth": 0.6,
    "xtick.major.width": 0.6,
    "ytick.major.width": 0.6,
    "lines.linewidth": 1.2,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.prop_cycle": matplotlib.cycler(color=OKABE_ITO),
    "legend.frameon": False,
    "pdf.fonttype": 42,
    "ps.fonttype": 42,
    "svg.fonttype": "none",
    "svg.hashsalt": "escalation-sim",
    "savefig.dpi": 300,
}
"""One style for every figure: 8-point serif text, no top or right spines, no legend frames,
TrueType (type 42) fonts in PDF, text kept as text in SVG, PNG at 300 dpi."""


NOTEBOOK_DPI = 200
"""Resolution of the PNG a notebook shows (dots per inch)."""
NOTEBOOK_PIXELS_PER_INCH = 100
"""Size at which a notebook shows that PNG (screen pixels per inch of figure)."""

_FONT: ContextVar[str] = ContextVar("paper_style_font", default="stix")
"""The font of the innermost ``paper_style`` block."""


@contextmanager
def paper_style(font: str | None = None) -> Iterator[None]:
    """The paper style inside the block; matplotlib's global settings are left untouched.

    ``font``: "stix" (Times-like, the default) or "cm" (Computer Modern, as in LaTeX). Without it
    a block keeps the font of the block around it, so ``with paper_style(font="cm"):`` reaches
    the figure functions, each of which opens its own block.
    """
    chosen = font or _FONT.get()
    token = _FONT.set(chosen)
    try:
        with matplotlib.rc_context({**PAPER_STYLE, **FONTS[chosen]}):
            yield
    finally:
        _FONT.reset(token)


class PaperFigure(Figure):
    """A matplotlib ``Figure`` that carries the numbers it draws (``data``) and its ``caption``."""

    def __init__(self, width: float = ONE_COLUMN_INCHES, height: float = 2.4) -> None:
        super().__init__(figsize=(width, height), layout="constrained")
        self.data = pd.DataFrame()
        self.caption = ""

    def finish(self, data: pd.DataFrame, caption: str) -> PaperFigure:
        """Attach the numbers drawn and the caption; return the figure."""
        self.data = data.reset_index(drop=True)
        self.caption = caption
        return self

    def _repr_png_(self) -> tuple[bytes, dict[str, int]]:
        """The figure as a PNG, so a notebook shows it inline when it is a cell's value (no
        ``%matplotlib inline`` needed: the figure is made without pyplot). Drawn at 200 dpi and
        shown at 100 pixels per inch, sharp on high-density screens."""
        buffer = io.BytesIO()
        with paper_style():
            self.savefig(buffer, format="png", dpi=NOTEBOOK_DPI)
        width, height = self.get_size_inches() * NOTEBOOK_PIXELS_PER_INCH
        return buffer.getvalue(), {"width": round(width), "height": round(height)}


def traceability(manifest: Mapping[str, Any] | None) -> dict[str, str]:
    """Scenario, seed, n, package version and git commit from any kind of manifest."""
    m = dict(manifest or {})
    scenario = m.get("scenario_name") or m.get("scenario_file")
    if not scenario and m.get("settings"):
        scenario = ", ".join(dict.fromkeys(str(s.get("file")) for s in m["settings"]))
    n = m.get("n") or m.get("n_per_setting") or m.get("base_samples")
    return {
        "scenario": str(scenario),
        "scenario_sha256": str(m.get("scenario_sha256", "")),
        "seed": str(m.get("seed")),
        "n": str(n),
        "version": f"escalation-sim {m.get('package_version')}",
        "commit": str(m.get("git_commit")),
    }


def trace_text(manifest: Mapping[str, Any] | None) -> str:
    """The traceability record as one line, for file metadata and captions."""
    t = traceability(manifest)
    sha = f" (sha256 {t['scenario_sha256'][:12]})" if t["scenario_sha256"] else ""
    return (
        f"scenario {t['scenario']}{sha}, seed {t['seed']}, n {t['n']}, {t['version']}, "
        f"commit {t['commit']}"
    )


def _metadata(fmt: str, caption: str, manifest: Mapping[str, Any] | None) -> dict[str, Any]:
    """File metadata: the trace line everywhere; fixed dates so vector files are reproducible."""
    trace = trace_text(manifest)
    if fmt == "pdf":
        return {
            "Title": caption,
            "Subject": trace,
            "Creator": "escalation-sim",
            "CreationDate": None,
        }
    if fmt == "svg":
        return {"Title": caption, "Description": trace, "Date": None}
    return {"Title": caption, "Description": trace, **traceability(manifest)}


def save_figure(
    figure: PaperFigure,
    stem: str | Path,
    formats: Sequence[str] = ("pdf", "png"),
    manifest: Mapping[str, Any] | None = None,
) -> list[Path]:
    """Write ``stem.csv`` (the numbers drawn) and the figure in each format; return the paths."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    written = [stem.with_suffix(".csv")]
    write_csv_safely(figure.data, written[0])
    with paper_style():
        for fmt in formats:
            path = stem.with_suffix(f".{fmt}")
            figure.savefig(path, format=fmt, metadata=_metadata(fmt, figure.caption, manifest))
            written.append(path)
    return written


SYMBOLS = {">=": "\u2265", "<=": "\u2264"}
"""ASCII comparisons drawn as their signs; every paper font (STIX, and CMU Serif with STIX as
its fallback) has the glyphs."""


def symbols(text: str) -> str:
    """``rung >= 3`` -> ``rung \u2265 3``: labels as a paper would print them."""
    for ascii_sign, sign in SYMBOLS.items():
        text = text.replace(ascii_sign, sign)
    return text


def mean_interval(values: np.ndarray, confidence: float = 0.95) -> tuple[float, float, float]:
    """Mean of independent values with a Student-t interval (the interval is the mean if n < 2)."""
    values = np.asarray(values, dtype=float)
    mean = float(values.mean())
    if len(values) < 2:
        return mean, mean, mean
    half = stats.t.ppf(0.5 + confidence / 2, len(values) - 1) * values.std(ddof=1)
    half = float(half / np.sqrt(len(values)))
    return mean, mean - half, mean + half


def ratio_interval(
    numerators: np.ndarray, denominators: np.ndarray, confidence: float = 0.95
) -> tuple[float, float, float]:
    """Ratio of sums (say leakers per strike) over independent replications, with a
    cluster-robust (delta-method) Student-t interval: strikes within a run are not independent,
    runs are."""
    y = np.asarray(numerators, dtype=float)
    x = np.asarray(denominators, dtype=float)
    ratio = float(y.sum() / x.sum())
    n = len(x)
    if n < 2:
        return ratio, ratio, ratio
    residuals = y - ratio * x
    se = np.sqrt((residuals**2).sum() / (n * (n - 1))) / x.mean()
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * se)
    return ratio, ratio - half, ratio + half


def interval_points(
    axes: Axes, x, y, low, high, horizontal: bool = True, **style
) -> ErrorbarContainer:
    """Points with 95% whiskers, horizontal (around ``x``) or vertical (around ``y``)."""
    style = {"fmt": "o", "ms": 3, "capsize": 2, "lw": 0.8, **style}
    x, y, low, high = (np.asarray(v, dtype=float) for v in (x, y, low, high))
    centre = x if horizontal else y
    # A bootstrap percentile interval may miss its own estimate; whiskers cannot be negative.
    error = [np.maximum(centre - low, 0), np.maximum(high - centre, 0)]
    return axes.errorbar(x, y, **{"xerr" if horizontal else "yerr": error}, **style)


def short_parameter(parameter: str) -> str:
    """``actors.iran.policy.delay.median_days`` -> ``iran delay.median_days``;
    ``proxy[hezbollah>iran].obey_probability`` -> ``proxy[hezbollah>iran] obey_probability``."""
    parts = parameter.split(".")
    if parts[0] == "actors" and "policy" in parts:
        return f"{parts[1]} {'.'.join(parts[parts.index('policy') + 1 :])}"
    if parts[0].endswith("]") and len(parts) > 1:
        return f"{parts[0]} {'.'.join(parts[1:])}"
    return parameter


LOG_FLOOR = 1e-9
"""The lowest bottom of a logarithmic probability axis: no Monte Carlo study resolves less (it
would take 10^9 runs); a smaller positive value sits on the axis's lower edge."""


def probability_limits(low: pd.Series, high: pd.Series, scale: str) -> tuple[float, float]:
    """Probability axis limits scaled to the data, not fixed at 0-1 (rare outcomes would lie
    flat): linear from 0 to a little above the highest interval end (in steps of 0.05, at most
    1); logarithmic from the decade below the lowest positive value to the decade above the
    highest (at most 1), a decade at least; nothing below ``LOG_FLOOR``."""
    if scale == "log":
        positive = np.r_[low[low > 0], high[high > 0]]
        smallest = max(positive.min(), LOG_FLOOR) if len(positive) else 1e-3
        bottom = 10 ** np.floor(np.log10(smallest))
        top = min(1.0, 10 ** np.ceil(np.log10(max(high.max(), bottom))))
        return float(min(bottom, top / 10)), float(top)  # at least a decade, even if all are 1
    top = np.ceil(high.max() * 1.08 / 0.05) * 0.05 if len(high) else 1.0
    return 0.0, float(min(1.0, max(top, 0.05)))


SCALES = ("linear", "log")
"""Scales of a probability axis: ``log`` shows outcomes of 1% beside outcomes of 50%."""


def value_grid(
    axes: Axes,
    cells: pd.DataFrame,
    across: str,
    up: str,
    value: str,
    norm: Any,
    *,
    numbered: bool = True,
    fontsize: float = 6.5,
    hatched: Sequence[bool] | None = None,
) -> Any:
    """Paint a heatmap of ``cells`` (one row per cell: its coordinates in columns ``across`` and
    ``up``, its number in ``value``) on ``axes``: a cell per pair of coordinates in the
    ``HEATMAP_COLOURS`` map on ``norm``, its value written in it (if ``numbered``) in black or white,
    whichever reads on the cell's lightness, and the cells flagged in ``hatched`` hatched.
    Missing or NaN cells are blank. Returns the mesh drawn (for a colour bar)."""
    xs, ys = sorted(cells[across].unique()), sorted(cells[up].unique())
    grid = cells.pivot_table(index=up, columns=across, values=value, dropna=False)
    grid = grid.reindex(index=ys, columns=xs)
    mesh = axes.pcolormesh(
        np.arange(len(xs) + 1) - 0.5,
        np.arange(len(ys) + 1) - 0.5,
        grid.to_numpy(),
        cmap=HEATMAP_COLOURS,
        norm=norm,
    )
    colours = matplotlib.colormaps[HEATMAP_COLOURS]
    flags = [False] * len(cells) if hatched is None else list(hatched)
    for a, b, v, flag in zip(cells[across], cells[up], cells[value], flags, strict=True):
        x, y = xs.index(a), ys.index(b)
        if numbered and np.isfinite(v):
            grey = np.dot(colours(norm(v))[:3], (0.299, 0.587, 0.114))
            ink = "black" if grey > 0.5 else "white"
            axes.text(x, y, f"{v:.2f}", ha="center", va="center", fontsize=fontsize, color=ink)
        if flag:
            axes.add_patch(Rectangle((x - 0.5, y - 0.5), 1, 1, **EXTRAPOLATION_HATCH))
    axes.set_xticks(range(len(xs)), [f"{v:.3g}" for v in xs])
    axes.set_yticks(range(len(ys)), [f"{v:.3g}" for v in ys])
    return mesh
