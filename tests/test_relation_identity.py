"""Relations are named by identity (kind and actors), never by their place in the list.

Reordering the relations of every shipped scenario must change nothing: the same event log for a
fixed seed and the same Monte Carlo tables, the posterior's calibrated values landing on the
relation they were fitted for. A positional path (``relations.4.pressure``) is refused wherever a
user or a file names a value, with the alias to write instead.
"""

import hashlib
import random
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import yaml

import sim
from sim.model.world import run_replication
from sim.scenario import load_scenario
from sim.scenario.levers import Lever, declared_levers, load_with_overrides
from sim.scenario.loading import ScenarioError
from sim.scenario.parameters import posterior_problems
from tests.test_golden import DIGESTS, SCENARIOS, log_digest

ROOT = Path(__file__).parents[1]
BASE = "april-2024.yaml"


def digest_of(path: Path, replications: int = 30, seed: int = 7) -> str:
    """``log_digest`` of a scenario at any path (same replications, seed and hashing)."""
    scenario = load_scenario(path)
    digest = hashlib.sha256()
    for replication in range(replications):
        for event in run_replication(scenario, replication, seed):
            digest.update(repr(event).encode())
    return digest.hexdigest()[:16]


def reordered_copy(folder: Path, order: str) -> Path:
    """The shipped scenarios and posterior copied under ``folder``, the base's relations
    reversed (``order="reversed"``) or shuffled (a fixed permutation that moves every relation);
    the variants are copied as they are, extending the reordered base."""
    scenarios, calibration = folder / "scenarios", folder / "calibration"
    scenarios.mkdir(parents=True)
    calibration.mkdir()
    shutil.copy(ROOT / "calibration" / "posterior.parquet", calibration / "posterior.parquet")
    for path in SCENARIOS.glob("*.yaml"):
        shutil.copy(path, scenarios / path.name)
    data = yaml.safe_load((SCENARIOS / BASE).read_text())
    relations = data["relations"]
    if order == "reversed":
        data["relations"] = relations[::-1]
    else:
        moved = list(range(len(relations)))
        while any(i == j for i, j in enumerate(moved)):
            random.Random(len(moved)).shuffle(moved)
        data["relations"] = [relations[j] for j in moved]
    assert data["relations"] != relations
    (scenarios / BASE).write_text(yaml.safe_dump(data, sort_keys=False))
    return scenarios


@pytest.mark.parametrize("order", ["reversed", "shuffled"])
def test_reordered_relations_give_the_same_event_logs(tmp_path, order):
    folder = reordered_copy(tmp_path, order)
    for name in sorted(DIGESTS):
        assert digest_of(folder / name) == log_digest(name), name


def test_reordered_relations_give_the_same_study_tables(tmp_path):
    folder = reordered_copy(tmp_path / "copy", "reversed")
    for name in (BASE, "april-2024-hezbollah-ordered-in.yaml"):
        shipped = sim.run(SCENARIOS / name, n=40, workers=1, out=tmp_path / f"a-{name}")
        moved = sim.run(folder / name, n=40, workers=1, out=tmp_path / f"b-{name}")
        pd.testing.assert_frame_equal(shipped.runs, moved.runs)
        pd.testing.assert_frame_equal(shipped.summary().rungs, moved.summary().rungs)


def _one_problem(error: pytest.ExceptionInfo) -> str:
    assert len(error.value.problems) == 1
    return str(error.value.problems[0])


def test_a_positional_set_is_refused_with_the_alias_to_write():
    with pytest.raises(ScenarioError) as error:
        load_with_overrides(SCENARIOS / BASE, ["relations.4.pressure=0.9"])
    said = _one_problem(error)
    assert said.startswith("--set relations.4.pressure=0.9")
    assert "relations.4 is restrains[us>israel]: write restrains[us>israel].pressure" in said


def test_an_alias_set_lands_on_its_relation_wherever_it_is_listed(tmp_path):
    folder = reordered_copy(tmp_path, "reversed")
    for file in (SCENARIOS / BASE, folder / BASE):
        scenario = load_with_overrides(file, ["restrains[us>israel].pressure=0.25"])
        (restrains,) = [r for r in scenario.relations if r.kind == "restrains" and r.ally == "us"]
        assert restrains.pressure == 0.25
        assert "restrains[us>israel].pressure" in scenario.parameters_fixed


