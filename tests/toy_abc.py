"""A toy model with a known posterior, run through the calibration's ABC-SMC
(``sim.calibration.sampler``): several binomial episodes, a success probability ``p`` shared by
some and one of their own for others.

Episode ``e`` observes ``k_e`` successes in ``n_e`` trials, with probability ``p`` (shared) or
its own ``E:q``; priors are uniform on [0, 1]. A run reproduces an episode only when it gives
exactly ``k_e`` (a binary target), so the ABC posterior at tolerance 1 is the exact posterior:
``p ~ Beta(1 + sum k, 1 + sum (n - k))`` over the episodes that share it, each own ``q`` the
Beta of its own episode, all independent (conjugate beta-binomial).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.calibration.targets import Target, combined_distance, episode_distance
from sim.model.rng import Streams

SHARED = "p"


@dataclass(frozen=True)
class ToyEpisode:
    """``successes`` of ``trials``; ``own``: whether it has a probability of its own."""

    name: str
    trials: int
    successes: int
    own: bool = False
    weight: float = 1.0

    @property
    def column(self) -> str:
        return f"{self.name}:q" if self.own else SHARED

    @property
    def target(self) -> Target:
        return Target("successes", self.successes, self.successes, self.successes, "toy", True)


@dataclass(frozen=True)
class BinomialEpisodes:
    """The ``sampler.Problem`` of the toy: one binomial run per episode per proposal."""

    episodes: tuple[ToyEpisode, ...]
    seed: int
    smc: dict = field(default_factory=dict)
    source: str = "toy"

    @property
    def paths(self) -> list[str]:
        return list(dict.fromkeys(e.column for e in self.episodes))

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        return np.zeros(len(self.paths)), np.ones(len(self.paths))

    def draw_prior(self, rng: np.random.Generator) -> np.ndarray:
        low, high = self.bounds()
        return rng.uniform(low, high)

    def simulate(self, theta: np.ndarray, replication: int, seed: int) -> dict[str, float]:
        values = dict(zip(self.paths, theta, strict=True))
        row, distances = {}, []
        rng = Streams(seed, replication).get("toy")
        for e in self.episodes:
            stats = {"successes": float(rng.binomial(e.trials, values[e.column]))}
            distances.append(episode_distance([e.target], stats, e.weight))
            row |= {f"{e.name}:successes": stats["successes"], f"distance:{e.name}": distances[-1]}
        row["distance"] = combined_distance(distances)
        return row

    def identity(self) -> str:
        return repr((self.episodes, self.seed))

    def exact(self, column: str) -> tuple[float, float]:
        """The exact posterior of ``column``: Beta(a, b)."""
        chosen = [e for e in self.episodes if e.column == column]
        k = sum(e.successes for e in chosen)
        return 1.0 + k, 1.0 + sum(e.trials for e in chosen) - k
