"""Study folders that lose nothing and are never taken as good when damaged (issue 15).

A study stopped at any moment (an error, Ctrl-C, a kill while its folder is created or while its
chunks are removed) leaves a folder the same command continues; every file it wrote is checked
against the SHA-256 its manifest recorded; one command at a time writes a folder; CSV cells
never reach a spreadsheet as formulas.
"""

import csv
import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import example, given
from hypothesis import strategies as st

import sim.study.montecarlo as montecarlo
from sim.cli.main import main
from sim.scenario.loading import load_scenario
from sim.study.results import Results, ResultsError, path_table, rung_table

ROOT = Path(__file__).parents[1]
POINT = ROOT / "scenarios" / "april-2024-point.yaml"
N = 40


def study(out: Path, **options) -> Results:
    options = {"n": N, "executor": "serial", "chunk_size": 10} | options
    return montecarlo.run_study(POINT, out=out, **options)


@pytest.fixture(scope="module")
def reference(tmp_path_factory) -> Results:
    """An uninterrupted study that every recovered one must equal."""
    return study(tmp_path_factory.mktemp("reference") / "out")


def assert_same_tables(a: Results, b: Results) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs, check_exact=True)
    pd.testing.assert_frame_equal(a.events, b.events, check_exact=True)


def manifest_of(folder: Path) -> dict:
    return json.loads((folder / "manifest.json").read_text())


def chunk_files(folder: Path) -> list[Path]:
    return sorted((folder / "chunks").glob("*.parquet"))


def fail_at_chunk(monkeypatch, start: int, error: BaseException) -> None:
    """Make the chunk starting at replication ``start`` raise ``error`` (the others run)."""
    real = montecarlo.simulate_chunk

    def failing(scenario, seed, chunk, posterior):
        if chunk.start == start:
            raise error
        return real(scenario, seed, chunk, posterior)

    monkeypatch.setattr(montecarlo, "simulate_chunk", failing)


def failed_study(out: Path, start: int = 20) -> Path:
    """``out``: a study stopped by an error in the chunk starting at ``start``."""
    with pytest.MonkeyPatch.context() as patch:
        fail_at_chunk(patch, start, RuntimeError("disk on  fire"))
        with pytest.raises(RuntimeError):
            study(out)
    return out


# Item 5: a failed run leaves no half folder