def test_a_positional_variant_set_is_refused_at_its_line(tmp_path):
    variant = tmp_path / "variant.yaml"
    shutil.copy(SCENARIOS / BASE, tmp_path / BASE)
    shutil.copytree(ROOT / "calibration", tmp_path.parent / "calibration", dirs_exist_ok=True)
    variant.write_text(f"version: 2\nextends: {BASE}\nset:\n  relations.5.obey_probability: 0.9\n")
    with pytest.raises(ScenarioError) as error:
        load_scenario(variant)
    assert _one_problem(error) == (
        f"{variant}:4: relations.5.obey_probability: relations.5 is proxy[hezbollah>iran]: "
        "write proxy[hezbollah>iran].obey_probability"
    )


def _base_with(tmp_path: Path, old: str, new: str) -> Path:
    """A copy of the base scenario beside a copy of the posterior, one text replaced."""
    (tmp_path / "scenarios").mkdir()
    shutil.copytree(ROOT / "calibration", tmp_path / "calibration")
    text = (SCENARIOS / BASE).read_text()
    assert old in text
    path = tmp_path / "scenarios" / BASE
    path.write_text(text.replace(old, new))
    return path


def test_a_positional_lever_path_is_refused_at_its_line(tmp_path):
    path = _base_with(tmp_path, "path: restrains[us>israel].pressure", "path: relations.4.pressure")
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    said = _one_problem(error)
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if "relations.4" in t)
    assert said.startswith(f"{path}:{line}: levers.us_pressure.path: ")
    assert said.endswith("relations.4 is restrains[us>israel]: write restrains[us>israel].pressure")


def test_a_positional_parameters_fixed_path_is_refused(tmp_path):
    path = _base_with(
        tmp_path, "parameters_from:", "parameters_fixed: [relations.4.pressure]\nparameters_from:"
    )
    with pytest.raises(ScenarioError) as error:
        load_scenario(path)
    said = _one_problem(error)
    line = next(
        i
        for i, t in enumerate(path.read_text().splitlines(), 1)
        if t.startswith("parameters_fixed:")
    )
    assert f"{path}:{line}: parameters_fixed[0]: " in said
    assert said.endswith("relations.4 is restrains[us>israel]: write restrains[us>israel].pressure")


def test_a_positional_lever_on_the_command_line_is_refused():
    scenario = load_scenario(SCENARIOS / BASE)
    with pytest.raises(ScenarioError) as error:
        Lever.parse("relations.4.pressure=0:1:3").resolved(scenario)
    assert "write restrains[us>israel].pressure" in _one_problem(error)


def test_declared_levers_keep_their_alias():
    levers = declared_levers(SCENARIOS / BASE)
    assert levers["us_pressure"].path == "restrains[us>israel].pressure"
    assert levers["hezbollah_obedience"].path == "proxy[hezbollah>iran].obey_probability"


def test_a_positional_prior_is_refused():
    with pytest.raises(ScenarioError) as error:
        load_scenario(SCENARIOS / BASE, {"relations.5.obey_probability": 0.5})
    assert "relations.5 is proxy[hezbollah>iran]" in _one_problem(error)


def test_a_positional_posterior_column_is_refused(tmp_path):
    table = pd.read_parquet(ROOT / "calibration" / "posterior.parquet")
    table = table.rename(
        columns={"proxy[hezbollah>iran].obey_probability": "relations.5.obey_probability"}
    )
    posterior = tmp_path / "positional.parquet"
    table.to_parquet(posterior)
    problems = posterior_problems(load_scenario(SCENARIOS / BASE), str(posterior))
    assert problems == [
        f"{posterior}: column relations.5.obey_probability: relations.5 is "
        "proxy[hezbollah>iran]: write proxy[hezbollah>iran].obey_probability"
    ]


def test_the_shipped_files_name_no_relation_by_position():
    files = [*SCENARIOS.glob("*.yaml"), ROOT / "calibration" / "calibrate.yaml"]
    for path in files:
        assert "relations." not in path.read_text(), path
    for table in ("posterior.parquet", "particles.parquet"):
        columns = pd.read_parquet(ROOT / "calibration" / table).columns
        assert not [c for c in columns if c.startswith("relations.")], table


SET = "relations.4.pressure=0.9"


def test_the_command_line_refuses_a_positional_set_in_one_line():
    done = subprocess.run(
        [sys.executable, "-m", "sim", "validate", str(SCENARIOS / BASE)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    done = subprocess.run(
        [sys.executable, "-m", "sim", "trace", str(SCENARIOS / BASE), "--set", SET],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].endswith(
        "relations.4 is restrains[us>israel]: write restrains[us>israel].pressure"
    )
