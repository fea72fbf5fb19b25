"""Figures render cleanly in every format, label their axes, show an interval on every estimate,
write CSVs that hold exactly the numbers drawn, and carry the study's trace in their metadata."""

import warnings
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st
from matplotlib.collections import LineCollection, PolyCollection, QuadMesh
from matplotlib.container import BarContainer, ErrorbarContainer

import sim
from sim import plots
from sim.cli.main import main
from sim.figures.studies import path_labels
from sim.figures.style import ratio_interval
from sim.study.results import ResultsError, wilson_interval

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"


@pytest.fixture(scope="session")
def results(tmp_path_factory):
    out = tmp_path_factory.mktemp("plots") / "run"
    return sim.run(APRIL, n=60, workers=1, executor="serial", out=out)


def sweep_table(levers=("restrains[us>israel].pressure",)) -> pd.DataFrame:
    """A ``sim sweep`` table: lever column(s), setting, outcome, label, probability with CI."""
    grid = pd.MultiIndex.from_product([np.linspace(0, 1, 4)] * len(levers), names=levers)
    rows = []
    for outcome, base in (("rung>=4", 0.5), ("rung>=6", 0.1)):
        for i, point in enumerate(grid):
            p = base * (1 - 0.5 * np.mean(point))
            rows.append(
                dict(zip(levers, point, strict=True))
                | {
                    "setting": f"point-{i:03d}",
                    "outcome": outcome,
                    "label": f"P({outcome})",
                    "probability": p,
                    "ci_low": p - 0.05,
                    "ci_high": p + 0.04,
                }
            )
    return pd.DataFrame(rows)


def compare_table() -> pd.DataFrame:
    """A ``sim compare`` table: the first setting is the baseline; diff_* bound the difference."""
    rows = []
    for setting, shift in (("base", 0.0), ("strong", -0.1), ("restrained", -0.2)):
        for outcome in ("rung>=4", "rung>=6"):
            rows.append(
                {
                    "setting": setting,
                    "outcome": outcome,
                    "probability": 0.4 + shift,
                    "ci_low": 0.3 + shift,
                    "ci_high": 0.5 + shift,
                    "difference": shift,
                    "diff_ci_low": shift - 0.03,
                    "diff_ci_high": shift + 0.02,
                }
            )
    return pd.DataFrame(rows)


def sobol_table() -> pd.DataFrame:
    """A ``sim sensitivity`` table, one row per outcome and parameter."""
    rows = []
    for outcome in ("rung>=6", "rung>=4"):
        for parameter, s in (
            ("actors.iran.policy.self_restraint", 0.4),
            ("restrains[us>israel].pressure", 0.1),
        ):
            rows.append(
                {
                    "outcome": outcome,
                    "parameter": parameter,
                    "first_order": s,
                    "first_order_low": s - 0.1,
                    "first_order_high": s + 0.1,
                    "total": s + 0.1,
                    "total_low": s,
                    "total_high": s + 0.2,
                }
            )
    return pd.DataFrame(rows)


