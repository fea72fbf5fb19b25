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
import pyarrow as pa
import pyarrow.compute
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import stats

import sim
import sim.study.montecarlo as montecarlo
from sim.scenario.loading import load_scenario, parse_scenario
from sim.study.executors import (
    TASKS_PER_DASK_TASK,
    ExecutorError,
    ProcessExecutor,
    batches,
    make_executor,
)
from sim.study.results import Results, ResultsError, rung_table, wilson_interval

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
N = 60


def study(out, **options):
    options = {"n": N, "executor": "serial", "chunk_size": 10} | options
    return montecarlo.run_study(APRIL, out=out, **options)


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted serial study that the others must reproduce exactly."""
    return study(tmp_path_factory.mktemp("reference") / "out")


def assert_same_tables(a: Results, b: Results) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs, check_exact=True)
    pd.testing.assert_frame_equal(a.events, b.events, check_exact=True)


def test_the_reference_study_is_not_trivial(reference):
    """The equality tests below mean something only if runs differ from one another."""
    assert reference.runs["path"].nunique() > 1
    assert reference.runs["casualties"].nunique() > 1
    assert reference.runs["replication"].tolist() == list(range(N))
    assert reference.events["replication"].is_monotonic_increasing


@pytest.mark.parametrize(
    "options",
    [
        {"executor": "process", "workers": 2, "chunk_size": 7},
        {"executor": "process", "workers": 2, "chunk_size": 25},
        {"executor": "process", "workers": 1, "chunk_size": 60},
    ],
    ids=["2 workers, chunk 7", "2 workers, chunk 25", "1 worker, one chunk"],
)
def test_identical_for_any_workers_and_chunks(tmp_path, reference, options):
    assert_same_tables(study(tmp_path / "out", **options), reference)


@pytest.mark.parametrize("chunk_size", [6, 3], ids=["chunk alone", "chunk in a batch of 4"])
def test_identical_on_dask_even_when_a_worker_dies(tmp_path, reference, chunk_size):
    """A LocalCluster of 2 workers; the worker that first takes the chunk starting at 30 is
    killed outright. The scheduler reruns its Dask task (that chunk alone near the end of the
    study, or with the three others of its batch earlier on) elsewhere, and the tables equal the
    serial ones."""
    marker = tmp_path / "killed-once"
    real = montecarlo.simulate_chunk

    def dies_once(
        scenario, seed, chunk, posterior
    ):  # shipped to the workers by value (cloudpickle)
        if chunk.start == 30 and not marker.exists():
            marker.write_text(str(os.getpid()))
            os._exit(1)
        return real(scenario, seed, chunk, posterior)

    original, montecarlo.simulate_chunk = montecarlo.simulate_chunk, dies_once
    try:
        results = study(tmp_path / "out", executor="dask", workers=2, chunk_size=chunk_size)
    finally:
        montecarlo.simulate_chunk = original
    assert marker.exists(), "no worker died: the test did not test recovery"
    assert_same_tables(results, reference)
    assert results.manifest["executor"] == "dask"


def test_identical_on_a_dask_cluster_reached_by_address(tmp_path, reference):
    """A scheduler and a worker started as on a real cluster (`dask scheduler`, `dask worker`,
    in a folder of their own) and reached by address, as `--scheduler tcp://...` does: the
    tables equal the serial ones and the manifest names the scheduler."""
    from distributed import Client

    scheduler = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    where = tmp_path / "cluster"
    where.mkdir()
    address_file = where / "scheduler.json"
    quiet = {"cwd": where, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    options = ["--host", "127.0.0.1", "--port", "0", "--no-dashboard"]
    started = [subprocess.Popen([*scheduler, *options, "--scheduler-file", address_file], **quiet)]
    try:
        deadline = time.monotonic() + 60
        while not address_file.exists() and time.monotonic() < deadline:
            time.sleep(0.1)
        worker = [sys.executable, "-m", "distributed.cli.dask_worker", "--no-dashboard"]
        worker += ["--nworkers", "1", "--nthreads", "1", "--scheduler-file", address_file]
        started.append(subprocess.Popen(worker, **quiet))
        address = json.loads(address_file.read_text())["address"]
        with Client(address) as client:
            client.wait_for_workers(1, timeout=60)
        results = study(tmp_path / "out", executor="dask", scheduler=address)
    finally:
        for process in reversed(started):
            process.terminate()
            process.wait(timeout=30)
    assert_same_tables(results, reference)
    assert results.manifest["executor"] == "dask" and results.manifest["scheduler"] == address


@pytest.mark.parametrize("executor", ["serial", "dask"])
def test_workers_need_no_posterior_file(tmp_path, reference, executor, monkeypatch):
    """The shipped scenario draws from a posterior file; a study sends the sample with each task,
    so workers that cannot see the file (a remote Dask cluster's) give the same tables."""
    real = montecarlo.simulate_chunk

    def without_the_file(scenario, seed, chunk, posterior):  # runs where the chunk runs
        assert posterior is not None
        elsewhere = scenario.model_copy(update={"parameters_from": "/no/such/posterior.parquet"})
        return real(elsewhere, seed, chunk, posterior)

    monkeypatch.setattr(montecarlo, "simulate_chunk", without_the_file)
    assert_same_tables(study(tmp_path / "out", executor=executor, workers=2), reference)


@settings(
    max_examples=6, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(n=st.integers(1, N), chunk_size=st.integers(1, 70), workers=st.sampled_from([1, 2]))
def test_replication_k_is_the_same_in_any_study(
    tmp_path_factory, reference, n, chunk_size, workers
):
    """A study of n replications is the first n rows of any longer one, whatever the chunking."""
    out = tmp_path_factory.mktemp("chunks") / "out"
    results = study(out, n=n, chunk_size=chunk_size, workers=workers, executor="process")
    runs, events = reference.runs, reference.events
    pd.testing.assert_frame_equal(results.runs, runs[runs.replication < n], check_exact=True)
    expected = events[events.replication < n].reset_index(drop=True)
    pd.testing.assert_frame_equal(results.events, expected, check_exact=True)


def interrupt_after(monkeypatch, chunks: int) -> None:
    """Make the study stop, as on Ctrl-C, after ``chunks`` chunks were written (any executor)."""
    real = montecarlo._run_chunks
    written = [0]

    class Interrupting:
        def __init__(self, executor):
            self.executor = executor

        def imap(self, fn, tasks):
            for result in self.executor.imap(fn, tasks):
                if written[0] == chunks:
                    raise KeyboardInterrupt
                written[0] += 1
                yield result

    def run_chunks(executor, *args):
        return real(Interrupting(executor), *args)

    monkeypatch.setattr(montecarlo, "_run_chunks", run_chunks)


def chunk_files(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "chunks").glob("runs-*.parquet"))


def interrupted_study(out: Path, chunks: int, **options) -> Path:
    """``out``: a study stopped, as on Ctrl-C, after ``chunks`` chunks were written."""
    with pytest.MonkeyPatch.context() as patch:
        interrupt_after(patch, chunks)
        with pytest.raises(KeyboardInterrupt):
            study(out, **options)
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, reference, workers):
    out = interrupted_study(tmp_path / "out", 3, executor="process", workers=workers)
    assert len(chunk_files(out)) == 3
    with pytest.raises(ResultsError, match="incomplete"):
        Results(out)
    resumed = study(out, resume=True, executor="process", workers=workers)
    assert_same_tables(resumed, reference)
    assert len(resumed.manifest["resumed_utc"]) == 1


