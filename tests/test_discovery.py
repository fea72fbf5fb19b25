"""Scenario discovery (sim.analysis.discovery, prim, cart) on toy studies with a planted box.

A toy study: design points from a Latin hypercube over four factors in [0, 1], and runs whose
outcome is 1 with probability ``1 - noise`` inside the planted box (a >= 0.4, b <= 0.6) and
``noise`` outside. Discovery must find that box, say how sure it is, and refuse bad input.
"""

from __future__ import annotations

import json
import sys

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy.stats import qmc

from sim.analysis.discovery import DiscoveryError, discover, discover_folder, runs_of_interest
from sim.analysis.prim import (
    Design,
    bootstrap_intervals,
    chosen_box,
    half_masks,
    in_box,
    prim_trajectory,
)

FACTORS = ["a", "b", "c", "d"]
PLANTED = {"a": (0.4, 1.0), "b": (0.0, 0.6)}


def toy_study(points=200, replications=10, noise=0.1, seed=0, planted=True):
    """Experiments, runs and each point's true probability of the outcome."""
    rng = np.random.default_rng(seed)
    x = qmc.LatinHypercube(d=len(FACTORS), seed=rng).random(points)
    experiments = pd.DataFrame(x, columns=FACTORS)
    experiments.insert(0, "point", np.arange(points))
    inside = np.ones(points, dtype=bool)
    for name, (low, high) in PLANTED.items():
        inside &= (experiments[name] >= low) & (experiments[name] <= high)
    truth = np.where(inside, 1 - noise, noise) if planted else np.full(points, 0.3)
    runs = pd.DataFrame(
        {
            "point": np.repeat(experiments["point"], replications),
            "replication": np.tile(np.arange(replications), points),
        }
    )
    runs["bad"] = (rng.uniform(size=len(runs)) < truth[runs["point"]]).astype(int)
    runs["casualties"] = runs["bad"] * 20 + rng.integers(0, 5, len(runs))
    return experiments, runs, truth


def box_iou(limits: dict[str, tuple[float, float]]) -> float:
    """Volume intersection over union of a box (factor -> (low, high), the rest unrestricted)
    with the planted box, in the unit cube."""
    found = np.array([limits.get(f, (0.0, 1.0)) for f in FACTORS], dtype=float).clip(0, 1)
    planted = np.array([PLANTED.get(f, (0.0, 1.0)) for f in FACTORS])
    overlap = np.prod(
        np.clip(
            np.minimum(found[:, 1], planted[:, 1]) - np.maximum(found[:, 0], planted[:, 0]), 0, None
        )
    )
    volumes = np.prod(found[:, 1] - found[:, 0]) + np.prod(planted[:, 1] - planted[:, 0])
    return float(overlap / (volumes - overlap))


def limits_of(table: pd.DataFrame) -> dict[str, tuple[float, float]]:
    return {row.factor: (row.low, row.high) for row in table.itertuples()}


def true_coverage_density(result, experiments, runs, truth):
    """The box's coverage and density under the true probabilities (expected runs of interest)."""
    inside = np.ones(len(experiments), dtype=bool)
    for row in result.box.itertuples():
        values = experiments[row.factor].to_numpy()
        inside &= (values >= row.low) & (values <= row.high)
    expected = runs.groupby("point").size().to_numpy() * truth
    runs_in_box = runs.groupby("point").size().to_numpy()[inside].sum()
    return expected[inside].sum() / expected.sum(), expected[inside].sum() / runs_in_box


@pytest.fixture(scope="module")
def planted():
    experiments, runs, truth = toy_study(seed=3)
    return experiments, runs, truth, discover(experiments, runs, "bad", splits=10, resamples=500)


def test_prim_recovers_the_planted_box(planted):
    result = planted[3]
    assert set(result.box["factor"]) == {"a", "b"}
    assert box_iou(limits_of(result.box)) >= 0.9
    assert (result.box["qp_low"].fillna(0) < 1e-6).all()
    assert (result.box["qp_high"].fillna(0) < 1e-6).all()


