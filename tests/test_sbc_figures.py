"""The SBC figures (sim/figures/sbc.py) draw what their tables hold, read in greyscale, and are
written with their numbers."""

import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer, ErrorbarContainer
from PIL import Image
from scipy import stats

from sim.calibration.sbc import summarise_ranks
from sim.figures.sbc import STEMS, coverage_curve, rank_histograms, write_sbc_figures
from tests.test_greyscale import series_pairs, told_apart

DRAWS = 99


def sbc_result(parameters: int, seed: int = 0):
    """Ranks of 300 data sets: uniform, U-shaped, humped and sloped, in turn."""
    rng = np.random.default_rng(seed)
    shapes = [(1, 1), (0.4, 0.4), (3, 3), (1, 2)]
    columns = [rng.binomial(DRAWS, rng.beta(*shapes[i % 4], 300)) for i in range(parameters)]
    names = [f"actors.actor{i}.policy.trait" for i in range(parameters)]
    return summarise_ranks(np.column_stack(columns), DRAWS, names)


@pytest.fixture(scope="module")
def result():
    return sbc_result(4)


def test_rank_histograms_draw_one_panel_per_parameter_with_the_counts_of_the_csv(result):
    figure = rank_histograms(result)
    panels = [axes for axes in figure.axes if axes.get_visible()]
    assert len(panels) == 4
    data = figure.data
    for axes, (p, name) in zip(panels, enumerate(result.names), strict=True):
        part = data[data.parameter == name]
        band, counts = [c for c in axes.containers if isinstance(c, BarContainer)]
        heights = [bar.get_height() for bar in counts]
        assert heights == part["count"].tolist()
        binned = np.bincount(result.ranks[:, p] * len(part) // (DRAWS + 1), minlength=len(part))
        assert heights == binned.tolist()
        assert sum(heights) == 300
        low = stats.binom.ppf(0.005, 300, part.expected / 300)
        assert [bar.get_y() for bar in band] == low.tolist() == part.band_low.tolist()
        assert [bar.get_x() for bar in counts] == part.first_rank.tolist()
        assert ("passes" if result.passed[name] else "fails") in axes.get_title()
    assert data.groupby("parameter")["count"].sum().eq(300).all()


def test_coverage_curve_puts_each_parameters_points_on_its_table_within_the_unit_square(result):
    figure = coverage_curve(result)
    (axes,) = figure.axes
    assert axes.get_xlim() == (0, 1) and axes.get_ylim() == (0, 1)
    diagonal = [line for line in axes.lines if line.get_label() == "calibrated"]
    assert diagonal[0].get_xydata().tolist() == [[0, 0], [1, 1]]
    points = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    data = figure.data
    for container, name in zip(points, result.names, strict=True):
        part = data[data.parameter == name]
        assert container[0].get_ydata().tolist() == part.empirical.tolist()
        assert container[0].get_xdata().tolist() == part.x.tolist()
        assert np.allclose(part.x, part.expected, atol=0.05)
    assert {"level", "expected", "empirical", "ci_low", "ci_high"} <= set(data.columns)


@pytest.mark.parametrize("parameters", [1, 4, 9])
def test_the_series_of_both_figures_differ_in_greyscale(parameters):
    checked = 0
    result = sbc_result(parameters)
    for figure in (rank_histograms(result), coverage_curve(result)):
        for a, b in series_pairs(figure):
            assert told_apart(a[1], b[1]), f"{a[0]!r} and {b[0]!r} look alike in grey"
            checked += 1
    assert checked >= 3


def test_write_sbc_figures_writes_each_png_with_the_numbers_it_plots(tmp_path):
    result = sbc_result(1)
    (tmp_path / f"{STEMS[0]}.png").write_bytes(b"an older figure")
    written = write_sbc_figures(result, tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in written)
    figures = dict(zip(STEMS, (rank_histograms(result), coverage_curve(result)), strict=True))
    for stem, figure in figures.items():
        with Image.open(tmp_path / f"{stem}.png") as image:
            assert image.format == "PNG"
        table = pd.read_csv(tmp_path / f"{stem}.csv")
        numbers = figure.data.select_dtypes("number").columns
        assert np.allclose(table[numbers].to_numpy(float), figure.data[numbers].to_numpy(float))
        assert table.parameter.tolist() == figure.data.parameter.tolist()