def test_resume_runs_only_the_missing_chunks(tmp_path, monkeypatch):
    out = interrupted_study(tmp_path / "out", 2)
    ran = []
    real = montecarlo.simulate_chunk

    def counting(scenario, seed, chunk, posterior):
        ran.append(chunk.start)
        return real(scenario, seed, chunk, posterior)

    monkeypatch.setattr(montecarlo, "simulate_chunk", counting)
    study(out, resume=True)
    assert ran == [20, 30, 40, 50]


def test_until_ci_interrupted_while_extending_then_resumed(tmp_path):
    whole = study(tmp_path / "whole", n=30, until_ci=0.07)
    assert whole.manifest["n"] > 30
    # 3 chunks for n = 30, then 2 of the extension
    out = interrupted_study(tmp_path / "out", 5, n=30, until_ci=0.07)
    assert len(chunk_files(out)) == 5
    assert_same_tables(study(out, n=30, until_ci=0.07, resume=True), whole)


def test_until_ci_stops_at_the_requested_precision(tmp_path):
    results = study(tmp_path / "out", n=50, chunk_size=50, until_ci=0.05)
    rungs = results.summary().rungs
    assert ((rungs.ci_high - rungs.ci_low) / 2).max() <= 0.05
    assert results.manifest["n"] == len(results.runs) > 50
    assert results.manifest["n"] % 50 == 0
    shorter = results.runs[results.runs.replication < results.manifest["n"] - 50]
    widths = rung_table(shorter)
    assert ((widths.ci_high - widths.ci_low) / 2).max() > 0.05, "ran a chunk it did not need"


