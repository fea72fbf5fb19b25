"""Every kind of bad scenario input gets one clear message naming the file, the line and the field.

Each case takes the shipped April 2024 scenario, makes one small change to its text, loads it from a
file and checks the exact file, line, field path and a fragment of the message.
"""

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli.main import main
from sim.scenario.loading import Problem, ScenarioError, load_scenario, parse_scenario

APRIL = Path(__file__).parents[1] / "scenarios" / "april-2024.yaml"
TEXT = re.sub(r"[ \t]+#.*$", "", APRIL.read_text(encoding="utf-8"), flags=re.M)
"""The shipped scenario without the comments after its values (their sources), so that a mutation
names a line by its key and value alone."""


def locate(text: str, *fragments: str) -> int:
    """1-based line of the last fragment, each searched on or after the line of the one before."""
    lines, line = text.splitlines(), 0
    for fragment in fragments:
        line = next(i for i in range(max(line, 1), len(lines) + 1) if fragment in lines[i - 1])
    return line


def mutate(old: str, new: str) -> str:
    assert TEXT.count(old) == 1, f"fixture drifted: {old!r} is not in the text exactly once"
    return TEXT.replace(old, new)


def problems_in(tmp_path: Path, text: str) -> list[Problem]:
    path = tmp_path / "x.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    return caught.value.problems


IRAN_POLICY = ("  iran:", "    policy:")
RELATION_4 = ("{kind: restrains, ally: us, restrained: israel",)
PROXY = "{kind: proxy, proxy: hezbollah, patron: iran, obey_probability: 0.7, ordered_rung: 4}"

