"""Golden regression: the event logs of the shipped scenarios, for a fixed seed, never change by
accident. A digest changes only with a commit that says which behaviour it changes and why."""

import hashlib
from pathlib import Path

import pytest

from sim.model.world import run_replication
from sim.scenario import load_scenario

SCENARIOS = Path(__file__).parents[1] / "scenarios"

DIGESTS = {
    "april-2024.yaml": "74bbf48ed3f01197",
    "april-2024-point.yaml": "c9a262fc75cc4ac4",
    "april-2024-no-allied-defence.yaml": "14107e834de061f3",
    "april-2024-strong-us-restraint.yaml": "687210dc59d6c2d1",
    "april-2024-hezbollah-ordered-in.yaml": "f085b467c8e3bfc8",
    "april-2024-houthis.yaml": "62d38eb8bf53afe9",
    "april-2024-from-14-april.yaml": "5016338171877be5",
    "april-2024-v1-mechanisms.yaml": "5cb3f5b8113b0e7e",
}
"""SHA-256 (first 16 hex digits) of the reprs of every event of replications 0-29, seed 7."""


def log_digest(name: str, replications: int = 30, seed: int = 7) -> str:
    scenario = load_scenario(SCENARIOS / name)
    digest = hashlib.sha256()
    for replication in range(replications):
        for event in run_replication(scenario, replication, seed):
            digest.update(repr(event).encode())
    return digest.hexdigest()[:16]


@pytest.mark.parametrize("name", sorted(DIGESTS))
def test_the_event_log_of_a_fixed_seed_is_unchanged(name):
    assert log_digest(name) == DIGESTS[name]


def test_every_shipped_scenario_has_a_digest():
    assert {p.name for p in SCENARIOS.glob("*.yaml")} == set(DIGESTS)