def test_until_ci_respects_max_n(tmp_path):
    results = study(tmp_path / "out", n=20, until_ci=0.001, max_n=40)
    assert results.manifest["n"] == len(results.runs) == 40


def test_a_folder_from_another_scenario_or_seed_is_refused(tmp_path):
    out = interrupted_study(tmp_path / "out", 2)
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    overrides = ["actors.iran.policy.self_restraint=0.5"]
    with pytest.raises(ResultsError, match=r"another scenario.*refusing to mix two studies"):
        study(out, resume=True, overrides=overrides)
    with pytest.raises(ResultsError, match="seed 20240401, not 8; refusing to mix"):
        study(out, resume=True, seed=8)  # the folder has the scenario's seed
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_resume_finishes_the_planned_study_and_refuses_another_n(tmp_path, reference):
    finished = study(tmp_path / "finished", n=20)
    with pytest.raises(ResultsError, match="is a study of 20 replications, not 40"):
        study(finished.folder, resume=True, n=40)
    out = interrupted_study(tmp_path / "out", 2)
    with pytest.raises(ResultsError, match=f"is a study of {N} replications, not {N + 10}"):
        study(out, resume=True, n=N + 10)
    resumed = study(out, resume=True, n=None)
    assert resumed.runs.equals(reference.runs)


def test_an_interrupted_study_leaves_its_chunks_and_no_partial_table(tmp_path):
    out = interrupted_study(tmp_path / "out", 3)  # chunks 0-2 were appended to the tables
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "chunks",
        "manifest.json",
        "scenario-posterior.parquet",
        "scenario-source.yaml",
        "scenario.yaml",
    ]
    assert len(chunk_files(out)) == 3


def test_the_model_hash_names_the_posterior_by_content_not_path(tmp_path):
    """The same model in another checkout has the same hash; a re-fitted posterior another."""
    root = APRIL.parents[1]
    for folder in ("scenarios", "calibration"):
        (tmp_path / folder).mkdir()
    (tmp_path / "scenarios" / APRIL.name).write_text(APRIL.read_text())
    posterior = tmp_path / "calibration" / "posterior.parquet"
    posterior.write_bytes((root / "calibration" / "posterior.parquet").read_bytes())
    moved = load_scenario(tmp_path / "scenarios" / APRIL.name)
    assert moved.parameters_from != load_scenario(APRIL).parameters_from
    assert montecarlo.model_hash(moved) == montecarlo.model_hash(load_scenario(APRIL))
    table = pq.read_table(posterior)
    pq.write_table(table.slice(1), posterior)  # one parameter set fewer
    assert montecarlo.model_hash(moved) != montecarlo.model_hash(load_scenario(APRIL))


