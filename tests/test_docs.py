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


def test_gallery_shows_every_figure_and_stays_small():
    from sim.plots import RESULTS_FIGURES

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
    modules = set(re.findall(r"`(sim/[a-z_]+\.py)", text))
    assert modules, "the ODD description names no module"
    for module in modules:
        assert (DOCS.parent / module).exists(), module
    for heading in ("## Overview", "## Design concepts", "## Details"):
        assert heading in text
