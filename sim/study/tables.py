"""A study folder's tables on disk: its chunks, checked whenever they are read, and the final
tables streamed from them in replication order.

Chunks are written by ``sim.study.montecarlo`` as workers finish them (``chunks/runs-START-STOP.parquet``
and ``chunks/events-...``, with page checksums); everything here reads them back: to know what a
resumed study still lacks, to count what it reached, and to build ``runs.parquet`` and
``events.parquet`` without holding more than a row group in memory.
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sim.model.events import EVENT_SCHEMA
from sim.study.chunks import Chunk
from sim.study.results import EVENTS, RUNS, ResultsError

CHUNKS = "chunks"


def chunk_path(folder: Path, kind: str, chunk: Chunk) -> Path:
    return folder / CHUNKS / f"{kind}-{chunk.name}.parquet"


def read_chunk(folder: Path, kind: str, chunk: Chunk, columns: list[str] | None = None) -> pa.Table:
    """One chunk's table, every page checked against its checksum; damage names the file."""
    path = chunk_path(folder, kind, chunk)
    try:
        return pq.read_table(path, columns=columns, page_checksum_verification=True)
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ResultsError(
            f"{path}: corrupted chunk ({' '.join(str(exc).split())}); delete it to recompute "
            "that chunk, then resume"
        ) from None


def finished_chunks(folder: Path, size: int) -> set[Chunk]:
    """Chunks already on disk, each read in full to check it (both of its tables).

    Reading every chunk costs one pass over the data already computed, at the start of a
    resumed study only; it is what lets a damaged file be refused before any work is done.
    """
    done = set()
    for path in sorted((folder / CHUNKS).glob("runs-*.parquet")):
        try:
            start, stop = (int(x) for x in path.stem.removeprefix("runs-").split("-"))
        except ValueError:
            raise ResultsError(f"{path}: not a chunk of this study (unexpected name)") from None
        chunk = Chunk(start, stop)
        if start % size or not 0 < stop - start <= size:
            raise ResultsError(f"{path}: chunk does not match chunk size {size}")
        runs, events = read_chunk(folder, "runs", chunk), read_chunk(folder, "events", chunk)
        if not events.schema.equals(EVENT_SCHEMA, check_metadata=False):
            raise ResultsError(
                f"{chunk_path(folder, 'events', chunk)}: written by another version "
                "of the event log (its columns differ); run the study afresh in a new folder"
            )
        replications = runs["replication"].to_pylist()
        if replications != list(range(start, stop)) or not set(
            events["replication"].to_pylist()
        ) <= set(replications):
            raise ResultsError(f"{path}: corrupted chunk (its replications are not {chunk.name})")
        done.add(chunk)
    return done


ROW_GROUP_BYTES = 4 * 2**20
"""Chunks are gathered into Parquet row groups of about this many bytes (in memory). A row group
per chunk made the files' footers, which a writer holds until it closes, grow with every chunk:
about 1 MiB per 10,000 replications on disk, and 49 MiB of the driver's memory at 100,000."""


class OrderedTables:
    """The final tables, streamed from the chunks in replication order while the study runs.

    A chunk is appended as soon as it and every chunk before it are on disk, so the tables are
    nearly complete when the last chunk arrives (the work overlaps the simulation instead of
    following it); memory holds at most a row group (``ROW_GROUP_BYTES``) of each table. Only
    full chunks are appended early: a short last chunk may yet be replaced by a full one if
    ``--until-ci`` adds replications. The tables are written to hidden files and renamed into
    place by ``finish``, so no reader ever sees a partial table under its final name;
    ``discard`` removes them after a failure.
    """

    def __init__(self, folder: Path, size: int) -> None:
        self.folder, self.size, self.next = folder, size, 0
        self.ready: dict[int, Chunk] = {}
        self.writers: dict[str, pq.ParquetWriter] = {}
        self.pending: dict[str, list[pa.Table]] = {}

    def _tmp(self, name: str) -> Path:
        return self.folder / f".{name}.tmp"

    def append_ready(self, chunk: Chunk) -> None:
        """Note that ``chunk`` is on disk; append every full chunk now next in order."""
        self.ready[chunk.start] = chunk
        while (c := self.ready.get(self.next)) is not None and c.stop - c.start == self.size:
            self._append(c)

    def _append(self, chunk: Chunk) -> None:
        for kind, name in (("runs", RUNS), ("events", EVENTS)):
            table = read_chunk(self.folder, kind, chunk)
            if name not in self.writers:
                self.writers[name] = pq.ParquetWriter(
                    self._tmp(name), table.schema, write_page_checksum=True
                )
            pending = self.pending.setdefault(name, [])
            pending.append(table.cast(self.writers[name].schema))
            if sum(t.nbytes for t in pending) >= ROW_GROUP_BYTES:
                self._write_row_group(name)
        del self.ready[chunk.start]
        self.next = chunk.stop

    def _write_row_group(self, name: str) -> None:
        pending = self.pending.pop(name, [])
        if pending:
            table = pa.concat_tables(pending)
            self.writers[name].write_table(table, row_group_size=len(table))

    def finish(self, chunks: list[Chunk]) -> None:
        """Append what is left of ``chunks`` (the study's, in order) and put the tables in place."""
        for chunk in chunks:
            if chunk.start >= self.next:
                self._append(chunk)
        for name, writer in self.writers.items():
            self._write_row_group(name)
            writer.close()
            self._tmp(name).replace(self.folder / name)
        self.writers.clear()

    def discard(self) -> None:
        """Close and remove the unfinished tables (the chunks on disk keep all the work)."""
        self.pending.clear()
        for name, writer in self.writers.items():
            writer.close()
            self._tmp(name).unlink(missing_ok=True)
        self.writers.clear()


def write_csv(parquet: Path) -> None:
    """A CSV copy of a Parquet table beside it, streamed batch by batch, written atomically."""
    source = pq.ParquetFile(parquet, page_checksum_verification=True)
    target = parquet.with_suffix(".csv")
    tmp = target.with_name(f".{target.name}.tmp")
    with pa_csv.CSVWriter(tmp, source.schema_arrow) as writer:
        for batch in source.iter_batches():
            writer.write_batch(batch)
    tmp.replace(target)
