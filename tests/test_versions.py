"""Schema versions: a version-1 file gets one `file:line: version: ...` error (exit 2, no
traceback, nothing written), and every version-2 block can be switched off by a variant."""

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner

from sim.cli.main import main
from sim.model.world import run_replication
from sim.scenario.base import StrikePackage
from sim.scenario.loading import ScenarioError, load_scenario, parse_scenario
from sim.scenario.rounds import OpeningEvent
from sim.scenario.schema import Actor, Policy, ProxyOf, Scenario
from sim.scenario.versions import MECHANISMS, version_1_settings, version_2_blocks
from sim.study.montecarlo import run_study

ROOT = Path(__file__).parents[1]
APRIL = ROOT / "scenarios" / "april-2024.yaml"
VERSION_1 = ROOT / "scenarios" / "april-2024-v1-mechanisms.yaml"

TINY = """\
version: 2
name: tiny
seed: 3
horizon_days: 20
weapons:
  rocket: {flight_time: {min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}, unit_cost_usd: 1}
actors:
  a:
    name: A
    arsenal: {rocket: 50}
    policy:
      base_response_probability: 1
      delay: {median_days: 1, sigma: 0}
      packages: {3: {projectiles: {rocket: 5}}}
  b:
    name: B
    arsenal: {rocket: 50}
    policy:
      base_response_probability: 1
      escalate_probability: 1
      delay: {median_days: 2, sigma: 0}
      packages: {3: {projectiles: {rocket: 5}}}
relations:
  - {kind: adversaries, actors: [a, b]}
opening:
  - {day: 0, attacker: a, target: b, rung: 2, projectiles: {rocket: 5}}
"""
WITHOUT_VERSION = TINY.replace("version: 2\n", "")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def refused(path: Path, tmp_path: Path) -> str:
    """``sim validate`` and ``sim run`` of ``path``: both exit 2 with one line and no traceback,
    and the run writes nothing; returns that line."""
    checked = CliRunner().invoke(main, ["validate", str(path)])
    out = tmp_path / "out"
    ran = CliRunner().invoke(main, ["run", str(path), "-n", "2", "-w", "1", "-o", str(out)])
    for result in (checked, ran):
        assert result.exit_code == 2, result.output
        assert "Traceback" not in result.output
    assert not out.exists()
    (line,) = checked.output.strip().splitlines()
    assert ran.output.strip().splitlines() == [line]
    return line


@pytest.mark.parametrize(
    ("text", "line", "found"),
    [
        (WITHOUT_VERSION, 1, "(no `version:` line)"),
        ("# a comment first\n" + WITHOUT_VERSION, 1, "(no `version:` line)"),
        (TINY.replace("version: 2", "version: 1"), 1, "(`version: 1`)"),
        ("# old\n" + TINY.replace("version: 2", "version: null"), 2, "(`version: null`)"),
    ],
)
def test_a_version_1_file_gets_one_line_that_says_what_changed(tmp_path, text, line, found):
    path = write(tmp_path, "old.yaml", text)
    said = refused(path, tmp_path)
    assert said.startswith(f"{path}:{line}: version: this is a version-1 scenario file {found}.")
    for block in ("memory:", "height:", "timing:", "signals:", "ceasefire:", "history:"):
        assert block in said
    assert "off unless it is present" in said
    assert "Write `version: 2` as its first line" in said and "docs/model-changes.md" in said


def test_a_variant_declares_the_version_itself(tmp_path):
    write(tmp_path, "base.yaml", TINY)
    variant = write(tmp_path, "v.yaml", "extends: base.yaml\nset:\n  seed: 4\n")
    said = refused(variant, tmp_path)
    assert said.startswith(f"{variant}:1: version: this is a version-1 variant (no `version:` line")
    assert "whatever its base does" in said
    variant.write_text("version: 2\nextends: base.yaml\nset:\n  seed: 4\n")
    assert load_scenario(variant).seed == 4


def test_a_base_without_the_version_is_refused_at_the_base(tmp_path):
    base = write(tmp_path, "base.yaml", WITHOUT_VERSION)
    variant = write(tmp_path, "v.yaml", "version: 2\nextends: base.yaml\n")
    said = refused(variant, tmp_path)
    assert said.startswith(f"{base.resolve()}:1: version: this is a version-1 scenario file")


def test_an_old_results_folder_copy_is_named_as_such(tmp_path):
    """A study's copy carries the version (it is written from the model), so it loads; a copy
    from before version 2 has none and is refused, saying it is a results folder's."""
    source = write(tmp_path, "tiny.yaml", TINY)
    folder = tmp_path / "study"
    run_study(source, n=2, out=folder, executor="serial")
    copy = folder / "scenario.yaml"
    assert copy.read_text(encoding="utf-8").startswith("version: 2\n")
    assert load_scenario(copy) == load_scenario(source)
    old = tmp_path / "old-study"
    old.mkdir()
    (old / "manifest.json").write_text((folder / "manifest.json").read_text())
    text = copy.read_text(encoding="utf-8").replace("version: 2\n", "")
    said = refused(write(old, "scenario.yaml", text), tmp_path)
    assert said.startswith(
        f"{old / 'scenario.yaml'}:1: version: this is a results folder's copy of its scenario, "
        "written before version 2 (no `version:` line); to run it again, copy it out"
    )


