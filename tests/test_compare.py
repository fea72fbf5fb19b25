"""Comparisons with common random numbers, sweeps, and overrides by path."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from sim.analysis.compare import (
    Lever,
    Setting,
    compare,
    outcome_indicator,
    paired_difference,
    sweep,
)
from sim.cli.main import main
from sim.scenario.loading import ScenarioError
from sim.study.montecarlo import run_study
from sim.study.results import ResultsError

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
STRONG = ROOT / "scenarios" / "april-2024-strong-us-restraint.yaml"
FAST = {"executor": "serial", "chunk_size": 100}


def test_identical_settings_differ_by_exactly_zero(tmp_path):
    settings = [Setting("a", APRIL), Setting("b", APRIL), Setting("c", APRIL, ("description=x",))]
    table = compare(settings, n=120, out=tmp_path, **FAST)
    assert (table["difference"] == 0).all()
    assert (table["diff_ci_low"] == 0).all() and (table["diff_ci_high"] == 0).all()
    assert (table["paired_variance"] == 0).all()
    assert table["variance_ratio"].isna().all()  # undefined, never written as inf
    # A zero difference proves something only for outcomes that vary from run to run: at least
    # three of the five outcomes of each of the three settings must.
    uncertain = table["probability"].between(0, 1, inclusive="neither")
    assert uncertain.sum() >= 9 and (table.loc[uncertain, "independent_variance"] > 0).all()
    assert (tmp_path / "comparison.parquet").exists() and (tmp_path / "comparison.csv").exists()
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert [s["name"] for s in manifest["settings"]] == ["a", "b", "c"]
    assert manifest["settings"][2]["overrides"] == ["description=x"]
    assert manifest["n_per_setting"] == 120 and manifest["common_random_numbers"]


def test_common_random_numbers_give_a_narrower_interval_than_independent_streams(tmp_path):
    outcome = "strike:israel>iran>=3"
    table = compare(
        [Setting("base", APRIL), Setting("strong", STRONG)],
        n=300,
        out=tmp_path / "crn",
        outcomes=[outcome],
        **FAST,
    )
    paired = table.set_index("setting").loc["strong"]
    base = run_study(APRIL, n=300, out=tmp_path / "base", **FAST).runs
    other = run_study(STRONG, n=300, out=tmp_path / "other", seed=99, **FAST).runs
    independent = paired_difference(
        outcome_indicator(base, outcome), outcome_indicator(other, outcome)
    )
    paired_width = paired.diff_ci_high - paired.diff_ci_low
    independent_width = independent["diff_ci_high"] - independent["diff_ci_low"]
    assert paired_width < independent_width
    # Measured at this seed and n: pairing keeps 34% of the variance (ratio 2.9). Streams that
    # were no longer shared would give a ratio near 1; 1.5 leaves room for model changes.
    assert paired.variance_ratio > 1.5
    assert paired.paired_variance < paired.independent_variance
    assert paired.variance_saved == pytest.approx(1 - 1 / paired.variance_ratio)


def test_a_lever_that_cannot_matter_shows_no_effect(tmp_path):
    table = sweep(
        APRIL,
        [Lever.parse("weapons.drone.unit_cost_usd=1000:100000:3")],
        n=150,
        out=tmp_path,
        **FAST,
    )
    assert set(table["weapons.drone.unit_cost_usd"]) == {1000.0, 50500.0, 100000.0}
    assert ((table["diff_ci_low"] <= 0) & (table["diff_ci_high"] >= 0)).all()
    assert (table["difference"] == 0).all()
    for _, rows in table.groupby("outcome"):
        spread = rows["probability"].max() - rows["probability"].min()
        assert spread <= (rows["ci_high"] - rows["ci_low"]).min()
    assert (tmp_path / "sweep.parquet").exists() and (tmp_path / "sweep.csv").exists()


def test_the_notebook_api_takes_a_file_and_variants_with_aliases(tmp_path):
    table = compare(
        APRIL,
        ["strong: restrains[us>israel].pressure=1.0"],
        n=100,
        out=tmp_path / "strings",
        outcomes=["strike:israel>iran>=3"],
        **FAST,
    )
    assert table.setting.tolist() == ["april-2024", "strong"]
    assert table.overrides.tolist() == ["", "restrains[us>israel].pressure=1.0"]
    assert table.label.iloc[0] == "P(israel strikes iran at rung >= 3)"
    same = compare(
        APRIL,
        {"strong": {"restrains[us>israel].pressure": 1.0}},
        n=100,
        out=tmp_path / "mapping",
        outcomes=["strike:israel>iran>=3"],
        **FAST,
    )
    pd.testing.assert_series_equal(table.probability, same.probability, check_exact=True)


def test_a_finished_setting_of_another_n_is_not_mixed_in(tmp_path):
    settings = [Setting("a", APRIL), Setting("b", APRIL, ("description=x",))]
    compare(settings, n=100, out=tmp_path, outcomes=["rung>=3"], **FAST)
    with pytest.raises(ResultsError, match="is a study of 100 replications, not 200"):
        compare(settings, n=200, out=tmp_path, outcomes=["rung>=3"], **FAST)


def test_us_pressure_lowers_israeli_strikes_on_iran(tmp_path):
    table = sweep(
        APRIL,
        [Lever.parse("restrains[us>israel].pressure=0:1:2")],
        n=300,
        out=tmp_path,
        outcomes=["strike:israel>iran>=3"],
        **FAST,
    )
    high = table[table["restrains[us>israel].pressure"] == 1.0].iloc[0]
    assert high.diff_ci_high < 0


def test_bad_override_gets_the_file_style_error(tmp_path):
    with pytest.raises(
        ScenarioError, match=r"--set restrains\[us>israel\]\.presure=1: .*unknown key"
    ):
        compare(
            [Setting("a", APRIL), Setting("b", APRIL, ("restrains[us>israel].presure=1",))],
            n=10,
            out=tmp_path,
            **FAST,
        )
    result = CliRunner().invoke(
        main,
        [
            "sweep",
            str(APRIL),
            "--lever",
            "actors.iran.policy.self_restraint=0:2:3",
            "-n",
            "5",
            "-o",
            str(tmp_path / "cli"),
            "--executor",
            "serial",
        ],
    )
    assert result.exit_code == 2
    assert result.output.startswith(
        "--lever actors.iran.policy.self_restraint=2.0: "
        "actors.iran.policy.self_restraint: must be <= 1.0, got 2.0"
    )
    with pytest.raises(ScenarioError) as caught:
        compare(APRIL, ["x: restrains[us>israel].pressure=3"], n=10, out=tmp_path / "v", **FAST)
    assert str(caught.value) == (
        "--variant x: restrains[us>israel].pressure=3: restrains[us>israel].pressure: must be <= 1.0, got 3"
    )


def test_outcome_indicators():
    runs = pd.DataFrame(
        {
            "replication": [1, 0],
            "max_rung": [4, 2],
            "path": ["israel>iran:2 iran>israel:3 israel>iran:4", "israel>iran:2"],
        }
    )
    assert outcome_indicator(runs, "rung>=3").tolist() == [0, 1]
    assert outcome_indicator(runs, "strike:israel>iran>=3").tolist() == [0, 1]
    assert outcome_indicator(runs, "strike:iran>israel>=4").tolist() == [0, 0]
    with pytest.raises(ResultsError, match="unknown outcome"):
        outcome_indicator(runs, "war")


def test_paired_difference_of_known_vectors():
    a, b = np.array([0, 1, 1, 0, 1.0]), np.array([1, 1, 1, 0, 1.0])
    result = paired_difference(a, b)
    assert result["difference"] == pytest.approx(0.2)
    assert result["diff_ci_low"] < 0.2 < result["diff_ci_high"]
    assert result["independent_variance"] == pytest.approx((0.6 * 0.4 + 0.8 * 0.2) / 5)
    assert result["paired_variance"] == pytest.approx(0.2 / 5)
    assert result["variance_saved"] == pytest.approx(1 - 0.2 / 0.4)


def test_an_outcome_naming_no_actor_is_refused_before_anything_runs(tmp_path):
    """A misspelt actor would make an outcome that never happens: P = 0 everywhere."""
    expected = "outcome 'strike:iran>isreal>=3': {} has no actor isreal (actors: israel, iran"
    for command in (["sweep", str(APRIL), "--lever", "us_pressure"], ["sensitivity", str(APRIL)]):
        out = tmp_path / command[0]
        result = CliRunner().invoke(
            main, [*command, "--outcome", "strike:iran>isreal>=3", "-o", str(out)]
        )
        assert result.exit_code == 2 and expected.format(APRIL) in result.output
        assert not out.exists()


def test_a_sweep_is_the_same_on_every_executor(tmp_path):
    """Serial, the process pool and a Dask LocalCluster give the same sweep, number for number
    (each point is an ordinary study, so replication k uses the same streams everywhere)."""
    levers = ["restrains[us>israel].pressure=0:1:2"]
    options = {"n": 40, "chunk_size": 10, "outcomes": ["rung>=3", "strike:israel>iran>=3"]}
    tables = {
        executor: sweep(
            APRIL, levers, out=tmp_path / executor, executor=executor, workers=2, **options
        )
        for executor in ("serial", "process", "dask")
    }
    assert (
        tables["serial"]["probability"].nunique() > 1
    )  # the points differ: equality says something
    pd.testing.assert_frame_equal(tables["serial"], tables["process"], check_exact=True)
    pd.testing.assert_frame_equal(tables["serial"], tables["dask"], check_exact=True)


@pytest.mark.parametrize("name", ["../escaped", "/tmp/anywhere", "a/b", "..", "."])
def test_a_setting_name_that_is_a_path_is_refused_before_anything_is_written(tmp_path, name):
    """Each setting's study goes to OUT/NAME: '../escaped' wrote a study beside OUT."""
    out = tmp_path / "cmp"
    with pytest.raises(ResultsError, match=r"setting name .*: a name becomes a folder below --out"):
        compare(APRIL, [f"{name}: description=x"], n=5, out=out, **FAST)
    assert list(tmp_path.iterdir()) == []
    result = CliRunner().invoke(
        main, ["compare", str(APRIL), "--variant", "../escaped: description=x", "-o", str(out)]
    )
    assert result.exit_code == 2 and len(result.output.strip().splitlines()) == 1
    assert list(tmp_path.iterdir()) == []


