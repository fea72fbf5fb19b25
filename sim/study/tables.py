"""A study folder's tables on disk: its chunks, checked whenever they are read, and the final
tables streamed from them in replication order.

Chunks are written by ``sim.study.montecarlo`` as workers finish them (``chunks/runs-START-STOP.parquet``
and ``chunks/events-...``, with page checksums); everything here reads them back: to know what a
resumed study still lacks, to count what it reached, and to build ``runs.parquet`` and
``events.parquet`` without holding more than a row group in memory. A chunk is finished once the
manifest records its SHA-256 (``chunks``); reading it checks that hash. Also here: the lock a
command holds on a study folder (``study_lock``) and CSV copies safe to open in a spreadsheet
(``write_csv_safely``).
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import hashlib
import os
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from sim.model.events import EVENT_SCHEMA
from sim.study.chunks import Chunk
from sim.study.results import (
    COPIES,
    EVENTS,
    MANIFEST,
    RUNS,
    ResultsError,
    atomic_write_bytes,
    file_record,
    file_sha256,
    read_manifest,
    save_manifest,
)

CHUNKS = "chunks"
LOCK = ".lock"
"""The file a command holds locked (``flock``) while it writes a study folder; it holds that
command's process id, for the message another command gets."""
ChunkRecords = dict[str, dict[str, str]]
"""The manifest's ``chunks``: chunk name -> {"runs": SHA-256, "events": SHA-256}."""


def chunk_path(folder: Path, kind: str, chunk: Chunk) -> Path:
    return folder / CHUNKS / f"{kind}-{chunk.name}.parquet"


def read_chunk(
    folder: Path,
    kind: str,
    chunk: Chunk,
    columns: list[str] | None = None,
    sha256: str | None = None,
) -> pa.Table:
    """One chunk's table, checked against the SHA-256 the manifest recorded when it was written
    (``sha256``; None for a folder older than these records) and every page against its
    checksum; damage names the file."""
    path = chunk_path(folder, kind, chunk)
    hint = "delete it to recompute that chunk, then resume"
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ResultsError(f"{path}: cannot read chunk ({exc.strerror}); {hint}") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise ResultsError(
            f"{path}: corrupted chunk (its SHA-256 differs from the one recorded when it was "
            f"written); {hint}"
        )
    try:
        return pq.read_table(
            pa.BufferReader(data), columns=columns, page_checksum_verification=True
        )
    except Exception as exc:  # pyarrow raises several types for damaged files
        raise ResultsError(
            f"{path}: corrupted chunk ({' '.join(str(exc).split())}); {hint}"
        ) from None