def test_text_not_read_from_a_file_needs_no_version():
    """Scenarios given as text or built in Python are not files: tests' strategies stay as
    they are, and the schema takes version 2 when none is written (so a study's copy of a
    scenario built in Python declares it)."""
    assert parse_scenario(WITHOUT_VERSION).version == 2
    assert parse_scenario(TINY, "nowhere/tiny.yaml").version == 2
    built = Scenario.model_validate(parse_scenario(WITHOUT_VERSION).model_dump())
    assert run_replication(built, 0) == run_replication(parse_scenario(TINY), 0)


def test_any_other_version_is_the_schema_s_to_refuse(tmp_path):
    path = write(tmp_path, "v3.yaml", TINY.replace("version: 2", "version: 3"))
    with pytest.raises(ScenarioError) as caught:
        load_scenario(path)
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (1, "version") and "2" in problem.message
    assert "version-1" not in problem.message


# Every version-2 block, on: what version_2_blocks names and what switches each off.
EVERY_BLOCK = (
    TINY.replace(
        "      packages: {3: {projectiles: {rocket: 5}}}\n  b:",
        "      packages:\n        3:\n          options:\n"
        "            - {name: small, probability: 0.3, projectiles: {rocket: 2}}\n"
        "            - {name: big, probability: 0.7, projectiles: {rocket: 8}, size_sigma: 0.1}\n"
        "      memory: {settle_tolerance: 0.5}\n      height: {spread: 0.5}\n  b:",
    )
    .replace(
        "      delay: {median_days: 2, sigma: 0}\n",
        "      delay: {median_days: 2, sigma: 0}\n      timing: {urgency: 1.0}\n"
        "      signals: {attribution: 0.5}\n      proxy_weight: 0.5\n",
    )
    .replace("    name: B\n", "    name: B\n    abroad: []\n")
    .replace(
        "relations:\n",
        "  c:\n    name: C\n    policy:\n      base_response_probability: 0\n"
        "      delay: {median_days: 1, sigma: 0}\n"
        "      packages: {1: {casualties_mean: 1}}\n"
        "      campaign: {target: a, rate_per_day: 0.2}\nrelations:\n"
        "  - {kind: adversaries, actors: [a, c]}\n"
        "  - {kind: proxy, proxy: c, patron: b, obey_probability: 0.5, "
        "telegraph_probability: 0.5, campaign_multiplier: 2}\n",
    )
    .replace("projectiles: {rocket: 5}}\n", "projectiles: {rocket: 5}, claimed: false}\n")
    + "ceasefire: {mediator: c}\nend_when_settled: true\nshared_defences: true\n"
    "history:\n  - {day: -2, attacker: b, target: a, rung: 1, casualties: 2}\n"
)

WRITTEN_WITHOUT_THE_BLOCKS = (
    TINY.replace(
        "      packages: {3: {projectiles: {rocket: 5}}}\n  b:",
        "      packages: {3: {projectiles: {rocket: 8}, size_sigma: 0.1}}\n  b:",
    ).replace(
        "relations:\n",
        "  c:\n    name: C\n    policy:\n      base_response_probability: 0\n"
        "      delay: {median_days: 1, sigma: 0}\n      packages: {1: {casualties_mean: 1}}\n"
        "relations:\n  - {kind: adversaries, actors: [a, c]}\n"
        "  - {kind: proxy, proxy: c, patron: b, obey_probability: 0.5}\n",
    )
    + "history:\n  - {day: -2, attacker: b, target: a, rung: 1, casualties: 2}\n"
)
"""EVERY_BLOCK as version 1 writes it: the most likely option as the package, no blocks."""

EXPECTED_BLOCKS = {
    "memory": {"actors.a.policy.memory": None},
    "height": {"actors.a.policy.height": None},
    "timing": {"actors.b.policy.timing": None},
    "signals": {"actors.b.policy.signals": None, "opening.0.claimed": True},
    "endings": {"ceasefire": None, "end_when_settled": False},
    "history": {"history": []},
    "patrons": {"actors.b.policy.proxy_weight": None},
    "campaigns": {"actors.c.policy.campaign": None, "proxy[c>b].campaign_multiplier": 1.0},
    "abroad": {"actors.b.abroad": None},
    "packages": {
        "actors.a.policy.packages.3": {"projectiles": {"rocket": 8}, "size_sigma": 0.1},
        "proxy[c>b].telegraph_probability": None,
    },
    "shared_defences": {"shared_defences": False},
}


def test_every_block_is_named_by_mechanism_with_its_off_value():
    scenario = parse_scenario(EVERY_BLOCK)
    assert version_2_blocks(scenario) == EXPECTED_BLOCKS
    assert list(EXPECTED_BLOCKS) == list(MECHANISMS)
    assert version_2_blocks(parse_scenario(TINY)) == {}


