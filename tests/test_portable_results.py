"""A study folder is self-contained: moved to another directory, with the scenario and the
posterior it was made from gone, it is resumed, re-plotted, validated and run again from its own
copies (issue 13 item 3); a changed posterior copy is refused by name."""

import hashlib
import shutil
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

import sim.study.montecarlo as montecarlo
from sim.cli.main import main
from sim.study.results import POSTERIOR_COPY, Results, ResultsError
from tests.interrupts import interrupted_after

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
N = 10


@pytest.fixture
def project(tmp_path) -> Path:
    """A scenario file and the posterior it names, in a checkout of their own (removed by the
    tests once a study is made, as on another machine)."""
    named = yaml.safe_load(APRIL.read_text(encoding="utf-8"))["parameters_from"]
    posterior = (APRIL.parent / named.partition("#")[0]).resolve()
    (tmp_path / "project" / "scenarios").mkdir(parents=True)
    (tmp_path / "project" / "calibration").mkdir()
    shutil.copy(APRIL, tmp_path / "project" / "scenarios" / APRIL.name)
    shutil.copy(posterior, tmp_path / "project" / "calibration" / posterior.name)
    return tmp_path / "project" / "scenarios" / APRIL.name


def study(scenario: Path, out: Path, **options) -> Results:
    options = {"n": N, "executor": "serial", "chunk_size": 5} | options
    return montecarlo.run_study(scenario, out=out, **options)


def interrupted(scenario: Path, out: Path, chunks: int) -> Path:
    """``out``: a study stopped, as on Ctrl-C, after ``chunks`` chunks were written."""
    interrupted_after(montecarlo, "simulate_chunk", chunks, lambda: study(scenario, out))
    return out


def moved(folder: Path, project: Path, elsewhere: Path) -> Path:
    """``folder`` moved to ``elsewhere``, and the project that made it removed."""
    elsewhere.parent.mkdir(parents=True, exist_ok=True)
    folder.rename(elsewhere)
    shutil.rmtree(project.parents[1])
    return elsewhere


def assert_same_tables(a: Results, b: Results) -> None:
    pd.testing.assert_frame_equal(a.runs, b.runs, check_exact=True)
    pd.testing.assert_frame_equal(a.events, b.events, check_exact=True)


def sim_command(*args) -> object:
    return CliRunner().invoke(main, [str(a) for a in args])


def test_the_copy_names_its_own_posterior_relatively_and_the_manifest_its_hash(project, tmp_path):
    source = yaml.safe_load(project.read_text(encoding="utf-8"))["parameters_from"]
    posterior = project.parents[1] / "calibration" / Path(source.partition("#")[0]).name
    results = study(project, tmp_path / "out")
    named = yaml.safe_load(results.scenario_text)["parameters_from"]
    assert named == POSTERIOR_COPY + "".join(source.partition("#")[1:])  # #EPISODE kept
    copy = results.folder / POSTERIOR_COPY
    assert copy.read_bytes() == posterior.read_bytes()
    record = results.manifest["files"][POSTERIOR_COPY]
    assert record["sha256"] == hashlib.sha256(posterior.read_bytes()).hexdigest()


def test_a_moved_interrupted_study_resumes_from_its_copy_as_if_never_stopped(project, tmp_path):
    whole = study(project, tmp_path / "whole")
    out = interrupted(project, project.parents[1] / "results" / "april", chunks=1)
    folder = moved(out, project, tmp_path / "elsewhere" / "april")
    with pytest.raises(ResultsError) as refused:
        Results(folder)
    assert f"continue it with `sim run {folder / 'scenario.yaml'} --resume {folder}`" in str(
        refused.value
    )
    result = sim_command("run", folder / "scenario.yaml", "--resume", folder, "-w", "1")
    assert result.exit_code == 0, result.output
    resumed = Results(folder)
    assert_same_tables(resumed, whole)
    assert resumed.manifest["scenario_sha256"] == whole.manifest["scenario_sha256"]
    assert resumed.manifest["files"][POSTERIOR_COPY] == whole.manifest["files"][POSTERIOR_COPY]


def test_a_moved_study_is_plotted_validated_and_run_again_to_the_same_tables(project, tmp_path):
    first = study(project, project.parents[1] / "results" / "april")
    folder = moved(first.folder, project, tmp_path / "elsewhere" / "april")
    plotted = sim_command("plot", folder, "--kind", "max-rung", "--format", "png")
    assert plotted.exit_code == 0, plotted.output
    assert (folder / "figures" / "max-rung.png").is_file()
    validated = sim_command("validate", folder / "scenario.yaml")
    assert validated.exit_code == 0, validated.output
    again = study(folder / "scenario.yaml", tmp_path / "again")
    assert again.manifest["scenario_sha256"] == Results(folder).manifest["scenario_sha256"]
    assert_same_tables(again, Results(folder))


def tampered(copy: Path) -> None:
    """``copy`` rewritten as valid Parquet with its first parameter set dropped."""
    table = pq.read_table(copy)
    pq.write_table(pa.concat_tables([table.slice(1), table.slice(1, 1)]), copy)


def test_a_changed_posterior_copy_is_refused_by_name_on_load(project, tmp_path):
    results = study(project, tmp_path / "out")
    tampered(results.folder / POSTERIOR_COPY)
    with pytest.raises(ResultsError) as refused:
        Results(results.folder)
    message = str(refused.value)
    assert message.startswith(f"{results.folder / POSTERIOR_COPY}: changed since the study")
    assert "\n" not in message


def test_a_changed_posterior_copy_is_refused_by_name_on_resume(project, tmp_path):
    out = interrupted(project, tmp_path / "out", chunks=1)
    tampered(out / POSTERIOR_COPY)
    for scenario in (project, out / "scenario.yaml"):
        result = sim_command("run", scenario, "--resume", out, "-w", "1")
        assert result.exit_code == 2, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1, result.output
        assert lines[0].startswith(f"error: {out / POSTERIOR_COPY}: changed since the study")