@pytest.mark.parametrize("error", [RuntimeError("boom"), KeyboardInterrupt()])
def test_a_run_stopped_before_any_chunk_finished_leaves_no_folder(tmp_path, monkeypatch, error):
    fail_at_chunk(monkeypatch, 0, error)
    with pytest.raises(type(error)):
        study(tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_a_bad_posterior_file_leaves_no_folder(tmp_path):
    """The shipped scenario with its posterior replaced by a file that is not Parquet."""
    (tmp_path / "scenarios").mkdir()
    (tmp_path / "calibration").mkdir()
    scenario = tmp_path / "scenarios" / "april-2024.yaml"
    scenario.write_text((ROOT / "scenarios" / "april-2024.yaml").read_text())
    (tmp_path / "calibration" / "posterior.parquet").write_text("not parquet\n")
    with pytest.raises(Exception) as caught:
        montecarlo.run_study(scenario, n=N, executor="serial", out=tmp_path / "out")
    assert "posterior" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_a_run_stopped_after_some_chunks_is_marked_failed_and_resumes(tmp_path, reference):
    out = failed_study(tmp_path / "out")
    manifest = manifest_of(out)
    assert manifest["status"] == "failed"
    assert manifest["failure"] == "RuntimeError: disk on fire"
    assert sorted(manifest["chunks"]) == ["000000000-000000010", "000000010-000000020"]
    with pytest.raises(ResultsError) as caught:
        Results(out)
    assert str(caught.value) == (
        f"{out}: the study is incomplete: it failed (RuntimeError: disk on fire); 20 of {N} "
        f"replications are kept; continue it with `sim run {POINT} --resume {out}`"
    )
    summary = CliRunner().invoke(main, ["summary", str(out)])
    assert summary.exit_code == 2 and "it failed (RuntimeError: disk on fire)" in summary.output
    assert_same_tables(study(out, resume=True), reference)


# Item 7: kills while the folder is created or while its chunks are removed


@pytest.mark.parametrize("resume", [False, True], ids=["sim run -o", "sim run --resume"])
def test_a_folder_holding_only_this_tools_temporary_files_is_taken_as_empty(
    tmp_path, reference, resume
):
    out = tmp_path / "out"
    out.mkdir()
    (out / ".scenario.yaml.k2j3l4.tmp").write_text("half a scenario")
    assert_same_tables(study(out, resume=resume), reference)
    assert not list(out.glob(".*.tmp"))


KILLED_AT_RENAME = """
import os, sys
from sim.study.montecarlo import run_study
renames, real = [0], os.replace
def replace(source, target):
    renames[0] += 1
    if renames[0] == int(sys.argv[2]):
        os._exit(9)  # as a kill would: the file is written, not yet renamed
    return real(source, target)
os.replace = replace
run_study(sys.argv[3], n=40, chunk_size=10, executor="serial", out=sys.argv[1])
"""


@pytest.mark.parametrize("renames", [1, 2, 3], ids=["first file", "second", "third"])
def test_a_kill_while_the_folder_is_created_is_recovered_by_the_same_command(
    tmp_path, reference, renames
):
    out = tmp_path / "out"
    killed = subprocess.run(
        [sys.executable, "-c", KILLED_AT_RENAME, str(out), str(renames), str(POINT)],
        cwd=ROOT,
        capture_output=True,
        check=False,
    )
    assert killed.returncode == 9, killed.stderr.decode()
    assert out.is_dir() and not (out / "runs.parquet").exists()
    assert_same_tables(study(out), reference)


def test_a_kill_while_chunks_are_removed_is_finished_by_the_next_resume(
    tmp_path, reference, monkeypatch
):
    real, removed = Path.unlink, []

    def unlink(path, missing_ok=False):
        if path.parent.name == "chunks" and path.suffix == ".parquet":
            if len(removed) == 3:
                raise KeyboardInterrupt
            removed.append(path)
        return real(path, missing_ok=missing_ok)

    with monkeypatch.context() as patch:
        patch.setattr(Path, "unlink", unlink)
        with pytest.raises(KeyboardInterrupt):
            study(tmp_path / "out")
    out = tmp_path / "out"
    assert manifest_of(out)["status"] == "complete" and chunk_files(out)
    assert_same_tables(Results(out), reference)
    assert_same_tables(study(out, resume=True), reference)
    assert chunk_files(out) == []


# Item 11: content hashes


def test_a_chunk_replaced_by_valid_parquet_with_other_numbers_is_refused(
    tmp_path, reference, monkeypatch
):
    out = failed_study(tmp_path / "out")
    chunk = out / "chunks" / "runs-000000010-000000020.parquet"
    table = pq.read_table(chunk)
    sixes = pa.array([6] * table.num_rows, table.schema.field("max_rung").type)
    table = table.set_column(table.schema.get_field_index("max_rung"), "max_rung", sixes)
    pq.write_table(table, chunk, write_page_checksum=True)
    with monkeypatch.context() as patch:
        patch.setattr(montecarlo, "simulate_chunk", None)  # any work would fail differently
        with pytest.raises(ResultsError, match=f"{chunk}: corrupted chunk .*SHA-256.*delete it"):
            study(out, resume=True)
    chunk.unlink()  # as the message says
    assert_same_tables(study(out, resume=True), reference)


def test_an_events_chunk_with_an_event_fewer_is_refused_then_recomputed_once_deleted(
    tmp_path, reference
):
    out = failed_study(tmp_path / "out")
    chunk = out / "chunks" / "events-000000010-000000020.parquet"
    pq.write_table(pq.read_table(chunk).slice(1), chunk, write_page_checksum=True)
    with pytest.raises(ResultsError, match=f"{chunk}: corrupted chunk .*SHA-256.*delete it"):
        study(out, resume=True)
    chunk.unlink()  # as the message says; its runs table stays behind
    assert_same_tables(study(out, resume=True), reference)


def test_a_truncated_events_table_is_refused_and_rebuilt_on_resume(tmp_path, reference):
    out = study(tmp_path / "out").folder
    events = out / "events.parquet"
    events.write_bytes(events.read_bytes()[: events.stat().st_size // 2])
    with pytest.raises(ResultsError, match=f"{events}: changed since the study wrote it"):
        Results(out)
    rebuilt = study(out, resume=True)
    assert_same_tables(rebuilt, reference)
    assert rebuilt.manifest["rebuilt"]["damaged"] == ["events.parquet"]


def test_a_hand_edited_runs_table_is_refused_by_every_reader(tmp_path):
    out = study(tmp_path / "out").folder
    runs = pd.read_parquet(out / "runs.parquet")
    runs.loc[0, "max_rung"] = 6
    runs.to_parquet(out / "runs.parquet")
    with pytest.raises(ResultsError, match=r"runs\.parquet: changed since the study wrote it"):
        Results(out).summary()
    result = CliRunner().invoke(main, ["summary", str(out)])
    assert result.exit_code == 2
    assert result.output.count("\n") == 1 and "runs.parquet: changed since" in result.output


def test_a_table_damaged_in_place_is_refused_when_read(tmp_path):
    """Same size: opening (which checks sizes) passes; reading checks the SHA-256."""
    out = study(tmp_path / "out").folder
    path = out / "runs.parquet"
    data = bytearray(path.read_bytes())
    middle = len(data) // 2
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))
    results = Results(out)
    for read in (lambda: results.runs, results.summary):
        with pytest.raises(ResultsError, match=r"runs\.parquet: changed since the study wrote"):
            read()


def test_a_csv_copy_edited_in_a_spreadsheet_is_written_again_on_resume(tmp_path):
    """Results never read the CSV copies, so an edited one does not stop them; resume, which
    checks every recorded file, writes it again from its Parquet table."""
    out = study(tmp_path / "out", n=20, csv=True).folder
    original = (out / "events.csv").read_bytes()
    (out / "events.csv").write_text("edited\n")
    assert len(Results(out).runs) == 20
    study(out, n=20, resume=True)
    assert (out / "events.csv").read_bytes() == original


def test_a_manifest_whose_n_was_changed_is_refused(tmp_path):
    out = study(tmp_path / "out").folder
    manifest = manifest_of(out)
    manifest["n"] = 400
    (out / "manifest.json").write_text(json.dumps(manifest))
    for read in (lambda: Results(out), lambda: study(out, resume=True)):
        with pytest.raises(ResultsError, match=r"manifest\.json: changed since the study"):
            read()


def test_a_deleted_scenario_copy_is_refused_by_name_and_restored_on_resume(tmp_path):
    out = study(tmp_path / "out").folder
    text = (out / "scenario.yaml").read_text()
    (out / "scenario.yaml").unlink()
    with pytest.raises(ResultsError, match=r"scenario\.yaml: missing"):
        Results(out)
    result = CliRunner().invoke(main, ["report", str(out)])
    assert result.exit_code == 2 and "scenario.yaml: missing" in result.output
    assert study(out, resume=True).scenario_text == text


def test_a_folder_from_before_the_hashes_is_still_read(tmp_path, reference):
    out = study(tmp_path / "out").folder
    manifest = manifest_of(out)
    for key in ("files", "chunks", "manifest_sha256"):
        del manifest[key]
    (out / "manifest.json").write_text(json.dumps(manifest))
    assert_same_tables(Results(out), reference)
    assert_same_tables(study(out, resume=True), reference)


# Item 12: one command at a time on a folder

HOLD_THE_LOCK = """
import sys, time
from pathlib import Path
from sim.study.tables import study_lock
with study_lock(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(60)
"""


def test_a_second_command_is_refused_naming_the_holder_and_a_dead_ones_lock_taken_over(
    tmp_path, reference
):
    out = failed_study(tmp_path / "out")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_THE_LOCK, str(out)], cwd=ROOT, stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout.readline() == b"held\n"
        with pytest.raises(
            ResultsError, match=rf"in use by another sim command \(process {holder.pid}\)"
        ):
            study(out, resume=True)
        result = CliRunner().invoke(main, ["run", str(POINT), "--resume", str(out)])
        assert result.exit_code == 2 and f"(process {holder.pid})" in result.output
        assert manifest_of(out)["status"] == "failed"  # untouched by the refused commands
    finally:
        os.kill(holder.pid, signal.SIGKILL)
        holder.wait()
    assert (out / ".lock").read_text().strip() == str(holder.pid)  # stale: its holder is dead
    assert_same_tables(study(out, resume=True), reference)
    assert not (out / ".lock").exists()


