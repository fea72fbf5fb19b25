"""Every calibration event is supported by words that stand verbatim in the seed text; records
name real actors and rungs; figures from outside the text cite rows that exist in sources.md."""

import hashlib
import re
from pathlib import Path

import pytest
import yaml

from sim.scenario.ladder import HIGHEST, LOWEST
from sim.scenario.loading import load_scenario

ROOT = Path(__file__).parents[1]
EVENTS = yaml.safe_load((ROOT / "calibration" / "events.yaml").read_text())
SEED = (ROOT / EVENTS["seed_file"]).read_text()
ACTORS = set(load_scenario(ROOT / "scenarios" / "april-2024.yaml").actors)
SOURCES = (ROOT / "calibration" / "sources.md").read_text()
ROWS = set(re.findall(r"^\| ([SE]\d+) \|", SOURCES, flags=re.MULTILINE))
CALIBRATE = yaml.safe_load((ROOT / "calibration" / "calibrate.yaml").read_text())
IDS = [e["id"] for e in EVENTS["events"]]


def test_the_seed_copy_is_the_text_the_project_was_given():
    """``seeds/SHA256SUMS`` was written from the original (``../shared/seeds/``) when it was
    copied; the copy must still match it, and so must the original wherever it sits beside the
    project (a clone of the repository alone has only the copy)."""
    name = Path(EVENTS["seed_file"]).name
    recorded = dict(
        reversed(line.split()) for line in (ROOT / "seeds" / "SHA256SUMS").read_text().splitlines()
    )
    assert set(recorded) == {p.name for p in (ROOT / "seeds").glob("*.txt")} == {name}
    assert hashlib.sha256((ROOT / EVENTS["seed_file"]).read_bytes()).hexdigest() == recorded[name]
    shared = ROOT.parent / "shared" / "seeds" / name
    originals = [shared] if shared.exists() else []
    assert all(hashlib.sha256(p.read_bytes()).hexdigest() == recorded[name] for p in originals)


@pytest.mark.parametrize("event", EVENTS["events"], ids=IDS)
def test_event_quotes_stand_in_the_seed(event):
    assert event["quotes"], "an event needs at least one quote"
    for quote in event["quotes"]:
        assert quote in SEED, f"not in the seed text: {quote!r}"


@pytest.mark.parametrize("event", EVENTS["events"], ids=IDS)
def test_event_records_are_complete(event):
    for field in ("id", "when", "actor", "what", "calibrates", "quotes"):
        assert event.get(field), f"missing {field}"
    assert event["actor"] in ACTORS
    if "target" in event:
        assert event["target"] in ACTORS
    if "rung" in event:
        assert LOWEST <= event["rung"] <= HIGHEST
        assert "target" in event, "a strike needs a target"
    if "outside_text" in event:
        assert event["outside_text"]["source"] in ROWS


def test_strikes_of_the_episode_are_recorded_with_what_was_used():
    strikes = {e["id"]: e for e in EVENTS["events"] if "rung" in e}
    assert strikes["damascus-strike"]["rung"] == 2 and strikes["iran-direct-strike"]["rung"] == 3
    assert strikes["iran-direct-strike"]["used"]["total"] == 300
    assert strikes["iran-direct-strike"]["outside_text"]["source"] == "S2"


def test_event_ids_are_unique():
    assert len(IDS) == len(set(IDS))


CITING = [
    ROOT / "scenarios" / "april-2024.yaml",
    ROOT / "calibration" / "calibrate.yaml",
    *sorted((ROOT / "calibration" / "episodes").glob("*.yaml")),
]


def test_sources_has_every_row_the_scenario_the_episodes_and_the_targets_cite():
    assert {f"S{i}" for i in range(1, 14)} <= ROWS
    assert len(CITING) > 3, "the calibration episodes are missing"
    cited = {row for path in CITING for row in re.findall(r"\[([SE]\d+)\]", path.read_text())}
    assert cited and cited <= ROWS, cited - ROWS


def _quoted(reasons: list[str]) -> list[str]:
    pieces = []
    for reason in reasons:
        for quote in re.findall(r'"([^"]+)"', reason):
            pieces += [p.strip() for p in quote.split("...") if p.strip()]
    return pieces


def _reasons(config: dict) -> list[str]:
    """Every reason in a calibration config: its shared priors', and each episode's own priors'
    and targets'."""
    reasons = [p["reason"] for p in config["priors"].values()]
    for episode in config["episodes"].values():
        reasons += [p["reason"] for p in episode.get("priors", {}).values()]
        reasons += [t["reason"] for t in episode["targets"].values()]
    return reasons


QUOTED = _quoted(_reasons(CALIBRATE))


@pytest.mark.parametrize("quote", QUOTED)
def test_quotes_in_calibration_reasons_stand_in_the_seed(quote):
    assert quote in SEED, f"not in the seed text: {quote!r}"


def test_reasons_quote_the_seed():
    assert len(QUOTED) >= 15