def calibration_tables() -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A posterior sample, uniform priors (parameter, low, high) and a predictive sample."""
    rng = np.random.default_rng(7)
    posterior = pd.DataFrame({"a.b": rng.uniform(0, 1, 200), "c.d": rng.normal(10, 2, 200)})
    priors = pd.DataFrame({"parameter": ["a.b", "c.d"], "low": [0.0, 0.0], "high": [1.0, 20.0]})
    predictive = pd.DataFrame(
        {
            "target": ["delay"] * 100 + ["projectiles"] * 100 + ["responds"] * 100,
            "observed": [12.9] * 100 + [300] * 100 + [1] * 100,
            "simulated": np.r_[
                rng.normal(14, 4, 100), rng.normal(280, 50, 100), rng.uniform(0, 1, 100) < 0.7
            ],
        }
    )
    return posterior, priors, predictive


def make_figures(results) -> dict[str, plots.PaperFigure]:
    posterior, priors, predictive = calibration_tables()
    figures = {name: draw(results) for name, draw in plots.RESULTS_FIGURES.items()}
    return figures | {
        "sweep": plots.sweep_probabilities(sweep_table()),
        "sweep-2": plots.sweep_probabilities(sweep_table(("a.x", "b.y"))),
        "compare": plots.paired_differences(compare_table()),
        "sobol": plots.sobol_indices(sobol_table()),
        "calibration": plots.prior_posterior(posterior, priors),
        "predictive": plots.predictive_check(predictive),
    }


@pytest.fixture(scope="session")
def figures(results):
    return make_figures(results)


def has_interval(axes) -> bool:
    bands = [c for c in axes.collections if isinstance(c, PolyCollection | LineCollection)]
    return bool(bands or [c for c in axes.containers if isinstance(c, ErrorbarContainer)])


BAND_FIGURES = ("cumulative", "sweep")
"""Figures that draw estimates as lines, each with a band (``fill_between``)."""
HEATMAP_FIGURES = ("sweep-2",)
"""Figures that draw estimates as the cells of a heatmap, their intervals in ``data``."""
BAR_FIGURES = ("max-rung", "interception", "compare", "sobol", "calibration", "predictive")
"""Figures that draw estimates as bars or points, each with an error bar."""
TOL = 1e-9


def data_lines(axes, ignore=()) -> list:
    """The lines of an axes that draw data: in data coordinates (not ``axvline``), not empty
    (not a legend's stand-in), not an error bar's cap, and not of a marker in ``ignore``."""
    caps = {id(cap) for c in axes.containers if isinstance(c, ErrorbarContainer) for cap in c[1]}
    return [
        line
        for line in axes.get_lines()
        if line.get_transform() is axes.transData
        and len(line.get_xdata())
        and id(line) not in caps
        and line.get_marker() not in ignore
    ]


def band_extent(band, x: float) -> tuple[float, float]:
    """Lowest and highest y of a band at ``x``: its polygon cut by a vertical line."""
    ys = []
    for path in band.get_paths():
        v = path.vertices
        for (x0, y0), (x1, y1) in zip(v, np.roll(v, -1, axis=0), strict=True):
            if abs(x1 - x0) <= TOL:
                ys += [y0, y1] if abs(x0 - x) <= TOL else []
            elif min(x0, x1) - TOL <= x <= max(x0, x1) + TOL:
                ys.append(y0 + (y1 - y0) * (x - x0) / (x1 - x0))
    return (min(ys), max(ys)) if ys else (np.nan, np.nan)


def band_vertices(band, x: float) -> np.ndarray:
    """The y of every corner of a band's polygon at ``x``."""
    v = np.concatenate([path.vertices for path in band.get_paths()])
    return v[np.abs(v[:, 0] - x) <= TOL, 1]


def line_at(line, xs: np.ndarray) -> np.ndarray:
    """The y a line draws at each of ``xs`` (a ``steps-post`` line holds its value to the next x)."""
    x, y = np.asarray(line.get_xdata(), float), np.asarray(line.get_ydata(), float)
    if line.get_drawstyle() == "steps-post":
        return y[np.searchsorted(x, xs, side="right") - 1]
    return np.interp(xs, x, y)


def band_brackets(band, line) -> bool:
    """The band spans the line's x range and its edges bracket the line everywhere on it (at
    every point and between points)."""
    x = np.asarray(line.get_xdata(), float)
    xs = np.union1d(x, (x[1:] + x[:-1]) / 2)
    corners = np.concatenate([path.vertices for path in band.get_paths()])
    if not np.allclose([corners[:, 0].min(), corners[:, 0].max()], [x.min(), x.max()]):
        return False
    extent = np.array([band_extent(band, v) for v in xs])
    y = line_at(line, xs)
    return bool(((extent[:, 0] <= y + TOL) & (y <= extent[:, 1] + TOL)).all())


def assert_every_line_has_its_band(axes, name: str) -> None:
    """Each estimate line has a band of its colour covering its x range and bracketing it."""
    bands = [c for c in axes.collections if isinstance(c, PolyCollection)]
    lines = data_lines(axes)
    assert lines, name
    for line in lines:
        colour = matplotlib.colors.to_rgb(line.get_color())
        own = [b for b in bands if np.allclose(b.get_facecolor()[0][:3], colour)]
        assert any(band_brackets(b, line) for b in own), (name, line.get_label())


def assert_band_is(band, line, low, high, name: str) -> None:
    """The band's edges at the line's points are ``low`` and ``high`` (for a ``steps-post``
    band, on the step from each point, and at its corners)."""
    x = np.asarray(line.get_xdata(), float)
    low, high = np.asarray(low, float), np.asarray(high, float)
    steps = line.get_drawstyle() == "steps-post"
    at = (x[1:] + x[:-1]) / 2 if steps else x
    extent = np.array([band_extent(band, v) for v in at])
    n = len(at)
    assert np.allclose(extent[:, 0], low[:n]) and np.allclose(extent[:, 1], high[:n]), name
    for xi, lo, hi in zip(x, low, high, strict=True):
        corners = band_vertices(band, xi)
        assert np.isclose(corners, lo).any() and np.isclose(corners, hi).any(), (name, xi)


def whiskers(container) -> np.ndarray:
    """Each whisker of an error bar as (position across it, low end, high end)."""
    horizontal = container.has_xerr
    rows = []
    for segment in container[2][0].get_segments():
        along, across = (segment[:, 0], segment[:, 1]) if horizontal else segment.T[::-1]
        assert np.allclose(across, across[0])  # a whisker runs along one axis
        rows.append((across[0], along.min(), along.max()))
    return np.array(rows)


def estimates(axes, ignore=()) -> tuple[list, list]:
    """The estimates an axes draws, as (x, y, the axis the interval runs along), and the
    whiskers of its error bars as (container, whiskers)."""
    bars = [c for c in axes.containers if isinstance(c, BarContainer)]
    errorbars = [c for c in axes.containers if isinstance(c, ErrorbarContainer)]
    points = []
    for container in bars:
        for patch in container:
            if container.orientation == "vertical":
                points.append((patch.get_x() + patch.get_width() / 2, patch.get_height(), "y"))
            else:
                points.append((patch.get_width(), patch.get_y() + patch.get_height() / 2, "x"))
    for line in data_lines(axes, ignore):
        axis = "x"
        for c in errorbars:
            if c[0] is line:
                axis = "x" if c.has_xerr else "y"
        points += [(x, y, axis) for x, y in zip(line.get_xdata(), line.get_ydata(), strict=True)]
    return points, [(c, whiskers(c)) for c in errorbars]


def assert_every_estimate_has_its_error_bar(axes, name: str, ignore=()) -> None:
    """Every bar and every point drawn (but markers in ``ignore``: observations) sits on an error
    bar whose ends bracket it."""
    points, errorbars = estimates(axes, ignore)
    assert points, name
    for x, y, axis in points:
        centre, across = (x, y) if axis == "x" else (y, x)
        assert any(
            np.isclose(w[0], across) and w[1] - TOL <= centre <= w[2] + TOL
            for c, ws in errorbars
            if (c.has_xerr if axis == "x" else c.has_yerr)
            for w in ws
        ), (name, x, y)


def labelled(axis, shared) -> bool:
    """An axis with tick labels has a label, its own or a shared sibling's."""
    ticks = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
    return not ticks or bool(axis.get_label_text()) or any(s.get_label_text() for s in shared)


def test_every_figure_renders_in_every_format_without_warnings(results, tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for name, figure in make_figures(results).items():
            written = plots.save_figure(figure, tmp_path / name, ["pdf", "svg", "png"])
            assert [p.suffix for p in written] == [".csv", ".pdf", ".svg", ".png"]
            assert all(path.stat().st_size > 0 for path in written), name
            assert figure.caption, name


def test_figures_are_sized_for_journal_columns(figures):
    for name, figure in figures.items():
        assert figure.get_figwidth() in (3.5, 7.2), name


def test_axes_are_labelled(figures):
    for name, figure in figures.items():
        for axes in figure.axes:
            if not axes.axison:
                continue
            xs = [a.xaxis for a in axes.get_shared_x_axes().get_siblings(axes) if a is not axes]
            ys = [a.yaxis for a in axes.get_shared_y_axes().get_siblings(axes) if a is not axes]
            assert labelled(axes.xaxis, xs) and labelled(axes.yaxis, ys), name


def test_every_estimate_has_an_interval(figures):
    for name, figure in figures.items():
        if name in ("timeline", "path-tree"):
            continue  # no estimates / intervals as text: see the two tests below
        for axes in figure.axes:
            if axes.axison and name not in HEATMAP_FIGURES:  # see the heatmap's own test
                assert has_interval(axes), name
                if name in BAND_FIGURES:
                    assert_every_line_has_its_band(axes, name)
                else:
                    assert name in BAR_FIGURES, f"{name}: say how its estimates are drawn"
                    # the observed value; an interval beyond the Sobol axis's arrowheads
                    ignore = {"predictive": ("D",), "sobol": ("<", ">")}.get(name, ())
                    assert_every_estimate_has_its_error_bar(axes, name, ignore)
        data = figure.data
        value = next(
            c
            for c in (
                "probability",
                "estimate",
                "difference",
                "first_order",
                "median",
                "scaled_median",
            )
            if c in data
        )
        low, high = ("q05", "q95") if value == "median" else ("ci_low", "ci_high")
        if value == "scaled_median":
            low, high = "scaled_q05", "scaled_q95"
        if value == "first_order":
            low, high = "first_order_low", "first_order_high"
        assert (data[low] <= data[value] + 1e-12).all() and (data[value] <= data[high]).all(), name


def test_path_tree_labels_every_branch_with_its_interval(figures):
    figure = figures["path-tree"]
    texts = [t.get_text() for t in figure.axes[0].texts]
    for row in figure.data.itertuples():
        assert any(f"{row.share:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]" in t for t in texts)
    assert (figure.data.share >= 0.02).all()
    root = figure.data[figure.data.step == 1]
    assert root.share.sum() == pytest.approx(1.0)


def test_path_tree_shares_are_shares_of_runs(results, figures):
    data = figures["path-tree"].data
    for row in data[data.strike != "(no further strike)"].itertuples():
        expected = results.runs.path.map(lambda p, b=row.branch: (p + " ").startswith(b + " "))
        assert row.runs == expected.sum()


def test_timeline_draws_one_run_from_the_events_table(results, figures):
    figure = figures["timeline"]
    replication = int(figure.data.replication.iloc[0])
    log = results.events[results.events.replication == replication]
    strikes, bars = figure.axes[0], figure.axes[1]
    assert len(strikes.get_lines()[0].get_xdata()) == (log.kind == "strike").sum()
    leakers = next(c for c in bars.containers if c.get_label() == "leakers")
    outcomes = log[log.kind == "outcome"]
    assert [p.get_height() for p in leakers] == list(outcomes.leaked)
    assert (figure.data.kind == "wave").sum() == (log.kind == "wave").sum() > 0


def test_timeline_of_a_log_from_before_waves_were_logged(results):
    """Results written before the wave events: no wave columns or rows. The timeline still
    draws, labelling each strike with the projectiles its outcome counted."""
    events = results.events[results.events.kind != "wave"]
    older = events.drop(
        columns=["count", "launch_hours", "first_arrival_hours", "last_arrival_hours"]
    )
    replication = int(older[(older.kind == "outcome") & (older.launched > 0)].replication.iloc[0])
    figure = plots.run_timeline(older, replication)
    outcomes = older[(older.replication == replication) & (older.kind == "outcome")]
    strikes = figure.data[figure.data.kind == "strike"].set_index("strike_id").launched
    assert strikes.to_dict() == outcomes.set_index("strike_id").launched.to_dict()
    assert not (figure.data.kind == "wave").any()


@pytest.fixture(scope="session")
def saved(figures, tmp_path_factory) -> dict[str, pd.DataFrame]:
    """Each figure's CSV, written by ``save_figure`` and read back."""
    folder = tmp_path_factory.mktemp("csv")
    for name in figures:
        plots.save_figure(figures[name], folder / name, [])
    return {name: pd.read_csv(folder / f"{name}.csv") for name in figures}


def errorbars(axes) -> list:
    return [c for c in axes.containers if isinstance(c, ErrorbarContainer)]


def test_csv_holds_the_numbers_drawn(figures, saved):
    cumulative = figures["cumulative"].axes[0]
    bands = [c for c in cumulative.collections if isinstance(c, PolyCollection)]
    groups = saved["cumulative"].groupby("rung")
    for line, band, (rung, part) in zip(cumulative.get_lines(), bands, groups, strict=True):
        assert line.get_label().startswith(f"{rung} ")
        assert np.allclose(line.get_xdata(), part.day) and np.allclose(
            line.get_ydata(), part.probability
        )
        assert_band_is(band, line, part.ci_low, part.ci_high, f"cumulative rung {rung}")
    heights = [p.get_height() for p in figures["max-rung"].axes[0].patches]
    assert np.allclose(heights, saved["max-rung"].probability) and np.isclose(sum(heights), 1)
    (interval,) = errorbars(figures["max-rung"].axes[0])
    drawn = whiskers(interval)
    max_rung = saved["max-rung"]
    assert np.allclose(drawn, max_rung[["rung", "ci_low", "ci_high"]].to_numpy())
    interception = saved["interception"]
    shown = interception[interception.estimate > 0]
    drawn = [
        x for a in figures["interception"].axes for c in errorbars(a) for x in c[0].get_xdata()
    ]
    assert np.allclose(drawn, shown.estimate)
    drawn = np.concatenate(
        [whiskers(c)[:, 1:] for a in figures["interception"].axes for c in errorbars(a)]
    )
    assert np.allclose(drawn, shown[["ci_low", "ci_high"]].to_numpy())
    sweep = figures["sweep"].axes[0]
    bands = [c for c in sweep.collections if isinstance(c, PolyCollection)]
    groups = saved["sweep"].groupby("outcome")
    for line, band, (outcome, part) in zip(sweep.get_lines(), bands, groups, strict=True):
        assert np.allclose(line.get_ydata(), part.probability)
        assert np.allclose(line.get_xdata(), part["restrains[us>israel].pressure"])
        assert_band_is(band, line, part.ci_low, part.ci_high, f"sweep {outcome}")
    points = figures["compare"].axes[0].containers
    drawn = np.concatenate([c.lines[0].get_xdata() for c in points])
    assert np.allclose(np.sort(drawn), np.sort(saved["compare"].difference))
    compare = saved["compare"]
    for container, setting in zip(points, dict.fromkeys(compare.setting), strict=True):
        part = compare[compare.setting == setting]
        assert container.get_label() == setting
        assert np.allclose(container.lines[0].get_xdata(), part.difference)
        assert np.allclose(whiskers(container)[:, 1:], part[["ci_low", "ci_high"]].to_numpy())
    medians = np.concatenate(
        [
            c.lines[0].get_xdata()
            for c in figures["calibration"].axes[0].containers
            if c.lines[0] is not None
        ]
    )
    assert np.allclose(np.sort(medians), np.sort(saved["calibration"].scaled_median))
    thin_thick = list(zip(*[iter(figures["calibration"].axes[0].containers)] * 2, strict=True))
    groups = saved["calibration"].groupby("source", sort=False)
    for (thin, thick), (source, part) in zip(thin_thick, groups, strict=True):
        assert thin.get_label() == f"{source}, 90%" and thick.lines[0] is None
        assert np.allclose(thin.lines[0].get_xdata(), part.scaled_median)
        assert np.allclose(whiskers(thin)[:, 1:], part[["scaled_q05", "scaled_q95"]].to_numpy())
        assert np.allclose(whiskers(thick)[:, 1:], part[["scaled_q25", "scaled_q75"]].to_numpy())


def test_predictive_csv_holds_the_bars_drawn(figures, saved):
    panels = [a for a in figures["predictive"].axes if a.axison]
    for axes, row in zip(panels, saved["predictive"].itertuples(), strict=True):
        assert axes.get_xlabel().startswith(row.target)
        thin = axes.containers[0]
        assert np.allclose(thin.lines[0].get_xdata(), [row.estimate])
        (segment,) = thin.lines[2][0].get_segments()
        assert np.allclose(segment[:, 0], [row.ci_low, row.ci_high])
        if row.statistic == "median":
            _, thick = axes.containers
            assert np.allclose(whiskers(thick), [[0, row.q25, row.q75]])
        else:
            assert len(axes.containers) == 1 and np.isnan(row.q25) and np.isnan(row.q75)
        (observed,) = [line for line in axes.get_lines() if line.get_marker() == "D"]
        assert np.allclose(observed.get_xdata(), [row.observed])


def test_sobol_csv_holds_the_indices_and_intervals_drawn(figures, saved):
    from sim.figures.style import short_parameter as _short
    from sim.figures.style import symbols

    data = saved["sobol"]
    panels = figures["sobol"].axes
    names = panels[0].get_yticklabels()
    ticks = {
        round(t): label.get_text() for t, label in zip(panels[0].get_yticks(), names, strict=True)
    }
    for axes, (outcome, part) in zip(panels, data.groupby("outcome", sort=False), strict=True):
        assert axes.get_title() == symbols(outcome)
        assert axes in panels[0].get_shared_y_axes().get_siblings(panels[0])  # one set of names
        for container, kind in zip(errorbars(axes), ("first_order", "total"), strict=True):
            assert container.get_label() == kind.replace("_", " ")
            assert np.allclose(container.lines[0].get_xdata(), part[kind])
            drawn = whiskers(container)
            assert np.allclose(drawn[:, 1:], part[[f"{kind}_low", f"{kind}_high"]].to_numpy())
            names = [ticks[round(y)] for y in drawn[:, 0]]
            assert names == [_short(p) for p in part.parameter]


def test_two_lever_sweep_is_a_heatmap_whose_csv_holds_each_cell_and_its_interval(figures, saved):
    data = saved["sweep-2"]
    panels = [a for a in figures["sweep-2"].axes if a.get_label() != "<colorbar>"]
    table = sweep_table(("a.x", "b.y"))
    for axes, (outcome, part) in zip(panels, data.groupby("outcome", sort=False), strict=True):
        assert axes.get_title() == part.outcome_label.iloc[0]
        assert axes.get_xlabel() == "a.x" and panels[0].get_ylabel() == "b.y"
        (mesh,) = [c for c in axes.collections if isinstance(c, QuadMesh)]
        grid = part.pivot_table(index="b.y", columns="a.x", values="probability")
        assert np.allclose(mesh.get_array().reshape(grid.shape), grid.to_numpy())
        texts = sorted(t.get_text() for t in axes.texts)
        assert texts == sorted(f"{p:.2f}" for p in part.probability)
        given = table[table.outcome == outcome].sort_values(["b.y", "a.x"])
        assert np.allclose(part[["ci_low", "ci_high"]], given[["ci_low", "ci_high"]])
    assert len({a.collections[0].norm.vmax for a in panels}) == 1, "one colour scale"


def test_timeline_csv_holds_the_strikes_decisions_and_bars_drawn(figures, saved):
    data = saved["timeline"]
    top, bottom = figures["timeline"].axes
    actors = [t.get_text() for t in top.get_yticklabels()]
    strikes, answers, silences = top.get_lines()
    rows = data[data.kind == "strike"]
    assert np.allclose(strikes.get_xdata(), rows.time_hours / 24)
    assert list(strikes.get_ydata()) == [actors.index(a) for a in rows.attacker]
    labels = [t.get_text() for t in top.texts]
    assert labels == [f"{r.target}, {int(r.rung)} ({int(r.launched)})" for r in rows.itertuples()]
    decisions = data[data.kind == "decision"]
    for line, respond in ((answers, "True"), (silences, "False")):
        chosen = decisions[decisions.respond.astype(str) == respond]
        assert np.allclose(line.get_xdata(), chosen.time_hours / 24)
        assert list(line.get_ydata()) == [actors.index(a) for a in chosen.actor]
    waves = data[data.kind == "wave"]
    assert len(waves) > 0, "the timeline's run launches no projectiles: the check is empty"
    drawn = {c.get_label(): c for c in top.collections if c.get_label().endswith(" wave")}
    assert sorted(drawn) == [f"{w} wave" for w in sorted(waves.weapon.unique())]
    for weapon, chosen in waves.groupby("weapon"):
        segments = drawn[f"{weapon} wave"].get_segments()
        assert np.allclose([s[0][0] for s in segments], chosen.launch_hours / 24)
        assert np.allclose([s[1][0] for s in segments], chosen.last_arrival_hours / 24)
        below = [actors.index(a) for a in chosen.attacker]  # just below the attacker's row
        assert all(r - 0.5 < s[0][1] < r for s, r in zip(segments, below, strict=True))
    launched = waves.groupby("strike_id")["count"].sum()  # what the strike labels say
    assert launched.to_dict() == rows[rows.launched > 0].set_index("strike_id").launched.to_dict()
    bars = data[data.kind == "interception"].dropna(axis=1, how="all")
    layers = [c for c in bars.columns if c not in {"kind", "strike_id", "day", "replication"}]
    containers = [c for c in bottom.containers if isinstance(c, BarContainer)]
    assert [c.get_label() for c in containers] == layers and layers[-1] == "leakers"
    below = np.zeros(len(bars))
    for container, layer in zip(containers, layers, strict=True):
        assert np.allclose([p.get_x() + p.get_width() / 2 for p in container], bars.day)
        assert np.allclose([p.get_height() for p in container], bars[layer])
        assert np.allclose([p.get_y() for p in container], below)
        below += bars[layer].to_numpy()


def test_csv_numbers_are_the_results_numbers(results, figures):
    cumulative = figures["cumulative"].data
    final = cumulative[cumulative.day == 90].set_index("rung").probability
    for rung, probability in final.items():
        assert probability == pytest.approx((results.runs.max_rung >= rung).mean())
    max_rung = figures["max-rung"].data.set_index("rung").runs
    assert max_rung.to_dict() == {r: (results.runs.max_rung == r).sum() for r in range(7)}
    fired = figures["interception"].data.query("measure == 'interceptors fired per run'")
    events = results.events[results.events.kind == "interception"]
    total = events.interceptors_fired.sum() / len(results.runs)
    assert fired.estimate.sum() == pytest.approx(total)


def test_ratio_interval_treats_runs_as_the_independent_unit():
    ratio, low, high = ratio_interval(np.array([2.0, 4.0, 6.0]), np.array([1.0, 2.0, 3.0]))
    assert (ratio, low, high) == (2.0, 2.0, 2.0)  # every run has the same ratio
    ratio, low, high = ratio_interval(np.array([0.0, 10.0, 0.0, 10.0]), np.ones(4))
    assert ratio == 5.0 and low < 5.0 < high


@pytest.mark.parametrize("fmt", ["pdf", "svg", "png"])
def test_metadata_traces_the_figure_to_scenario_seed_version_and_commit(
    results, figures, tmp_path, fmt
):
    (path,) = plots.save_figure(figures["max-rung"], tmp_path / "m", [fmt], results.manifest)[1:]
    raw = path.read_bytes()
    if fmt == "png":
        from PIL import Image

        raw = repr(Image.open(path).text).encode()
    m = results.manifest
    for text in (
        f"seed {m['seed']}",
        f"escalation-sim {m['package_version']}",
        m["git_commit"],
        m["scenario_name"],
    ):
        assert str(text).encode() in raw or str(text).encode("utf-16-be") in raw, (fmt, text)


def test_the_style_never_changes_global_settings(results):
    before = dict(matplotlib.rcParams)
    plots.max_rung_distribution(results)
    assert dict(matplotlib.rcParams) == before


def test_an_outer_style_chooses_the_font_of_every_figure_inside_it(results, monkeypatch, tmp_path):
    """``with paper_style(font="cm")`` reaches ``save_figure``, which opens its own block (fonts
    are chosen when a figure is drawn). Computer Modern may not be installed here, so "cm" is
    pointed at DejaVu Serif."""
    from sim.figures import style as plot_style

    monkeypatch.setitem(plot_style.FONTS, "cm", {"font.serif": ["DejaVu Serif"]})
    with plots.paper_style(font="cm"):
        (inside,) = plots.save_figure(
            plots.max_rung_distribution(results), tmp_path / "cm", ["pdf"]
        )[1:]
    (outside,) = plots.save_figure(
        plots.max_rung_distribution(results), tmp_path / "stix", ["pdf"]
    )[1:]
    assert b"DejaVuSerif" in inside.read_bytes() and b"STIX" not in inside.read_bytes()
    assert b"STIXGeneral" in outside.read_bytes() and b"DejaVuSerif" not in outside.read_bytes()


def test_vector_files_embed_truetype_fonts(figures, tmp_path):
    (pdf,) = plots.save_figure(figures["max-rung"], tmp_path / "m", ["pdf"])[1:]
    assert b"/FontFile2" in pdf.read_bytes() and b"/Type3" not in pdf.read_bytes()


def test_sim_plot_writes_every_figure_of_a_results_folder(results, tmp_path):
    outcome = CliRunner().invoke(
        main, ["plot", str(results.folder), "-o", str(tmp_path), "--format", "svg"]
    )
    assert outcome.exit_code == 0, outcome.output
    for name in plots.RESULTS_FIGURES:
        assert (tmp_path / f"{name}.svg").exists() and (tmp_path / f"{name}.csv").exists()


def test_sim_plot_reads_a_sweep_folder_and_refuses_an_unknown_kind(results, tmp_path):
    sweep_table().to_parquet(tmp_path / "sweep.parquet")
    outcome = CliRunner().invoke(main, ["plot", str(tmp_path), "--format", "png"])
    assert outcome.exit_code == 0, outcome.output
    assert (tmp_path / "figures" / "sweep.png").exists()
    outcome = CliRunner().invoke(main, ["plot", str(results.folder), "--kind", "pie"])
    assert outcome.exit_code == 2 and "unknown --kind pie" in outcome.output


def test_a_timeline_of_a_replication_that_does_not_exist_is_refused(results, tmp_path):
    last = len(results.runs) - 1
    with pytest.raises(
        ResultsError, match=rf"no replication 99999 in these results \(they hold 0-{last}\)"
    ):
        plots.run_timeline(results, 99999)
    out = tmp_path / "figures"
    command = ["plot", str(results.folder), "--kind", "timeline", "-r", "99999", "-o", str(out)]
    result = CliRunner().invoke(main, command)
    assert result.exit_code == 2 and "no replication 99999" in result.output
    assert not out.exists() or not any(out.iterdir())


def test_a_binary_predictive_target_is_a_share_with_a_wilson_interval(figures):
    """Quantiles of 0/1 values say nothing: a 0/1 target is the share of runs at 1, with its
    Wilson 95% interval (capped), and no 50% bar."""
    data = figures["predictive"].data.set_index("target")
    _, _, predictive = calibration_tables()
    values = predictive[predictive.target == "responds"].simulated.astype(float)
    (low,), (high,) = wilson_interval(np.array([values.sum()]), np.array([len(values)]))
    row = data.loc["responds"]
    assert row.statistic == "share of runs at 1" and row.estimate == pytest.approx(values.mean())
    assert (row.ci_low, row.ci_high) == pytest.approx((low, high))
    assert np.isnan(row.q25) and np.isnan(row.q75)
    assert data.loc["delay"].statistic == "median"
    axes = figures["predictive"].axes[list(data.index).index("responds")]
    (interval,) = axes.containers  # the Wilson interval only: no thick quantile bar
    assert interval.lines[1], "the Wilson interval has caps"


def test_the_observed_value_does_not_hide_the_simulated_median(figures):
    figure = figures["predictive"]
    observed = [line for a in figure.axes for line in a.get_lines() if line.get_marker() == "D"]
    assert observed and all(line.get_markerfacecolor() == "none" for line in observed)
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert any("thick" in t for t in legend) and any("thin" in t for t in legend)
    assert any("Wilson" in t for t in legend) and "observed" in legend


def test_a_sweep_axis_is_named_by_the_declared_lever_else_by_its_path(figures):
    labels = path_labels(APRIL, ["restrains[us>israel].pressure", "horizon_days"])
    assert labels["restrains[us>israel].pressure"].startswith("How hard the US presses Israel")
    assert labels["horizon_days"] == "horizon_days"
    named = plots.sweep_probabilities(sweep_table(), labels=labels)
    xlabel = named.axes[0].get_xlabel().replace("\n", " ")
    assert xlabel == labels["restrains[us>israel].pressure"]
    assert figures["sweep"].axes[0].get_xlabel() == "restrains[us>israel].pressure"
    legend = [t.get_text() for t in named.legends[0].get_texts()]
    assert "P(rung\u22654)" in legend and not any(">=" in t for t in legend)
    assert set(named.data.outcome_label) == {"P(rung\u22654)", "P(rung\u22656)"}


def test_the_paper_font_has_the_comparison_signs():
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    with plots.paper_style():
        font = FT2Font(font_manager.findfont(font_manager.FontProperties(family="serif")))
    assert "STIX" in font.family_name
    assert all(font.get_char_index(ord(c)) for c in "\u2265\u2264")


def test_calibration_parameters_are_named_by_declared_name_else_alias_else_path():
    posterior, priors, _ = calibration_tables()
    plain = plots.prior_posterior(posterior, priors)
    assert [t.get_text() for t in plain.axes[0].get_yticklabels()] == ["a.b", "c.d"]
    named = plots.prior_posterior(posterior, priors.assign(label=["first", None]))
    assert [t.get_text() for t in named.axes[0].get_yticklabels()] == ["first", "c.d"]
    assert list(named.data.drop_duplicates("parameter").label) == ["first", "c.d"]
    labels = path_labels(APRIL, ["proxy[hezbollah>iran].obey_probability"], meanings=False)
    assert labels == {
        "proxy[hezbollah>iran].obey_probability": "proxy[hezbollah>iran].obey_probability"
    }
    priors = pd.DataFrame(
        {"parameter": ["proxy[hezbollah>iran].obey_probability"], "low": [0], "high": [1]}
    )
    aliased = plots.prior_posterior(
        pd.DataFrame({"proxy[hezbollah>iran].obey_probability": [0.2, 0.6]}), priors, labels
    )
    (tick,) = aliased.axes[0].get_yticklabels()
    assert tick.get_text() == "proxy[hezbollah>iran] obey_probability"


def test_a_zero_width_difference_interval_is_still_drawn_as_an_interval():
    table = compare_table()
    table.loc[table.setting == "strong", ["difference", "diff_ci_low", "diff_ci_high"]] = 0.0
    figure = plots.paired_differences(table)
    axes = figure.axes[0]
    assert "probability" in axes.get_xlabel() and "percentage points" in axes.get_xlabel()
    caps = {id(cap) for c in axes.containers for cap in c.lines[1]}
    ticks = [
        line
        for line in axes.get_lines()
        if line.get_marker() == "|" and len(line.get_xdata()) and id(line) not in caps
    ]
    assert len(ticks) == 1 and list(ticks[0].get_xdata()) == [0.0, 0.0]
    assert ticks[0].get_markersize() >= 6
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "interval of zero width" in legend
    assert "interval of zero width" not in [
        t.get_text() for t in plots.paired_differences(compare_table()).legends[0].get_texts()
    ]


def test_sobol_panels_share_one_x_scale(figures):
    panels = figures["sobol"].axes
    assert len(panels) == 2 and panels[0].get_xlim() == panels[1].get_xlim()
    assert panels[1] in panels[0].get_shared_x_axes().get_siblings(panels[0])


def test_cumulative_probability_axis_is_scaled_to_its_highest_band(figures):
    figure = figures["cumulative"]
    bottom, top = figure.axes[0].get_ylim()
    highest = figure.data.ci_high.max()
    assert bottom == 0 and highest <= top <= min(1.0, highest + 0.1)


def test_interception_panels_are_logarithmic_axes_without_a_zero_tick_or_meaningless_colour(
    figures,
):
    """A true logarithmic axis (no linear stretch from 0 passed off as "log scale"), one
    range of whole decades holding every number drawn, ticks that are powers of ten, and
    one colour for all (the panels' colours meant nothing)."""
    data = figures["interception"].data
    values = data[["estimate", "ci_low", "ci_high"]].to_numpy().ravel()
    values = values[values > 0]
    colours = set()
    for axes in figures["interception"].axes:
        assert axes.get_xscale() == "log" and "logarithmic axis" in axes.get_xlabel()
        low, high = axes.get_xlim()
        assert low <= values.min() and values.max() <= high
        assert np.allclose(np.log10([low, high]) % 1, 0)
        ticks = [t for t in axes.get_xticks() if low <= t <= high]
        assert ticks and 0 not in ticks and np.allclose(np.log10(ticks) % 1, 0)
        for container in errorbars(axes):
            colours.add(matplotlib.colors.to_hex(container[0].get_color()))
    assert colours == {"#000000"}


def test_an_interception_mean_of_zero_is_written_not_lost():
    """A log axis cannot place 0: a strike kind whose interceptor cost is 0 in every run is
    written as "0" in its row, and its other means are still drawn."""
    from sim.figures.plots import _interception_panel

    part = pd.DataFrame(
        {"label": ["a", "b"], "estimate": [0.0, 5.0], "ci_low": [0.0, 4.0], "ci_high": [0.0, 6.0]}
    )
    figure = plots.PaperFigure()
    axes = figure.add_subplot()
    _interception_panel(axes, part, (1.0, 10.0))
    (container,) = errorbars(axes)
    assert list(container[0].get_xdata()) == [5.0] and list(container[0].get_ydata()) == [0]
    (zero,) = axes.texts
    assert zero.get_text().strip() == "0" and zero.get_position() == (1.0, 1)


@pytest.mark.parametrize("name", ["path-tree", "timeline"])
def test_the_smallest_text_is_readable(figures, name):
    figure = figures[name]
    texts = [t for t in figure.findobj(matplotlib.text.Text) if t.get_text() and t.get_visible()]
    assert texts and min(t.get_fontsize() for t in texts) >= 6.5


def test_sim_plot_names_a_swept_lever_by_its_meaning(tmp_path):
    """`sim plot` on a sweep folder labels the lever axis as the scenario declares it, from the
    copy its first point keeps, whatever became of the swept file; by its path once that copy
    no longer loads or is gone too (the figure needs only the sweep's table)."""
    from sim.analysis.compare import sweep
    from sim.cli.figures import figures_of

    scenario = tmp_path / "april-2024.yaml"  # a copy that can be moved away, posterior and all
    text = APRIL.read_text(encoding="utf-8").replace(
        "../calibration/posterior.parquet", str(ROOT / "calibration" / "posterior.parquet")
    )
    scenario.write_text(text, encoding="utf-8")
    out = tmp_path / "sweep"
    sweep(scenario, ["us_pressure=0:1:2"], n=5, out=out, executor="serial", outcomes=["rung>=3"])
    [(name, figure, _)] = figures_of(out, ["sweep"], None)
    assert name == "sweep"
    assert figure.axes[0].get_xlabel().startswith("How hard the US presses Israel")
    scenario.write_text("name: [no longer a scenario\n", encoding="utf-8")
    [(_, figure, _)] = figures_of(out, ["sweep"], None)
    assert figure.axes[0].get_xlabel().startswith("How hard the US presses Israel")
    copy = out / "point-000" / "scenario.yaml"
    copy.write_text("name: [no longer a scenario\n", encoding="utf-8")
    [(_, figure, _)] = figures_of(out, ["sweep"], None)
    assert figure.axes[0].get_xlabel() == "restrains[us>israel].pressure"
    copy.unlink()
    scenario.unlink()
    [(_, figure, _)] = figures_of(out, ["sweep"], None)
    assert figure.axes[0].get_xlabel() == "restrains[us>israel].pressure"


def rare_sweep_table() -> pd.DataFrame:
    """A one-lever sweep of outcomes of a few percent (rung 5 and 6 are rare)."""
    table = sweep_table()
    rare = table.probability * 0.08
    return table.assign(probability=rare, ci_low=rare * 0.6, ci_high=rare * 1.5)


@given(
    st.lists(st.tuples(st.floats(0, 1), st.floats(0, 1)).map(sorted), min_size=1, max_size=20),
    st.sampled_from(["linear", "log"]),
)
@example([[0.0, 5e-324]], "log")  # below any Monte Carlo resolution: the floor holds it
def test_probability_limits_hold_every_interval_within_zero_to_one(intervals, scale):
    from sim.figures.style import LOG_FLOOR, probability_limits

    low, high = (pd.Series(side, dtype=float) for side in zip(*intervals, strict=True))
    bottom, top = probability_limits(low, high, scale)
    assert 0 <= bottom < top <= 1
    if scale == "linear":
        assert bottom == 0 and high.max() <= top <= max(high.max() * 1.08 + 0.05, 0.05) + 1e-12
    else:
        positive = np.r_[low[low > 0], high[high > 0]]
        if len(positive):
            assert bottom <= max(positive.min(), LOG_FLOOR) and positive.max() <= top
        assert bottom >= LOG_FLOOR / 10 and top >= 10 * bottom * (1 - 1e-12)
        assert np.isclose(np.log10(bottom), np.round(np.log10(bottom)))


def test_a_sweep_probability_axis_is_scaled_to_the_data_with_a_log_option():
    table = rare_sweep_table()
    linear = plots.sweep_probabilities(table).axes[0]
    bottom, top = linear.get_ylim()
    assert bottom == 0 and table.ci_high.max() <= top <= table.ci_high.max() + 0.05
    log = plots.sweep_probabilities(table, scale="log").axes[0]
    assert log.get_yscale() == "log" and "logarithmic" in log.get_ylabel()
    low, high = log.get_ylim()
    assert low <= table.ci_low.min() and table.ci_high.max() <= high <= 1
    table.loc[table.index[-1], ["probability", "ci_low"]] = 0.0  # no run reached it
    log = plots.sweep_probabilities(table, scale="log")
    *_, last = log.axes[0].get_lines()
    assert np.isnan(last.get_ydata()[-1]) and np.isfinite(last.get_ydata()[:-1]).all()
    assert "estimate of 0 is left out" in log.caption and log.data.probability.iloc[-1] == 0
    with pytest.raises(ValueError, match="scale: 'symlog' is not one of linear, log"):
        plots.sweep_probabilities(table, scale="symlog")


def test_sweep_points_outside_the_calibration_prior_are_marked_as_extrapolation():
    prior = {"restrains[us>israel].pressure": (0.2, 0.7)}
    figure = plots.sweep_probabilities(sweep_table(), prior_ranges=prior)
    values = figure.data["restrains[us>israel].pressure"]
    assert list(figure.data.extrapolation) == list((values < 0.2) | (values > 0.7))
    spans = [p for p in figure.axes[0].patches if p.get_hatch()]
    assert sorted((p.get_x(), p.get_x() + p.get_width()) for p in spans) == [(0, 0.2), (0.7, 1)]
    legend = [t.get_text() for t in figure.legends[0].get_texts()]
    assert "outside the calibration prior (extrapolation)" in legend
    assert "extrapolation" in figure.caption
    unmarked = plots.sweep_probabilities(sweep_table())
    assert not unmarked.data.extrapolation.any() and "extrapolation" not in unmarked.caption
    two = plots.sweep_probabilities(sweep_table(("a.x", "b.y")), prior_ranges={"a.x": (0, 0.5)})
    hatched = [p for p in two.axes[0].patches if p.get_hatch()]
    assert len(hatched) == (two.data.extrapolation & (two.data.outcome == "rung>=4")).sum() == 8


def test_a_sweep_folder_marks_levers_outside_the_shipped_calibration_prior(tmp_path):
    """A sweep of a calibrated lever of the shipped scenario, April's own US pressure: its prior
    (the row ``april-2024:restrains[us>israel].pressure`` of calibration/summary.csv beside the
    posterior, which april-2024.yaml draws with ``#april-2024``) is found, and the points beyond
    it marked."""
    import json

    from sim.cli.figures import figures_of
    from sim.figures.folders import prior_ranges
    from sim.scenario.loading import load_scenario

    lever = "restrains[us>israel].pressure"
    summary = pd.read_csv(ROOT / "calibration" / "summary.csv").set_index("parameter")
    low, high = summary.loc[f"april-2024:{lever}", ["prior_low", "prior_high"]]
    assert prior_ranges(load_scenario(APRIL))[lever] == (low, high)
    table = sweep_table((lever,))
    table.to_parquet(tmp_path / "sweep.parquet")
    manifest = {"kind": "sweep", "settings": [{"file": str(APRIL)}]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    [(_, figure, _)] = figures_of(tmp_path, ["sweep"], None)
    assert figure.axes[0].get_yscale() == "linear"
    [(_, logarithmic, _)] = figures_of(tmp_path, ["sweep"], None, scale="log")
    assert logarithmic.axes[0].get_yscale() == "log"
    outside = (figure.data[lever] < low) | (figure.data[lever] > high)
    assert list(figure.data.extrapolation) == list(outside)
    assert figure.data.extrapolation.any() and not figure.data.extrapolation.all()


def test_timeline_waves_are_marked_at_launch_by_a_shape_per_weapon(figures, saved):
    """A wave lasts hours on an axis of weeks: each is marked at its launch, in its weapon's
    own shape (not the strike's dot), and its legend entry shows the same shape."""
    top = figures["timeline"].axes[0]
    waves = saved["timeline"][saved["timeline"].kind == "wave"]
    marks = [c for c in top.collections if c.get_label().startswith("_")]
    shapes = [tuple(map(tuple, c.get_paths()[0].vertices.round(3))) for c in marks]
    assert len(marks) == waves.weapon.nunique() and len(set(shapes)) == len(shapes)
    starts = sorted(x for c in marks for x in c.get_offsets()[:, 0])
    assert np.allclose(starts, sorted(waves.launch_hours / 24))
    dot = matplotlib.markers.MarkerStyle("o").get_path().vertices.round(3)
    assert all(shape != tuple(map(tuple, dot)) for shape in shapes)
    entries = dict(zip(*top.get_legend_handles_labels()[::-1], strict=True))
    legend = top.get_legend()
    names = [t.get_text() for t in legend.get_texts()]
    assert [n for n in names if n.endswith(" wave")] == [n for n in entries if n.endswith(" wave")]


def test_timeline_stacks_at_most_three_named_layers_then_the_others_and_leakers(results):
    """Nine stacked categories cannot be told apart: the three layers that caught the most in
    the run are named, the rest are summed as "other layers" (named in the caption)."""
    from sim.figures.gallery import _april_like

    replication = _april_like(results)
    figure = plots.run_timeline(results, replication)
    log = results.events[
        (results.events.replication == replication) & (results.events.kind == "interception")
    ]
    caught = log.groupby("layer").intercepted.sum()
    caught = caught[caught > 0].sort_values(ascending=False, kind="stable")
    assert len(caught) > 3, "the run's layers fit in the stack: the check is empty"
    containers = [c for c in figure.axes[1].containers if isinstance(c, BarContainer)]
    labels = [c.get_label() for c in containers]
    assert labels == [*caught.index[:3], "other layers", "leakers"]
    other = figure.data[figure.data.kind == "interception"]["other layers"].sum()
    assert other == caught.iloc[3:].sum()
    assert all(layer in figure.caption for layer in caught.index[3:])


def test_sobol_axis_is_the_possible_range_marked_with_arrowheads_beyond_it():
    """Sobol indices lie in [0, 1]: the axis shows that range (lines at 0 and 1) with a small
    margin, not a bootstrap interval's 2.5; an interval beyond the edge ends in an arrowhead
    there, and its true ends stay in ``data``."""
    table = sobol_table()
    table.loc[0, "total_high"] = 2.5
    table.loc[1, "first_order_low"] = -0.6
    figure = plots.sobol_indices(table)
    for axes in figure.axes:
        low, high = axes.get_xlim()
        assert -0.2 <= low < 0 and 1 < high <= 1.2
        bounds = [line.get_xdata()[0] for line in axes.get_lines() if line.get_marker() == "None"]
        assert sorted(bounds) == [0, 1]
    arrows = [
        (line.get_marker(), line.get_xdata()[0])
        for line in figure.axes[0].get_lines()
        if line.get_marker() in ("<", ">")
    ]
    assert sorted(arrows) == [("<", low), (">", high)]
    assert figure.data.total_high.max() == 2.5 and figure.data.first_order_low.min() == -0.6


def test_sobol_inputs_are_named_by_their_declared_meaning(tmp_path):
    """A Sobol folder's figure names each uncertain input by its lever's declared meaning, read
    from the scenario the study names, and by its name once that scenario is gone."""
    import json

    from sim.cli.figures import figures_of

    table = sobol_table().assign(
        parameter=lambda t: t.parameter.map(
            {
                "actors.iran.policy.self_restraint": "iran_restraint",
                "restrains[us>israel].pressure": "us_pressure",
            }
        )
    )
    table.to_parquet(tmp_path / "sobol.parquet")
    scenario = tmp_path / "april-2024.yaml"
    scenario.write_text(
        APRIL.read_text(encoding="utf-8").replace(
            "../calibration/posterior.parquet", str(ROOT / "calibration" / "posterior.parquet")
        ),
        encoding="utf-8",
    )
    uncertain = [
        {"name": "us_pressure", "path": "restrains[us>israel].pressure", "low": 0, "high": 1},
        {
            "name": "iran_restraint",
            "path": "actors.iran.policy.self_restraint",
            "low": 0,
            "high": 1,
        },
    ]
    manifest = {"kind": "sensitivity", "scenario_file": str(scenario), "uncertain": uncertain}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    [(_, figure, _)] = figures_of(tmp_path, ["sobol"], None)
    names = [t.get_text().replace("\n", " ") for t in figure.axes[0].get_yticklabels()]
    meaning = path_labels(APRIL, ["restrains[us>israel].pressure"])["restrains[us>israel].pressure"]
    assert meaning.startswith("How hard the US presses Israel") and meaning in names
    assert not any(name in ("us_pressure", "restrains[us>israel].pressure") for name in names)
    scenario.unlink()
    [(_, figure, _)] = figures_of(tmp_path, ["sobol"], None)
    names = {t.get_text() for t in figure.axes[0].get_yticklabels()}
    assert names == {"us_pressure", "iran_restraint"}


def test_a_predictive_target_of_whole_values_has_whole_number_ticks():
    """A rung or a count takes whole values: its axis has no tick at 2.25."""
    rng = np.random.default_rng(3)
    sample = pd.DataFrame(
        {
            "target": ["response_rung"] * 200 + ["delay"] * 200,
            "observed": [3] * 200 + [12.9] * 200,
            "simulated": np.r_[rng.integers(2, 4, 200), rng.normal(14, 4, 200)],
        }
    )
    figure = plots.predictive_check(sample)
    data = figure.data.set_index("target")
    assert data.loc["response_rung", "integer"] and not data.loc["delay", "integer"]
    rung = figure.axes[0]
    low, high = rung.get_xlim()
    ticks = [t for t in rung.get_xticks() if low <= t <= high]
    assert len(ticks) >= 2 and all(float(t).is_integer() for t in ticks)
    assert low <= 2 - 0.5 + 1e-9 and high >= 3 + 0.5 - 1e-9


def test_a_heatmap_too_dense_for_its_numbers_leaves_them_to_its_table():
    """Cells too narrow for their estimate at a readable size carry no numbers (they would
    overlap); the caption says so by not promising them, and ``data`` still holds them all."""
    grid = np.linspace(0, 1, 20)
    table = pd.DataFrame(
        [
            {"a.x": a, "b.y": b, "setting": "p", "outcome": outcome, "probability": 0.3 * a}
            | {"ci_low": 0.2 * a, "ci_high": 0.4 * a}
            for outcome in ("rung>=4", "rung>=6")
            for a in grid
            for b in grid
        ]
    )
    dense = plots.sweep_probabilities(table)
    assert not any(axes.texts for axes in dense.axes) and "written in it" not in dense.caption
    assert len(dense.data) == 2 * 20 * 20
    sparse = plots.sweep_probabilities(sweep_table(("a.x", "b.y")))
    assert "written in it" in sparse.caption
