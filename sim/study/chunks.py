"""The unit of work of a Monte Carlo study: a chunk of replications, run in a worker process.

A chunk's result is its runs and events tables as Parquet bytes: small to send back, and written
to disk by the driver as they are. This module imports only what a run needs (the world, its
outcomes, Arrow), not the analysis stack (pandas, scipy), so worker processes start quickly.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq

from sim.model.events import events_arrow
from sim.model.outcomes import run_row
from sim.model.world import run_replication
from sim.scenario.parameters import PosteriorSample
from sim.scenario.schema import Scenario


@dataclass(frozen=True, order=True)
class Chunk:
    """Replications ``start`` (inclusive) to ``stop`` (exclusive)."""

    start: int
    stop: int

    @property
    def name(self) -> str:
        return f"{self.start:09d}-{self.stop:09d}"


def plan_chunks(start: int, stop: int, size: int) -> list[Chunk]:
    """Chunks of ``size`` replications covering ``start`` to ``stop``, aligned to ``size``."""
    return [Chunk(a, min(a + size, stop)) for a in range(start, stop, size)]


def simulate_chunk(
    scenario: Scenario, seed: int, chunk: Chunk, posterior: PosteriorSample | None = None
) -> tuple[Chunk, bytes, bytes]:
    """Run one chunk; return it with its runs and events tables as Parquet bytes (picklable).

    ``posterior`` is the scenario's posterior sample (``posterior_of``), sent with the task so
    that a worker needs no access to the file.
    """
    actors = list(scenario.actors)
    logs, rows = [], []
    for replication in range(chunk.start, chunk.stop):
        events = run_replication(scenario, replication, seed, posterior)
        logs.append((replication, events))
        rows.append(run_row(events, replication, actors))
    return chunk, parquet_bytes(pa.Table.from_pylist(rows)), parquet_bytes(events_arrow(logs))


def parquet_bytes(table: pa.Table) -> bytes:
    """A table as Parquet bytes with page checksums, so that damage is detected on reading."""
    sink = io.BytesIO()
    pq.write_table(table, sink, write_page_checksum=True)
    return sink.getvalue()
