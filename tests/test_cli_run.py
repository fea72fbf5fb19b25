"""`sim run`, `sim trace` and `sim summary` as a user meets them: real processes, real signals."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import sim.study.montecarlo as montecarlo
from sim.cli.main import main
from sim.model.outcomes import run_row
from sim.model.world import run_replication
from sim.scenario.loading import load_scenario
from sim.study.results import Results

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
N = 300
POSTERIOR = "../calibration/posterior.parquet"
ABSOLUTE_POSTERIOR = APRIL.read_text().replace(POSTERIOR, str((APRIL.parent / POSTERIOR).resolve()))


@pytest.fixture(scope="module")
def whole(tmp_path_factory):
    """An uninterrupted study of N replications (serial), the yardstick for the others."""
    out = tmp_path_factory.mktemp("whole") / "out"
    return montecarlo.run_study(APRIL, n=N, out=out, executor="serial", chunk_size=10)


def assert_same_tables(a: Results, b: Results) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs, check_exact=True)
    pd.testing.assert_frame_equal(a.events, b.events, check_exact=True)


def _as_a_shell_starts_it() -> None:
    """In the child before exec: Ctrl-C with its default action and not blocked, whatever the
    test process inherited (a test worker may have it ignored or blocked; both survive exec),
    and a lower priority than the test (below)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    os.nice(10)


def start_run(out: Path, workers: int) -> subprocess.Popen:
    """`python -m sim run` in its own process group, as a shell would start it, at a lower
    priority than this process: on a loaded machine (other test workers running studies) the
    test would otherwise wait its turn while the whole run finished, and find nothing left to
    interrupt."""
    command = [sys.executable, "-m", "sim", "run", str(APRIL), "-n", str(N)]
    command += ["--workers", str(workers), "--chunk-size", "10", "-o", str(out)]
    return subprocess.Popen(
        command,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
        preexec_fn=_as_a_shell_starts_it,
        cwd=ROOT,
    )


def wait_for_chunks(process: subprocess.Popen, out: Path, count: int) -> None:
    deadline = time.monotonic() + 120
    while len(list((out / "chunks").glob("runs-*.parquet"))) < count:
        assert process.poll() is None, "the run ended before it could be interrupted"
        assert time.monotonic() < deadline, "no chunk was written in two minutes"
        time.sleep(0.005)