def finished_chunks(folder: Path, size: int, records: ChunkRecords | None) -> set[Chunk]:
    """Chunks already on disk, each read in full to check it (both of its tables).

    Reading every chunk costs one pass over the data already computed, at the start of a
    resumed study only; it is what lets a damaged file be refused before any work is done. A
    chunk the manifest does not record (``records``) was being written when the study stopped,
    and one with a file missing was deleted: its files are removed, to be computed again, and
    it is forgotten. ``records`` is None for a folder older than these records: every chunk counts.
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
        files = [chunk_path(folder, kind, chunk) for kind in ("runs", "events")]
        if (records is not None and chunk.name not in records) or not all(
            f.is_file() for f in files
        ):
            for file in files:  # half written, or half deleted (as a damaged one is told to be)
                file.unlink(missing_ok=True)
            continue
        hashes = {} if records is None else records[chunk.name]
        runs = read_chunk(folder, "runs", chunk, sha256=hashes.get("runs"))
        events = read_chunk(folder, "events", chunk, sha256=hashes.get("events"))
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
    for name in set(records or ()) - {chunk.name for chunk in done}:
        del records[name]
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

    def __init__(self, folder: Path, size: int, records: ChunkRecords | None = None) -> None:
        self.folder, self.size, self.next = folder, size, 0
        self.records = records
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
        hashes = (self.records or {}).get(chunk.name, {})
        for kind, name in (("runs", RUNS), ("events", EVENTS)):
            table = read_chunk(self.folder, kind, chunk, sha256=hashes.get(kind))
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
            self.writers[name].write_table(table, row_group_size=max(1, len(table)))

    def finish(self, chunks: list[Chunk]) -> dict[str, dict[str, Any]]:
        """Append what is left of ``chunks`` (the study's, in order) and put the tables in place;
        return each table's size and SHA-256 (``file_record``), for the manifest.

        Both tables are closed before either is renamed, so a failure leaves neither under its
        final name."""
        for chunk in chunks:
            if chunk.start >= self.next:
                self._append(chunk)
        for name, writer in self.writers.items():
            self._write_row_group(name)
            writer.close()
        records = {name: file_record(self._tmp(name)) for name in self.writers}
        for name in self.writers:
            self._tmp(name).replace(self.folder / name)
        self.writers.clear()
        return records

    def discard(self) -> None:
        """Close and remove the unfinished tables (the chunks on disk keep all the work)."""
        self.pending.clear()
        for name, writer in self.writers.items():
            writer.close()
            self._tmp(name).unlink(missing_ok=True)
        self.writers.clear()


def is_leftover(path: Path) -> bool:
    """A temporary file this tool writes before renaming it (``.NAME.RANDOM.tmp``), or its lock."""
    return path.name == LOCK or (path.name.startswith(".") and path.name.endswith(".tmp"))


def finished_nothing(folder: Path) -> bool:
    """True if ``folder`` holds only what a study that finished no chunk leaves behind (its
    temporary files, its lock, a manifest recording no chunk, its scenario copies): nothing is
    lost by starting afresh in it. A manifest older than chunk records never qualifies."""
    entries = list(folder.iterdir())
    if all(is_leftover(path) for path in entries):
        return True
    own = {MANIFEST, *COPIES, CHUNKS}
    if not all(path.name in own or is_leftover(path) for path in entries):
        return False
    try:
        manifest = read_manifest(folder)
    except ResultsError:
        return False
    return manifest.get("chunks") == {} and manifest.get("status") != "complete"


def clear_folder(folder: Path) -> None:
    """Remove everything in ``folder`` but the lock this command holds."""
    for path in folder.iterdir():
        if path.name != LOCK:
            shutil.rmtree(path) if path.is_dir() else path.unlink()


def damaged_tables(folder: Path, manifest: dict[str, Any]) -> list[str]:
    """The recorded final tables (Parquet and CSV) of ``folder`` missing or changed since."""
    files = manifest.get("files", {})
    return [
        name
        for name in files
        if name not in COPIES
        and (not (folder / name).is_file() or file_sha256(folder / name) != files[name]["sha256"])
    ]


def reopen_for_rebuild(folder: Path, manifest: dict[str, Any]) -> bool:
    """For a completed study whose tables were damaged since: remove them and mark the study
    running, to be rebuilt from its chunks (computed again where removed). True if so. A CSV
    copy alone damaged is written again from its intact Parquet table."""
    damaged = damaged_tables(folder, manifest)
    if all(name.endswith(".csv") for name in damaged):
        for name in damaged:
            target = write_csv(folder / Path(name).with_suffix(".parquet").name)
            manifest["files"][name] = file_record(target)
        return False
    tables = [name for name in manifest["files"] if name not in COPIES]
    for name in tables:
        (folder / name).unlink(missing_ok=True)
        del manifest["files"][name]
    manifest.setdefault("chunks", {})
    manifest.update(
        status="running", rebuilt={"utc": datetime.now(UTC).isoformat(), "damaged": damaged}
    )
    save_manifest(folder, manifest)
    return True


def remove_chunks(folder: Path) -> None:
    """Remove a completed study's chunk files (its final tables hold them all)."""
    for path in (folder / CHUNKS).glob("*"):
        path.unlink()


def _failure_reason(error: BaseException) -> str:
    if isinstance(error, KeyboardInterrupt):
        return "interrupted"
    return f"{type(error).__name__}: {' '.join(str(error).split())}"[:400]


def record_failure(folder: Path, manifest: dict[str, Any], error: BaseException, new: bool) -> None:
    """After ``error`` stopped a study: a new study that finished no chunk is removed (nothing
    is lost); any other is marked ``failed`` with the reason, to be resumed. A study already
    marked complete stays so (it stopped while removing its chunks)."""
    if manifest.get("status") == "complete":
        return
    if new and not manifest.get("chunks"):
        clear_folder(folder)
        return
    manifest.update(status="failed", failure=_failure_reason(error))
    manifest["failed_utc"] = datetime.now(UTC).isoformat()
    with contextlib.suppress(OSError):  # the disk that stopped it may refuse: its error is news
        save_manifest(folder, manifest)


@contextmanager
def study_lock(folder: Path) -> Iterator[None]:
    """Hold ``folder`` for one command: an exclusive ``flock`` on ``folder/.lock``, the holder's
    pid written in it. Another command is refused, naming that pid; the OS releases the lock
    when its holder dies, however it dies, so a stale lock is simply taken over."""
    path = folder / LOCK
    while True:
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(handle, 32, 0).decode("ascii", "replace").strip() or "unknown"
            os.close(handle)
            raise ResultsError(
                f"{folder}: in use by another sim command (process {holder}); wait for it to "
                "finish or stop it, then run this command again"
            ) from None
        if _is_linked(handle, path):
            break
        os.close(handle)  # its holder removed the file as we opened it: lock the new one
    try:
        os.ftruncate(handle, 0)
        os.pwrite(handle, f"{os.getpid()}\n".encode("ascii"), 0)
        yield
    finally:
        path.unlink(missing_ok=True)
        os.close(handle)


def _is_linked(handle: int, path: Path) -> bool:
    """True if the open file ``handle`` is still the file named ``path``."""
    try:
        return os.path.samestat(os.fstat(handle), path.stat())
    except FileNotFoundError:
        return False


FORMULA_START = "=+-@\t\r"
"""Characters that make a spreadsheet read a cell as a formula (OWASP's list)."""
PLAIN_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$"


def _inert(values: pa.Array | pa.ChunkedArray) -> pa.Array | pa.ChunkedArray:
    """Text cells that a spreadsheet would run as formulas (``=HYPERLINK(...)``, ``@SUM``,
    ``-1+2``) with a leading ``'``, which shows the text as text; plain numbers kept as they are."""
    if not (pa.types.is_string(values.type) or pa.types.is_large_string(values.type)):
        return values
    pattern = "^[" + "".join(f"\\{c}" if c in "+-" else c for c in FORMULA_START) + "]"
    risky = pc.and_(
        pc.match_substring_regex(values, pattern),
        pc.invert(pc.match_substring_regex(values, PLAIN_NUMBER)),
    )
    quoted = pc.binary_join_element_wise(
        pa.scalar("'", values.type), values, pa.scalar("", values.type)
    )
    return pc.if_else(pc.fill_null(risky, False), quoted, values)


def _inert_batch(batch: pa.RecordBatch) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays(
        [_inert(column) for column in batch.columns], schema=batch.schema
    )


def _write_batches(schema: pa.Schema, batches: Iterable[pa.RecordBatch], target: Path) -> None:
    """Batches as CSV at ``target``, written to a hidden file and renamed into place."""
    tmp = target.with_name(f".{target.name}.tmp")
    try:
        with pa_csv.CSVWriter(tmp, schema) as writer:
            for batch in batches:
                writer.write_batch(_inert_batch(batch))
        tmp.replace(target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_csv_safely(frame: pd.DataFrame | pa.Table, path: Path) -> None:
    """Write ``frame`` as CSV at ``path``, atomically, with no cell a spreadsheet would run.

    A name from a scenario (a layer named ``=HYPERLINK(...)``) would otherwise reach the file
    as a live formula: text cells beginning with ``= + - @``, a tab or a carriage return get a
    leading ``'`` unless they are plain numbers (``-3.5`` stays a number). Text is quoted
    (pandas would leave a carriage return inside a cell bare, splitting its row); a DataFrame
    gets pandas' format otherwise (no index), an Arrow table Arrow's, as the study's tables do.
    """
    path = Path(path)
    if isinstance(frame, pa.Table):
        _write_batches(frame.schema, frame.to_batches(), path)
        return
    safe = frame.copy()
    for column in [c for c in safe.columns if pd.api.types.is_string_dtype(safe[c].dtype)]:
        text = pa.array(safe[column].astype("string").to_numpy(na_value=None), pa.string())
        safe[column] = safe[column].where(safe[column].isna(), _inert(text).to_pylist())
    text = safe.to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)  # CR, LF in a cell quoted
    atomic_write_bytes(path, text.encode("utf-8"))


def write_csv(parquet: Path) -> Path:
    """A CSV copy of a Parquet table beside it (``write_csv_safely``'s cells), streamed batch by
    batch so memory does not grow with the table; returns the CSV's path."""
    source = pq.ParquetFile(parquet, page_checksum_verification=True)
    target = parquet.with_suffix(".csv")
    _write_batches(source.schema_arrow, source.iter_batches(), target)
    return target