# (id, old text, new text, field (or every field, the first checked in detail), lines leading
# to the problem's line, message fragment)
MUTATIONS = [
    (
        "string for a number",
        "horizon_days: 90\n",
        "horizon_days: ninety\n",
        "horizon_days",
        ("horizon_days: ninety",),
        "must be a valid number, got 'ninety'",
    ),
    (
        "quoted integer",
        "seed: 20240401\n",
        "seed: '20240401'\n",
        "seed",
        ("seed: '20240401'",),
        "must be a valid integer, got '20240401'",
    ),
    (
        "quoted float",
        "failure_probability: 0.5\n",
        "failure_probability: '0.5'\n",
        "weapons.ballistic.failure_probability",
        ("failure_probability: '0.5'",),
        "must be a valid number, got '0.5'",
    ),
    (
        "boolean for a number",
        "horizon_days: 90\n",
        "horizon_days: yes\n",
        "horizon_days",
        ("horizon_days: yes",),
        "must be a valid number, got True",
    ),
    (
        "infinite number",
        "horizon_days: 90\n",
        "horizon_days: .inf\n",
        "horizon_days",
        ("horizon_days: .inf",),
        "must be a finite number, got inf",
    ),
    (
        "not-a-number weight",
        "      red_line_weight: 1.0\n",
        "      red_line_weight: .nan\n",
        "actors.hezbollah.policy.red_line_weight",
        ("red_line_weight: .nan",),
        "must be a finite number, got nan",
    ),
    (
        "missing top-level field",
        "horizon_days: 90\n",
        "",
        "horizon_days",
        ("version: 2",),  # the top-level mapping starts at its first key
        "required field is missing",
    ),
    (
        "missing nested field",
        "      base_response_probability: 0.3\n",
        "",
        "actors.iran.policy.base_response_probability",
        IRAN_POLICY,
        "required field is missing",
    ),
    (
        "missing field in a flow mapping",
        "delay: {median_days: 12, sigma: 0.3}",
        "delay: {sigma: 0.3}",
        "actors.iran.policy.delay.median_days",
        ("delay: {sigma: 0.3}",),
        "required field is missing",
    ),
    (
        "missing section",
        "      delay: {median_days: 3, sigma: 0.5}\n",
        "",
        "actors.us.policy.delay",
        ("  us:", "    policy:"),
        "required field is missing",
    ),
    (
        "unknown key at top level",
        "max_strikes: 200\n",
        "max_strike: 200\n",
        "max_strike",
        ("max_strike: 200",),
        "unknown key (check the spelling; see `sim schema`)",
    ),
    (
        "unknown nested key",
        "      escalate_probability: 0.9\n",
        "      escalate_probabilty: 0.9\n",
        "actors.iran.policy.escalate_probabilty",
        ("escalate_probabilty",),
        "unknown key",
    ),
    (
        "unknown key in a relation",
        "restrained: israel, pressure: 0.6}",
        "restrained: israel, pressure: 0.6, presure: 0.6}",
        "relations[4].presure",
        RELATION_4,
        "unknown key",
    ),
    (
        "negative stock",
        "stock: 60\n",
        "stock: -60\n",
        "actors.israel.defence[3].stock",
        ("stock: -60",),
        "must be >= 0, got -60",
    ),
    (
        "probability above 1",
        "failure_probability: 0.5\n",
        "failure_probability: 1.5\n",
        "weapons.ballistic.failure_probability",
        ("failure_probability: 1.5",),
        "must be <= 1.0, got 1.5",
    ),
    (
        "probability below 0",
        "kill_probability: {ballistic: 0.75}",
        "kill_probability: {ballistic: -0.75}",
        "actors.israel.defence[3].kill_probability.ballistic",
        ("kill_probability: {ballistic: -0.75}",),
        "must be >= 0.0, got -0.75",
    ),
    (
        "relation pressure above 1",
        "restrained: israel, pressure: 0.6}",
        "restrained: israel, pressure: 1.6}",
        "relations[4].pressure",
        RELATION_4,
        "must be <= 1.0, got 1.6",
    ),
    (
        "negative delay",
        "delay: {median_days: 12, sigma: 0.3}",
        "delay: {median_days: -3, sigma: 0.3}",
        "actors.iran.policy.delay.median_days",
        ("median_days: -3",),
        "must be > 0.0, got -3",
    ),
    (
        "flight time min above mode",
        "{min_hours: 0.2, mode_hours: 0.22, max_hours: 0.25}",
        "{min_hours: 0.3, mode_hours: 0.22, max_hours: 0.25}",
        "weapons.ballistic.flight_time",
        ("min_hours: 0.3",),
        "need min_hours <= mode_hours <= max_hours, got 0.3, 0.22, 0.25",
    ),
    (
        "escalate plus deescalate above 1",
        "      escalate_probability: 0.9\n",
        "      escalate_probability: 0.99\n",
        "actors.iran.policy",
        IRAN_POLICY,
        "escalate_probability + deescalate_probability must be <= 1, got 1.04",
    ),
    (
        "package rung above the ladder",
        "        6: {projectiles: {tomahawk: 200}",
        "        9: {projectiles: {tomahawk: 200}",
        "actors.us.policy.packages[9]",
        ("9: {projectiles: {tomahawk: 200}",),
        "must be <= 6, got 9",
    ),
    (
        "weapon name not an identifier",
        "  rocket:\n",
        "  Rocket:\n",
        "weapons.Rocket",
        ("  Rocket:",),
        "must be a lowercase name",
    ),
    (
        "empty opening",
        TEXT[TEXT.index("\nopening:\n") :],
        "\nopening: []\n",
        "opening",
        ("opening: []",),
        "must have at least 1 item(s), got []",
    ),
    (
        "unknown actor in adversaries",
        "{kind: adversaries, actors: [us, iran]}",
        "{kind: adversaries, actors: [usa, iran]}",
        "relations[2].actors[0]",
        ("actors: [usa, iran]",),
        "unknown actor 'usa' (known: hezbollah, iran, israel, us)",
    ),
    (
        "unknown actor in restrains",
        "ally: us, restrained: israel",
        "ally: usa, restrained: israel",
        "relations[4].ally",
        ("ally: usa, restrained",),
        "unknown actor 'usa'",
    ),
    (
        "unknown actor in a proxy relation",
        "proxy: hezbollah, patron: iran,",
        "proxy: hezbollah, patron: iram,",
        "relations[5].patron",
        ("patron: iram",),
        "unknown actor 'iram'",
    ),
    (
        "unknown actor in the opening",
        "    attacker: israel\n",
        "    attacker: israhel\n",
        "opening[0].attacker",
        ("attacker: israhel",),
        "unknown actor 'israhel'",
    ),
    (
        "unknown weapon in an arsenal",
        "arsenal: {tomahawk: 400}",
        "arsenal: {tomahawks: 400}",
        "actors.us.arsenal.tomahawks",
        ("arsenal: {tomahawks: 400}",),
        "unknown weapon 'tomahawks' (known: ballistic, cruise, drone, rocket, standoff, tomahawk)",
    ),
    (
        "unknown weapon in kill_probability",
        "kill_probability: {ballistic: 0.75}",
        "kill_probability: {balistic: 0.75}",
        "actors.israel.defence[3].kill_probability.balistic",
        ("{balistic: 0.75}",),
        "unknown weapon 'balistic'",
    ),
    (
        "unknown weapon in a package",
        "4: {projectiles: {tomahawk: 40}",
        "4: {projectiles: {tomahawks: 40}",
        "actors.us.policy.packages[4].projectiles.tomahawks",
        ("{tomahawks: 40}",),
        "unknown weapon 'tomahawks'",
    ),
    (
        "ally layer without a defends relation",
        "  - {kind: defends, ally: us, protects: israel, joins_combat_at_rung: 5}",
        "",
        ("actors.israel.defence[0].operator", "actors.israel.defence[1].operator"),
        ("  israel:", "operator: us"),
        "'us' operates a layer for 'israel' but no 'defends' relation",
    ),
    (
        "unknown relation kind",
        "{kind: defends, ally: us",
        "{kind: protects, ally: us",
        "relations[3]",
        ("{kind: protects",),
        "kind must be one of adversaries, defends, restrains, proxy; got 'protects'",
    ),
    (
        "relation without a kind",
        "{kind: restrains, ally: us, restrained: israel",
        "{ally: us, restrained: israel",
        "relations[4]",
        ("{ally: us, restrained: israel",),
        "needs a kind: one of adversaries, defends, restrains, proxy",
    ),
    (
        "proxy relation missing the field named like its kind",
        PROXY,
        PROXY.replace("proxy: hezbollah, ", ""),
        "relations[5].proxy",
        ("{kind: proxy, patron: iran",),
        "required field is missing",
    ),
    (
        "proxy relation missing a field",
        PROXY,
        PROXY.replace("patron: iran, ", ""),
        "relations[5].patron",
        ("{kind: proxy, proxy: hezbollah, obey",),
        "required field is missing",
    ),
    (
        "proxy relation with a bad value",
        PROXY,
        PROXY.replace("ordered_rung: 4", "ordered_rung: four"),
        "relations[5].ordered_rung",
        ("ordered_rung: four",),
        "must be a valid integer, got 'four'",
    ),
    (
        "duplicate key at top level",
        "horizon_days: 90\n",
        "horizon_days: 90\nseed: 7\n",
        "seed",
        ("seed: 7",),
        "duplicate key",
    ),
    (
        "duplicate key in a flow mapping",
        "{min_hours: 0.2, mode_hours: 0.22, max_hours: 0.25}",
        "{min_hours: 0.2, min_hours: 0.22, max_hours: 0.25}",
        "weapons.ballistic.flight_time.min_hours",
        ("min_hours: 0.2, min_hours",),
        "duplicate key",
    ),
    (
        "malformed YAML",
        "horizon_days: 90\n",
        "horizon_days: 90: 1\n",
        "",
        ("horizon_days: 90: 1",),
        "malformed YAML: mapping values are not allowed here",
    ),
    (
        "tab indentation",
        "horizon_days: 90\n",
        "horizon_days:\t90\n",
        "",
        ("horizon_days:\t90",),
        "found character '\\t' that cannot start any token",
    ),
    (
        "python object tag",
        "horizon_days: 90\n",
        "horizon_days: !!python/object/apply:os.system ['touch /tmp/pwned']\n",
        "",
        ("horizon_days: !!python",),
        "YAML tags that build objects are not allowed in a scenario",
    ),
]


