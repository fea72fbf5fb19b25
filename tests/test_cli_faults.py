"""Faults during a study and arguments that cannot be honoured, as a user meets them: one line on
stderr, a non-zero exit, no traceback, finished work kept, and the same command continues."""

import errno
import inspect
import json
import os
import re
import subprocess
import sys
import textwrap
import time
from io import StringIO
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st
from rich.console import Console

import sim
import sim.cli.support as support
import sim.compare as sim_compare
import sim.study.montecarlo as montecarlo
from sim.cli.main import main
from sim.scenario.loading import ScenarioError
from sim.study.results import Results

ROOT = Path(__file__).parents[1]
POINT = ROOT / "scenarios" / "april-2024-point.yaml"
N = 80
HERE = {**os.environ, "PYTHONPATH": str(ROOT)}
"""The environment of a subprocess started in another folder: it imports this tree's ``sim``."""


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """An uninterrupted serial study of N replications: the yardstick for the resumed ones."""
    out = tmp_path_factory.mktemp("whole") / "out"
    return montecarlo.run_study(POINT, n=N, out=out, executor="serial", chunk_size=10)


def assert_same_tables(a: Results, b: Results) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs, check_exact=True)
    pd.testing.assert_frame_equal(a.events, b.events, check_exact=True)


def run(*args: str):
    return CliRunner().invoke(main, ["run", str(POINT), *args])


def chunk_files(folder: Path) -> list[str]:
    return sorted(p.name for p in (folder / "chunks").glob("runs-*.parquet"))


def one_line_error(stderr: str) -> str:
    """The last line of stderr, after checking that nothing else went wrong before it."""
    assert "Traceback" not in stderr, stderr
    return stderr.strip().splitlines()[-1]


KILLER = """\
import os, signal
from pathlib import Path
from sim.study.chunks import simulate_chunk

MARKER = Path(__file__).with_name("killed")

def dies_at_30(scenario, seed, chunk, posterior):
    if chunk.start == 30 and not MARKER.exists():
        MARKER.write_text(str(os.getpid()))
        os.kill(os.getpid(), signal.SIGKILL)
    return simulate_chunk(scenario, seed, chunk, posterior)
"""


