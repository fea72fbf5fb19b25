"""The commands and API names that join the steps: sim run --outcome, sim plot --scale, the
size limit on every YAML the tool reads, the one-line small-sample warning of sim sensitivity."""

from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import sim
from sim.analysis.compare import outcome_values, summarize
from sim.analysis.outcomes import parse_outcomes
from sim.cli.main import main
from sim.figures.folders import figures_of
from sim.scenario.loading import MAX_FILE_BYTES, load_scenario

ROOT = Path(__file__).parents[1]
POINT = ROOT / "scenarios" / "april-2024-point.yaml"


def test_run_estimates_the_outcomes_asked_for_with_their_intervals(tmp_path):
    out = tmp_path / "run"
    outcomes = ["days_to_rung>=4", "casualties:israel>=10", "rung>=3"]
    args = ["run", str(POINT), "-n", "60", "-w", "1", "-o", str(out), "--chunk-size", "30"]
    result = CliRunner().invoke(main, args + [x for o in outcomes for x in ("--outcome", o)])
    assert result.exit_code == 0, result.output
    results = sim.load_results(out)
    parsed = parse_outcomes(outcomes, load_scenario(POINT), POINT)
    values = outcome_values(results, parsed)
    for outcome in parsed:
        row = summarize(outcome, values[outcome.text])
        shown = f"{row['estimate']:.3g} [{row['ci_low']:.3g}, {row['ci_high']:.3g}]"
        assert shown in result.output, (outcome.text, result.output)


def test_run_refuses_an_unknown_outcome_before_anything_runs(tmp_path):
    out = tmp_path / "run"
    args = ["run", str(POINT), "-n", "20", "-o", str(out), "--outcome", "casualties:mars"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2 and "mars" in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_plot_draws_a_sweep_on_a_logarithmic_axis_when_asked(tmp_path):
    table = pd.DataFrame(
        {
            "restrains[us>israel].pressure": [0.0, 0.5, 1.0],
            "setting": ["point-000", "point-001", "point-002"],
            "outcome": ["rung>=5"] * 3,
            "probability": [0.01, 0.004, 0.001],
            "ci_low": [0.005, 0.001, 0.0002],
            "ci_high": [0.02, 0.01, 0.005],
        }
    )
    folder = tmp_path / "sweep"
    folder.mkdir()
    table.to_parquet(folder / "sweep.parquet")
    for scale in ("linear", "log"):
        result = CliRunner().invoke(
            main,
            ["plot", str(folder), "--scale", scale, "--format", "svg", "-o", str(tmp_path / scale)],
        )
        assert result.exit_code == 0, result.output
        assert (tmp_path / scale / "sweep.svg").is_file()

    ((_, figure, _),) = figures_of(folder, ("sweep",), None, "log")
    assert figure.axes[0].get_yscale() == "log"
    ((_, figure, _),) = figures_of(folder, ("sweep",), None, "linear")
    assert figure.axes[0].get_yscale() == "linear"


@pytest.mark.parametrize("command", ["score", "calibrate"])
def test_every_yaml_the_tool_reads_is_refused_past_the_size_limit(tmp_path, command):
    big = tmp_path / "big.yaml"
    big.write_text("#" * (MAX_FILE_BYTES + 1))
    args = (
        [command, str(big), "-o", str(tmp_path / "out")]
        if command == "score"
        else [command, "--config", str(big), "-o", str(tmp_path / "out")]
    )
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert f"{big}: " in result.output and "larger than" in result.output
    assert "Traceback" not in result.output


def test_sensitivity_warns_in_one_line_that_a_small_base_sample_cannot_be_read(tmp_path):
    args = ["sensitivity", str(POINT), "-o", str(tmp_path / "s"), "--base-samples", "16"]
    args += ["--replications", "1", "-w", "1", "--outcome", "rung>=3"]
    args += ["--uncertain", "us_pressure", "--uncertain", "iran_restraint"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    warnings = [line for line in result.output.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and "--base-samples 16" in warnings[0]
    assert "SmallSampleWarning" not in result.output


def test_sensitivity_of_one_uncertain_value_is_refused_in_one_line(tmp_path):
    """scipy's estimator fails on a single input (a traceback); one input is not a Sobol study."""
    args = ["sensitivity", str(POINT), "-o", str(tmp_path / "s"), "--uncertain", "us_pressure"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 2, result.output
    assert "at least two uncertain values" in result.output and "Traceback" not in result.output
    assert not (tmp_path / "s" / "sobol.parquet").exists()


def test_run_without_outcomes_prints_the_rung_table_alone(tmp_path):
    """The quick start's command: no --outcome, no outcome table, exit 0."""
    args = ["run", str(POINT), "-n", "20", "-w", "1", "-o", str(tmp_path / "run")]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "Outcomes (95% CI)" not in result.output and "results:" in result.output


def test_figure_and_table_csvs_hold_no_live_spreadsheet_formula(tmp_path):
    """A name from a scenario reaches figure and comparison CSVs as text, never as a formula."""
    from sim.analysis.compare import write_table
    from sim.figures.style import PaperFigure, save_figure

    frame = pd.DataFrame({"layer": ['=HYPERLINK("x")', "+1+1", "Arrow 3"], "value": [-1.5, 2, 3]})
    figure = PaperFigure()
    figure.data, figure.caption = frame, "test"
    (csv,) = [p for p in save_figure(figure, tmp_path / "f", ("svg",), None) if p.suffix == ".csv"]
    write_table(frame, tmp_path, "table")
    for path in (csv, tmp_path / "table.csv"):
        read = pd.read_csv(path)
        assert list(read.layer) == ['\'=HYPERLINK("x")', "'+1+1", "Arrow 3"]
        assert list(read.value) == [-1.5, 2, 3]


def test_a_sweep_lever_of_too_many_steps_is_refused_before_its_grid_is_made(tmp_path):
    """The command parses levers itself: the cap must hold there too (2e8 steps filled memory)."""
    lever = "restrains[us>israel].pressure=0:1:200000000"
    result = CliRunner().invoke(main, ["sweep", str(POINT), "--lever", lever, "-o", str(tmp_path)])
    assert result.exit_code == 2, result.output
    assert "200,000,000 steps" in result.output and "Traceback" not in result.output


def test_an_impossible_date_in_a_scenario_is_a_located_error(tmp_path):
    """PyYAML reads 2024-13-01 as a date and fails to build it: a ValueError traceback before."""
    text = (
        (ROOT / "scenarios" / "april-2024.yaml")
        .read_text()
        .replace("seed: ", "seed: 2024-13-01 #", 1)
    )
    bad = tmp_path / "bad.yaml"
    bad.write_text(text)
    result = CliRunner().invoke(main, ["validate", str(bad)])
    line = next(i for i, t in enumerate(text.splitlines(), 1) if t.startswith("seed:"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{bad}:{line}: seed: must be a valid date, got '2024-13-01'" in result.output