@pytest.mark.parametrize(
    ("old", "new", "field", "at", "message"),
    [m[1:] for m in MUTATIONS],
    ids=[m[0] for m in MUTATIONS],
)
def test_one_mistake_one_problem_with_file_line_field(tmp_path, old, new, field, at, message):
    text = mutate(old, new)
    problems = problems_in(tmp_path, text)
    fields = list(field) if isinstance(field, tuple) else [field]
    assert [p.field for p in problems] == fields, [str(p) for p in problems]
    problem, field = problems[0], fields[0]
    assert problem.source == str(tmp_path / "x.yaml")
    assert problem.line == locate(text, *at)
    assert message in problem.message
    where = f"{problem.source}:{problem.line}"
    assert str(problem) == (f"{where}: {field}: " if field else f"{where}: ") + problem.message


def test_a_typo_in_a_required_key_names_both_the_missing_and_the_unknown_key():
    text = mutate("restrained: israel, pressure: 0.6}", "restrained: israel, presure: 0.6}")
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    line = locate(text, *RELATION_4)
    assert [str(p) for p in caught.value.problems] == [
        f"x.yaml:{line}: relations[4].pressure: required field is missing",
        f"x.yaml:{line}: relations[4].presure: unknown key (check the spelling; see `sim schema`)",
    ]


