"""Figures render cleanly, label their axes, show an interval on every estimate, and their CSVs hold
exactly the numbers they draw."""

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import FillBetweenPolyCollection, PolyCollection
from matplotlib.container import ErrorbarContainer

from sim import plots
from sim.compare import Lever, Setting, compare, sweep
from sim.montecarlo import run_study

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
STRONG = ROOT / "scenarios" / "april-2024-strong-us-restraint.yaml"
FAST = {"executor": "serial", "chunk_size": 100}


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    return run_study(APRIL, n=80, out=tmp_path_factory.mktemp("plots") / "run", **FAST)


@pytest.fixture(scope="module")
def tables(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tables")
    swept = sweep(
        APRIL, [Lever.parse("relations.4.pressure=0:1:3")], n=40, out=folder / "sweep", **FAST
    )
    compared = compare(
        [Setting("base", APRIL), Setting("strong", STRONG)], n=40, out=folder / "compare", **FAST
    )
    return swept, compared


def figures(results, tables):
    swept, compared = tables
    return {
        "cumulative": plots.cumulative_rung_probability(results),
        "max-rung": plots.max_rung_distribution(results),
        "paths": plots.path_shares(results),
        "interception": plots.interception_outcomes(results),
        "sweep": plots.sweep_probabilities(swept, "relations.4.pressure"),
        "compare": plots.paired_differences(compared),
    }


def has_interval(axes) -> bool:
    bands = [
        c for c in axes.collections if isinstance(c, FillBetweenPolyCollection | PolyCollection)
    ]
    bars = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    return bool(bands or bars)


@pytest.mark.parametrize("fmt", ["pdf", "svg", "png"])
def test_every_figure_saves_in_every_format_without_warnings(results, tables, tmp_path, fmt):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, (figure, data) in figures(results, tables).items():
            written = plots.save_figure(figure, data, tmp_path / name, [fmt], results.manifest)
            assert all(path.stat().st_size > 0 for path in written)
            assert written[0].suffix == ".csv"


def test_axes_are_labelled_and_every_estimate_has_an_interval(results, tables):
    for name, (figure, _) in figures(results, tables).items():
        for axes in figure.axes:
            assert axes.get_xlabel() and axes.get_ylabel(), name
            assert has_interval(axes), name


def test_csv_holds_the_numbers_drawn(results, tables, tmp_path):
    figure, data = plots.cumulative_rung_probability(results)
    plots.save_figure(figure, data, tmp_path / "cumulative", [], results.manifest)
    saved = pd.read_csv(tmp_path / "cumulative.csv")
    lines = figure.axes[0].get_lines()
    for line, (rung, part) in zip(lines, saved.groupby("rung"), strict=True):
        assert line.get_label().startswith(f"{rung}:")
        assert np.allclose(line.get_ydata(), part.probability)
        assert np.allclose(line.get_xdata(), part.day)
    figure, data = plots.max_rung_distribution(results)
    plots.save_figure(figure, data, tmp_path / "max", [], results.manifest)
    heights = [patch.get_height() for patch in figure.axes[0].patches]
    assert np.allclose(heights, pd.read_csv(tmp_path / "max.csv").probability)
    assert np.isclose(sum(heights), 1.0)


def test_cumulative_probability_ends_at_the_reach_probability(results):
    _, data = plots.cumulative_rung_probability(results, horizon_days=90)
    final = data[data.day == 90].set_index("rung").probability
    for rung, probability in final.items():
        assert probability == pytest.approx((results.runs.max_rung >= rung).mean())


def test_metadata_traces_the_figure_to_scenario_seed_and_version(results, tmp_path):
    figure, data = plots.max_rung_distribution(results)
    (svg,) = [
        p
        for p in plots.save_figure(figure, data, tmp_path / "m", ["svg"], results.manifest)
        if p.suffix == ".svg"
    ]
    text = svg.read_text()
    assert f"seed {results.manifest['seed']}" in text
    assert f"escalation-sim {results.manifest['package_version']}" in text
