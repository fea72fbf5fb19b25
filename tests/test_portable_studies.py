"""The folders of ``sim sweep``, ``sim compare``, ``sim sensitivity`` and ``sim explore`` travel
too (issue 13 item 3): moved to another directory, with the project that made them (scenario,
posterior and its prior summary) gone, a folder is resumed and run again from its own copy of
the model, to the same tables, and re-plotted with its levers named and its extrapolation marked.
"""

import shutil
import warnings
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

import sim.analysis.explore as explore_module
import sim.analysis.sensitivity as sensitivity_module
import sim.study.montecarlo as montecarlo
from sim.analysis.compare import compare, sweep
from sim.analysis.explore import explore
from sim.analysis.sensitivity import SmallSampleWarning, sobol
from sim.cli.main import main
from sim.figures.folders import sobol_figure, sweep_figure
from sim.study.results import SCENARIO_COPY, Results
from tests.interrupts import interrupted_after
from tests.test_portable_results import moved

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
SERIAL = {"executor": "serial", "workers": 1}
SOBOL = {"n": 4, "replications": 2, "outcomes": ["rung>=3"], "seed": 5, **SERIAL}
EXPLORE = {
    "n": 3,
    "replications": 4,
    "chunk_size": 2,
    "outcomes": ["rung>=3", "rung>=4"],
    "seed": 5,
}
UNCERTAIN = ["us_pressure", "iran_restraint"]


@pytest.fixture
def project(tmp_path) -> Path:
    """The shipped scenario in a checkout of its own, with the posterior it names and that
    posterior's prior summary (removed by the tests once a study is made)."""
    named = yaml.safe_load(APRIL.read_text(encoding="utf-8"))["parameters_from"]
    posterior = (APRIL.parent / named.partition("#")[0]).resolve()
    (tmp_path / "project" / "scenarios").mkdir(parents=True)
    (tmp_path / "project" / "calibration").mkdir()
    shutil.copy(APRIL, tmp_path / "project" / "scenarios" / APRIL.name)
    for source in (posterior, posterior.with_name("summary.csv")):
        shutil.copy(source, tmp_path / "project" / "calibration" / source.name)
    return tmp_path / "project" / "scenarios" / APRIL.name


def results_folder(project: Path, name: str) -> Path:
    return project.parents[1] / "results" / name


def sweep_of(scenario: Path, out: Path) -> pd.DataFrame:
    return sweep(scenario, ["us_pressure=0:1:3"], n=4, out=out, outcomes=["rung>=3"], **SERIAL)


def test_a_moved_sweep_is_plotted_with_its_levers_named_and_extrapolation_marked(project):
    """The lever's meaning comes from the scenario's levers and the marks from the posterior's
    prior summary (us_pressure's prior is 0.2 to 1): both must survive the move."""
    sweep_of(project, results_folder(project, "sweep"))
    before = sweep_figure(results_folder(project, "sweep"))
    folder = moved(results_folder(project, "sweep"), project, project.parents[2] / "away" / "s")
    after = sweep_figure(folder)
    assert after.axes[0].get_xlabel() == before.axes[0].get_xlabel()
    assert after.axes[0].get_xlabel() != "restrains[us>israel].pressure"  # its meaning
    pd.testing.assert_frame_equal(after.data, before.data)
    marked = after.data.drop_duplicates("restrains[us>israel].pressure")
    assert marked.extrapolation.tolist() == [True, False, False]  # 0 lies below the prior's 0.2
    plotted = CliRunner().invoke(main, ["plot", str(folder), "--format", "png"])
    assert plotted.exit_code == 0, plotted.output
    assert (folder / "figures" / "sweep.png").is_file()


def test_a_moved_sweep_point_is_run_again_from_its_copy_to_the_same_runs(project, tmp_path):
    sweep_of(project, results_folder(project, "sweep"))
    folder = moved(results_folder(project, "sweep"), project, tmp_path / "away" / "sweep")
    point = folder / "point-000"
    again = CliRunner().invoke(
        main,
        ["run", str(point / SCENARIO_COPY), "-n", "4", "-o", str(tmp_path / "again"), "-w", "1"],
    )
    assert again.exit_code == 0, again.output
    rerun = Results(tmp_path / "again")
    assert rerun.manifest["scenario_sha256"] == Results(point).manifest["scenario_sha256"]
    pd.testing.assert_frame_equal(rerun.runs, Results(point).runs, check_exact=True)
    assert rerun.manifest["priors"] == Results(point).manifest["priors"] != {}


def copy_of(folder: Path, scenario: Path) -> Path:
    """Where a comparison or sweep folder keeps its copy of ``scenario``."""
    return folder / "models" / scenario.stem / scenario.name


def test_a_moved_interrupted_comparison_resumes_from_its_copies(project, tmp_path):
    """Ctrl-C in the baseline: no setting had a folder of its own with a copy yet."""
    variants = ["strong: restrains[us>israel].pressure=1"]
    options = {"n": 4, "outcomes": ["rung>=3"], **SERIAL}
    whole = compare(project, variants, out=tmp_path / "whole", **options)
    out = results_folder(project, "cmp")
    run = lambda: compare(project, variants, out=out, **options)  # noqa: E731
    interrupted_after(montecarlo, "simulate_chunk", 0, run)
    folder = moved(out, project, tmp_path / "away" / "cmp")
    resumed = compare(copy_of(folder, project), variants, out=folder, **options)
    pd.testing.assert_frame_equal(resumed, whole, check_exact=True)
    plotted = CliRunner().invoke(main, ["plot", str(folder), "--format", "png"])
    assert plotted.exit_code == 0, plotted.output


