"""The HTML report is one self-contained, well-formed page with every figure and table in it.

A browser check is not needed to rule out console errors: the page has no scripts at all, which
this test asserts, and nothing is loaded from outside it.
"""

from html.parser import HTMLParser
from pathlib import Path

import pytest
from click.testing import CliRunner

from sim.cli import main
from sim.montecarlo import run_study
from sim.plots import RESULTS_FIGURES

APRIL = Path(__file__).parents[1] / "scenarios" / "april-2024.yaml"
VOID = {"meta", "br", "img", "hr", "input", "link"}


class Checker(HTMLParser):
    """Collects tags, checks nesting, and records anything that would load from outside."""

    def __init__(self) -> None:
        super().__init__()
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.external: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        for name, value in attrs:
            if name in {"src", "href"} and value and not value.startswith("#"):
                self.external.append(value)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_startendtag(self, tag, attrs):
        self.tags.append(tag)

    def handle_endtag(self, tag):
        assert self.stack and self.stack[-1] == tag, f"</{tag}> closes <{self.stack[-1:]}>"
        self.stack.pop()


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    results = run_study(
        APRIL, n=60, out=tmp_path_factory.mktemp("report") / "run", executor="serial"
    )
    outcome = CliRunner().invoke(main, ["report", str(results.folder)])
    assert outcome.exit_code == 0, outcome.output
    return results, (results.folder / "report.html").read_text()


def test_report_is_well_formed_and_self_contained(page):
    _, text = page
    checker = Checker()
    checker.feed(text)
    checker.close()
    assert checker.stack == []
    assert "script" not in checker.tags
    assert checker.external == []
    assert checker.tags.count("svg") == len(RESULTS_FIGURES)


def test_report_holds_the_summary_manifest_and_scenario(page):
    results, text = page
    assert f"Seed {results.manifest['seed']}" in text
    assert results.manifest["scenario_sha256"] in text
    assert "Probability of reaching each rung" in text
    assert "opening:" in text and "Damascus" in text