def test_every_mistake_is_listed_with_the_example_format():
    text = mutate("horizon_days: 90\n", "horizon_days: -90\n").replace(
        "delay: {median_days: 12,", "delay: {median_days: -3,"
    )
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "scenarios/x.yaml")
    delay = locate(text, "median_days: -3")
    assert str(caught.value).splitlines() == [
        f"scenarios/x.yaml:{locate(text, 'horizon_days')}: horizon_days: must be > 0.0, got -90",
        f"scenarios/x.yaml:{delay}: actors.iran.policy.delay.median_days: must be > 0.0, got -3",
    ]


def test_an_object_tag_is_rejected_before_anything_is_built(tmp_path):
    marker = tmp_path / "pwned"
    text = f"name: !!python/object/apply:os.system ['touch {marker}']\n"
    for tag in (text, "name: !!python/object:collections.OrderedDict {}\n"):
        with pytest.raises(ScenarioError) as caught:
            parse_scenario(tag, "x.yaml")
        (problem,) = caught.value.problems
        assert problem.line == 1
        assert "tags that build objects are not allowed" in problem.message
    assert not marker.exists()


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("", None, "file is empty"),
        ("   \n\t\n\n", None, "file is empty"),
        ("- a\n- b\n", 1, "the top level must be a mapping of keys, got list"),
        ("just words\n", 1, "the top level must be a mapping of keys, got str"),
        ("~\n", 1, "the top level must be a mapping of keys, got NoneType"),
        ("name: x\nseed: [1, 2\n", 3, "malformed YAML"),
        (
            "name: x\n---\nname: y\n",
            2,
            "malformed YAML: expected a single document in the stream; but found another document",
        ),
        ("name: x\nname: y\n", 2, "duplicate key"),
        ("name: x\nother: \x00\n", 2, "malformed YAML: special characters are not allowed"),
        ("a: " + "[" * 5000 + "]" * 5000 + "\n", None, "nested too deeply"),
    ],
    ids=[
        "empty",
        "whitespace",
        "list",
        "scalar",
        "null",
        "unclosed",
        "two documents",
        "duplicate",
        "nul character",
        "too deep",
    ],
)
def test_unreadable_documents(text, line, message):
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    (problem,) = caught.value.problems
    assert (problem.source, problem.line) == ("x.yaml", line)
    assert message in problem.message