@pytest.mark.parametrize("chunks", [0, 1])
def test_a_moved_interrupted_sweep_resumes_from_its_copy(project, tmp_path, chunks):
    """Stopped in its first point (no point had a folder with copies yet) or after one chunk:
    resumed from the folder's copy, the sweep equals an uninterrupted one, and its figure still
    marks the points outside the prior."""
    whole = sweep_of(project, tmp_path / "whole")
    out = results_folder(project, "sweep")
    interrupted_after(montecarlo, "simulate_chunk", chunks, lambda: sweep_of(project, out))
    folder = moved(out, project, tmp_path / "away" / "sweep")
    command = ["sweep", copy_of(folder, project), "--lever", "us_pressure=0:1:3", "-n", 4]
    options = ["-o", folder, "--outcome", "rung>=3", "-w", 1, "--executor", "serial"]
    resumed = CliRunner().invoke(main, [str(a) for a in [*command, *options]])
    assert resumed.exit_code == 0, resumed.output
    table = pd.read_parquet(folder / "sweep.parquet")
    pd.testing.assert_frame_equal(table, whole, check_exact=True)
    assert bool(Results(folder / "point-000").manifest.get("resumed_utc")) == (chunks > 0)
    marked = sweep_figure(folder).data.drop_duplicates("restrains[us>israel].pressure")
    assert marked.extrapolation.tolist() == [True, False, False]


def sobol_of(scenario: Path, out: Path) -> pd.DataFrame:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", SmallSampleWarning)
        return sobol(scenario, UNCERTAIN, out=out, **SOBOL)


def test_a_moved_interrupted_sobol_study_resumes_from_its_copy(project, tmp_path):
    whole = sobol_of(project, tmp_path / "whole")
    out = results_folder(project, "sobol")
    interrupted_after(sensitivity_module, "evaluate_points", 1, lambda: sobol_of(project, out))
    folder = moved(out, project, tmp_path / "away" / "sobol")
    evaluated = []
    real = sensitivity_module.evaluate_points

    def counted(*task):
        evaluated.append(len(task[4]))
        return real(*task)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sensitivity_module, "evaluate_points", counted)
        resumed = sobol_of(folder / SCENARIO_COPY, folder)
    assert evaluated == [8]  # only the block the interrupt left out
    pd.testing.assert_frame_equal(resumed, whole, check_exact=True)


def test_a_moved_sobol_study_is_plotted_with_its_inputs_named_and_run_again(project, tmp_path):
    sobol_of(project, results_folder(project, "sobol"))
    before = sobol_figure(results_folder(project, "sobol"))
    folder = moved(results_folder(project, "sobol"), project, tmp_path / "away" / "sobol")
    after = sobol_figure(folder)
    pd.testing.assert_frame_equal(after.data, before.data)
    names = [tick.get_text() for tick in after.axes[0].get_yticklabels()]
    assert names == [tick.get_text() for tick in before.axes[0].get_yticklabels()]
    assert not set(names) & set(UNCERTAIN)  # named by their meanings, not by the lever names
    again = sobol_of(folder / SCENARIO_COPY, tmp_path / "again")
    pd.testing.assert_frame_equal(again, pd.read_parquet(folder / "sobol.parquet"))


def explore_of(scenario: Path, out: Path):
    return explore(scenario, UNCERTAIN, out=out, executor="serial", **EXPLORE)


def test_a_moved_interrupted_explore_study_resumes_from_its_copy(project, tmp_path):
    whole = explore_of(project, tmp_path / "whole")
    out = results_folder(project, "explore")
    interrupted_after(explore_module, "evaluate_task", 2, lambda: explore_of(project, out))
    folder = moved(out, project, tmp_path / "away" / "explore")
    resumed = explore_of(folder / SCENARIO_COPY, folder)
    for table in ("experiments", "outcomes", "runs"):
        pd.testing.assert_frame_equal(getattr(resumed, table), getattr(whole, table))
    again = explore_of(folder / SCENARIO_COPY, tmp_path / "again")
    pd.testing.assert_frame_equal(again.runs, whole.runs)
    found = CliRunner().invoke(main, ["discover", str(folder), "--outcome", "rung>=4"])
    assert found.exit_code == 0, found.output


def test_an_explore_study_resumes_from_another_directory(project, tmp_path, monkeypatch):
    """The plan once named the model by the scenario's path as typed: the same study started
    as scenarios/april-2024.yaml was another study from the project's parent directory."""
    out = tmp_path / "explore"
    monkeypatch.chdir(project.parents[1])
    interrupted_after(
        explore_module, "evaluate_task", 2, lambda: explore_of(Path("scenarios") / APRIL.name, out)
    )
    monkeypatch.chdir(tmp_path)
    resumed = explore_of(project.relative_to(tmp_path), out)
    pd.testing.assert_frame_equal(resumed.runs, explore_of(project, tmp_path / "whole").runs)