def test_the_intervals_contain_the_true_coverage_and_density():
    """Over ten toy studies each 95% interval holds the box's true value at least eight times
    (seven or fewer has probability 0.012 for a 95% interval). One study is not enough: a 95%
    interval misses one study in twenty (over 40 studies of 200 points, measured 36 and 39)."""
    hits = np.zeros(2, dtype=int)
    for seed in range(10):
        experiments, runs, truth = toy_study(points=120, seed=100 + seed)
        result = discover(experiments, runs, "bad", splits=1, resamples=400, seed=seed)
        coverage, density = true_coverage_density(result, experiments, runs, truth)
        hits += [
            result.coverage_interval[0] <= coverage <= result.coverage_interval[1],
            result.density_interval[0] <= density <= result.density_interval[1],
        ]
    assert (hits >= 8).all(), hits


def test_cart_finds_the_same_box(planted):
    result = planted[3]
    assert set(result.cart.limits["factor"]) == {"a", "b"}
    assert box_iou(limits_of(result.cart.limits)) >= 0.9
    assert result.cart.density >= 0.8


def test_feature_scores_rank_the_planted_factors_first(planted):
    scores = planted[3].scores
    assert set(scores["factor"].head(2)) == {"a", "b"}
    assert scores["score"].sum() == pytest.approx(1.0)


def test_a_clear_box_is_stable_and_its_limits_spread_little(planted):
    result = planted[3]
    assert result.stability >= 0.7
    assert result.stability_iou >= 0.9
    assert (result.box["restricted_share"] == 1.0).all()
    box = result.box
    assert (box["low_q975"] - box["low_q025"] <= 0.1).all()
    assert (box["high_q975"] - box["high_q025"] <= 0.1).all()
    assert ((box["low_q025"] <= box["low"]) & (box["low"] <= box["low_q975"])).all()


def test_noise_gives_no_box_and_a_forced_box_is_unstable():
    experiments, runs, _ = toy_study(seed=5, planted=False)
    default = discover(experiments, runs, "bad", splits=10, resamples=100)
    assert default.box.empty and default.coverage == 1.0
    forced = discover(experiments, runs, "bad", splits=10, resamples=100, min_density=0.5)
    assert not forced.box.empty
    assert forced.stability <= 0.2


def test_a_numeric_outcome_counts_runs_at_or_above_the_threshold():
    experiments, runs, _ = toy_study(seed=1)
    result = discover(experiments, runs, "casualties", threshold=20, splits=2, resamples=100)
    assert result.outcome == "casualties>=20"
    assert result.base_rate == pytest.approx((runs["casualties"] >= 20).mean())
    assert box_iou(limits_of(result.box)) >= 0.9


def test_a_categorical_factor_is_restricted_to_its_categories():
    experiments, runs, _ = toy_study(seed=2, planted=False)
    rng = np.random.default_rng(7)
    experiments["variant"] = np.array(["base", "no-allies", "strong-us"])[np.arange(200) % 3]
    bad = (experiments["variant"] == "no-allies") & (experiments["a"] >= 0.5)
    truth = np.where(bad, 0.9, 0.1)
    runs["bad"] = (rng.uniform(size=len(runs)) < truth[runs["point"]]).astype(int)
    result = discover(experiments, runs, "bad", splits=2, resamples=100)
    row = result.box.set_index("factor").loc["variant"]
    assert row["categories"] == "no-allies"
    assert result.box.set_index("factor").loc["a", "low"] == pytest.approx(0.5, abs=0.05)


def test_results_are_reproducible_by_seed(planted):
    experiments, runs, _, result = planted
    again = discover(experiments, runs, "bad", splits=10, resamples=500)
    pd.testing.assert_frame_equal(again.box, result.box)
    assert again.coverage_interval == result.coverage_interval


