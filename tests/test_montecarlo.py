"""Monte Carlo studies: bit-for-bit reproducible whatever the workers, chunks, executor or interruptions."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

import sim
import sim.montecarlo as montecarlo
from sim.cli import main
from sim.executors import ExecutorError, make_executor
from sim.outcomes import run_row
from sim.results import Results, ResultsError, wilson_interval
from sim.scenario import load_scenario, parse_scenario
from sim.world import run_replication

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"


def study(out, **options):
    options = {"n": 60, "executor": "serial", "chunk_size": 10} | options
    return montecarlo.run_study(APRIL, out=out, **options)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted serial study that the others must reproduce exactly."""
    return study(tmp_path_factory.mktemp("reference") / "out")


def assert_same_tables(a: Results, b: Results) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs)
    pd.testing.assert_frame_equal(a.events, b.events)


@pytest.mark.parametrize(
    "options",
    [
        {"executor": "process", "workers": 2, "chunk_size": 7},
        {"executor": "process", "workers": 1, "chunk_size": 60},
        {"executor": "dask", "workers": 2, "chunk_size": 6},
    ],
    ids=["2 workers, chunk 7", "1 worker, one chunk", "dask LocalCluster"],
)
def test_identical_for_any_workers_chunks_and_executor(tmp_path, reference, options):
    assert_same_tables(study(tmp_path / "out", **options), reference)


@settings(max_examples=4, deadline=None)
@given(chunk_size=st.integers(1, 61))
def test_identical_for_any_chunk_size(tmp_path_factory, reference, chunk_size):
    out = tmp_path_factory.mktemp("chunks") / "out"
    assert_same_tables(study(out, chunk_size=chunk_size), reference)


def interrupt_at(monkeypatch, start: int) -> None:
    """Make the study stop, as on Ctrl-C, when it reaches the chunk beginning at ``start``."""
    real = montecarlo.simulate_chunk

    def interrupted(scenario, seed, chunk):
        if chunk.start >= start:
            raise KeyboardInterrupt
        return real(scenario, seed, chunk)

    monkeypatch.setattr(montecarlo, "simulate_chunk", interrupted)


def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, reference, monkeypatch):
    real = montecarlo.simulate_chunk
    interrupt_at(monkeypatch, 30)
    with pytest.raises(KeyboardInterrupt):
        study(tmp_path / "out")
    assert len(list((tmp_path / "out" / "chunks").glob("runs-*.parquet"))) == 3
    with pytest.raises(ResultsError, match="incomplete"):
        Results(tmp_path / "out")
    monkeypatch.setattr(montecarlo, "simulate_chunk", real)
    assert_same_tables(study(tmp_path / "out", resume=True), reference)


def test_kill_9_mid_run_leaves_a_folder_that_resume_completes(tmp_path):
    out = tmp_path / "out"
    command = [
        sys.executable,
        "-m",
        "sim",
        "run",
        str(APRIL),
        "-n",
        "600",
        "--workers",
        "1",
        "--chunk-size",
        "10",
        "-o",
        str(out),
    ]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while len(list((out / "chunks").glob("runs-*.parquet"))) < 3:
        assert process.poll() is None, "the run finished before it could be killed"
        assert time.monotonic() < deadline
        time.sleep(0.01)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    result = CliRunner().invoke(main, ["run", str(APRIL), "--resume", str(out), "-w", "1"])
    assert result.exit_code == 0, result.output
    whole = montecarlo.run_study(APRIL, n=600, out=tmp_path / "whole", executor="serial")
    assert_same_tables(Results(out), whole)


def test_a_folder_from_another_scenario_or_seed_is_refused(tmp_path, reference):
    before = (reference.folder / "manifest.json").read_bytes()
    runner = CliRunner()
    for extra in (["--set", "actors.iran.policy.self_restraint=0.5"], ["--seed", "7"]):
        result = runner.invoke(main, ["run", str(APRIL), "--resume", str(reference.folder), *extra])
        assert result.exit_code == 2
        assert "refusing to mix two studies" in result.output
        assert "Traceback" not in result.output
    assert (reference.folder / "manifest.json").read_bytes() == before


def test_corrupted_chunk_is_refused_by_name(tmp_path, monkeypatch):
    real = montecarlo.simulate_chunk
    interrupt_at(monkeypatch, 20)
    with pytest.raises(KeyboardInterrupt):
        study(tmp_path / "out")
    monkeypatch.setattr(montecarlo, "simulate_chunk", real)
    damaged = sorted((tmp_path / "out" / "chunks").glob("events-*.parquet"))[0]
    damaged.write_bytes(b"not parquet")
    with pytest.raises(ResultsError, match=damaged.name):
        study(tmp_path / "out", resume=True)


