"""A bad value given through a relation alias is reported under the alias the user wrote, never
under the relation's place in the list (issue 13 item 1): ``--set``, a variant's ``set:``, a
lever (in the scenario or a lever file), ``sim sweep --lever``, ``sim sensitivity --uncertain``
and a posterior column all name ``proxy[hezbollah>iran]...``, with the file and line where the
alias was written."""

import re
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli.main import main
from sim.scenario.coherence import relation_alias
from sim.scenario.levers import declared_levers, load_with_overrides
from sim.scenario.loading import load_scenario
from sim.scenario.problems import ScenarioError

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
POSITIONAL = re.compile(r"relations(\[|\.)\d")

BAD_SETS = [
    ("proxy[hezbollah>iran].obey_probability=2", "proxy[hezbollah>iran].obey_probability"),
    ("proxy[hezbollah>iran].obey_probability=abc", "proxy[hezbollah>iran].obey_probability"),
    ("proxy[hezbollah>iran].ordered_rung=99", "proxy[hezbollah>iran].ordered_rung"),
    ("proxy[hezbollah>iran].nope=1", "proxy[hezbollah>iran].nope"),
    ("proxy[hezbollah>iran].nope.deeper=1", "proxy[hezbollah>iran].nope"),
    ("proxy[hezbollah>iran].kind=zz", "proxy[hezbollah>iran]"),
    ("proxy[hezbollah>iran]=null", "proxy[hezbollah>iran]"),
    ("proxy[hezbollah>iran].patron=nobody", "proxy[hezbollah>iran].patron"),
    ("restrains[us>israel].pressure=-1", "restrains[us>israel].pressure"),
    ("restrains[us>israel]=5", "restrains[us>israel]"),
    ("restrains[us>israel]={kind: restrains, ally: us}", "restrains[us>israel].restrained"),
    ("defends[us>israel].joins_combat_at_rung=9", "defends[us>israel].joins_combat_at_rung"),
    ("adversaries[israel,iran].actors=[iran]", "adversaries[israel,iran].actors"),
    ("adversaries[israel,iran].actors=[iran,iran]", "adversaries[israel,iran]"),
]


def assert_named_by_alias(message: str, alias_field: str, origin: str) -> None:
    """The first line names the origin and the alias as a field, and no line a position."""
    first = message.splitlines()[0]
    assert first.startswith(f"{origin}: {alias_field}: "), message
    assert not POSITIONAL.search(message), message


@pytest.mark.parametrize(("assignment", "field"), BAD_SETS)
def test_a_bad_set_through_an_alias_names_the_alias(assignment, field):
    with pytest.raises(ScenarioError) as refused:
        load_with_overrides(APRIL, [assignment])
    assert_named_by_alias(str(refused.value), field, f"--set {assignment}")


@pytest.mark.parametrize(("assignment", "field"), BAD_SETS[:4])
def test_a_bad_variant_through_an_alias_names_the_alias(assignment, field):
    with pytest.raises(ScenarioError) as refused:
        load_with_overrides(APRIL, [assignment], ["--variant strong:"])
    assert_named_by_alias(str(refused.value), field, f"--variant strong: {assignment}")


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ("proxy[hezbollah>iran].obey_probability: 2", "proxy[hezbollah>iran].obey_probability"),
        ("proxy[hezbollah>iran].nope: 2", "proxy[hezbollah>iran].nope"),
        ("proxy[hezbollah>iran].patron: hezbollah", "proxy[hezbollah>iran]"),
        ("restrains[us>israel].pressure: -1", "restrains[us>israel].pressure"),
    ],
)
def test_a_variant_files_set_through_an_alias_names_it_at_its_line(tmp_path, line, field):
    variant = tmp_path / "variant.yaml"
    variant.write_text(f"version: 2\nextends: {APRIL}\nset:\n  {line}\n", encoding="utf-8")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(variant)
    assert_named_by_alias(str(refused.value), field, f"{variant}:4")


def test_a_relation_listed_in_a_file_is_still_named_by_its_line(tmp_path):
    """No alias was written there: the field keeps the relation's place, and the line says
    which entry it is."""
    text = APRIL.read_text(encoding="utf-8").replace("obey_probability: 0.7", "obey_probability: 7")
    scenario = tmp_path / "april.yaml"
    scenario.write_text(text.replace("../calibration/", f"{ROOT / 'calibration'}/"), "utf-8")
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "obey_probability: 7" in t)
    with pytest.raises(ScenarioError) as refused:
        load_scenario(scenario)
    assert str(refused.value).startswith(f"{scenario}:{line}: relations[5].obey_probability: ")


def lever_file(tmp_path: Path, path: str, high: float) -> Path:
    levers = tmp_path / "levers.yaml"
    levers.write_text(
        f"levers:\n  hb:\n    path: {path}\n    low: 0\n    high: {high}\n    meaning: x\n",
        encoding="utf-8",
    )
    return levers


@pytest.mark.parametrize(
    ("path", "high", "line", "field"),
    [
        ("proxy[hezbollah>iran].obey_probability", 2, 5, "proxy[hezbollah>iran].obey_probability"),
        ("proxy[hezbollah>iran].nope", 1, 4, "proxy[hezbollah>iran].nope"),
    ],
)
def test_a_bad_lever_file_lever_names_its_alias_and_line(tmp_path, path, high, line, field):
    levers = lever_file(tmp_path, path, high)
    with pytest.raises(ScenarioError) as refused:
        declared_levers(APRIL, levers)
    message = str(refused.value)
    assert message.startswith(f"{levers}:{line}: levers.hb."), message
    assert f"): {field}: " in message and not POSITIONAL.search(message), message


