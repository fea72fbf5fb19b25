"""Experiment designs and explore studies: sizes, seeds, Morris effects, resume, factor errors."""

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

import sim.analysis.explore as explore_module
from sim.analysis.designs import (
    DESIGNS,
    MAX_DESIGN_POINTS,
    Factor,
    FactorError,
    design_size,
    experiments,
    factors_from_problem,
    morris_indices,
    salib_problem,
    unit_design,
)
from sim.analysis.explore import explore, load_exploration
from sim.analysis.outcomes import parse_outcome
from sim.cli.explore import explore_command
from sim.model.rng import Streams
from sim.scenario.loading import ScenarioError, load_scenario
from sim.study.montecarlo import run_study
from sim.study.results import ResultsError
from tests.interrupts import interrupted_after

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
NO_ALLIES = ROOT / "scenarios" / "april-2024-no-allied-defence.yaml"
V1 = ROOT / "scenarios" / "april-2024-v1-mechanisms.yaml"
MIXED = [Factor.parse("a=0:10"), Factor.parse("b=1..4"), Factor.parse("c=[x,0.5,true]")]
OUTCOMES = ["rung>=4", "casualties:israel", "exhausted:israel/arrow-3"]
SMALL = {"n": 4, "replications": 6, "chunk_size": 4, "outcomes": OUTCOMES, "seed": 11}


def rng(seed: int = 1) -> np.random.Generator:
    return Streams(seed, 0).get("explore", "design")


@pytest.mark.parametrize("design", DESIGNS)
def test_designs_have_their_declared_size_and_repeat_by_seed(design):
    unit = unit_design(design, MIXED, 8, rng(), levels=3)
    assert unit.shape == (design_size(design, MIXED, 8, 3), 3)
    assert len(unit) == {"factorial": 3 * 4 * 3, "morris": 8 * 4}.get(design, 8)
    assert ((unit >= 0) & (unit <= 1)).all()
    np.testing.assert_array_equal(unit, unit_design(design, MIXED, 8, rng(), levels=3))
    if design != "factorial":
        assert not np.array_equal(unit, unit_design(design, MIXED, 8, rng(2), levels=3))
    table = experiments(MIXED, unit)
    assert table.columns.tolist() == ["point", "a", "b", "c"]
    assert table.point.tolist() == list(range(len(unit)))
    assert table.a.between(0, 10).all() and set(table.b) <= {1, 2, 3, 4}
    assert set(table.c) <= {"x", 0.5, True}


def test_a_full_factorial_holds_every_combination_once():
    table = experiments(MIXED, unit_design("factorial", MIXED, 1, rng(), levels=3))
    assert len(table.drop(columns="point").astype(str).drop_duplicates()) == 36
    assert sorted(set(table.a)) == [0.0, 5.0, 10.0] and sorted(set(table.b)) == [1, 2, 3, 4]


@given(st.lists(st.floats(0, 1), min_size=1, max_size=50), st.integers(2, 9))
def test_every_value_of_a_factor_lies_in_its_range(unit, size):
    whole = Factor("k", "k", "integer", 0.0, float(size - 1))
    values = whole.values(np.array(unit))
    assert all(0 <= v <= size - 1 and isinstance(v, int) for v in values)
    listed = Factor("c", "c", "categorical", levels=tuple(range(size)))
    assert set(listed.values(np.array(unit))) <= set(range(size))
    continuous = Factor("x", "x", "continuous", -2.0, 3.0)
    assert all(-2 <= v <= 3 for v in continuous.values(np.array(unit)))


def test_morris_recovers_known_elementary_effects():
    """y = 3 x1 + 0 x2 + x3^2 on [0, 1]^3: x1's effect is 3 everywhere (sigma 0), x2 has none,
    x3's effect over a step of 2/3 from level 0 or 1/3 is 2/3 or 4/3 (sigma > 0)."""
    factors = [Factor.parse(f"x{i}=0:1") for i in (1, 2, 3)]
    unit = unit_design("morris", factors, 40, rng())
    values = 3 * unit[:, 0] + unit[:, 2] ** 2
    table = morris_indices(factors, unit, values[:, None], ["y"], rng(3)).set_index("factor")
    assert table.loc["x1", "mu_star"] == pytest.approx(3) and table.loc["x1", "sigma"] < 1e-9
    assert table.loc["x2", "mu_star"] == pytest.approx(0, abs=1e-12)
    assert 2 / 3 <= table.loc["x3", "mu_star"] <= 4 / 3 and table.loc["x3", "sigma"] > 0.1