def test_an_alias_bomb_is_reported_quickly_and_briefly():
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    text = "\n".join(levels) + "\nhorizon_days: *a8\n"  # 10**9 leaves if expanded
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "x.yaml")
    horizon = next(p for p in caught.value.problems if p.field == "horizon_days")
    assert horizon.line == 10 and horizon.message.startswith("must be a valid number, got [[")
    assert len(str(caught.value)) < 5000


@pytest.mark.parametrize("number", ["1e6", "1E6", "1.0e+6", "1000000.0", "1_000_000"])
def test_exponent_numbers_are_numbers(number):
    text = TEXT.replace("unit_cost_usd: 15000000\n", f"unit_cost_usd: {number}\n")
    scenario = parse_scenario(text, str(APRIL))
    assert scenario.actors["israel"].defence[1].unit_cost_usd == 1e6
    text = mutate("horizon_days: 90\n", "horizon_days: 9e1\n")
    assert parse_scenario(text, str(APRIL)).horizon_days == 90


def test_a_quoted_exponent_is_a_string(tmp_path):
    text = mutate("horizon_days: 90\n", "horizon_days: '9e1'\n")
    (problem,) = problems_in(tmp_path, text)
    assert problem.field == "horizon_days" and problem.message.endswith("got '9e1'")


def test_odd_keys_are_matched_to_their_lines(tmp_path):
    """Keys YAML reads as numbers or booleans (0x10, yes) still get a line and never crash."""
    text = "version: 2\nname: x\n0x10: 1\nyes: 2\n"
    problems = {p.line: p for p in problems_in(tmp_path, text) if p.line != 1}
    assert (problems[3].field, problems[3].message) == ("16", "keys must be names (text), got 16")
    assert problems[4].message == "keys must be names (text), got True"
    assert "duplicate key" in problems_in(tmp_path, "name: x\nyes: 1\ntrue: 2\n")[0].message


def test_nonexistent_file(tmp_path):
    missing = tmp_path / "absent.yaml"
    with pytest.raises(ScenarioError) as caught:
        load_scenario(missing)
    assert caught.value.problems == [Problem(str(missing), None, "", "no such file")]
    assert str(caught.value) == f"{missing}: no such file"


def test_non_utf8_file(tmp_path):
    binary = tmp_path / "latin1.yaml"
    binary.write_bytes("name: Isra\xebl\n".encode("latin-1"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(binary)
    (problem,) = caught.value.problems
    assert (problem.source, problem.line, problem.field) == (str(binary), None, "")
    assert problem.message.startswith("cannot read:") and "utf-8" in problem.message


def test_the_shipped_scenario_is_valid():
    scenario = load_scenario(APRIL)
    assert scenario.horizon_days == 90 and set(scenario.actors) == {
        "israel",
        "iran",
        "us",
        "hezbollah",
    }


def test_validate_command_exit_codes_and_no_traceback(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text(TEXT.replace("horizon_days: 90", "horizon_days: -90"))
    runner = CliRunner()
    good = runner.invoke(main, ["validate", str(APRIL)])
    assert good.exit_code == 0 and "ok:" in good.output
    result = runner.invoke(main, ["validate", str(APRIL), str(bad)])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert f"{bad}:{locate(TEXT, 'horizon_days')}: horizon_days: must be > 0.0, got -90" in (
        result.output
    )


def test_schema_command_prints_json_schema():
    schema = json.loads(CliRunner().invoke(main, ["schema"]).output)
    assert schema["additionalProperties"] is False
    assert "actors" in schema["properties"]