@st.composite
def weighted_designs(draw):
    points = draw(st.integers(8, 40))
    factors = draw(st.integers(1, 3))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.uniform(size=(points, factors)), columns=FACTORS[:factors])
    x["a"] = np.round(x["a"] * draw(st.sampled_from([3, 10, 1000])))  # ties: an integer factor
    if draw(st.booleans()):
        x["v"] = rng.choice(["base", "no-allies", "strong-us"], points)
    runs = rng.integers(1, 6, points)
    interest = rng.binomial(runs, rng.uniform(size=points))
    if interest.sum() in (0, runs.sum()):
        interest[0], runs[0] = 1, 2
    return Design(x, runs, interest)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(weighted_designs(), st.sampled_from([0.05, 0.1, 0.2]), st.sampled_from([0.0, 0.1]))
def test_the_trajectory_is_a_chain_of_boxes_whose_counts_are_right(design, alpha, mass_min):
    """Every box on the curve holds the runs its row says, keeps at least mass_min of them,
    peels only shrink and raise the density, pastes only grow and raise it."""
    trajectory = prim_trajectory(design, alpha, alpha, mass_min)
    table = trajectory.tradeoff
    assert table.loc[0, "coverage"] == 1.0
    for row, limits in zip(table.itertuples(), trajectory.limits, strict=True):
        inside = in_box(design.columns, limits)
        assert row.runs == design.runs[inside].sum()
        assert row.runs_of_interest == design.interest[inside].sum()
        assert row.mass >= mass_min - 1e-12
    for before, after in zip(table.itertuples(), table.iloc[1:].itertuples(), strict=False):
        assert after.density > before.density
        assert (after.runs < before.runs) == (after.step == "peel")
    assert 0 <= chosen_box(table) < len(table)


