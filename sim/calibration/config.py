"""A calibration config as the fit uses it: its episodes, their scenarios, priors and targets.

``sim.calibration.loading.load_config`` reads one from a file, with every mistake as
``file:line: field: message``. A ``Config`` is also the simulator as the ABC-SMC of
``sim.calibration.sampler`` sees it: a parameter vector in (one value per prior, shared ones first), one run per episode, their statistics and the
combined distance out (``simulate``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from sim.calibration.statistics import statistics_of
from sim.calibration.targets import (
    EPISODE_SEPARATOR,
    Prior,
    Target,
    combined_distance,
    episode_distance,
    table_distance,
)
from sim.scenario.parameters import scenario_with
from sim.scenario.schema import Scenario

DISTANCE = "distance"
"""The combined distance's column; each episode's is ``distance:EPISODE``."""


@dataclass(frozen=True)
class Episode:
    """One observed round: its scenario cut to the observation window, targets and priors.

    ``scenario`` runs ``horizon_days`` and never draws from a posterior (the fit sets the
    parameters); ``full_scenario`` is the file's own horizon. ``columns`` are the posterior
    columns its runs use: the shared priors its scenario has, then its own (``EPISODE:PATH``).
    """

    name: str
    scenario: Scenario
    full_scenario: Scenario
    weight: float
    description: str
    targets: tuple[Target, ...]
    columns: tuple[str, ...]

    def statistic_columns(self) -> list[str]:
        """Its targets' columns in tables of several episodes: ``EPISODE:STATISTIC``."""
        return [f"{self.name}{EPISODE_SEPARATOR}{t.name}" for t in self.targets]

    def values(self, by_column: Mapping[str, float] | None) -> dict[str, float]:
        """The scenario values one parameter set gives this episode, by scenario path (none for
        ``None``: the scenario's own values)."""
        if by_column is None:
            return {}
        prefix = self.name + EPISODE_SEPARATOR
        return {c.removeprefix(prefix): float(by_column[c]) for c in self.columns}

    def run(self, values: Mapping[str, float], replication: int, seed: int) -> dict[str, float]:
        """The targets' statistics of one run of the episode with ``values`` set."""
        from sim.model.world import run_replication

        events = run_replication(scenario_with(self.scenario, values), replication, seed)
        return statistics_of([t.statistic for t in self.targets], events)

    def distance(self, stats: Mapping[str, float]) -> float:
        """How far one run (its statistics by name) is from the episode's observations, its
        weight included."""
        return episode_distance(self.targets, stats, self.weight)


def episode_seed(seed: int, episode: int) -> int:
    """The simulation seed of episode number ``episode`` (config order) under seed ``seed``, so
    that the runs of one proposal are independent across episodes."""
    return int(np.random.SeedSequence(seed, spawn_key=(episode,)).generate_state(1)[0])


@dataclass(frozen=True)
class Config:
    """A calibration: shared and episode-specific priors, episodes, seed, ABC and check budgets."""

    priors: tuple[Prior, ...]
    episodes: tuple[Episode, ...]
    seed: int
    smc: Mapping[str, float]
    checks: Mapping[str, Any]
    check: Mapping[str, int]
    source: Path

    @property
    def paths(self) -> list[str]:
        """The posterior columns, in order: shared paths, then ``EPISODE:PATH`` per episode."""
        return [p.path for p in self.priors]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """Lower and upper prior bounds as arrays (column order)."""
        return np.array([p.low for p in self.priors]), np.array([p.high for p in self.priors])

    def draw_prior(self, rng: np.random.Generator) -> np.ndarray:
        """One parameter vector from the uniform priors."""
        low, high = self.bounds()
        return rng.uniform(low, high)

    def simulate(self, theta: np.ndarray, replication: int, seed: int) -> dict[str, float]:
        """One run per episode with the parameter vector ``theta``: every target's statistic
        (``EPISODE:STATISTIC``), each episode's distance (``distance:EPISODE``) and the combined
        distance (``distance``). Episode ``k`` runs replication ``replication`` on
        ``episode_seed(seed, k)``."""
        return self.simulate_values(
            dict(zip(self.paths, map(float, theta), strict=True)), replication, seed
        )

    def simulate_values(
        self, by_column: Mapping[str, float] | None, replication: int, seed: int
    ) -> dict[str, float]:
        """``simulate`` with the parameters by column (``None``: each scenario's own values)."""
        row: dict[str, float] = {}
        distances = []
        for k, episode in enumerate(self.episodes):
            stats = episode.run(episode.values(by_column), replication, episode_seed(seed, k))
            distances.append(episode.distance(stats))
            row |= dict(zip(episode.statistic_columns(), stats.values(), strict=True))
            row[f"{DISTANCE}{EPISODE_SEPARATOR}{episode.name}"] = distances[-1]
        row[DISTANCE] = combined_distance(distances)
        return row

    def identity(self) -> str:
        """What decides the runs and distances, as text (hashed with the SMC settings)."""
        from sim.study.montecarlo import canonical_text

        return repr((
            [(e.name, canonical_text(e.scenario), e.weight, e.columns,
              [(t.name, t.observed, t.low, t.high, t.binary) for t in e.targets])
             for e in self.episodes],
            [(p.path, p.low, p.high) for p in self.priors], self.seed,
        ))  # fmt: skip

    def episode(self, name: str) -> Episode:
        """The episode called ``name``; ``KeyError`` naming the config's episodes otherwise."""
        for episode in self.episodes:
            if episode.name == name:
                return episode
        raise KeyError(f"no episode {name!r}; episodes: {', '.join(self.episode_names)}")

    def episode_priors(self, name: str) -> list[Prior]:
        """The priors of the values episode ``name``'s runs take from the calibration, in its
        column order (shared ones its scenario has, then its own)."""
        by_column = {prior.path: prior for prior in self.priors}
        return [by_column[column] for column in self.episode(name).columns]

    @property
    def episode_names(self) -> list[str]:
        return [e.name for e in self.episodes]

    def without(self, name: str) -> Config:
        """The calibration with episode ``name`` left out (a leave-one-episode-out fold): its
        own priors go, and so does every shared prior no remaining episode's scenario has (the
        fit would leave it at its prior). Seed and budgets are unchanged."""
        left_out = self.episode(name)
        episodes = tuple(e for e in self.episodes if e is not left_out)
        if not episodes:
            raise ValueError(f"{name!r} is the config's only episode; nothing is left to fit")
        used = {column for e in episodes for column in e.columns}
        return replace(
            self, episodes=episodes, priors=tuple(p for p in self.priors if p.path in used)
        )

    def statistic_columns(self) -> list[str]:
        """Every target's column, episode by episode (the k columns of ``table_distance``)."""
        return [c for e in self.episodes for c in e.statistic_columns()]

    def table_distance(self, episodes: Sequence[str] | None = None):
        """The combined distance of tables of statistics (``targets.table_distance``), over the
        named episodes (all by default); the columns are theirs in ``statistic_columns`` order."""
        chosen = [e for e in self.episodes if episodes is None or e.name in episodes]
        return table_distance([(e.weight, e.targets) for e in chosen])