# Item 15: the summary does not load the runs table


def test_the_summary_is_read_from_disk_without_loading_the_runs_table(reference):
    results = Results(reference.folder)
    summary = results.summary()
    assert "runs" not in results.__dict__, "summary() loaded the whole runs table"
    runs = results.runs
    pd.testing.assert_frame_equal(summary.rungs, rung_table(runs), check_exact=True)
    pd.testing.assert_frame_equal(summary.paths, path_table(runs, "rung_path"), check_exact=True)
    pd.testing.assert_frame_equal(summary.actor_paths, path_table(runs, "path"), check_exact=True)


# Item 17: empty tables and CSV cells


def test_a_study_without_any_event_writes_both_tables(tmp_path):
    """No event at all (a zero-row row group was refused). The schema refuses an opening after
    the horizon, so the scenario object is built past validation, as a Python user may; its
    endings are switched off, since a round that can end records how it ended."""
    scenario = load_scenario(POINT)
    late = [scenario.opening[0].model_copy(update={"day": 100.0})]
    quiet = scenario.model_copy(
        update={"opening": late, "ceasefire": None, "end_when_settled": False}
    )
    results = montecarlo.run_study(quiet, n=20, out=tmp_path / "out", executor="serial")
    assert len(results.runs) == 20 and len(results.events) == 0


