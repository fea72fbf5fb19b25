"""Sobol indices: the known indices of the Ishigami function, and scenario studies."""

import json
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from click.testing import CliRunner

import sim.analysis.sensitivity as sensitivity
from sim.analysis.sensitivity import saltelli_points, sobol
from sim.cli.main import main
from sim.scenario.loading import ScenarioError, load_scenario
from sim.study.chunks import parquet_bytes
from sim.study.results import ResultsError

APRIL = Path(__file__).parents[1] / "scenarios" / "april-2024.yaml"
pytestmark = pytest.mark.filterwarnings("ignore::sim.analysis.sensitivity.SmallSampleWarning")
"""The scenario studies here use tiny base samples for speed; the warning has its own test."""
UNCERTAIN = ["restrains[us>israel].pressure=0:1", "weapons.drone.unit_cost_usd=1000:100000"]


def ishigami(x: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(x[0]) + a * np.sin(x[1]) ** 2 + b * x[2] ** 4 * np.sin(x[0])


def ishigami_indices(a: float = 7.0, b: float = 0.1) -> tuple[list[float], list[float]]:
    """First-order and total indices of ``ishigami`` on [-pi, pi]^3, in closed form (Ishigami and
    Homma 1990; Sobol' and Levitan 1999): partial variances V1, V2, V3 = 0 and V13."""
    v1 = 0.5 * (1 + b * np.pi**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * np.pi**8 * (1 / 18 - 1 / 50)
    variance = v1 + v2 + v13
    return [v1 / variance, v2 / variance, 0.0], [
        (v1 + v13) / variance,
        v2 / variance,
        v13 / variance,
    ]


FIRST, TOTAL = ishigami_indices()


def test_recovers_the_ishigami_indices():
    table = sobol(ishigami, [(-np.pi, np.pi)] * 3, n=2048, seed=1, names=["x1", "x2", "x3"])
    assert table.parameter.tolist() == ["x1", "x2", "x3"]
    assert np.allclose(table.first_order, FIRST, atol=0.04)
    assert np.allclose(table.total, TOTAL, atol=0.04)
    assert ((table.first_order_low <= FIRST) & (np.array(FIRST) <= table.first_order_high)).all()
    assert ((table.total_low <= TOTAL) & (np.array(TOTAL) <= table.total_high)).all()
    assert (table.total_high - table.total_low < 0.15).all()


def test_several_outputs_at_once_and_the_same_seed_gives_the_same_table():
    def two(x):
        return np.stack([ishigami(x), x[0]])

    table = sobol(two, [(-np.pi, np.pi)] * 3, n=256, seed=3)
    assert table.outcome.tolist() == ["y1"] * 3 + ["y2"] * 3
    linear = table[table.outcome == "y2"]
    assert np.allclose(linear.first_order, [1, 0, 0], atol=1e-3)  # estimator bias O(1/n)
    assert np.allclose(linear.total, [1, 0, 0], atol=1e-3)
    assert (linear.first_order.iloc[1:] == 0).all() and (linear.total.iloc[1:] == 0).all()
    pd.testing.assert_frame_equal(
        table, sobol(two, [(-np.pi, np.pi)] * 3, n=256, seed=3), check_exact=True
    )


def test_saltelli_points_mix_a_and_b_one_column_at_a_time():
    points, (a, b) = saltelli_points([(0, 1), (10, 20)], 8, np.random.default_rng(0))
    assert points.shape == (2, 8 * 4)
    assert (a[1] >= 10).all() and (a[1] <= 20).all()
    np.testing.assert_array_equal(points[:, 16:24], np.stack([b[0], a[1]]))
    np.testing.assert_array_equal(points[:, 24:32], np.stack([a[0], b[1]]))


def test_scenario_sensitivity_ranks_a_lever_that_matters_above_one_that_cannot(tmp_path):
    """The version-1 mechanisms, where US pressure moves Israel's answer at every replication's
    margin; in version 2 Israel answers almost surely and pressure lowers only the height, so at
    8 replications a point with common random numbers often cannot tell pressures apart."""
    table = sobol(
        APRIL.with_name("april-2024-v1-mechanisms.yaml"),
        UNCERTAIN,
        outcomes=["strike:israel>iran>=3", "rung>=3"],
        n=16,
        replications=8,
        seed=2,
        executor="serial",
        out=tmp_path,
    )
    israel = table[table.outcome == "strike:israel>iran>=3"].set_index("path")
    assert israel.loc["restrains[us>israel].pressure", "total"] > 0.2
    assert israel.loc["weapons.drone.unit_cost_usd", "total"] == pytest.approx(0.0, abs=1e-9)
    assert israel.loc["weapons.drone.unit_cost_usd", "first_order"] == pytest.approx(0, abs=1e-9)
    assert (tmp_path / "sobol.parquet").exists() and (tmp_path / "sobol.csv").exists()
    assert len(pd.read_parquet(tmp_path / "evaluations.parquet")) == 16 * 4
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["replications_per_point"] == 8 and manifest["base_samples"] == 16


def test_the_same_indices_on_every_executor():
    options = {"outcomes": ["rung>=4"], "n": 8, "replications": 6, "seed": 5}
    serial = sobol(APRIL, UNCERTAIN, executor="serial", **options)
    pooled = sobol(APRIL, UNCERTAIN, executor="process", workers=2, **options)
    pd.testing.assert_frame_equal(serial, pooled, check_exact=True)
    on_dask = sobol(APRIL, UNCERTAIN, executor="dask", workers=2, **options)
    pd.testing.assert_frame_equal(serial, on_dask, check_exact=True)


EVALUATE_POINTS = sensitivity.evaluate_points
OPTIONS = {"outcomes": ["rung>=3", "rung>=4"], "n": 8, "replications": 4, "seed": 3}


def interrupt_at(monkeypatch, stop: int) -> list[int]:
    """Make ``sobol`` record the first point of each block it evaluates, and raise Ctrl-C at
    the block that starts at ``stop``."""
    started = []

    def evaluate(*task):
        started.append(task[6])
        if task[6] >= stop:
            raise KeyboardInterrupt
        return EVALUATE_POINTS(*task)

    monkeypatch.setattr(sensitivity, "evaluate_points", evaluate)
    return started


def test_an_interrupted_study_resumes_from_its_kept_blocks(tmp_path, monkeypatch):
    """32 points in blocks of 8: Ctrl-C during the third block keeps the first two; the same
    call again evaluates only the last two, its indices and evaluations equal an uninterrupted
    study's, and it removes its blocks once finished."""
    whole = sobol(APRIL, UNCERTAIN, executor="serial", out=tmp_path / "whole", **OPTIONS)
    assert not (tmp_path / "whole" / "blocks").exists()
    started = interrupt_at(monkeypatch, 16)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        sobol(APRIL, UNCERTAIN, executor="serial", out=out, **OPTIONS)
    assert not (out / "sobol.parquet").exists()
    assert len(list(out.glob("blocks/*/*.parquet"))) == 2
    started = interrupt_at(monkeypatch, 10**9)
    resumed = sobol(APRIL, UNCERTAIN, executor="serial", out=out, **OPTIONS)
    assert started == [16, 24]
    pd.testing.assert_frame_equal(resumed, whole, check_exact=True)
    for name in ("evaluations.parquet", "sobol.parquet"):
        pd.testing.assert_frame_equal(
            pd.read_parquet(out / name),
            pd.read_parquet(tmp_path / "whole" / name),
            check_exact=True,
        )
    assert not (out / "blocks").exists()


@pytest.mark.parametrize(
    "change",
    [{"seed": 4}, {"replications": 5}, {"overrides": ["actors.iran.policy.self_restraint=0.1"]}],
    ids=["seed", "replications", "model"],
)
def test_kept_blocks_of_another_study_are_never_reused(tmp_path, monkeypatch, change):
    """Blocks kept by an interrupted study are not mixed into one with another seed, another
    number of replications or another model in the same folder: it evaluates every block."""
    interrupt_at(monkeypatch, 16)
    with pytest.raises(KeyboardInterrupt):
        sobol(APRIL, UNCERTAIN, executor="serial", out=tmp_path, **OPTIONS)
    started = interrupt_at(monkeypatch, 10**9)
    sobol(APRIL, UNCERTAIN, executor="serial", out=tmp_path, **(OPTIONS | change))
    assert started == [0, 8, 16, 24]


def test_the_block_key_names_the_uncertain_paths_in_order(tmp_path):
    base = load_scenario(APRIL)
    points = np.zeros((2, 8))
    forward = sensitivity._block_folder(tmp_path, base, 3, 4, ["a.b", "c.d"], points)
    assert forward == sensitivity._block_folder(tmp_path, base, 3, 4, ["a.b", "c.d"], points)
    assert forward != sensitivity._block_folder(tmp_path, base, 3, 4, ["c.d", "a.b"], points)


def test_a_damaged_or_misshapen_block_is_refused_by_name(tmp_path, monkeypatch):
    interrupt_at(monkeypatch, 16)
    with pytest.raises(KeyboardInterrupt):
        sobol(APRIL, UNCERTAIN, executor="serial", out=tmp_path, **OPTIONS)
    first, second = sorted(tmp_path.glob("blocks/*/*.parquet"))
    second.write_bytes(first.read_bytes()[:40])
    with pytest.raises(ResultsError, match=rf"{second}: corrupted block .*delete it"):
        sobol(APRIL, UNCERTAIN, executor="serial", out=tmp_path, **OPTIONS)
    short = pd.read_parquet(first).iloc[:3]
    second.write_bytes(parquet_bytes(pa.Table.from_pandas(short, preserve_index=False)))
    with pytest.raises(ResultsError, match=rf"{second}: holds 3 points, expected 8; delete it"):
        sobol(APRIL, UNCERTAIN, executor="serial", out=tmp_path, **OPTIONS)


def test_a_range_outside_the_schema_gets_the_file_style_error(tmp_path):
    with pytest.raises(
        ScenarioError, match=r"--uncertain .*: restrains\[us>israel\].pressure: must be <="
    ):
        sobol(APRIL, ["restrains[us>israel].pressure=0:2"], n=8, replications=1)
    result = CliRunner().invoke(
        main,
        ["sensitivity", str(APRIL), "-o", str(tmp_path), "--uncertain", "nope=0:1"],
    )
    assert result.exit_code == 2
    assert "--uncertain nope=0:1: nope: unknown key" in result.output
    assert "Traceback" not in result.output


def test_a_finished_study_removes_only_its_own_blocks(tmp_path, monkeypatch):
    """Two studies in one folder differing only in their outcomes share a key: the one that
    finishes removes its blocks, and the interrupted one still resumes from its own."""
    interrupt_at(monkeypatch, 16)
    with pytest.raises(KeyboardInterrupt):
        sobol(APRIL, UNCERTAIN, executor="serial", out=tmp_path, **OPTIONS)
    kept = sorted(tmp_path.glob("blocks/*/*.parquet"))
    other = OPTIONS | {"outcomes": ["rung>=5"]}
    interrupt_at(monkeypatch, 10**9)
    sobol(APRIL, UNCERTAIN, executor="serial", out=tmp_path, **other)
    assert sorted(tmp_path.glob("blocks/*/*.parquet")) == kept and len(kept) == 2
    started = interrupt_at(monkeypatch, 10**9)
    sobol(APRIL, UNCERTAIN, executor="serial", out=tmp_path, **OPTIONS)
    assert started == [16, 24] and not (tmp_path / "blocks").exists()


def test_a_small_base_sample_warns_that_its_indices_cannot_be_read():
    """N = 16 gave a first-order index of 1.05 [0.60, 1.59]: outside what an index can be."""
    from sim.analysis.sensitivity import MIN_RELIABLE_BASE_SAMPLES, SmallSampleWarning

    def linear(x):
        return x[0] + 2 * x[1]

    with pytest.warns(SmallSampleWarning, match=r"N = 16 is too small: .* use N >= 64"):
        sobol(linear, [(0, 1), (0, 1)], n=16, seed=1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmallSampleWarning)
        sobol(linear, [(0, 1), (0, 1)], n=MIN_RELIABLE_BASE_SAMPLES, seed=1)


def test_outcomes_of_any_form_are_means_over_the_replications_of_a_point(tmp_path):
    outcomes = ["casualties:israel", "exhausted:israel/arrow-3", "rung>=3"]
    table = sobol(
        APRIL, UNCERTAIN, outcomes=outcomes, n=2, replications=3, seed=2, executor="serial",
        out=tmp_path,
    )  # fmt: skip
    assert table.label.drop_duplicates().tolist() == [
        "mean casualties suffered by israel (people)",
        "P(israel's Arrow 3 exhausted)",
        "P(direct strike on a homeland)",
    ]
    evaluations = pd.read_parquet(tmp_path / "evaluations.parquet")
    assert set(evaluations["rung>=3"]) <= {0, 1 / 3, 2 / 3, 1}
    assert evaluations["casualties:israel"].max() > 1  # a mean of counts, not a 0/1 share