@settings(max_examples=50, deadline=None)
@given(st.lists(st.integers(0, 6), min_size=1, max_size=30), st.integers(0, 2**32 - 1))
def test_half_studies_split_each_points_runs_in_two(sizes, seed):
    points = np.repeat(np.arange(len(sizes)), sizes)
    first = half_masks(points, np.random.default_rng(seed))
    counts = np.bincount(points[first], minlength=len(sizes))
    np.testing.assert_array_equal(counts, np.array(sizes) // 2)


@settings(max_examples=40, deadline=None)
@given(weighted_designs(), st.integers(0, 2**32 - 1))
def test_bootstrap_intervals_are_ordered_shares(design, seed):
    inside = np.random.default_rng(seed).uniform(size=len(design.runs)) < 0.5
    coverage, density = bootstrap_intervals(
        design.runs, design.interest, inside, np.random.default_rng(seed), 200
    )
    for low, high in (coverage, density):
        assert 0 <= low <= high <= 1


def test_runs_of_interest_reads_zero_one_and_thresholds():
    runs = pd.DataFrame({"point": [0, 0], "replication": [0, 1], "x": [0, 1], "y": [2.5, 7.0]})
    assert runs_of_interest(runs, "x")[0].tolist() == [False, True]
    assert runs_of_interest(runs, "y", threshold=5)[0].tolist() == [False, True]


@pytest.mark.parametrize(
    ("outcome", "threshold", "message"),
    [
        ("nope", None, "runs.parquet: outcome: no outcome 'nope'; the study has bad, casualties"),
        ("casualties", None, "runs.parquet: casualties: is not 0/1"),
    ],
)
def test_bad_outcomes_get_one_line_errors(tmp_path, outcome, threshold, message):
    folder = explore_folder(tmp_path)
    with pytest.raises(DiscoveryError) as error:
        discover_folder(folder, outcome, threshold=threshold, splits=1)
    assert message in str(error.value) and "\n" not in str(error.value)
    assert str(folder) in str(error.value)


def explore_folder(tmp_path, kind="explore"):
    tmp_path.mkdir(parents=True, exist_ok=True)
    experiments, runs, _ = toy_study(points=40, replications=4)
    experiments.to_parquet(tmp_path / "experiments.parquet")
    runs.to_parquet(tmp_path / "runs.parquet")
    pd.DataFrame({"point": [0], "outcome": ["bad"]}).to_parquet(tmp_path / "outcomes.parquet")
    manifest = {"kind": kind, "plan": {"seed": 17}, "scenario_file": "april.yaml"}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    return tmp_path


def test_a_folder_that_is_not_an_explore_study_is_refused(tmp_path):
    with pytest.raises(DiscoveryError, match=r"not an explore study \(no experiments\.parquet"):
        discover_folder(tmp_path, "bad")
    sweep = explore_folder(tmp_path, kind="sweep")
    with pytest.raises(DiscoveryError, match=r"manifest\.json: kind: 'sweep', not an explore"):
        discover_folder(sweep, "bad")


def test_runs_of_unknown_points_and_outcomes_without_both_kinds_are_refused():
    experiments, runs, _ = toy_study(points=20, replications=2)
    with pytest.raises(DiscoveryError, match="point: 20 is not in the experiments"):
        discover(experiments.iloc[:20], runs.assign(point=runs["point"] + 1), "bad")
    with pytest.raises(DiscoveryError, match="bad: no run is of interest"):
        discover(experiments, runs.assign(bad=0), "bad")
    with pytest.raises(DiscoveryError, match="runs: replication: stability needs at least 2"):
        discover(experiments, runs[runs["replication"] == 0], "bad")
    with pytest.raises(DiscoveryError, match="experiments: c: a design point has no value"):
        discover(experiments.assign(c=np.nan), runs, "bad")
    with pytest.raises(DiscoveryError, match=r"peel_alpha: 1\.5 must be a share between 0 and 1"):
        discover(experiments, runs, "bad", peel_alpha=1.5)


def run_discover(*arguments):
    from click.testing import CliRunner

    from sim.cli.discover import discover_command

    return CliRunner().invoke(discover_command, [str(a) for a in arguments])


def test_sim_discover_prints_the_box_and_writes_its_tables_and_figures(tmp_path):
    folder = explore_folder(tmp_path / "study")
    out = tmp_path / "found"
    fast = ["--splits", 2, "--resamples", 100, "--format", "png"]
    result = run_discover(folder, "--outcome", "bad", "-o", out, *fast)
    assert result.exit_code == 0, result.output
    assert "PRIM box: coverage" in result.output and "  a: " in result.output
    written = {p.name for p in out.iterdir()}
    tables = {f"{t}.csv" for t in ("box", "tradeoff", "cart_box", "cart_leaves", "feature_scores")}
    figures = {"tradeoff-curve.png", "box-limits.png", "heatmap.png"}
    assert tables | figures | {"summary.json"} <= written
    tradeoff = pd.read_csv(out / "tradeoff.csv")  # the whole table, not a figure's numbers
    assert {"step", "runs_of_interest", "coverage_low", "chosen"} <= set(tradeoff.columns)
    summary = json.loads((out / "summary.json").read_text())
    box = pd.read_csv(out / "box.csv")
    assert summary["restricted"] == list(box["factor"])
    assert summary["coverage_interval"][0] <= summary["coverage"] <= summary["coverage_interval"][1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".found")]
    from PIL import Image

    provenance = Image.open(out / "tradeoff-curve.png").info
    assert (provenance["seed"], provenance["n"], provenance["scenario"]) == (
        "17",
        "160",
        "april.yaml",
    )


def test_sim_discover_finds_an_outcome_by_its_label(tmp_path):
    folder = explore_folder(tmp_path)
    manifest = {"kind": "explore", "outcomes": [{"outcome": "bad", "label": "P(bad)"}]}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    result = run_discover(folder, "--outcome", "P(bad)", "--splits", 1, "--format", "png")
    assert result.exit_code == 0, result.output
    assert (folder / "discovery" / "bad" / "box.csv").is_file()