def test_out_must_be_new_or_empty(tmp_path, reference):
    with pytest.raises(ResultsError, match="already exists"):
        study(reference.folder)


def test_trace_of_replication_k_matches_row_k(reference):
    scenario = load_scenario(APRIL)
    runs = reference.runs.set_index("replication")
    for k in (0, 17, 59):
        row = run_row(run_replication(scenario, k), k, list(scenario.actors))
        stored = runs.loc[k]
        for column, value in row.items():
            if column == "replication":
                continue
            assert stored[column] == value or (pd.isna(stored[column]) and pd.isna(value))
        text = CliRunner().invoke(main, ["trace", str(APRIL), "-r", str(k)]).output
        assert text.count(" STRIKE #") == row["strikes"]


def test_manifest_copy_and_csv(tmp_path):
    results = study(tmp_path / "out", n=20, csv=True)
    manifest = results.manifest
    for key in (
        "scenario_sha256",
        "seed",
        "n",
        "package_version",
        "git_commit",
        "executor",
        "started_utc",
        "finished_utc",
        "chunk_size",
        "overrides",
    ):
        assert key in manifest
    assert manifest["status"] == "complete" and manifest["n"] == 20
    assert parse_scenario(results.scenario_text) == load_scenario(APRIL)
    assert (results.folder / "scenario-source.yaml").read_text() == APRIL.read_text()
    assert not list((results.folder / "chunks").glob("*"))
    csv_runs = pd.read_csv(results.folder / "runs.csv")
    assert csv_runs["max_rung"].tolist() == results.runs["max_rung"].tolist()
    assert len(pd.read_csv(results.folder / "events.csv")) == len(results.events)


def test_until_ci_stops_at_the_requested_precision(tmp_path):
    results = study(tmp_path / "out", n=50, chunk_size=50, until_ci=0.05)
    rungs = results.summary().rungs
    assert ((rungs.ci_high - rungs.ci_low) / 2).max() <= 0.05
    assert results.manifest["n"] == len(results.runs) > 50
    assert results.manifest["n"] % 50 == 0


def test_dask_missing_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith("distributed"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(ExecutorError, match=r"pip install"):
        make_executor("dask", 1)


def test_python_api(tmp_path):
    results = sim.run(APRIL, n=20, executor="serial", out=tmp_path / "api")
    assert isinstance(results.runs, pd.DataFrame) and len(results.runs) == 20
    assert list(results.summary().rungs["rung"]) == list(range(7))


def test_wilson_interval_matches_scipy():
    for k, n in ((0, 10), (3, 10), (50, 100), (99, 100), (7, 1000)):
        low, high = wilson_interval(np.array([k]), np.array([n]))
        expected = stats.binomtest(k, n).proportion_ci(method="wilson")
        assert np.isclose(low[0], expected.low) and np.isclose(high[0], expected.high)


def test_wilson_intervals_cover_at_about_the_nominal_rate():
    rng = np.random.default_rng(7)
    trials, studies = 100, 4000
    coverage = []
    for p in (0.05, 0.2, 0.5, 0.8):
        k = rng.binomial(trials, p, size=studies)
        low, high = wilson_interval(k, np.full(studies, trials))
        coverage.append(np.mean((low <= p) & (p <= high)))
    assert 0.935 <= np.mean(coverage) <= 0.965, coverage


TOY = """\
name: toy
seed: 3
horizon_days: 30
weapons:
  rocket: {flight_time: {min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}, unit_cost_usd: 1}
actors:
  a: {name: A}
  b:
    name: B
    policy:
      base_response_probability: 0.3
      delay: {median_days: 1, sigma: 0}
      packages: {3: {casualties_mean: 1}}
relations:
  - {kind: adversaries, actors: [a, b]}
opening:
  - {day: 0, attacker: a, target: b, rung: 2}
"""


def test_a_known_probability_is_recovered_end_to_end(tmp_path):
    """B answers with probability exactly 0.3 and always one rung up (no escalation term)."""
    toy = parse_scenario(
        TOY.replace("packages: {3:", "escalate_probability: 1.0\n      packages: {3:")
    )
    results = montecarlo.run_study(
        toy, n=3000, out=tmp_path / "toy", executor="serial", chunk_size=1000
    )
    rung3 = results.summary().rungs.set_index("rung").loc[3]
    assert rung3.ci_low <= 0.3 <= rung3.ci_high
    assert abs(rung3.probability - 0.3) < 0.03