def test_a_damaged_chunk_is_refused_by_name_before_any_work(tmp_path, monkeypatch):
    out = interrupted_study(tmp_path / "out", 3)
    damaged = sorted((out / "chunks").glob("events-*.parquet"))[1]
    data = bytearray(damaged.read_bytes())
    half = len(data) // 2  # footer intact, one page damaged (every bit flipped: surely changed)
    data[half : half + 16] = bytes(b ^ 0xFF for b in data[half : half + 16])
    damaged.write_bytes(bytes(data))
    monkeypatch.setattr(montecarlo, "simulate_chunk", None)  # any work would fail differently
    with pytest.raises(ResultsError, match=f"{damaged.name}: corrupted chunk"):
        study(out, resume=True)


def test_a_chunk_of_an_older_event_log_is_refused_by_name(tmp_path, monkeypatch):
    """A study begun before the event log had waves: its chunks lack the wave columns and rows,
    so resuming it with this version would mix two logs; it is refused before any work. (That
    version recorded no hashes in its manifest, so the check is of the columns.)"""
    out = interrupted_study(tmp_path / "out", 3)
    manifest = json.loads((out / "manifest.json").read_text())
    for key in ("chunks", "files", "manifest_sha256"):
        del manifest[key]
    (out / "manifest.json").write_text(json.dumps(manifest))
    older = sorted((out / "chunks").glob("events-*.parquet"))[0]
    table = pq.read_table(older)
    table = table.filter(pa.compute.not_equal(table["kind"], "wave"))
    pq.write_table(
        table.drop(["count", "launch_hours", "first_arrival_hours", "last_arrival_hours"]), older
    )
    monkeypatch.setattr(montecarlo, "simulate_chunk", None)  # any work would fail differently
    with pytest.raises(
        ResultsError, match=f"{older.name}: written by another version of the event log"
    ):
        study(out, resume=True)


def test_a_damaged_final_table_is_refused_by_name(tmp_path):
    results = study(tmp_path / "out", n=20)
    path = results.folder / "events.parquet"
    column = pq.ParquetFile(path).metadata.row_group(0).column(2)  # time_hours
    start = column.dictionary_page_offset or column.data_page_offset
    end = start + column.total_compressed_size  # the last bytes of a page's body (under its CRC)
    data = bytearray(path.read_bytes())
    data[end - 8 : end] = bytes(b ^ 0xFF for b in data[end - 8 : end])
    path.write_bytes(bytes(data))
    with pytest.raises(ResultsError, match=r"events\.parquet: changed since the study wrote it"):
        Results(results.folder).events  # noqa: B018
    manifest = json.loads((results.folder / "manifest.json").read_text())
    del manifest["files"], manifest["manifest_sha256"]  # as an older version wrote it
    (results.folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ResultsError, match=r"events\.parquet: cannot read"):
        Results(results.folder).events  # noqa: B018 (the page checksum still tells)


def test_out_must_be_new_or_empty(tmp_path, reference):
    with pytest.raises(ResultsError, match="already exists"):
        study(reference.folder)
    (tmp_path / "file").write_text("x")
    with pytest.raises(ResultsError, match="is a file"):
        study(tmp_path / "file")


def test_nonsense_sizes_are_refused(tmp_path):
    for options in ({"n": 0}, {"chunk_size": 0}, {"workers": 0}, {"until_ci": 0.0}):
        with pytest.raises(ValueError, match="must be"):
            study(tmp_path / "never", **options)
    assert not (tmp_path / "never").exists()


