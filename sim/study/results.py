"""Results of a Monte Carlo study: the folder on disk, its tables, its manifest, and its summary.

A results folder holds ``runs.parquet`` (one row per replication), ``events.parquet`` (one row per
event), ``manifest.json`` (what was run, how, with which versions), ``scenario.yaml`` (a copy of
the scenario text) and, for a scenario drawn from a posterior, ``scenario-posterior.parquet`` (a
copy of that posterior, which ``scenario.yaml`` names relatively). Every file is written
atomically: a crash leaves the old file or none, never a half-written one that looks complete.
The manifest records the SHA-256 of every file the study wrote (``files``) and of its own content
(``manifest_sha256``); a file changed since, by damage or by hand, is refused by name when it is
read. Folders written before these records are read as before. Probabilities come with Wilson 95%
confidence intervals (``sim.study.summary``).
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from functools import cached_property
from pathlib import Path
from typing import Any

import pandas as pd

from sim.errors import ResultsError
from sim.study.summary import Summary, summary_of_table
from sim.study.summary import max_half_width as max_half_width
from sim.study.summary import path_table as path_table
from sim.study.summary import rung_table as rung_table
from sim.study.summary import wilson_interval as wilson_interval

MANIFEST = "manifest.json"
RUNS = "runs.parquet"
EVENTS = "events.parquet"
SCENARIO_COPY = "scenario.yaml"
SOURCE_COPY = "scenario-source.yaml"
POSTERIOR_COPY = "scenario-posterior.parquet"
"""The posterior sample a study drew from, copied in; its ``scenario.yaml`` names it."""
COPIES = (SCENARIO_COPY, SOURCE_COPY, POSTERIOR_COPY)
"""What a study keeps of its model, beside its tables."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o644)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def git_commit() -> str | None:
    """The git commit of the package's source tree, if it is a git checkout (for manifests)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_manifest(folder: Path, manifest: dict[str, Any], indent: int | None = 2) -> None:
    """Write ``manifest.json`` atomically, keys sorted so that diffs are readable."""
    text = json.dumps(manifest, indent=indent, sort_keys=True, default=str) + "\n"
    atomic_write_bytes(folder / MANIFEST, text.encode("utf-8"))


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read a folder's manifest, or raise ``ResultsError`` saying what is wrong."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ResultsError(f"{folder}: not a results folder (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: corrupted manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: corrupted manifest (not a JSON object)")
    return manifest


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes, read in blocks of 1 MiB (memory does not grow with the file)."""
    digest = hashlib.sha256()
    with path.open("rb") as source:
        while block := source.read(2**20):
            digest.update(block)
    return digest.hexdigest()


def file_record(path: Path) -> dict[str, Any]:
    """What a manifest records of a file it vouches for: its size in bytes and its SHA-256."""
    return {"bytes": path.stat().st_size, "sha256": file_sha256(path)}


def _content_sha256(manifest: dict[str, Any]) -> str:
    """SHA-256 of a manifest's content as JSON (keys sorted), leaving out its own seal."""
    body = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    text = json.dumps(body, sort_keys=True, default=str)  # as read back: tuples are lists
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def save_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write a study's manifest sealed: ``manifest_sha256`` (set in ``manifest`` too) is the
    hash of the rest, so that an edit can be told. While it records chunks (rewritten after
    each one) it is written compact: indenting 1,000 chunk records costs 18 ms a write, 4 ms
    without; a finished study's is indented, for people to read."""
    manifest["manifest_sha256"] = _content_sha256(manifest)
    write_manifest(folder, manifest, indent=None if manifest.get("chunks") else 2)