def test_a_salib_problem_goes_in_and_comes_out():
    problem = salib_problem(MIXED)
    assert problem["names"] == ["a", "b", "c"] and problem["num_vars"] == 3
    assert problem["bounds"] == [[0.0, 10.0], [1.0, 4.0], [0, 2]]
    assert factors_from_problem(problem) == MIXED
    plain = {"num_vars": 1, "names": ["us_pressure"], "bounds": [[0.2, 0.8]]}
    assert factors_from_problem(plain) == [
        Factor("us_pressure", "us_pressure", "continuous", 0.2, 0.8)
    ]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("x", "factor 'x': no declared lever of that name (declared: none); or NAME"),
        ("=1:2", "factor '=1:2': expected NAME (a declared lever), PATH=LOW:HIGH"),
        ("x=1:0", "LOW < HIGH"),
        ("x=0:nan", "LOW < HIGH, finite numbers"),
        ("x=1.5..3", "PATH=LOW..HIGH takes whole numbers"),
        ("x=3..3", "needs LOW < HIGH"),
        ("x=[a]", "list two or more distinct, non-empty values"),
        ("x=[a,a]", "list two or more distinct"),
        ("x=[a,b", "a list of values is written PATH=[A,B,...]"),
    ],
)
def test_bad_factor_specs_get_clear_errors(spec, message):
    with pytest.raises(FactorError, match=re.escape(message)):
        Factor.parse(spec)


def test_bad_designs_are_refused_before_anything_is_made():
    with pytest.raises(FactorError, match="design 'grid': unknown; choose one of lhs, sobol"):
        unit_design("grid", MIXED, 8, rng())
    with pytest.raises(FactorError, match="a Sobol' design needs a power of two points, got 12"):
        unit_design("sobol", MIXED, 12, rng())
    with pytest.raises(FactorError, match="factor 'a' given twice"):
        unit_design("lhs", [MIXED[0], MIXED[0]], 8, rng())
    many = [Factor(f"f{i}", f"f{i}", "integer", 0.0, 9.0) for i in range(6)]
    with pytest.raises(FactorError, match=f"1,000,000 points; at most {MAX_DESIGN_POINTS:,}"):
        unit_design("factorial", many, 1, rng())


def test_factors_are_checked_against_the_scenario_before_anything_runs(tmp_path):
    cases = {
        "restrains[us>israel].pressure=0:2": r"--factor restrains\[us>israel\]\.pressure",
        "relations.4.presure=0:1": "presure",
        "defends[us>israel].joins_combat_at_rung=3:5": "is a whole number; write",
        "nonsense": "no declared lever of that name",
    }
    for spec, message in cases.items():
        with pytest.raises((ResultsError, ScenarioError), match=message):
            explore(APRIL, [spec], out=tmp_path / "x", **SMALL)
    with pytest.raises(ResultsError, match="outcome 'casualties:isreal'"):
        explore(
            APRIL,
            ["us_pressure"],
            out=tmp_path / "x",
            **{**SMALL, "outcomes": ["casualties:isreal"]},
        )
    assert not (tmp_path / "x").exists()


def test_a_point_equals_sim_run_with_its_values_set(tmp_path):
    """Common random numbers: replication k of a point is replication k of sim run there."""
    result = explore(APRIL, ["us_pressure", "iran_restraint"], executor="serial", **SMALL)
    point = result.experiments.iloc[2]
    overrides = [f"restrains[us>israel].pressure={float(point.us_pressure)!r}"]
    overrides.append(f"actors.iran.policy.self_restraint={float(point.iran_restraint)!r}")
    study = run_study(
        APRIL, n=6, seed=11, out=tmp_path / "run", overrides=overrides, executor="serial"
    )
    runs = result.runs[result.runs.point == 2]
    for text in OUTCOMES:
        expected = parse_outcome(text, load_scenario(APRIL)).values(study.runs, study.events)
        np.testing.assert_array_equal(runs[text].to_numpy(), expected)
    means = result.runs.groupby("point")[OUTCOMES].mean()
    assert len(means.drop_duplicates()) > 1  # the points differ: the check above says something


def test_the_tables_and_manifest_of_a_study(tmp_path):
    result = explore(
        APRIL,
        ["us_pressure", f"scenario=[{APRIL},{NO_ALLIES}]"],
        out=tmp_path,
        executor="serial",
        **SMALL,
    )
    assert sorted(p.name for p in tmp_path.glob("*.parquet")) == [
        "experiments.parquet",
        "outcomes.parquet",
        "runs.parquet",
    ]
    experiments_table = pd.read_parquet(tmp_path / "experiments.parquet")
    assert experiments_table.columns.tolist() == ["point", "us_pressure", "scenario"]
    assert experiments_table.point.dtype == np.int64
    runs = pd.read_parquet(tmp_path / "runs.parquet")
    assert runs.columns.tolist() == ["point", "replication", *OUTCOMES] and len(runs) == 4 * 6
    outcomes = pd.read_parquet(tmp_path / "outcomes.parquet")
    assert len(outcomes) == 4 * 3
    for row in outcomes.itertuples():
        assert row.ci_low <= row.estimate <= row.ci_high or row.kind == "numeric"
        values = runs.loc[runs.point == row.point, row.outcome]
        assert row.estimate == pytest.approx(values.mean()) and row.n == 6
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["status"] == "complete" and manifest["plan"]["replications"] == 6
    assert [o["outcome"] for o in manifest["outcomes"]] == OUTCOMES
    assert json.loads((tmp_path / "problem.json").read_text())["names"] == [
        "us_pressure",
        "scenario",
    ]
    assert not (tmp_path / "chunks").exists()
    pd.testing.assert_frame_equal(load_exploration(tmp_path).outcomes, result.outcomes)