def test_manifest_records_what_ran(tmp_path):
    overrides = ["actors.iran.policy.self_restraint=0.5"]
    results = study(tmp_path / "out", n=20, overrides=overrides, workers=2, executor="process")
    m = results.manifest
    assert m["status"] == "complete"
    assert (m["n"], m["seed"], m["chunk_size"]) == (20, load_scenario(APRIL).seed, 10)
    assert (m["executor"], m["workers"], m["scheduler"]) == ("process", 2, None)
    assert m["overrides"] == overrides
    ran = load_scenario(results.folder / "scenario.yaml")  # names the folder's posterior copy
    copy = (results.folder / "scenario-posterior.parquet").resolve()
    assert Path(ran.parameters_from.partition("#")[0]) == copy
    expected = load_scenario(APRIL, overrides)
    no_file = {"parameters_from": None}
    assert ran.model_copy(update=no_file) == expected.model_copy(update=no_file)
    assert m["scenario_sha256"] == montecarlo.model_hash(ran) == montecarlo.model_hash(expected)
    assert (results.folder / "scenario-source.yaml").read_bytes() == APRIL.read_bytes()
    assert m["package_version"] == sim.__version__
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert m["git_commit"] == head.stdout.strip()
    assert m["started_utc"] <= m["finished_utc"]
    assert not list((results.folder / "chunks").glob("*"))
    assert sorted(p.name for p in results.folder.iterdir()) == [
        "chunks",
        "events.parquet",
        "manifest.json",
        "runs.parquet",
        "scenario-posterior.parquet",
        "scenario-source.yaml",
        "scenario.yaml",
    ]


def test_csv_equals_parquet(tmp_path):
    results = study(tmp_path / "out", n=20, csv=True)
    for name in ("runs", "events"):
        parquet = pq.read_table(results.folder / f"{name}.parquet")
        options = pa_csv.ConvertOptions(  # missing is an empty field, "" an empty string
            column_types=parquet.schema,
            null_values=[""],
            strings_can_be_null=True,
            quoted_strings_can_be_null=False,
        )
        csv = pa_csv.read_csv(results.folder / f"{name}.csv", convert_options=options)
        assert csv.schema == parquet.schema and csv.num_rows == parquet.num_rows > 0
        pd.testing.assert_frame_equal(csv.to_pandas(), parquet.to_pandas(), check_exact=True)


