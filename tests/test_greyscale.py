"""Every figure reads in greyscale print: within each panel, the series a legend names differ by
marker, line style, hatch or fill, or else by a clearly different grey level; and a heatmap,
rendered and converted to greyscale, still orders its cells by value."""

import io
from itertools import combinations

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection, QuadMesh
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from PIL import Image

from sim import plots
from tests.test_plots import make_figures, results, sweep_table  # noqa: F401 (a fixture)

GREY_STEP = 0.1
"""The least difference in grey level (0 black, 1 white) that tells two series apart in print
when nothing else does: about 25 of a PNG's 256 levels."""
SERIES_FIGURES = ("cumulative", "sweep", "compare", "sobol", "calibration", "timeline")
"""Figures with a legend of several series: each must have at least one pair to check."""


def grey(colour) -> float:
    """A colour's grey level as greyscale conversion gives it (ITU-R 601 luma, PIL's "L")."""
    r, g, b = matplotlib.colors.to_rgb(colour)
    return 0.299 * r + 0.587 * g + 0.114 * b


def line_look(line: Line2D) -> tuple[tuple, float]:
    """A line's shape (marker, dash pattern, hollow markers) and grey level."""
    hollow = str(line.get_markerfacecolor()) == "none"
    dashes = line.get_linestyle(), getattr(line, "_unscaled_dash_pattern", None)
    return ("line", line.get_marker(), dashes, hollow), grey(line.get_color())


def look(handle) -> tuple[tuple, float]:
    """What a legend entry's artist looks like without colour: its shape and its grey level."""
    if isinstance(handle, ErrorbarContainer):
        shape, level = line_look(handle[0]) if handle[0] is not None else (("none",), 0.0)
        return ("errorbar", shape), level
    if isinstance(handle, Line2D):
        return line_look(handle)
    if isinstance(handle, BarContainer):
        return look(handle.patches[0])
    if isinstance(handle, Patch):
        return ("patch", handle.get_hatch()), grey(handle.get_facecolor())
    if isinstance(handle, PathCollection):
        path = tuple(map(tuple, handle.get_paths()[0].vertices.round(3)))
        return ("markers", path), grey(handle.get_facecolor()[0])
    if isinstance(handle, LineCollection):
        return ("segments", str(handle.get_linestyle())), grey(handle.get_color()[0])
    if isinstance(handle, tuple):  # after the containers, which are tuples too
        parts = [look(h) for h in handle]
        return tuple(p[0] for p in parts), parts[0][1]
    raise AssertionError(f"no greyscale look for a {type(handle).__name__}")


def series_pairs(figure) -> list[tuple]:
    """Each pair of series one panel's legend names, as ((label, look), (label, look))."""
    pairs = []
    for axes in figure.axes:
        handles, labels = axes.get_legend_handles_labels()
        entries = dict(zip(labels, handles, strict=True))
        pairs += combinations([(label, look(h)) for label, h in entries.items()], 2)
    return pairs


def told_apart(a, b) -> bool:
    (shape_a, grey_a), (shape_b, grey_b) = a, b
    return shape_a != shape_b or abs(grey_a - grey_b) >= GREY_STEP


def five_outcome_sweep() -> pd.DataFrame:
    """A sweep of five outcomes, as ``sim sweep`` gives by default."""
    rows = [
        sweep_table().assign(outcome=f"rung>={rung}", label=f"P(rung>={rung})")
        for rung in range(2, 7)
    ]
    return pd.concat(rows, ignore_index=True)


@pytest.fixture(scope="module")
def figures(results):  # noqa: F811 (the fixture imported above)
    from sim.figures.gallery import _april_like

    return make_figures(results) | {
        "sweep-5": plots.sweep_probabilities(five_outcome_sweep()),
        "timeline-april": plots.run_timeline(results, _april_like(results)),  # every layer busy
    }


def test_every_figures_series_differ_in_greyscale(figures):
    checked = set()
    for name, figure in figures.items():
        for a, b in series_pairs(figure):
            assert told_apart(a[1], b[1]), f"{name}: {a[0]!r} and {b[0]!r} look alike in grey"
            checked.add(name)
    assert set(SERIES_FIGURES) | {"sweep-5", "timeline-april"} <= checked, (
        "a series figure was not checked"
    )


def test_the_shared_series_cycle_tells_eight_series_apart_without_colour():
    from sim.figures.style import series_style

    looks = {(s["marker"], str(s["linestyle"])) for s in map(series_style, range(8))}
    assert len(looks) == 8


def rendered_grey(figure, dpi: float = 100) -> np.ndarray:
    """The figure drawn as a PNG and converted to greyscale, as rows of 0-255 levels."""
    buffer = io.BytesIO()
    with plots.paper_style():
        figure.savefig(buffer, format="png", dpi=dpi)
    return np.asarray(Image.open(buffer).convert("L"), dtype=float)


def test_a_heatmap_in_greyscale_still_orders_its_cells_by_value(figures):
    """Rendered and converted to greyscale, a higher probability is a lighter cell, in every
    panel and across panels (one colour scale), so the heatmap needs no colour to be read."""
    figure = figures["sweep-2"]
    pixels = rendered_grey(figure, dpi=figure.dpi)
    height = pixels.shape[0]
    cells = []
    for axes in figure.axes:
        meshes = [c for c in axes.collections if isinstance(c, QuadMesh)]
        if not meshes or axes.get_label() == "<colorbar>":
            continue
        values = meshes[0].get_array().reshape(len(axes.get_yticks()), -1)
        for (row, column), value in np.ndenumerate(values):
            # a corner of the cell, clear of the number written in its centre
            x, y = axes.transData.transform((column - 0.35, row - 0.35))
            cells.append((value, pixels[round(height - y), round(x)]))
    cells = np.array(sorted(cells))
    assert len(cells) == 32
    distinct = np.diff(cells[:, 0]) > 0.02
    assert (np.diff(cells[:, 1])[distinct] > 0).all(), "a higher value drawn no lighter"
