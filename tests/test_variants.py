"""Scenario variants: `extends` a base file and `set` values by path; errors name their own lines."""

import pytest

from sim.scenario.loading import ScenarioError, load_scenario

BASE = """\
version: 2
name: base
seed: 1
horizon_days: 10
weapons:
  rocket: {flight_time: {min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}, unit_cost_usd: 1}
actors:
  a: {name: A, arsenal: {rocket: 5}}
  b: {name: B}
relations:
  - {kind: adversaries, actors: [a, b]}
opening:
  - {day: 0, attacker: a, target: b, rung: 1, projectiles: {rocket: 5}}
"""


@pytest.fixture
def base(tmp_path):
    path = tmp_path / "base.yaml"
    path.write_text(BASE)
    return path


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_variant_replaces_top_level_keys_and_sets_paths(tmp_path, base):
    variant = write(
        tmp_path,
        "v.yaml",
        "version: 2\nextends: base.yaml\nname: v\nset:\n  seed: 9\n  actors.a.arsenal.rocket: 2\n",
    )
    scenario = load_scenario(variant)
    assert (scenario.name, scenario.seed, scenario.actors["a"].arsenal["rocket"]) == ("v", 9, 2)
    assert scenario.horizon_days == 10


def test_variant_of_a_variant(tmp_path, base):
    write(tmp_path, "v1.yaml", "version: 2\nextends: base.yaml\nset:\n  seed: 9\n")
    v2 = write(tmp_path, "v2.yaml", "version: 2\nextends: v1.yaml\nset:\n  horizon_days: 3\n")
    scenario = load_scenario(v2)
    assert (scenario.seed, scenario.horizon_days) == (9, 3)


@pytest.mark.parametrize(
    ("text", "line", "field", "message"),
    [
        ("version: 2\nextends: base.yaml\nset:\n  seed: -1\n", 4, "seed", "must be >= 0, got -1"),
        ("version: 2\nextends: base.yaml\nhorizon_days: 0\n", 3, "horizon_days", "must be > 0"),
        (
            "version: 2\nextends: base.yaml\nset:\n  actors.c.name: C\n",
            4,
            "actors.c",
            "no such key",
        ),
        ("version: 2\nextends: missing.yaml\n", 2, "extends", "cannot read missing.yaml"),
        ("version: 2\nextends: v.yaml\n", 2, "extends", "cycle"),
        ("version: 2\nextends: [base.yaml]\n", 2, "extends", "needs a file name"),
    ],
)
def test_variant_errors_name_the_variant_line(tmp_path, base, text, line, field, message):
    variant = write(tmp_path, "v.yaml", text)
    with pytest.raises(ScenarioError) as caught:
        load_scenario(variant)
    problem = caught.value.problems[0]
    assert (problem.source, problem.line, problem.field) == (str(variant), line, field)
    assert message in problem.message


def test_errors_in_the_base_name_the_base_file(tmp_path, base):
    base.write_text(BASE.replace("horizon_days: 10", "horizon_days: -10"))
    variant = write(tmp_path, "v.yaml", "version: 2\nextends: base.yaml\nname: v\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(variant)
    problem = caught.value.problems[0]
    assert (problem.source, problem.line, problem.field) == (str(base.resolve()), 4, "horizon_days")


def test_command_line_override_on_a_variant_names_the_override(tmp_path, base):
    variant = write(tmp_path, "v.yaml", "version: 2\nextends: base.yaml\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(variant, ["actors.a.arsenal.rocket=-1"])
    problem = caught.value.problems[0]
    assert problem.source == "--set actors.a.arsenal.rocket=-1"
    assert problem.line is None


ADD = """\
version: 2
extends: base.yaml
add:
  actors:
    c: {name: C, arsenal: {rocket: 3}}
  relations:
    - {kind: adversaries, actors: [c, b]}
    - {kind: proxy, proxy: c, patron: a, obey_probability: 0.5}
set:
  proxy[c>a].obey_probability: 0.25
"""


def test_add_appends_relations_and_actors_and_set_names_them_by_alias(tmp_path, base):
    scenario = load_scenario(write(tmp_path, "v.yaml", ADD))
    assert list(scenario.actors) == ["a", "b", "c"]
    assert [r.kind for r in scenario.relations] == ["adversaries", "adversaries", "proxy"]
    assert scenario.relations[0].actors == ["a", "b"]
    assert (scenario.relations[2].proxy, scenario.relations[2].obey_probability) == ("c", 0.25)
    assert scenario.parameters_fixed == ["proxy[c>a].obey_probability"]


@pytest.mark.parametrize(
    ("old", "new", "line", "field", "message"),
    [
        ("obey_probability: 0.5}", "obey_probability: 1.5}", 8, "relations[2].obey_probability",
         "must be <= 1.0, got 1.5"),
        ("    c: {name: C", "    a: {name: C", 5, "add.actors.a",
         "actors has 'a' already; change it with set:"),
        ("  relations:\n    - {kind: adversaries, actors: [c, b]}\n    - {kind: proxy, proxy: c, "
         "patron: a, obey_probability: 0.5}\n", "  relations: {c: 1}\n", 6, "add.relations",
         "relations takes entries as list, got dict"),
        ("proxy, proxy: c, patron: a", "proxy, proxy: c, patron: zz", 8, "relations[2].patron",
         "unknown actor 'zz'"),
    ],
)  # fmt: skip
def test_a_bad_addition_is_named_at_its_line_in_the_variant(
    tmp_path, base, old, new, line, field, message
):
    additions = ADD.partition("set:")[0]
    assert old in additions
    variant = write(tmp_path, "v.yaml", additions.replace(old, new))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(variant)
    problem = caught.value.problems[0]
    assert (problem.source, problem.line, problem.field) == (str(variant), line, field)
    assert message in problem.message


def test_the_houthi_variant_adds_a_proxy_and_keeps_every_base_relation():
    from pathlib import Path

    scenarios = Path(__file__).parents[1] / "scenarios"
    base = load_scenario(scenarios / "april-2024.yaml")
    houthis = load_scenario(scenarios / "april-2024-houthis.yaml")
    assert houthis.relations[: len(base.relations)] == base.relations
    added = houthis.relations[len(base.relations) :]
    assert [(r.kind, getattr(r, "proxy", None)) for r in added] == [
        ("adversaries", None),
        ("proxy", "houthis"),
    ]
    assert added[1].patron == "iran" and "houthis" in houthis.actors
    assert houthis.parameters_from == base.parameters_from