@given(st.integers(0, 60), st.integers(1, 8))
def test_dask_batches_keep_every_task_in_order_and_end_one_by_one(count, workers):
    tasks = [(i,) for i in range(count)]
    grouped = list(batches(tasks, workers))
    assert [t for batch in grouped for t in batch] == tasks
    assert all(1 <= len(batch) <= TASKS_PER_DASK_TASK for batch in grouped)
    singles = min(count, 4 * workers)
    assert all(len(batch) == 1 for batch in grouped[len(grouped) - singles :])
    assert len(grouped) == -(-(count - singles) // TASKS_PER_DASK_TASK) + singles


def test_pool_workers_leave_ctrl_c_to_the_driver():
    """Ctrl-C reaches the whole process group; a worker must not die of it, whether starting or
    idle (either used to print a traceback and break the pool)."""

    def interrupt_workers(pool: ProcessExecutor) -> list[int]:
        workers = list(pool.pool._processes)
        for pid in workers:
            os.kill(pid, signal.SIGINT)
        return workers

    with ProcessExecutor(2) as pool:
        starting = [pool.pool.submit(abs, -1), pool.pool.submit(abs, -2)]
        interrupt_workers(pool)
        assert [future.result() for future in starting] == [1, 2]
        idle = interrupt_workers(pool)
        time.sleep(0.5)
        assert sorted(pool.imap(abs, [(-3,), (-4,)])) == [3, 4]
        assert list(pool.pool._processes) == idle


def test_dask_missing_says_how_to_install(monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_dask(name, *args, **kwargs):
        if name.startswith("distributed"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_dask)
    with pytest.raises(ExecutorError, match=r"pip install 'escalation-sim\[dask\]'"):
        make_executor("dask", 1)


def test_python_api(tmp_path, reference):
    results = sim.run(APRIL, n=N, executor="serial", chunk_size=10, out=tmp_path / "api")
    assert isinstance(results.runs, pd.DataFrame) and isinstance(results.events, pd.DataFrame)
    assert_same_tables(results, reference)
    summary = results.summary()
    assert summary.n == N and list(summary.rungs["rung"]) == list(range(7))
    reached = [int((reference.runs["max_rung"] >= rung).sum()) for rung in range(7)]
    assert summary.rungs["runs_reaching"].tolist() == reached
    assert summary.rungs["probability"].tolist() == [r / N for r in reached]
    top = reference.runs["rung_path"].value_counts()
    most_common = set(top.index[top == top.iloc[0]])  # value_counts orders ties arbitrarily
    assert summary.paths["path"].iloc[0] in most_common
    assert summary.paths["runs"].iloc[0] == top.iloc[0]
    assert repr(results).startswith("Results(")
    reopened = sim.load_results(tmp_path / "api")
    assert_same_tables(reopened, reference)
    assert reopened.manifest == results.manifest
    assert sim.load_scenario(APRIL) == load_scenario(APRIL)


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
      escalate_probability: 1.0
      delay: {median_days: 1, sigma: 0}
      packages: {3: {casualties_mean: 1}}
relations:
  - {kind: adversaries, actors: [a, b]}
opening:
  - {day: 0, attacker: a, target: b, rung: 2}
"""


@pytest.fixture(scope="module")
def toy(tmp_path_factory):
    """3,000 replications of TOY, in which P(reach rung 3) is exactly 0.3."""
    return montecarlo.run_study(
        parse_scenario(TOY),
        n=3000,
        out=tmp_path_factory.mktemp("toy") / "toy",
        executor="serial",
        chunk_size=1000,
    )


def test_a_known_probability_is_recovered_end_to_end(toy):
    """B answers a rung-2 strike with probability exactly 0.3, always one rung up, so
    P(reach rung 3) = 0.3; the estimate's 95% CI covers it and is about 3 points wide."""
    results = toy
    decisions = results.events[results.events.kind == "decision"]
    assert len(decisions) == 3000
    assert decisions.respond_probability.to_numpy() == pytest.approx(0.3, abs=1e-12)
    rung3 = results.summary().rungs.set_index("rung").loc[3]
    assert rung3.ci_low <= 0.3 <= rung3.ci_high
    assert abs(rung3.probability - 0.3) < 4 * (0.3 * 0.7 / 3000) ** 0.5


def test_intervals_from_simulated_studies_cover_at_their_nominal_rate(toy):
    """The 3,000 toy replications as 250 studies of 12: the share of studies whose 95% interval
    for P(reach rung 3) covers the true 0.3 matches the Wilson interval's exact coverage at n = 12
    within four standard errors, and that exact coverage is 95% within Wilson's known
    oscillation (about +-2.5 points). Replications that were not independent draws of 0.3, or a
    summary that mis-counted, would miss it."""
    size, studies, p = 12, 250, 0.3
    k = np.arange(size + 1)
    low, high = wilson_interval(k, np.full(size + 1, size))
    exact = float(stats.binom.pmf(k, size, p)[(low <= p) & (p <= high)].sum())
    assert abs(exact - 0.95) <= 0.025
    covered = 0
    for block in range(studies):
        runs = toy.runs.iloc[block * size : (block + 1) * size]
        row = rung_table(runs).set_index("rung").loc[3]
        covered += bool(row.ci_low <= p <= row.ci_high)
    assert abs(covered / studies - exact) <= 4 * (exact * (1 - exact) / studies) ** 0.5


def test_a_scheduler_without_the_dask_executor_is_refused_before_the_folder_opens(tmp_path):
    with pytest.raises(ExecutorError, match="a scheduler address needs the dask executor"):
        sim.run(APRIL, n=5, out=tmp_path / "out", scheduler="tcp://127.0.0.1:8786")
    assert not (tmp_path / "out").exists()
