"""Levers: relation aliases, lever files, grids and ranges, and their errors."""

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.main import main
from sim.scenario.coherence import position_path
from sim.scenario.levers import (
    Lever,
    Uncertain,
    declared_levers,
    load_lever_file,
    load_with_overrides,
    relation_aliases,
    resolve_override,
    resolve_path,
)
from sim.scenario.loading import ScenarioError, load_scenario
from sim.study.montecarlo import run_study
from sim.study.results import ResultsError

APRIL = Path(__file__).parents[1] / "scenarios" / "april-2024.yaml"
SCENARIO = load_scenario(APRIL)


@pytest.mark.parametrize(
    ("alias", "path"),
    [
        ("restrains[us>israel].pressure", "relations.4.pressure"),
        ("restrains[iran>hezbollah].pressure", "relations.6.pressure"),
        ("defends[us>israel].joins_combat_at_rung", "relations.3.joins_combat_at_rung"),
        ("proxy[hezbollah>iran].obey_probability", "relations.5.obey_probability"),
        ("adversaries[iran,israel]", "relations.0"),
        ("adversaries[israel>iran]", "relations.0"),
        ("actors.iran.policy.self_restraint", "actors.iran.policy.self_restraint"),
    ],
)
def test_aliases_resolve_to_the_relation_index(alias, path):
    assert position_path(SCENARIO, alias) == path


def test_every_relation_has_an_alias_that_resolves_back_to_it():
    aliases = relation_aliases(SCENARIO)
    assert len(aliases) == len(SCENARIO.relations)
    for alias, index in aliases.items():
        assert position_path(SCENARIO, alias) == f"relations.{index}"
        assert resolve_path(SCENARIO, alias) == alias
        with pytest.raises(ScenarioError, match=rf"relations.{index} is {re.escape(alias)}: "):
            resolve_path(SCENARIO, f"relations.{index}")


def test_an_alias_is_stored_as_the_scenario_states_it():
    assert resolve_path(SCENARIO, "adversaries[ iran , israel ]") == "adversaries[israel,iran]"
    assert resolve_path(SCENARIO, "restrains[ us > israel ].pressure") == (
        "restrains[us>israel].pressure"
    )


def test_an_alias_with_no_relation_names_the_known_ones():
    with pytest.raises(ScenarioError) as caught:
        resolve_override(SCENARIO, "restrains[us>iran].pressure=1")
    message = str(caught.value)
    assert message.startswith("--set restrains[us>iran].pressure=1: restrains[us>iran].pressure")
    assert "known: restrains[us>israel], restrains[iran>hezbollah]" in message


def test_a_resolved_override_keeps_the_value_as_typed_and_validates_like_the_file():
    text = resolve_override(SCENARIO, "restrains[ us>israel ].pressure=1.5")
    assert text == "restrains[us>israel].pressure=1.5"
    with pytest.raises(
        ScenarioError, match=r"restrains\[us>israel\].pressure: must be <= 1.0, got 1.5"
    ):
        load_scenario(APRIL, [text])


def test_declared_levers_are_checked_at_both_ends(tmp_path):
    good = tmp_path / "good.yaml"
    good.write_text(
        "levers:\n  us_push:\n    path: restrains[us>israel].pressure\n    low: 0.2\n"
        "    high: 0.9\n    meaning: US pressure\n"
    )
    levers = declared_levers(APRIL, good)
    assert levers["us_push"].path == "restrains[us>israel].pressure"
    assert levers["us_pressure"].path == "restrains[us>israel].pressure"
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "levers:\n  iran_max:\n    path: actors.iran.policy.self_restraint\n    low: 0\n"
        "    high: 3\n    meaning: too far\n"
    )
    with pytest.raises(ScenarioError) as caught:
        declared_levers(APRIL, bad)
    assert str(caught.value) == (
        f"{bad}:5: levers.iran_max.high (actors.iran.policy.self_restraint=3): "
        "actors.iran.policy.self_restraint: must be <= 1.0, got 3.0"
    )


def test_a_lever_file_reports_file_line_and_field(tmp_path):
    path = tmp_path / "levers.yaml"
    path.write_text("levers:\n  x:\n    path: seed\n    low: 2\n    high: 1\n    meaning: m\n")
    with pytest.raises(ScenarioError, match=r"levers.yaml:2: levers.x: need low < high"):
        load_lever_file(path)
    path.write_text("levers:\n  x:\n    path: seed\n    low: 0\n    high: 1\n    color: red\n")
    with pytest.raises(ScenarioError) as caught:
        load_lever_file(path)
    assert {str(p).split(": ", 1)[1] for p in caught.value.problems} == {
        "levers.x.meaning: required field is missing",
        "levers.x.color: unknown key (a lever has path, low, high, meaning)",
    }
    path.write_text("levers:\n  x: {path: seed, low: 0, high: 1, meaning: m}\n  x: {}\n")
    with pytest.raises(ScenarioError, match="duplicate key"):
        load_lever_file(path)


