"""Every calibration event is supported by words that stand verbatim in the seed text."""

from pathlib import Path

import pytest
import yaml

from sim.ladder import HIGHEST, LOWEST

ROOT = Path(__file__).parents[1]
EVENTS = yaml.safe_load((ROOT / "calibration" / "events.yaml").read_text())
SEED = (ROOT / EVENTS["seed_file"]).read_text()
ACTORS = {"israel", "iran", "us", "hezbollah"}


def test_the_project_keeps_the_shared_seed_text():
    shared = ROOT.parent / "shared" / "seeds" / Path(EVENTS["seed_file"]).name
    if shared.exists():
        assert shared.read_text() == SEED


@pytest.mark.parametrize("event", EVENTS["events"], ids=[e["id"] for e in EVENTS["events"]])
def test_event_quotes_stand_in_the_seed(event):
    assert event["quotes"], "an event needs at least one quote"
    for quote in event["quotes"]:
        assert quote in SEED, f"not in the seed text: {quote!r}"


@pytest.mark.parametrize("event", EVENTS["events"], ids=[e["id"] for e in EVENTS["events"]])
def test_event_records_are_complete(event):
    for field in ("id", "when", "actor", "what", "calibrates", "quotes"):
        assert field in event
    assert event["actor"] in ACTORS
    assert event.get("target", "israel") in ACTORS
    if "rung" in event:
        assert LOWEST <= event["rung"] <= HIGHEST
    if "outside_text" in event:
        assert event["outside_text"]["source"].startswith("S")


def test_event_ids_are_unique():
    ids = [e["id"] for e in EVENTS["events"]]
    assert len(ids) == len(set(ids))