RISKY = "=+-@\t\r"


def read_cells(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as source:
        return [cell for row in list(csv.reader(source))[1:] for cell in row]


def is_plain_number(text: str) -> bool:
    """A number in decimal notation (``-1.5``, ``+2e3``): a spreadsheet reads it as a number."""
    return re.fullmatch(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?", text, re.ASCII) is not None


def starts_a_formula(text: str) -> bool:
    """What a spreadsheet would run: text beginning with = + - @, a tab or a CR, not a number."""
    return text != "" and text[0] in RISKY and not is_plain_number(text)


@example(["-1.5", "=1+2", "@SUM(A1)", "+", "\tx", "\rx", "plain", ""])
@given(
    st.lists(
        st.text(st.characters(min_codepoint=32, max_codepoint=0x17F) | st.sampled_from(RISKY)),
        min_size=1,
        max_size=5,
    )
)
def test_csv_cells_never_start_a_formula_and_keep_their_text(tmp_path_factory, texts):
    from sim.study.tables import write_csv_safely

    folder = tmp_path_factory.mktemp("csv")
    frame = pd.DataFrame({"name": texts, "value": range(len(texts))})
    for kind, table in (("pandas", frame), ("arrow", pa.Table.from_pandas(frame))):
        path = folder / f"{kind}.csv"
        write_csv_safely(table, path)
        names = read_cells(path)[::2]
        for text, cell in zip(texts, names, strict=True):
            assert cell == ("'" + text if starts_a_formula(text) else text)


def test_a_layer_named_as_a_formula_reaches_events_csv_inert(tmp_path):
    formula = '=HYPERLINK("http://example.invalid","x")'
    results = study(
        tmp_path / "out", n=20, csv=True, overrides=[f"actors.israel.defence.2.name={formula}"]
    )
    assert (results.events["layer"] == formula).any(), "the renamed layer never fired"
    cells = read_cells(results.folder / "events.csv")
    assert "'" + formula in cells
    assert not [c for c in cells if starts_a_formula(c)]