def test_a_variant_switches_every_block_off_as_if_it_were_absent(tmp_path):
    """A variant's set: of each off value gives the very log of the file written without the
    blocks (history kept, so that the round starts the same)."""
    write(tmp_path, "every.yaml", EVERY_BLOCK)
    settings = version_1_settings(parse_scenario(EVERY_BLOCK))
    del settings["history"]
    variant = write(
        tmp_path,
        "v1.yaml",
        yaml.safe_dump({"version": 2, "extends": "every.yaml", "set": settings}, sort_keys=False),
    )
    switched_off = load_scenario(variant)
    assert version_2_blocks(switched_off) == {"history": {"history": []}}
    written = parse_scenario(WRITTEN_WITHOUT_THE_BLOCKS)
    assert [run_replication(switched_off, k) for k in range(3)] == [
        run_replication(written, k) for k in range(3)
    ]


def test_a_removed_block_takes_no_posterior_draw(tmp_path):
    """The block's paths are fixed (parameters_fixed), so a posterior column inside it is not
    drawn into a block that is not there: the study runs."""
    folder = tmp_path / "case"
    folder.mkdir()
    pq.write_table(
        pa.table({"actors.a.policy.memory.settle_tolerance": [0.2, 0.8]}), folder / "post.parquet"
    )
    text = TINY.replace("version: 2\n", "version: 2\nparameters_from: post.parquet\n")
    memory = "      memory: {settle_tolerance: 0.5}\n  b:"
    write(folder, "every.yaml", text.replace("  b:", memory, 1))
    variant = write(
        folder, "v.yaml", "version: 2\nextends: every.yaml\nset:\n  actors.a.policy.memory: null\n"
    )
    scenario = load_scenario(variant)
    assert scenario.actors["a"].policy.memory is None
    assert "actors.a.policy.memory" in scenario.parameters_fixed
    run_study(variant, n=3, out=tmp_path / "out", executor="serial")
    misspelt = variant.read_text().replace("policy.memory", "policy.memoir")
    with pytest.raises(ScenarioError, match=r"no such key|memoir"):
        load_scenario(write(folder, "typo.yaml", misspelt))


def test_the_shipped_version_1_variant_leaves_no_version_2_block_on():
    """scenarios/april-2024-v1-mechanisms.yaml is april-2024.yaml with every block it switches
    on set off, and nothing else changed; when april-2024.yaml gains a block, this names it."""
    april = load_scenario(APRIL)
    version_1 = load_scenario(VERSION_1)
    assert version_2_blocks(version_1) == {}, "add these to the variant's set:"
    expected = load_scenario(APRIL, version_1_settings(april))
    same = {"name", "description"}
    assert version_1.model_dump(exclude=same) == expected.model_dump(exclude=same)


# The fields of version 1, by model: any other field is a version-2 block that
# version_2_blocks must know, so a new field fails here until it is placed.
VERSION_1_FIELDS = {
    Scenario: {"name", "description", "seed", "horizon_days", "max_strikes", "weapons", "actors",
               "relations", "opening", "levers", "parameters_from", "parameters_fixed"},
    Actor: {"name", "arsenal", "defence", "policy"},
    Policy: {"base_response_probability", "red_line_rung", "red_line_weight", "harm_weight",
             "thwarted_weight", "domestic_pressure", "domestic_weight", "restraint_weight",
             "escalate_probability", "deescalate_probability", "self_restraint",
             "escalation_aversion", "max_rung", "delay", "telegraph_probability",
             "strike_patron_probability", "proxy_order_probability", "packages"},
    ProxyOf: {"kind", "proxy", "patron", "obey_probability", "ordered_rung"},
    OpeningEvent: {"day", "attacker", "target", "rung", "description", "telegraphed",
                   "projectiles", "casualties", "damage_usd"},
    StrikePackage: {"projectiles", "size_sigma", "casualties_mean", "damage_usd_mean", "cost_usd"},
}  # fmt: skip
VERSION_2_FIELDS = {
    Scenario: {
        "version",
        "severity",
        "ceasefire",
        "history",
        "end_when_settled",
        "shared_defences",
    },
    Actor: {"abroad"},
    Policy: {"memory", "height", "timing", "signals", "proxy_weight", "campaign"},
    ProxyOf: {"telegraph_probability", "campaign_multiplier"},
    OpeningEvent: {"claimed"},
    StrikePackage: {"options"},
}


@pytest.mark.parametrize("model", list(VERSION_1_FIELDS), ids=lambda m: m.__name__)
def test_every_schema_field_is_of_version_1_or_a_known_version_2_block(model):
    """``version`` declares the schema and ``severity`` only weighs strikes for the blocks
    (always present, no switch); every other version-2 field is in EXPECTED_BLOCKS above."""
    assert set(model.model_fields) == VERSION_1_FIELDS[model] | VERSION_2_FIELDS[model]
    named = {path.split(".")[-1] for block in EXPECTED_BLOCKS.values() for path in block}
    named |= {"options"} if model is StrikePackage else set()  # a package is replaced whole
    assert VERSION_2_FIELDS[model] - {"version", "severity"} <= named