def test_grids_ranges_and_declared_names():
    named = SCENARIO.levers
    assert Lever.parse("a.b=0:1:3").values == (0.0, 0.5, 1.0)
    assert Lever.parse("us_pressure", named) == Lever(
        "restrains[us>israel].pressure", (0.0, 0.25, 0.5, 0.75, 1.0), "us_pressure"
    )
    assert Lever.parse("us_pressure=0:1:2", named).path == "restrains[us>israel].pressure"
    alias = Lever.parse("restrains[us>israel].pressure=0:1:2").resolved(SCENARIO)
    assert (alias.path, alias.label) == (
        "restrains[us>israel].pressure",
        "restrains[us>israel].pressure",
    )
    assert Uncertain.parse("iran_aversion", named) == Uncertain(
        "actors.iran.policy.escalation_aversion", 0.0, 2.0, "iran_aversion"
    )


@pytest.mark.parametrize("text", ["path", "path=0:1", "path=a:b:c", "path=0:1:0", "=0:1:2"])
def test_malformed_grids_are_refused(text):
    with pytest.raises(ResultsError, match="PATH=START:STOP:STEPS"):
        Lever.parse(text)


@pytest.mark.parametrize("text", ["a", "a=1", "a=2:1", "a=x:y", "=0:1"])
def test_malformed_ranges_are_refused(text):
    with pytest.raises(ResultsError, match="PATH=LOW:HIGH"):
        Uncertain.parse(text)


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--set", "actors.iran.policy.self_restrain=0.5"], "actors.iran.policy.self_restrain"),
        (["--set", "actors.iran.policy.self_restraint=high"], "must be a valid number"),
        (["--set", "restrains[us>iran].pressure=1"], "no restrains relation us>iran"),
        (["--set", "nonsense"], "expected PATH=VALUE"),
        (["--variant", "x: restrains[us>israel].pressure=2"], "must be <= 1.0, got 2"),
    ],
)
def test_cli_override_mistakes_exit_2_with_the_file_style_message(tmp_path, args, expected):
    result = CliRunner().invoke(
        main,
        [
            "compare",
            str(APRIL),
            "--variant",
            "same: description=x",
            "-n",
            "4",
            "-o",
            str(tmp_path),
            "--executor",
            "serial",
            *args,
        ],
    )
    assert result.exit_code == 2, result.output
    assert expected in result.output
    assert "Traceback" not in result.output
    assert not any(tmp_path.iterdir()), "nothing runs before every override is valid"


def test_run_trace_and_the_api_take_aliases_and_refuse_positions(tmp_path):
    alias, spaced = "restrains[us>israel].pressure=0.9", "restrains[ us > israel ].pressure=0.9"
    scenario = load_with_overrides(APRIL, [alias])
    assert scenario.relations[4].pressure == 0.9 and SCENARIO.relations[4].pressure == 0.6
    assert load_with_overrides(APRIL, {"restrains[us>israel].pressure": 0.9}) == scenario
    traces = [  # the timeline below the title, which names the --set as typed
        CliRunner().invoke(main, ["trace", str(APRIL), "-r", "3", "--set", text]).output
        for text in (alias, spaced)
    ]
    timelines = [trace.splitlines()[2:] for trace in traces]
    assert timelines[0] == timelines[1] and "STRIKE #1" in traces[0]
    by_alias = run_study(APRIL, n=20, out=tmp_path / "a", executor="serial", overrides=[alias])
    by_spaced = run_study(APRIL, n=20, out=tmp_path / "p", executor="serial", overrides=[spaced])
    assert by_alias.runs.equals(by_spaced.runs)
    refused = CliRunner().invoke(main, ["trace", str(APRIL), "--set", "relations.4.pressure=0.9"])
    assert refused.exit_code == 2
    assert refused.output.strip().endswith(
        "relations.4 is restrains[us>israel]: write restrains[us>israel].pressure"
    )
    for overrides in (["restrains[us>iran].pressure=1"], ["relations.4.pressure=0.9"]):
        with pytest.raises(ScenarioError, match=r"no restrains relation us>iran|relations.4 is"):
            run_study(APRIL, n=20, out=tmp_path / "x", overrides=overrides)
        assert not (tmp_path / "x").exists()


def test_a_bare_word_that_names_no_lever_lists_the_declared_ones():
    named = declared_levers(APRIL)
    for parse, form in ((Lever.parse, "PATH=START:STOP:STEPS"), (Uncertain.parse, "PATH=LOW:HIGH")):
        with pytest.raises(ResultsError) as error:
            parse("us_presure", named)
        assert str(error.value) == (
            f"lever 'us_presure': no declared lever of that name (declared: "
            f"{', '.join(named)}); or {form}"
        )


def test_an_override_by_alias_is_named_as_typed_in_errors():
    with pytest.raises(ScenarioError) as caught:
        load_with_overrides(APRIL, ["restrains[us>israel].pressure=3", "seed=7"])
    assert str(caught.value) == (
        "--set restrains[us>israel].pressure=3: restrains[us>israel].pressure: must be <= 1.0, got 3"
    )
    with pytest.raises(ScenarioError) as caught:
        load_with_overrides(APRIL, {"seed": -1}, origins=["--lever"])
    assert str(caught.value).startswith("--lever seed=-1: seed: ")