def group_is_gone(group: int) -> bool:
    """True once no process of the group is left (waits up to a minute, polling)."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            os.killpg(group, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def resume(out: Path, workers: int = 1):
    return CliRunner().invoke(main, ["run", str(APRIL), "--resume", str(out), "-w", str(workers)])


@pytest.mark.parametrize("workers", [1, 2])
def test_kill_9_mid_run_then_resume_equals_an_uninterrupted_run(tmp_path, whole, workers):
    out = tmp_path / "out"
    process = start_run(out, workers)
    wait_for_chunks(process, out, 3)
    os.kill(process.pid, signal.SIGKILL)
    process.wait()
    assert group_is_gone(process.pid), "worker processes outlived the killed run"
    assert json.loads((out / "manifest.json").read_text())["status"] == "running"
    finished = len(list((out / "chunks").glob("runs-*.parquet")))
    assert 3 <= finished < N // 10
    result = resume(out, workers)
    assert result.exit_code == 0, result.output
    assert f"n = {N}" in result.output
    assert_same_tables(Results(out), whole)


def test_ctrl_c_keeps_finished_chunks_and_says_how_to_resume(tmp_path, whole):
    out = tmp_path / "out"
    process = start_run(out, workers=2)
    wait_for_chunks(process, out, 3)
    os.killpg(process.pid, signal.SIGINT)  # what the terminal sends to the whole group
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 130
    assert f"continue with `sim run {APRIL} --resume {out}`" in stderr.decode()
    assert "Traceback" not in stderr.decode()
    assert group_is_gone(process.pid)
    assert len(list((out / "chunks").glob("runs-*.parquet"))) >= 3
    result = resume(out, workers=2)
    assert result.exit_code == 0, result.output
    assert_same_tables(Results(out), whole)


@pytest.fixture
def interrupted(tmp_path, monkeypatch):
    """A study of N replications stopped after its first two chunks, as Ctrl-C would."""
    real = montecarlo.simulate_chunk

    def stops_at_20(scenario, seed, chunk, posterior):
        if chunk.start >= 20:
            raise KeyboardInterrupt
        return real(scenario, seed, chunk, posterior)

    out = tmp_path / "out"
    with monkeypatch.context() as patch:
        patch.setattr(montecarlo, "simulate_chunk", stops_at_20)
        with pytest.raises(KeyboardInterrupt):
            montecarlo.run_study(APRIL, n=N, out=out, executor="serial", chunk_size=10)
    return out


def snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_another_scenario_or_seed_is_refused_without_touching_the_folder(
    tmp_path, interrupted, whole
):
    before = snapshot(interrupted)
    changed = tmp_path / "changed.yaml"
    changed.write_text(ABSOLUTE_POSTERIOR.replace("horizon_days: 90", "horizon_days: 91", 1))
    assert load_scenario(changed) != load_scenario(APRIL)
    for args, message in (
        ([str(APRIL), "--set", "actors.iran.policy.self_restraint=0.5"], "another scenario"),
        ([str(changed)], "another scenario"),
        ([str(APRIL), "--seed", "7"], "was made with seed 20240401, not 7"),
    ):
        result = CliRunner().invoke(main, ["run", *args, "--resume", str(interrupted)])
        assert result.exit_code == 2, result.output
        assert message in result.output and "refusing to mix two studies" in result.output
        assert "Traceback" not in result.output
        assert snapshot(interrupted) == before
    result = CliRunner().invoke(
        main, ["run", str(APRIL), "-n", "500", "--resume", str(interrupted)]
    )
    assert result.exit_code == 2, result.output
    assert f"is a study of {N} replications, not 500" in result.output
    assert snapshot(interrupted) == before
    same_model = tmp_path / "same.yaml"  # other text, same model: the same study
    same_model.write_text("# a comment changes the file, not the model\n" + ABSOLUTE_POSTERIOR)
    result = CliRunner().invoke(main, ["run", str(same_model), "--resume", str(interrupted)])
    assert result.exit_code == 0, result.output
    assert_same_tables(Results(interrupted), whole)


def test_a_corrupted_chunk_is_refused_by_name(interrupted):
    damaged = interrupted / "chunks" / "runs-000000010-000000020.parquet"
    damaged.write_bytes(damaged.read_bytes()[:-40])
    result = resume(interrupted)
    assert result.exit_code == 2
    assert f"{damaged}: corrupted chunk" in result.output and "Traceback" not in result.output


@pytest.mark.parametrize(
    ("setup", "message"),
    [("non-empty", "already exists and is not empty"), ("no manifest", "not a results folder")],
)
def test_a_folder_that_is_not_a_fresh_or_resumable_study_is_refused(tmp_path, setup, message):
    folder = tmp_path / "folder"
    folder.mkdir()
    (folder / "notes.txt").write_text("mine")
    option = "--out" if setup == "non-empty" else "--resume"
    result = CliRunner().invoke(main, ["run", str(APRIL), "-n", "10", option, str(folder)])
    assert result.exit_code == 2 and message in result.output
    assert snapshot(folder) == {"notes.txt": b"mine"}


STRIKE = re.compile(r"STRIKE #\d+ (\S+) -> (\S+) at rung (\d)")
OUTCOME = re.compile(r"outcome of #\d+: (\d+) launched, .*?; (\d+) casualties")


@pytest.mark.parametrize("k", [0, 17, 123, N - 1])
def test_trace_of_replication_k_matches_row_k(whole, k):
    """The trace's strikes, launches and casualties are those in row K of runs.parquet."""
    stored = whole.runs.set_index("replication").loc[k]
    text = CliRunner().invoke(main, ["trace", str(APRIL), "--replication", str(k)]).output
    strikes = STRIKE.findall(text)
    assert " ".join(f"{a}>{t}:{r}" for a, t, r in strikes) == stored["path"]
    assert max(int(r) for _, _, r in strikes) == stored["max_rung"]
    outcomes = [(int(a), int(b)) for a, b in OUTCOME.findall(text)]
    assert sum(a for a, _ in outcomes) == stored["launched"]
    assert sum(b for _, b in outcomes) == stored["casualties"]
    scenario = load_scenario(APRIL)
    row = run_row(run_replication(scenario, k), k, list(scenario.actors))
    pd.testing.assert_series_equal(
        pd.Series(row).drop("replication"),
        stored,
        check_names=False,
        check_dtype=False,
        check_exact=True,
    )


def test_trace_of_different_replications_differ(whole):
    paths = whole.runs["path"]
    k, j = 0, int(paths.ne(paths[0]).idxmax())
    texts = [CliRunner().invoke(main, ["trace", str(APRIL), "-r", str(r)]).output for r in (k, j)]
    assert texts[0] != texts[1]


def test_run_prints_the_summary_and_until_ci_reports_n(tmp_path):
    out = tmp_path / "out"
    args = ["run", str(APRIL), "-n", "40", "--chunk-size", "40", "-w", "1", "-o", str(out)]
    result = CliRunner().invoke(main, [*args, "--until-ci", "0.06"])
    assert result.exit_code == 0, result.output
    n = Results(out).manifest["n"]
    assert n > 40 and n % 40 == 0
    words = " ".join(result.output.split())  # rich wraps long lines at the terminal width
    assert f"(n = {n})" in words and f"results: {out} (n = {n}, seed 20240401)" in words
    for label in ("shadow war", "Most frequent escalation paths", "95% CI (Wilson)"):
        assert label in result.output
    summary = CliRunner().invoke(main, ["summary", str(out)])
    assert summary.exit_code == 0 and summary.output in result.output