def test_a_bad_scenario_lever_names_its_alias_and_line(tmp_path):
    text = APRIL.read_text(encoding="utf-8").replace("../calibration/", f"{ROOT / 'calibration'}/")
    start = text.index("  hezbollah_obedience:")
    text = text[:start] + text[start:].replace("high: 1.0", "high: 2.0", 1)
    scenario = tmp_path / "april.yaml"
    scenario.write_text(text, encoding="utf-8")
    line = text[:start].count("\n") + 4  # the lever's high: line
    with pytest.raises(ScenarioError) as refused:
        declared_levers(scenario)
    message = str(refused.value)
    assert message.startswith(f"{scenario}:{line}: levers.hezbollah_obedience.high "), message
    assert "): proxy[hezbollah>iran].obey_probability: must be <= 1" in message, message
    assert not POSITIONAL.search(message)


def test_a_lever_path_naming_no_field_of_a_relation_names_the_alias(tmp_path):
    text = APRIL.read_text(encoding="utf-8").replace("../calibration/", f"{ROOT / 'calibration'}/")
    text = text.replace(
        "    path: proxy[hezbollah>iran].obey_probability", "    path: proxy[hezbollah>iran].nope"
    )
    scenario = tmp_path / "april.yaml"
    scenario.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as refused:
        load_scenario(scenario)
    assert "proxy[hezbollah>iran] has no field 'nope'" in str(refused.value)
    assert not POSITIONAL.search(str(refused.value))


@pytest.mark.parametrize(
    "args",
    [
        ["sweep", "--lever", "proxy[hezbollah>iran].obey_probability=0:2:3"],
        ["sensitivity", "--uncertain", "proxy[hezbollah>iran].obey_probability=0:2"],
        [
            "sensitivity",
            "--uncertain",
            "us_pressure",
            "--uncertain",
            "proxy[hezbollah>iran].nope=0:1",
        ],
        ["compare", "--variant", "x: proxy[hezbollah>iran].obey_probability=2"],
    ],
)
def test_the_commands_name_the_alias_of_a_bad_lever_or_variant(tmp_path, args):
    command, *options = args
    result = CliRunner().invoke(main, [command, str(APRIL), "-o", str(tmp_path / "o"), *options])
    assert result.exit_code == 2, result.output
    assert "proxy[hezbollah>iran]" in result.output and "Traceback" not in result.output
    assert not POSITIONAL.search(result.output), result.output
    assert not (tmp_path / "o").exists()


def posterior_with(tmp_path: Path, column: str, value: float) -> Path:
    """The shipped scenario drawing from a posterior with ``column`` set to ``value``."""
    text = APRIL.read_text(encoding="utf-8")
    named = re.search(r"parameters_from: \.\./calibration/(\S+?)#", text).group(1)
    table = pq.read_table(ROOT / "calibration" / named)
    values = pa.array([value] * table.num_rows)
    if column in table.column_names:
        table = table.set_column(table.column_names.index(column), column, values)
    else:
        table = table.append_column(column, values)
    pq.write_table(table, tmp_path / "posterior.parquet")
    scenario = tmp_path / "april.yaml"
    scenario.write_text(text.replace(f"../calibration/{named}", "posterior.parquet"), "utf-8")
    return scenario


@pytest.mark.parametrize(
    ("column", "value", "said"),
    [
        ("proxy[hezbollah>iran].obey_probability", 2.0, "must be <= 1"),
        ("proxy[hezbollah>iran].nope", 0.5, "proxy[hezbollah>iran] has no field 'nope'"),
    ],
)
def test_a_bad_posterior_column_is_named_by_its_alias(tmp_path, column, value, said):
    scenario = posterior_with(tmp_path, column, value)
    with pytest.raises(ScenarioError) as refused:
        load_scenario(scenario)
    message = str(refused.value)
    assert f"column {column}" in message and said in message, message
    assert not POSITIONAL.search(message), message


NUMBERS = [
    (relation_alias(relation), field)
    for relation in load_scenario(APRIL).relations
    for field, value in relation.model_dump().items()
    if isinstance(value, int | float) and not isinstance(value, bool)
]
"""Every number of every relation of the shipped scenario, by alias and field."""


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    place=st.sampled_from(NUMBERS),
    value=st.one_of(
        st.floats(max_value=-1e-9, allow_nan=False, allow_infinity=False),
        st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=1, max_size=8).map("x".__add__),
    ),
    spaced=st.booleans(),
)
def test_any_bad_number_set_through_any_alias_names_that_alias(place, value, spaced):
    """Property: whichever relation and number, a negative value or a word is refused under the
    alias as typed (spaces inside the brackets allowed), never under a list position."""
    alias, field = place
    typed = alias.replace(">", " > ").replace(",", " , ") if spaced else alias
    assignment = f"{typed}.{field}={value}"
    with pytest.raises(ScenarioError) as refused:
        load_with_overrides(APRIL, [assignment])
    assert_named_by_alias(str(refused.value), f"{alias}.{field}", f"--set {assignment}")
