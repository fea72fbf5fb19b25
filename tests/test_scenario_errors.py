"""Every kind of bad scenario input gets one clear message naming the file, the line and the field."""

from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli import main
from sim.scenario import ScenarioError, load_scenario, parse_scenario

APRIL = Path(__file__).parents[1] / "scenarios" / "april-2024.yaml"
TEXT = APRIL.read_text()


def line_of(fragment: str, text: str = TEXT) -> int:
    """1-based line of the first line containing ``fragment``."""
    return next(i for i, line in enumerate(text.splitlines(), 1) if fragment in line)


def problems_for(text: str):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    return caught.value.problems


# (description, old, new, field, message fragment)
MUTATIONS = [
    (
        "wrong type",
        "horizon_days: 90",
        "horizon_days: ninety",
        "horizon_days",
        "must be a valid number, got 'ninety'",
    ),
    ("quoted number", "seed: 20240401", "seed: '20240401'", "seed", "must be a valid integer"),
    (
        "negative stock",
        "stock: 60 ",
        "stock: -60 ",
        "actors.israel.defence[3].stock",
        "must be >= 0, got -60",
    ),
    (
        "probability above 1",
        "failure_probability: 0.5 ",
        "failure_probability: 1.5 ",
        "weapons.ballistic.failure_probability",
        "must be <= 1.0, got 1.5",
    ),
    (
        "negative delay",
        "delay: {median_days: 12, sigma: 0.3}",
        "delay: {median_days: -3, sigma: 0.3}",
        "actors.iran.policy.delay.median_days",
        "must be > 0.0, got -3",
    ),
    (
        "unknown key at top level",
        "horizon_days: 90",
        "horizon_dayz: 90",
        "horizon_dayz",
        "unknown key",
    ),
    (
        "unknown nested key",
        "      escalate_probability: 0.9 ",
        "      escalate_probabilty: 0.9 ",
        "actors.iran.policy.escalate_probabilty",
        "unknown key",
    ),
    (
        "flight times out of order",
        "{min_hours: 0.2, mode_hours: 0.22, max_hours: 0.25}",
        "{min_hours: 0.3, mode_hours: 0.22, max_hours: 0.25}",
        "weapons.ballistic.flight_time",
        "min_hours <= mode_hours <= max_hours",
    ),
    (
        "unknown actor in a relation",
        "{kind: adversaries, actors: [us, iran]}",
        "{kind: adversaries, actors: [usa, iran]}",
        "relations[2].actors[0]",
        "unknown actor 'usa'",
    ),
    (
        "unknown weapon in an arsenal",
        "arsenal: {tomahawk: 400}",
        "arsenal: {tomahawks: 400}",
        "actors.us.arsenal.tomahawks",
        "unknown weapon 'tomahawks'",
    ),
    (
        "unknown relation kind",
        "{kind: defends, ally: us",
        "{kind: protects, ally: us",
        "relations[3]",
        "kind must be one of",
    ),
    (
        "ally layer without defends",
        "  - {kind: defends, ally: us, protects: israel, joins_combat_at_rung: 5}",
        "",
        "actors.israel.defence[0].operator",
        "no 'defends' relation",
    ),
]


@pytest.mark.parametrize(
    ("what", "old", "new", "field", "message"), MUTATIONS, ids=[m[0] for m in MUTATIONS]
)
def test_mutation_gets_file_line_field_message(what, old, new, field, message):
    assert old in TEXT, f"fixture drifted: {old!r}"
    text = TEXT.replace(old, new, 1)
    problems = problems_for(text)
    matching = [p for p in problems if p.field == field]
    assert matching, f"{what}: no problem for {field}; got {[str(p) for p in problems]}"
    problem = matching[0]
    assert problem.source == "x.yaml"
    assert message in problem.message
    key = field.split(".")[-1].split("[")[0]
    if new and key in new:
        assert problem.line == line_of(new.strip(), text)
    assert str(problem).startswith(f"x.yaml:{problem.line}: {field}: ")


def test_missing_required_field_points_at_its_parent():
    text = TEXT.replace("      base_response_probability: 0.3\n", "", 1)
    problem = next(
        p for p in problems_for(text) if p.field == "actors.iran.policy.base_response_probability"
    )
    assert problem.message == "required field is missing"
    lines = text.splitlines()
    iran = line_of("  iran:", text)
    policy = next(i for i in range(iran, len(lines) + 1) if lines[i - 1] == "    policy:")
    assert problem.line == policy


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "file is empty"),
        ("   \n\n", None, "file is empty"),
        ("- a\n- b\n", 1, "top level must be a mapping"),
        ("name: x\nseed: [1, 2\n", 3, "malformed YAML"),
        ("name: x\nname: y\n", 2, "duplicate key"),
        ("name: !!python/object/apply:os.system ['true']\n", 1, "malformed YAML"),
    ],
)
def test_unreadable_documents(text, line, message):
    problem = problems_for(text)[0]
    assert problem.line == line
    assert message in problem.message


def test_exponent_numbers_are_numbers():
    scenario = parse_scenario(TEXT.replace("unit_cost_usd: 15000000 ", "unit_cost_usd: 1.5e7 "))
    assert scenario.actors["israel"].defence[1].unit_cost_usd == 1.5e7


def test_missing_and_non_utf8_files(tmp_path):
    with pytest.raises(ScenarioError, match="no such file"):
        load_scenario(tmp_path / "absent.yaml")
    binary = tmp_path / "binary.yaml"
    binary.write_bytes(b"name: \xff\xfe\n")
    with pytest.raises(ScenarioError, match="cannot read"):
        load_scenario(binary)


def test_validate_command_exit_codes_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEXT.replace("horizon_days: 90", "horizon_days: -90"))
    runner = CliRunner()
    good = runner.invoke(main, ["validate", str(APRIL)])
    assert good.exit_code == 0 and "ok:" in good.output
    result = runner.invoke(main, ["validate", str(APRIL), str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{bad}:{line_of('horizon_days')}: horizon_days: must be > 0.0, got -90" in result.output


def test_schema_command_prints_json_schema():
    import json

    result = CliRunner().invoke(main, ["schema"])
    schema = json.loads(result.output)
    assert schema["additionalProperties"] is False
    assert "actors" in schema["properties"]