def test_the_same_lever_twice_is_refused_before_the_sweep_runs(tmp_path):
    """--lever X --lever X ran the whole sweep, then failed inserting the second column."""
    out = tmp_path / "sweep"
    with pytest.raises(ResultsError, match="lever 'us_pressure' given twice"):
        sweep(APRIL, ["us_pressure", "restrains[us>israel].pressure=0:1:3"], n=5, out=out, **FAST)
    result = CliRunner().invoke(
        main,
        ["sweep", str(APRIL), "--lever", "us_pressure", "--lever", "us_pressure", "-o", str(out)],
    )
    assert result.exit_code == 2 and "given twice" in result.output
    assert not out.exists()


def test_a_grid_too_large_to_run_is_refused_before_it_is_made(tmp_path):
    with pytest.raises(ResultsError, match="200,000,000 steps; a sweep runs at most 1,000"):
        sweep(
            APRIL, ["restrains[us>israel].pressure=0:1:200000000"], n=5, out=tmp_path / "s", **FAST
        )
    levers = [
        Lever("restrains[us>israel].pressure", tuple(range(40))),
        Lever("weapons.drone.unit_cost_usd", tuple(range(40))),
    ]
    with pytest.raises(ResultsError, match="the grid has 1,600 points; a sweep runs at most 1,000"):
        sweep(APRIL, levers, n=5, out=tmp_path / "s", **FAST)
    assert not (tmp_path / "s").exists()


def test_settings_named_by_text_paths_compare_as_path_ones_do(tmp_path):
    as_text = [Setting("base", str(APRIL)), Setting("strong", str(STRONG))]
    as_paths = [Setting("base", APRIL), Setting("strong", STRONG)]
    by_text = compare(as_text, n=20, out=tmp_path / "text", **FAST)
    by_path = compare(as_paths, n=20, out=tmp_path / "path", **FAST)
    pd.testing.assert_frame_equal(by_text, by_path)
