"""Random streams: every draw in a replication comes from a stream derived from one seed.

A replication's streams depend only on ``(seed, replication)``, never on which worker runs it or in
which order, so Monte Carlo results are identical for any number of workers, chunk size or executor.
Within a replication, each purpose (an actor's policy, a strike's engagements, a parameter draw) has
its own named child stream. Two settings compared with common random numbers therefore draw the same
numbers for the same purpose, which is what makes paired differences precise.
"""

from __future__ import annotations

import zlib

import numpy as np


def _name_key(name: str) -> int:
    """A stable 32-bit key for a stream name (Python's ``hash`` is salted per process)."""
    return zlib.crc32(name.encode("utf-8"))


class Streams:
    """The named random streams of one replication.

    ``Streams(seed, replication).get("policy", "iran")`` always returns a generator that starts
    in the same state for the same seed, replication and name. Each call returns a fresh generator,
    so callers keep the generator they need rather than asking twice.
    """

    def __init__(self, seed: int, replication: int) -> None:
        if seed < 0 or replication < 0:
            raise ValueError(f"seed and replication must be >= 0, got {seed}, {replication}")
        self.seed = int(seed)
        self.replication = int(replication)

    def get(self, *names: str) -> np.random.Generator:
        """A generator for the purpose named by ``names`` (for example ``"policy", "iran"``)."""
        key = (self.replication, *(_name_key(n) for n in names))
        return np.random.Generator(
            np.random.PCG64(np.random.SeedSequence(self.seed, spawn_key=key))
        )
