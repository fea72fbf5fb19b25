"""Documentation that is generated must match its generator; links between docs must resolve."""

import re
from pathlib import Path

from sim.reference_doc import scenario_reference

DOCS = Path(__file__).parents[1] / "docs"


def test_scenario_reference_matches_the_schema():
    assert (DOCS / "scenario-reference.md").read_text() == scenario_reference(), (
        "docs/scenario-reference.md is stale: run `sim schema --markdown > "
        "docs/scenario-reference.md`"
    )


def test_every_field_of_the_schema_is_documented():
    from sim.schema import Scenario

    text = (DOCS / "scenario-reference.md").read_text()
    for model in Scenario.model_json_schema()["$defs"].values():
        for field in model.get("properties", {}):
            assert f"`{field}`" in text


def test_relative_links_in_docs_resolve():
    for page in DOCS.glob("*.md"):
        for target in re.findall(r"\]\(([^)#:]+)\)", page.read_text()):
            assert (page.parent / target).exists(), f"{page.name} links to missing {target}"