def test_a_killed_pool_worker_is_named_and_resume_equals_an_uninterrupted_run(tmp_path, whole):
    """A worker SIGKILLed on its chunk (as the out-of-memory killer does) ends the run with exit
    1 and one line naming it, the chunks finished before are kept, and the command it gives
    finishes the study with the tables of an uninterrupted one."""
    (tmp_path / "killer.py").write_text(KILLER)
    out = tmp_path / "out"
    driver = (
        "import sys; sys.path.insert(0, '.'); import killer, sim.study.montecarlo as m; "
        "m.simulate_chunk = killer.dies_at_30; from sim.cli.main import main; main()"
    )
    command = [sys.executable, "-c", driver, "run", str(POINT), "-n", str(N), "-w", "2"]
    done = subprocess.run(
        [*command, "--chunk-size", "10", "-o", str(out)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=HERE,
        timeout=300,
    )
    pid = (tmp_path / "killed").read_text()
    assert done.returncode == 1, done.stderr
    line = one_line_error(done.stderr)
    assert f"worker process {pid} was killed by signal 9 (SIGKILL" in line
    assert f"finished work is kept in {out}" in line
    assert f"continue with `sim run {POINT} --resume {out}`" in line
    assert chunk_files(out), "no finished chunk was kept"
    result = run("--resume", str(out), "-w", "1")
    assert result.exit_code == 0, result.output
    assert_same_tables(Results(out), whole)


def test_a_full_disk_mid_study_keeps_every_finished_chunk_and_resume_equals_a_whole_run(
    tmp_path, whole, monkeypatch
):
    out = tmp_path / "out"
    real = montecarlo.atomic_write_bytes
    written = []

    def fills_up(path, data):
        """The disk fills up on the sixth chunk file: the runs of the third chunk, whose events
        were written (a chunk's runs file is written last: it marks the chunk finished)."""
        if "chunks" in path.parts:
            if len(written) == 5:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
            written.append(path.name)
        real(path, data)

    with monkeypatch.context() as patch:
        patch.setattr(montecarlo, "atomic_write_bytes", fills_up)
        result = run("-n", str(N), "--chunk-size", "10", "--executor", "serial", "-o", str(out))
    assert result.exit_code == 1, result.output
    line = one_line_error(result.output)
    assert line.startswith(f"error: disk full writing {out / 'chunks'}")
    assert f"continue with `sim run {POINT} --resume {out}` once space is freed" in line
    assert chunk_files(out) == sorted(n for n in written if n.startswith("runs-"))
    assert len(chunk_files(out)) == 2
    result = run("--resume", str(out), "-w", "1")
    assert result.exit_code == 0, result.output
    assert_same_tables(Results(out), whole)


@pytest.fixture(scope="module")
def finished(whole):
    return whole.folder


@pytest.mark.parametrize("command", ["run", "plot", "report", "compare"])
def test_an_output_below_a_file_is_a_one_line_error(tmp_path, finished, command):
    a_file = tmp_path / "notes.txt"
    a_file.write_text("mine")
    below = a_file / "x"
    args = {
        "run": ["run", str(POINT), "-n", "10", "-o", str(below)],
        "plot": ["plot", str(finished), "--kind", "max-rung", "-o", str(below)],
        "report": ["report", str(finished), "-o", str(below / "report.html")],
        "compare": ["compare", str(POINT), "--variant", "a: seed=1", "-n", "10", "-o", str(below)],
    }[command]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert one_line_error(result.output).startswith("error: --out ")
    assert f"{a_file} is a file, not a folder" in result.output
    assert a_file.read_text() == "mine"


def test_a_folder_that_cannot_be_written_is_a_one_line_error(tmp_path, monkeypatch):
    """Run as root, the tests cannot make a folder unwritable; the refusal the system would
    give is made by hand, once before the study (os.access) and once while it runs (mkdir)."""
    out = tmp_path / "locked" / "out"
    real = os.access
    with monkeypatch.context() as patch:
        patch.setattr(os, "access", lambda path, mode: Path(path) != tmp_path and real(path, mode))
        result = run("-n", "10", "-o", str(out))
    assert result.exit_code == 2, result.output
    assert one_line_error(result.output) == f"error: --out {out}: {tmp_path} is not writable"

    def refused(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(self))

    with monkeypatch.context() as patch:
        patch.setattr(Path, "mkdir", refused)
        result = run("-n", "10", "-o", str(out))
    assert result.exit_code == 2, result.output
    assert one_line_error(result.output) == f"error: {out}: Permission denied"
    assert not out.exists()


def test_a_report_over_a_folder_is_a_one_line_error(tmp_path, finished):
    result = CliRunner().invoke(main, ["report", str(finished), "-o", str(tmp_path)])
    assert result.exit_code == 2
    assert one_line_error(result.output) == (
        f"error: --out {tmp_path}: is a folder; give the HTML file to write"
    )


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--until-ci", "nan"], "'nan' is not a finite number above 0"),
        (["--until-ci", "inf"], "'inf' is not a finite number above 0"),
        (["-n", str(10**15)], f"{10**15} is not in the range 1<=x<=10000000"),
        (["--max-n", str(10**15)], f"{10**15} is not in the range 1<=x<=10000000"),
    ],
)
def test_numbers_no_study_can_honour_are_refused_before_it_starts(tmp_path, option, message):
    result = run(*option, "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output
    assert not (tmp_path / "out").exists()


def test_an_opening_after_the_horizon_is_refused_by_field_before_the_folder(tmp_path):
    out = tmp_path / "out"
    result = run("-n", "10", "--set", "opening.0.day=100", "-o", str(out))
    assert result.exit_code == 2, result.output
    assert one_line_error(result.output) == (
        "--set opening.0.day=100: opening[0].day: day 100 is not before the horizon (90 days): "
        "no run would see it"
    )
    assert not out.exists()
    trace = CliRunner().invoke(main, ["trace", str(POINT), "--set", "opening.0.day=90"])
    assert trace.exit_code == 2 and "opening[0].day: day 90 is not before" in trace.output


def test_the_api_refuses_what_the_command_line_refuses(tmp_path):
    with pytest.raises(ScenarioError, match=r"opening\[0\]\.day: day 100 is not before"):
        sim.run(POINT, n=5, out=tmp_path / "o", overrides=["opening.0.day=100"])
    with pytest.raises(ValueError, match="n must be at most 10,000,000"):
        sim.run(POINT, n=10**15, out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_a_resupply_that_would_never_end_the_run_is_refused_by_field(tmp_path):
    """Every 1e-9 days is 9e10 deliveries in 90 days: the run hung; now the schema refuses it
    at once, and a legal interval that makes over 10,000 deliveries within the horizon too."""
    resupply = "--set=actors.israel.defence.0.resupply={interceptors: 1, every_days: 1.0e-9}"
    assert one_line_error(CliRunner().invoke(main, ["trace", str(POINT), resupply]).output) == (
        f"{resupply.replace('=', ' ', 1)}: actors.israel.defence[0].resupply.every_days: "
        "must be >= 0.01, got 1e-09"
    )
    resupply = "--set=actors.israel.defence.0.resupply={interceptors: 1, every_days: 0.01}"
    for command in (
        ["run", str(POINT), "-n", "5", "-o", str(tmp_path / "o")],
        ["trace", str(POINT)],
    ):
        started = time.monotonic()
        result = CliRunner().invoke(main, [*command, resupply, "--set=horizon_days=3650"])
        assert time.monotonic() - started < 30
        assert result.exit_code == 2, result.output
        assert one_line_error(result.output) == (
            f"{resupply.replace('=', ' ', 1)}: actors.israel.defence[0].resupply.every_days: "
            "0.01 days makes 3.65e+05 deliveries within the 3650-day horizon; at most 10,000 per run"
        )
    assert not (tmp_path / "o").exists()
    fine = "--set=actors.israel.defence.0.resupply={interceptors: 1, every_days: 0.01}"
    assert CliRunner().invoke(main, ["trace", str(POINT), fine]).exit_code == 0


def test_chunk_size_on_resume_is_said_to_be_ignored(tmp_path, whole):
    out = tmp_path / "out"
    with pytest.MonkeyPatch.context() as patch:
        real = montecarlo.simulate_chunk

        def stops_at_30(scenario, seed, chunk, posterior):
            if chunk.start >= 30:
                raise KeyboardInterrupt
            return real(scenario, seed, chunk, posterior)

        patch.setattr(montecarlo, "simulate_chunk", stops_at_30)
        stopped = run("-n", str(N), "--chunk-size", "10", "--executor", "serial", "-o", str(out))
    assert stopped.exit_code == 130
    result = run("--resume", str(out), "--chunk-size", "25", "-w", "1")
    assert result.exit_code == 0, result.output
    note = f"note: --chunk-size 25 ignored: {out} keeps its chunks of 10"
    assert note in result.output
    assert_same_tables(Results(out), whole)
    again = run("--resume", str(out), "--chunk-size", "10", "-w", "1")
    assert again.exit_code == 0 and "note:" not in again.output


UNGUARDED = """\
import sim
results = sim.run({scenario!r}, n=20, workers=2, chunk_size=10{out})
print(results.summary().n)
"""


@pytest.mark.parametrize("out", ["", ", out='kept'"], ids=["temporary", "out given"])
def test_a_script_without_a_main_guard_is_told_what_to_add_and_leaves_nothing(tmp_path, out):
    script = tmp_path / "study.py"
    script.write_text(UNGUARDED.format(scenario=str(POINT), out=out))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=HERE,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr.strip() == (
        f"error: {script}:2: worker processes import this script and would run this line "
        'again; put the code that runs studies under `if __name__ == "__main__":`'
    )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.py"]


def test_the_same_script_with_a_main_guard_runs(tmp_path):
    body = textwrap.indent(UNGUARDED.format(scenario=str(POINT), out=""), "    ")
    script = tmp_path / "study.py"
    script.write_text('if __name__ == "__main__":\n' + body)
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=HERE,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "20"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["study.py"]


def test_the_api_and_the_command_line_share_their_defaults(tmp_path, whole):
    command = {p.name: p for p in main.commands["run"].params}
    assert command["workers"].default == sim.DEFAULT_WORKERS == (os.cpu_count() or 1)
    assert command["n"].default == sim.DEFAULT_N
    for name, api in (("compare", sim_compare.compare), ("sweep", sim_compare.sweep)):
        option = {p.name: p for p in main.commands[name].params}["n"]
        assert option.default == inspect.signature(api).parameters["n"].default
    results = sim.run(POINT, n=N, executor="serial", chunk_size=10)
    folder = results.folder
    assert folder.is_dir() and not folder.is_relative_to(Path.cwd())
    assert_same_tables(results, whole)
    del results
    assert not folder.exists(), "the temporary folder outlived its Results"


def test_the_progress_bar_reads_elapsed_then_left(monkeypatch):
    screen = StringIO()
    monkeypatch.setattr(support, "stderr", Console(file=screen, force_terminal=True, width=120))
    with support.progress_bar("replications") as progress:
        progress.start(100, 0)
        progress.advance(40)
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", screen.getvalue())
    last = [line for line in re.split(r"[\r\n]", plain) if line.strip()][-1]
    assert "40/100" in last, last
    assert " elapsed, " in last and last.rstrip().endswith(" left"), last
    assert last.index("elapsed") < last.index("left")


def test_tables_piped_to_a_file_are_never_cut(whole):
    result = CliRunner().invoke(main, ["summary", str(whole.folder)])
    assert result.exit_code == 0
    assert "…" not in result.output
    for text in ("P(reach)", "95% CI (Wilson)", "median day reached"):
        assert text in result.output
    for label in whole.summary().rungs["label"]:
        assert label in result.output


@given(st.floats(-1.0, 1.0))
def test_a_percentage_is_never_minus_zero(share):
    text = support.percent(share)
    assert text.endswith("%") and text != "-0%"
    assert int(text[:-1]) == round(100 * share)


def test_the_trace_header_shows_the_overrides():
    args = ["trace", str(POINT), "--set", "actors.iran.policy.self_restraint=0.5"]
    header = CliRunner().invoke(main, args).output.splitlines()[0]
    assert "--set actors.iran.policy.self_restraint=0.5" in header
    plain = CliRunner().invoke(main, ["trace", str(POINT)]).output.splitlines()[0]
    assert "--set" not in plain


def test_calibrate_never_writes_the_shipped_posterior_unless_told(tmp_path, monkeypatch):
    import sim.calibration.smc as smc

    wrote = []

    def fit(config, out, **options):
        wrote.append(Path(out))
        return {"generations": pd.DataFrame({"acceptance_rate": [0.5], "ess": [20.0]})}

    monkeypatch.setattr(smc, "run_calibration", fit)
    monkeypatch.chdir(ROOT)
    config = str(ROOT / "calibration" / "calibrate.yaml")
    for args, expected in (([], "results/calibration"), (["--install"], "calibration")):
        result = CliRunner().invoke(main, ["calibrate", "--config", config, "--no-checks", *args])
        assert result.exit_code == 0, result.output
        assert wrote.pop() == Path(expected)
    both = ["calibrate", "--config", config, "--install", "-o", str(tmp_path)]
    result = CliRunner().invoke(main, both)
    assert result.exit_code == 2 and not wrote
    assert "--install" in CliRunner().invoke(main, ["calibrate", "--help"]).output


def start_scheduler(where: Path) -> tuple[subprocess.Popen, str]:
    where.mkdir()
    address_file = where / "scheduler.json"
    command = [sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1"]
    command += ["--port", "0", "--no-dashboard", "--scheduler-file", str(address_file)]
    quiet = {"cwd": where, "stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL}
    process = subprocess.Popen(command, env=HERE, **quiet)
    deadline = time.monotonic() + 60
    while not address_file.exists():
        assert time.monotonic() < deadline, "the scheduler did not start in a minute"
        time.sleep(0.1)
    return process, json.loads(address_file.read_text())["address"]


def sim_run(*args: str, env: dict | None = None, **options) -> subprocess.Popen:
    command = [sys.executable, "-m", "sim", "run", str(POINT), "--executor", "dask", *args]
    return subprocess.Popen(
        command, stderr=subprocess.PIPE, text=True, env={**HERE, **(env or {})}, **options
    )


@pytest.mark.parametrize(
    ("address", "message"),
    [
        ("garbage://", "Dask scheduler garbage://: unknown address scheme 'garbage'"),
        ("tcp://127.0.0.1:9", "Dask scheduler tcp://127.0.0.1:9: nothing answers there"),
        ("tcp://nowhere", "Dask scheduler tcp://nowhere: give it as tcp://HOST:PORT"),
    ],
)
def test_a_scheduler_address_that_cannot_work_is_refused_at_once(tmp_path, address, message):
    started = time.monotonic()
    result = run(
        "-n", "10", "--executor", "dask", "--scheduler", address, "-o", str(tmp_path / "o")
    )
    assert time.monotonic() - started < 15
    assert result.exit_code == 2, result.output
    assert one_line_error(result.output).startswith(f"error: {message}")
    assert not (tmp_path / "o").exists()


def test_a_scheduler_without_workers_is_waited_for_a_bounded_time(tmp_path):
    scheduler, address = start_scheduler(tmp_path / "cluster")
    try:
        started = time.monotonic()
        process = sim_run("-n", "10", "--scheduler", address, "-o", str(tmp_path / "o"),
                          env={"SIM_DASK_WORKER_WAIT": "2"})  # fmt: skip
        _, stderr = process.communicate(timeout=120)
    finally:
        scheduler.terminate()
        scheduler.wait(timeout=30)
    assert time.monotonic() - started < 60
    assert process.returncode == 1, stderr
    assert one_line_error(stderr).startswith(
        f"error: no worker joined the Dask scheduler {address} within 2 s; start one "
        f"(dask worker {address}) or wait longer (SIM_DASK_WORKER_WAIT=SECONDS); nothing had "
        "finished, so nothing is kept; run the same command again"
    )
    assert not (tmp_path / "o" / "manifest.json").exists()


def test_a_scheduler_killed_mid_study_keeps_finished_chunks_and_resume_equals_a_whole_run(
    tmp_path, whole
):
    scheduler, address = start_scheduler(tmp_path / "cluster")
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", "--no-dashboard", address]
    worker += ["--nworkers", "1", "--nthreads", "1"]
    quiet = {
        "cwd": tmp_path / "cluster",
        "stdout": subprocess.DEVNULL,
        "stderr": subprocess.DEVNULL,
    }
    workers = subprocess.Popen(worker, env=HERE, **quiet)
    out = tmp_path / "out"
    try:
        process = sim_run("-n", str(N), "--chunk-size", "1", "--scheduler", address, "-o", str(out))
        deadline = time.monotonic() + 120
        while len(chunk_files(out)) < 3:
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "no chunk was written in two minutes"
            time.sleep(0.01)
        scheduler.kill()
        _, stderr = process.communicate(timeout=120)
    finally:
        for started in (workers, scheduler):
            started.kill()
            started.wait(timeout=30)
    assert process.returncode == 1, stderr
    line = one_line_error(stderr)
    assert line.startswith(f"error: lost the connection to the Dask scheduler ({address}")
    assert f"continue with `sim run {POINT} --resume {out}`" in line
    kept = chunk_files(out)
    assert 3 <= len(kept) < N
    result = run("--resume", str(out), "-w", "1")
    assert result.exit_code == 0, result.output
    assert_same_tables(Results(out), whole)


@pytest.mark.parametrize(("chunks", "said"), [(0, "nothing had finished"), (1, "finished work")])
def test_an_interrupted_comparison_says_truly_whether_work_is_kept(tmp_path, chunks, said):
    from tests.interrupts import interrupted_after

    out = tmp_path / "cmp"
    command = ["compare", str(POINT), "-n", "40", "-o", str(out)]
    command += ["--variant", "strong: restrains[us>israel].pressure=0.9", "--executor", "serial"]
    said_lines = []

    def run():
        result = CliRunner().invoke(main, command)
        said_lines.append(result.stderr)
        if result.exit_code == 130:
            raise KeyboardInterrupt

    interrupted_after(montecarlo, "simulate_chunk", chunks, run)
    assert f"interrupted: {said}" in said_lines[0]
    finished = CliRunner().invoke(main, command)
    assert finished.exit_code == 0, finished.output