def check_manifest_seal(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse a manifest whose content no longer matches its seal (an older one has none)."""
    seal = manifest.get("manifest_sha256")
    if seal is not None and seal != _content_sha256(manifest):
        raise ResultsError(
            f"{folder / MANIFEST}: changed since the study wrote it (its content no longer "
            "matches its manifest_sha256); it cannot be trusted: run the study afresh"
        )


def check_file(path: Path, record: dict[str, Any], hint: str, full: bool = True) -> None:
    """Refuse ``path`` if it is missing or differs from its manifest ``record`` (its size, and
    with ``full`` its SHA-256 too: one pass over the file); ``hint`` says how to repair it."""
    if not path.is_file():
        raise ResultsError(f"{path}: missing (the manifest records it); {hint}")
    if path.stat().st_size != record["bytes"] or (full and file_sha256(path) != record["sha256"]):
        raise ResultsError(
            f"{path}: changed since the study wrote it (its SHA-256 differs from the "
            f"manifest's); {hint}"
        )


STUDY_TABLES = {
    "sweep.parquet": "sweep (one `sim run` study per grid point, in its subfolders)",
    "comparison.parquet": "comparison (one `sim run` study per setting, in its subfolders)",
    "sobol.parquet": "sensitivity study",
    "posterior.parquet": "calibration",
}
"""Tables that mark a folder as another kind of study, and what to call it."""


def _refuse_other_studies(folder: Path) -> None:
    """A folder of another kind of study is named as such, not reported as unreadable runs."""
    if (folder / RUNS).exists():
        return
    for table, kind in STUDY_TABLES.items():
        if (folder / table).exists():
            raise ResultsError(
                f"{folder} holds a {kind}, not the runs of one `sim run` study; "
                f"`sim plot {folder}` draws it"
            )


def kept_replications(manifest: dict[str, Any]) -> int | None:
    """Replications in the finished chunks a manifest records (None for an older manifest)."""
    chunks = manifest.get("chunks")
    if chunks is None:
        return None
    return sum(int(b) - int(a) for a, b in (name.split("-") for name in chunks))


def resume_command(folder: Path, manifest: dict[str, Any]) -> str:
    """The command that continues the study in ``folder``: from its scenario file while that is
    where the study read it, else from the folder's own copy (a folder moved elsewhere)."""
    source = manifest.get("scenario_file", "FILE")
    if not Path(source).is_file() and (folder / SCENARIO_COPY).is_file():
        source = folder / SCENARIO_COPY
    return f"`sim run {source} --resume {folder}`"


def incomplete_message(folder: Path, manifest: dict[str, Any]) -> str:
    """Why a study folder holds no finished study, and what to do about it."""
    command = resume_command(folder, manifest)
    kept = kept_replications(manifest)
    kept_text = "" if kept is None else f"; {kept} of {manifest.get('n')} replications are kept"
    if manifest.get("status") == "failed":
        why = f"it failed ({manifest.get('failure', 'no reason recorded')})"
    else:
        why = "still running, or stopped before it finished"
    return f"{folder}: the study is incomplete: {why}{kept_text}; continue it with {command}"


class Results:
    """A results folder, opened for reading; tables load on first use.

    Opening checks the manifest's seal and that each table and the scenario copy it records is
    there with its size, and the posterior copy's SHA-256 (a small file); a table's SHA-256 is
    checked when it is read (one pass over the file).
    The CSV copies are not read here (``--resume`` writes a changed one again).
    """

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        _refuse_other_studies(self.folder)
        self.manifest = read_manifest(self.folder)
        check_manifest_seal(self.folder, self.manifest)
        if self.manifest.get("status") != "complete":
            raise ResultsError(incomplete_message(self.folder, self.manifest))
        self._hint = f"{resume_command(self.folder, self.manifest)} rebuilds it"
        for name, record in self.manifest.get("files", {}).items():
            if name in (RUNS, EVENTS, SCENARIO_COPY):  # what it reads (not the CSV copies)
                check_file(self.folder / name, record, self._hint, full=False)
        if POSTERIOR_COPY in self.manifest.get("files", {}):  # small: its hash is checked
            check_file(
                self.folder / POSTERIOR_COPY,
                self.manifest["files"][POSTERIOR_COPY],
                "the posterior this study drew from cannot be checked: restore the file",
            )

    @cached_property
    def runs(self) -> pd.DataFrame:
        """One row per replication (see ``sim.model.outcomes.run_row``)."""
        return self._read(RUNS)

    @cached_property
    def events(self) -> pd.DataFrame:
        """One row per event of every replication (see ``sim.model.events``)."""
        return self._read(EVENTS)

    @property
    def scenario_text(self) -> str:
        """The exact scenario text the study ran."""
        self._check(SCENARIO_COPY)
        return (self.folder / SCENARIO_COPY).read_text(encoding="utf-8")

    def _check(self, name: str) -> None:
        """Refuse ``name`` if the manifest records it and it has changed, or if it is missing."""
        record = self.manifest.get("files", {}).get(name)
        if record is not None:
            check_file(self.folder / name, record, self._hint)
        elif not (self.folder / name).is_file():
            raise ResultsError(f"{self.folder / name}: missing")

    def _read(self, name: str) -> pd.DataFrame:
        self._check(name)
        try:
            table = pd.read_parquet(self.folder / name, page_checksum_verification=True)
        except Exception as exc:  # pyarrow raises several types for damaged files
            reason = " ".join(str(exc).split())
            raise ResultsError(f"{self.folder / name}: cannot read ({reason})") from None
        if name == RUNS and len(table) != self.manifest.get("n", len(table)):
            raise ResultsError(
                f"{self.folder / name}: holds {len(table)} replications, the manifest "
                f"{self.manifest['n']}; {self._hint}"
            )
        return table

    def summary(self, top_paths: int = 10) -> Summary:
        """Rung probabilities with CIs and the most frequent paths, read from ``runs.parquet``
        a column or a batch at a time (see ``summary_of_table``)."""
        self._check(RUNS)
        try:
            summary = summary_of_table(self.folder / RUNS, top_paths)
        except Exception as exc:  # pyarrow raises several types for damaged files
            reason = " ".join(str(exc).split())
            raise ResultsError(f"{self.folder / RUNS}: cannot read ({reason})") from None
        if summary.n != self.manifest.get("n", summary.n):
            raise ResultsError(
                f"{self.folder / RUNS}: holds {summary.n} replications, the manifest "
                f"{self.manifest['n']}; {self._hint}"
            )
        return summary

    def __repr__(self) -> str:
        m = self.manifest
        return f"Results({str(self.folder)!r}, scenario={m.get('scenario_name')!r}, n={m.get('n')})"

    def table(self, name: str) -> pd.DataFrame:
        """One typed, tidy table of the events: ``name`` is one of
        ``sim.study.event_tables.TABLE_NAMES`` (``strikes``, ``interceptions``, ``projectiles``,
        ...; see ``docs/tables.md``). Times in days (``event_tables.TIME_UNIT``). Read from
        ``events.parquet`` a row group and only the table's columns at a time, on every call;
        ``events`` stays the flat table the study wrote."""
        from sim.study import event_tables

        if name not in event_tables.TABLE_NAMES:
            raise ResultsError(
                f"no event table {name!r}; the tables are: {', '.join(event_tables.TABLE_NAMES)}"
            )
        self._check(EVENTS)
        try:
            return event_tables.event_table(self.folder / EVENTS, name)
        except (OSError, ValueError) as exc:  # pyarrow's errors for a damaged file are these
            reason = " ".join(str(exc).split())
            raise ResultsError(f"{self.folder / EVENTS}: cannot read ({reason})") from None