@pytest.mark.parametrize(
    ("arguments", "message"),
    [
        (["--outcome", "nope"], "runs.parquet: outcome: no outcome 'nope'; the study has"),
        (["--outcome", "casualties"], "runs.parquet: casualties: is not 0/1"),
    ],
)
def test_sim_discover_refuses_bad_outcomes_and_keeps_earlier_output(tmp_path, arguments, message):
    folder = explore_folder(tmp_path / "study")
    out = tmp_path / "found"
    out.mkdir()
    (out / "box.csv").write_text("kept")
    result = run_discover(folder, *arguments, "-o", out)
    assert result.exit_code == 2
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert (out / "box.csv").read_text() == "kept"


def test_sim_discover_draws_the_morris_effects_of_a_morris_study(tmp_path):
    folder = explore_folder(tmp_path / "study")
    effects = pd.DataFrame(
        {
            "outcome": ["bad", "bad", "other"],
            "factor": ["a", "b", "a"],
            "mu_star": [0.4, 0.3, 9.0],
            "mu_star_conf": [0.1, 0.1, 1.0],
            "sigma": [0.2, 0.1, 5.0],
        }
    )
    effects.to_parquet(folder / "morris.parquet")
    out = tmp_path / "found"
    result = run_discover(folder, "--outcome", "bad", "-o", out, "--splits", 1, "--format", "png")
    assert result.exit_code == 0, result.output
    drawn = pd.read_csv(out / "morris.csv")
    assert list(drawn["factor"]) == ["a", "b"] and drawn["mu_star"].max() == 0.4


def test_sim_discover_replaces_an_earlier_discovery_but_nothing_else(tmp_path):
    folder = explore_folder(tmp_path / "study")
    fast = ["--splits", 1, "--resamples", 100, "--format", "png"]
    out = tmp_path / "found"
    assert run_discover(folder, "--outcome", "bad", "-o", out, *fast).exit_code == 0
    (out / "stale.csv").write_text("from before")
    assert run_discover(folder, "--outcome", "bad", "-o", out, *fast).exit_code == 0
    assert not (out / "stale.csv").exists() and (out / "box.csv").is_file()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []
    result = run_discover(folder, "--outcome", "bad", "-o", folder, *fast)
    assert result.exit_code == 2
    assert "exists and is not an earlier `sim discover` output" in result.output
    assert (folder / "runs.parquet").is_file() and not (folder / "box.csv").exists()


def test_sim_discover_refuses_a_folder_that_is_not_an_explore_study(tmp_path):
    (tmp_path / "runs.parquet").write_bytes(b"")
    result = run_discover(tmp_path, "--outcome", "bad")
    assert result.exit_code == 2
    assert result.output.strip() == (
        f"error: {tmp_path}: not an explore study (no experiments.parquet, manifest.json); "
        "`sim explore` writes one"
    )
    assert not (tmp_path / "discovery").exists()


def test_without_scikit_learn_prim_still_answers(planted, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)  # `import sklearn` now fails
    experiments, runs, _, with_sklearn = planted
    result = discover(experiments, runs, "bad", splits=10, resamples=500)
    assert result.cart is None and result.scores is None
    pd.testing.assert_frame_equal(result.box, with_sklearn.box)
    assert result.stability == with_sklearn.stability
    assert result.summary().endswith(
        "CART and feature scores need scikit-learn: pip install scikit-learn"
    )
    folder = explore_folder(tmp_path / "study")
    out = tmp_path / "found"
    ran = run_discover(folder, "--outcome", "bad", "-o", out, "--splits", 1, "--format", "png")
    assert ran.exit_code == 0, ran.output
    assert {"box.csv", "tradeoff.csv", "heatmap.png"} <= {p.name for p in out.iterdir()}
    assert not (out / "cart_box.csv").exists()
    assert json.loads((out / "summary.json").read_text())["cart"] is None
