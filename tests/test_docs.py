"""Documentation that is generated must match its generator; links between docs must resolve."""

import re
from pathlib import Path

from sim.scenario.reference_doc import scenario_reference

DOCS = Path(__file__).parents[1] / "docs"


def test_scenario_reference_matches_the_schema():
    assert (DOCS / "scenario-reference.md").read_text() == scenario_reference(), (
        "docs/scenario-reference.md is stale: run `sim schema --markdown > "
        "docs/scenario-reference.md`"
    )


def _models(schema: dict) -> dict[str, dict]:
    """Every object of a JSON Schema that has fields, by its section name in the reference: the
    root is ``Scenario``, a ``$defs`` entry its own name, an inline object its JSON path."""
    found: dict[str, dict] = {}

    def walk(node: object, where: str) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("properties"), dict):
                found[where] = node
                for field, spec in node["properties"].items():
                    walk(spec, f"{where}.{field}")
            for key, value in node.items():
                if key == "$defs":
                    for name, model in value.items():
                        walk(model, name)
                elif key != "properties":
                    walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, item in enumerate(node):
                walk(item, f"{where}/{i}")

    walk(schema, "Scenario")
    return found


def _reference_rows(text: str) -> dict[str, dict[str, str]]:
    """The reference's field tables: section -> field -> its meaning cell."""
    rows: dict[str, dict[str, str]] = {}
    section = ""
    for line in text.splitlines():
        if line.startswith("## "):
            section = line[3:].strip()
        elif match := re.match(r"^\| `([^`]+)` \|", line):
            cells = re.split(r"(?<!\\)\|", line.strip())
            rows.setdefault(section, {})[match.group(1)] = cells[-2].strip()
    return rows


def test_every_field_of_the_schema_has_a_description():
    from sim.scenario.schema import Scenario

    models = _models(Scenario.model_json_schema())
    assert "Scenario" in models and "Policy" in models, "the schema walk found no models"
    missing = [
        f"{name}.{field}"
        for name, model in models.items()
        for field, spec in model["properties"].items()
        if not str(spec.get("description", "")).strip()
    ]
    assert not missing, (
        "fields without a meaning: give each a Field(description=...) in sim/scenario/schema.py "
        "(what it means, in which unit): " + ", ".join(missing)
    )


def test_every_field_of_the_schema_is_documented():
    from sim.scenario.schema import Scenario

    rows = _reference_rows((DOCS / "scenario-reference.md").read_text())
    for name, model in _models(Scenario.model_json_schema()).items():
        for field in model["properties"]:
            meaning = rows.get(name, {}).get(field)
            assert meaning is not None, f"docs/scenario-reference.md has no row for {name}.{field}"
            assert meaning, f"docs/scenario-reference.md: {name}.{field} has an empty meaning"


def test_relative_links_in_docs_resolve():
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"


def test_gallery_shows_every_figure_and_stays_small():
    from sim.figures.plots import RESULTS_FIGURES

    text = (DOCS / "gallery.md").read_text()
    images = re.findall(r"!\[[^\]]*\]\(([^)]+\.png)\)", text)
    studies = {"compare", "sweep", "sobol", "calibration", "predictive"}
    assert {Path(i).stem for i in images} == set(RESULTS_FIGURES) | studies
    assert "Made by `sim gallery`" in text
    assert sum((DOCS / i).stat().st_size for i in images) < 2_000_000
    for image in images:
        assert (DOCS / image).with_suffix(".csv").exists(), f"{image} has no CSV of its numbers"


def test_model_description_points_at_modules_that_exist():
    text = (DOCS / "model-odd.md").read_text()
    modules = set(re.findall(r"`(sim/(?:[a-z_]+/)*[a-z_]+\.py)", text))
    assert modules, "the ODD description names no module"
    for module in modules:
        assert (DOCS.parent / module).exists(), module
    for heading in ("## Overview", "## Design concepts", "## Details"):
        assert heading in text