def interrupted(out: Path, after: int, **options) -> None:
    """Run a study that stops, as on Ctrl-C, once ``after`` tasks have finished."""
    factors = ["us_pressure", "iran_restraint"]
    interrupted_after(
        explore_module,
        "evaluate_task",
        after,
        lambda: explore(APRIL, factors, out=out, executor="serial", **options),
    )


def test_a_study_resumed_after_ctrl_c_equals_an_uninterrupted_one(tmp_path):
    whole = explore(
        APRIL, ["us_pressure", "iran_restraint"], out=tmp_path / "whole", executor="serial", **SMALL
    )
    interrupted(tmp_path / "cut", 3, **SMALL)
    kept = sorted(p.name for p in (tmp_path / "cut" / "chunks").glob("*.parquet"))
    assert len(kept) == 3
    assert json.loads((tmp_path / "cut" / "manifest.json").read_text())["status"] == "running"
    resumed = explore(
        APRIL,
        ["us_pressure", "iran_restraint"],
        out=tmp_path / "cut",
        executor="process",
        workers=2,
        **SMALL,
    )
    for name in ("experiments", "outcomes", "runs"):
        pd.testing.assert_frame_equal(
            getattr(resumed, name), getattr(whole, name), check_exact=True
        )
    with pytest.raises(ResultsError, match="holds another study"):
        explore(APRIL, ["us_pressure"], out=tmp_path / "cut", executor="serial", **SMALL)


def test_the_command_writes_the_tables_and_refuses_bad_factors(tmp_path):
    runner = CliRunner()
    arguments = [str(APRIL), "--factor", "us_pressure", "--design", "halton", "-n", "2", "-r", "3"]
    arguments += ["--outcome", "rung>=3", "--outcome", "leakers:israel", "--executor", "serial"]
    result = runner.invoke(explore_command, [*arguments, "-o", str(tmp_path / "ok")])
    assert result.exit_code == 0, result.output
    assert "P(direct strike on a homeland)" in result.output
    assert len(pd.read_parquet(tmp_path / "ok" / "outcomes.parquet")) == 2 * 2
    bad = runner.invoke(
        explore_command, [str(APRIL), "--factor", "x=1:0", "-o", str(tmp_path / "bad")]
    )
    assert bad.exit_code == 2 and bad.output.startswith("error: factor 'x=1:0'")
    assert "Traceback" not in bad.output and not (tmp_path / "bad").exists()


def test_a_salib_problem_naming_declared_levers_runs_as_factors(tmp_path):
    problem = {"num_vars": 2, "names": ["us_pressure", "proxy[hezbollah>iran].obey_probability"]}
    problem["bounds"] = [[0.0, 0.5], [0.2, 0.4]]
    result = explore(APRIL, problem, executor="serial", **{**SMALL, "n": 2, "replications": 2})
    assert result.experiments.columns.tolist() == ["point", *problem["names"]]
    assert result.experiments.us_pressure.between(0, 0.5).all()
    assert result.problem["paths"] == [
        "restrains[us>israel].pressure",
        "proxy[hezbollah>iran].obey_probability",
    ]


def test_the_same_tables_on_every_executor():
    options = {**SMALL, "n": 3, "replications": 4}
    tables = {
        executor: explore(APRIL, ["us_pressure"], executor=executor, workers=2, **options)
        for executor in ("serial", "process", "dask")
    }
    assert tables["serial"].outcomes.estimate.nunique() > 1  # the points differ
    for executor in ("process", "dask"):
        pd.testing.assert_frame_equal(
            tables[executor].runs, tables["serial"].runs, check_exact=True
        )


def test_ending_outcomes_of_a_scenario_that_ends_when_settled():
    """A round that can end only when settled (no ceasefire): it ended before the horizon
    exactly when it ended settled."""
    options = {**SMALL, "n": 2, "replications": 8, "outcomes": ["ended:settled", "days_to_end"]}
    result = explore(
        V1, ["us_pressure"], overrides=["end_when_settled=true"], executor="serial", **options
    )
    ended, days = result.runs["ended:settled"], result.runs["days_to_end"]
    assert ((ended == 1) == (days < 90)).all() and days.between(0, 90).all()
    rows = result.outcomes[result.outcomes.outcome == "days_to_end"]
    means = result.runs.groupby("point")["days_to_end"].mean().to_numpy()
    np.testing.assert_allclose(rows.estimate, means)
    np.testing.assert_allclose(
        rows.censored, 1 - result.runs.groupby("point")["ended:settled"].mean()
    )
