"""Explore and discovery figures (sim.figures.exploration) draw exactly what their data says."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PathCollection, QuadMesh
from matplotlib.patches import Rectangle

from sim.figures.exploration import box_limits, morris_effects, outcome_heatmap, tradeoff_curve


def tradeoff_table() -> pd.DataFrame:
    table = pd.DataFrame(
        {
            "box": [0, 1, 2, 3],
            "coverage": [1.0, 0.95, 0.85, 0.6],
            "density": [0.3, 0.4, 0.8, 0.85],
            "mass": [1.0, 0.7, 0.3, 0.2],
            "restricted": [0, 1, 2, 2],
            "chosen": [False, False, True, False],
        }
    )
    for name, (low, high) in {"coverage": (0.8, 0.9), "density": (0.75, 0.86)}.items():
        table[f"{name}_low"] = np.where(table["chosen"], low, np.nan)
        table[f"{name}_high"] = np.where(table["chosen"], high, np.nan)
    return table


def test_the_tradeoff_curve_draws_every_box_and_the_chosen_interval():
    figure = tradeoff_curve(tradeoff_table(), "rung>=4")
    axes = figure.axes[0]
    drawn = np.vstack([c.get_offsets() for c in axes.collections if type(c) is PathCollection])
    expected = figure.data[["coverage", "density"]].to_numpy()
    assert sorted(map(tuple, drawn)) == sorted(map(tuple, expected))
    whiskers = [c for c in axes.collections if type(c) is not PathCollection]
    segments = np.array([seg for c in whiskers for seg in c.get_segments()])
    assert {0.8, 0.9} <= set(np.round(segments[:, :, 0].ravel(), 6))
    assert {0.75, 0.86} <= set(np.round(segments[:, :, 1].ravel(), 6))
    assert "coverage 0.85 (0.80-0.90), density 0.80 (0.75-0.86)" in figure.caption
    assert "rung\u22654" in figure.caption


def box_table() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "factor": ["a", "variant", "b"],
            "categories": ["", "no-allies", ""],
            "low": [2.0, np.nan, 0.0],
            "high": [10.0, np.nan, 3.0],
            "range_low": [0.0, np.nan, 0.0],
            "range_high": [10.0, np.nan, 4.0],
            "low_q025": [1.5, np.nan, 0.0],
            "low_q975": [2.5, np.nan, 0.0],
            "high_q025": [10.0, np.nan, 2.8],
            "high_q975": [10.0, np.nan, 3.4],
            "qp_low": [1e-9, 1e-5, np.nan],
            "qp_high": [np.nan, np.nan, 1e-4],
            "restricted_share": [1.0, 0.9, 0.8],
        }
    )


def test_box_limits_draw_the_box_within_each_range_with_the_half_study_spread():
    figure = box_limits(box_table())
    axes = figure.axes[0]
    bars = [p for p in axes.patches if isinstance(p, Rectangle)]
    boxes = [(round(p.get_x(), 6), round(p.get_width(), 6)) for p in bars if p.get_width() < 1]
    assert boxes == [(0.2, 0.8), (0.0, 0.75)]
    assert figure.data.loc[0, "low_q025_scaled"] == pytest.approx(0.15)
    spreads = {tuple(np.round(line.get_xdata(), 6)) for line in axes.lines}
    assert spreads == {(0.15, 0.25), (0.7, 0.85)}  # only the restricted sides
    texts = {t.get_text() for t in axes.texts}
    assert {"2", "3", "in {no-allies}"} <= texts


def grid_table() -> pd.DataFrame:
    a, b = np.meshgrid([0.0, 0.5, 1.0], [10.0, 20.0])
    return pd.DataFrame(
        {"a": a.ravel(), "b": b.ravel(), "estimate": np.linspace(0.1, 0.6, 6), "ci_low": 0.0}
    )


def test_a_grid_heatmap_draws_one_cell_per_point():
    figure = outcome_heatmap(grid_table(), "a", "b", label="P(rung>=4)")
    mesh = next(c for c in figure.axes[0].collections if isinstance(c, QuadMesh))
    drawn = np.asarray(mesh.get_array()).reshape(2, 3)
    expected = figure.data.pivot(index="b", columns="a", values="estimate").to_numpy()
    np.testing.assert_allclose(drawn, expected)
    assert sorted(t.get_text() for t in figure.axes[0].texts) == sorted(
        f"{v:.2f}" for v in figure.data["estimate"]
    )
    assert "ci_low" in figure.data
    assert "P(rung\u22654)" in figure.caption


def test_a_binned_heatmap_averages_the_points_of_each_cell():
    rng = np.random.default_rng(4)
    table = pd.DataFrame({"a": rng.uniform(size=300), "b": rng.uniform(size=300)})
    table["estimate"] = table["a"] + 10 * table["b"]
    figure = outcome_heatmap(table, "a", "b", bins=3)
    data = figure.data
    assert data["points"].sum() == 300
    cell = data.iloc[0]
    members = table[
        (np.abs(table["a"] - cell["across_cell"]) <= 1 / 6 + 1e-3)
        & (np.abs(table["b"] - cell["up_cell"]) <= 1 / 6 + 1e-3)
    ]
    assert cell["estimate"] == pytest.approx(members["estimate"].mean(), rel=0.02)
    mesh = next(c for c in figure.axes[0].collections if isinstance(c, QuadMesh))
    np.testing.assert_allclose(
        np.sort(np.asarray(mesh.get_array()).ravel()), np.sort(data["estimate"])
    )


def test_a_heatmap_of_scattered_points_needs_bins():
    table = pd.DataFrame({"a": [0.1, 0.1], "b": [0.2, 0.2], "estimate": [0.3, 0.4]})
    with pytest.raises(ValueError, match="several points share a cell; not a grid: give bins"):
        outcome_heatmap(table, "a", "b")


def test_morris_draws_mu_star_with_its_interval_against_sigma():
    table = pd.DataFrame(
        {
            "factor": ["x", "y"],
            "mu_star": [0.2, 0.6],
            "mu_star_conf": [0.05, 0.1],
            "sigma": [0.3, 0.1],
        }
    )
    figure = morris_effects(table, "rung>=5")
    data = figure.data
    assert list(data["factor"]) == ["y", "x"]
    np.testing.assert_allclose(data["mu_star_low"], [0.5, 0.15])
    axes = figure.axes[0]
    points = next(line for line in axes.lines if line.get_marker() == "o")
    np.testing.assert_allclose(points.get_xdata(), data["mu_star"])
    np.testing.assert_allclose(points.get_ydata(), data["sigma"])
    whiskers = np.array([seg for c in axes.collections for seg in c.get_segments()])
    np.testing.assert_allclose(sorted(map(tuple, whiskers[:, :, 0])), [(0.15, 0.25), (0.5, 0.7)])
    assert "most influential factor is y" in figure.caption
