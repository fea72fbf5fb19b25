"""Many replications of a scenario, on any executor, in chunks that survive interruption.

Replication ``k`` draws only from ``Streams(seed, k)``, so its result does not depend on the worker,
the chunk size, the executor, or whether the study was interrupted and resumed. Chunks of
replications run on an executor (serial, a process pool, or Dask) and are written to
``chunks/`` as soon as they finish, atomically; ``resume`` runs only the missing ones. At the end the
chunks are streamed, in replication order, into ``runs.parquet`` and ``events.parquet``, so memory
stays bounded for any number of replications.

A folder is written by one command at a time (``study_lock``). Its manifest is written first and
records the SHA-256 of every file as it is written; a chunk counts as finished once recorded. So a
study stopped at any moment leaves a folder the same command continues: one that finished
nothing is removed (or, killed outright, taken as empty by the next run), one that finished
something is marked ``failed`` with the reason and resumed; a completed study whose tables were
damaged since is rebuilt on resume, and one stopped while removing its chunks finishes that.
"""

from __future__ import annotations

import hashlib
import platform
import sys
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from sim.scenario.levers import load_with_overrides, resolve_overrides
from sim.scenario.loading import parse_scenario
from sim.scenario.parameters import PosteriorSample, posterior_of
from sim.scenario.schema import Scenario
from sim.study import DEFAULT_N, PACKAGE_VERSION
from sim.study.chunks import Chunk, plan_chunks, simulate_chunk
from sim.study.executors import Executor, check_executor, make_executor
from sim.study.folder import canonical_text, model_hash, open_folder
from sim.study.progress import StudyProgress, study_progress
from sim.study.results import (
    EVENTS,
    RUNS,
    Results,
    ResultsError,
    atomic_write_bytes,
    file_record,
    file_sha256,
    git_commit,
    save_manifest,
)
from sim.study.stopping import TargetError, next_target, parse_targets
from sim.study.tables import (
    OrderedTables,
    chunk_path,
    finished_chunks,
    read_chunk,
    record_failure,
    remove_chunks,
    reopen_for_rebuild,
    study_lock,
    write_csv,
)

__all__ = ["DEFAULT_CHUNK_SIZE", "StudyProgress", "canonical_text", "model_hash", "run_study"]

DEFAULT_CHUNK_SIZE = 100


def _resolve(
    scenario: str | Path | Scenario, overrides: Sequence[str] | Mapping[str, Any]
) -> tuple[str, Scenario]:
    """Where the scenario came from, and the validated scenario with overrides applied."""
    if isinstance(scenario, Scenario):
        if overrides:
            resolved = resolve_overrides(scenario, overrides)
            return "<python object>", parse_scenario(
                canonical_text(scenario), "<python object>", resolved
            )
        return "<python object>", scenario
    return str(scenario), load_with_overrides(scenario, overrides)


@dataclass
class _Study:
    """What the loop of one study works with."""

    folder: Path
    manifest: dict[str, Any]
    scenario: Scenario
    posterior: PosteriorSample | None
    progress: StudyProgress
    tables: OrderedTables


def _run_chunks(executor: Executor, study: _Study, todo: list[Chunk]) -> None:
    """Run ``todo`` and write each chunk as it finishes; record its tables' SHA-256 in the
    manifest (which makes it finished), then append every chunk that is next in replication
    order to the final tables at once."""
    folder, manifest = study.folder, study.manifest
    tasks = [(study.scenario, manifest["seed"], chunk, study.posterior) for chunk in todo]
    for chunk, runs, events in executor.imap(simulate_chunk, tasks):
        atomic_write_bytes(chunk_path(folder, "events", chunk), events)
        atomic_write_bytes(chunk_path(folder, "runs", chunk), runs)
        manifest["chunks"][chunk.name] = {
            "runs": hashlib.sha256(runs).hexdigest(),
            "events": hashlib.sha256(events).hexdigest(),
        }
        save_manifest(folder, manifest)
        study.tables.append_ready(chunk)
        study.progress.advance(chunk.stop - chunk.start)


def _reached_counts(study: _Study, chunks: list[Chunk]) -> np.ndarray:
    """Runs reaching each rung, from the chunks' ``max_rung`` columns."""
    records, folder = study.manifest["chunks"], study.folder
    tables = [read_chunk(folder, "runs", c, ["max_rung"], records[c.name]["runs"]) for c in chunks]
    max_rungs = np.concatenate([table["max_rung"].to_numpy() for table in tables])
    return np.array([(max_rungs >= r).sum() for r in range(7)])


def _finished_on_disk(study: _Study) -> set[Chunk]:
    """The study's finished chunks, checked; a folder older than chunk records gets them."""
    folder, manifest = study.folder, study.manifest
    done = finished_chunks(folder, manifest["chunk_size"], manifest.get("chunks"))
    if manifest.get("chunks") is None:
        manifest["chunks"] = {
            c.name: {kind: file_sha256(chunk_path(folder, kind, c)) for kind in ("runs", "events")}
            for c in done
        }
    study.tables.records = manifest["chunks"]
    save_manifest(folder, manifest)
    return done


def _run_all(study: _Study, pool: Executor) -> int:
    """Run every chunk the study lacks (and, with ``until_ci``, the extensions it needs);
    return its number of replications."""
    manifest, size, target = study.manifest, study.manifest["chunk_size"], study.manifest["n"]
    done = _finished_on_disk(study)
    study.progress.start(target, sum(c.stop - c.start for c in done if c.stop <= target))
    for chunk in sorted(done):
        study.tables.append_ready(chunk)
    while target:
        todo = [c for c in plan_chunks(0, target, size) if c not in done]
        _run_chunks(pool, study, todo)
        done.update(todo)
        n_done, target = target, 0
        if manifest.get("until_ci"):
            reached = _reached_counts(study, plan_chunks(0, n_done, size))
            targets = parse_targets(manifest["until_ci"])
            target = next_target(n_done, reached, targets, manifest["max_n"], size)
            if target:
                study.progress.extend(target)
    return n_done


@contextmanager
def _watched(progress: StudyProgress | bool | None) -> Iterator[StudyProgress]:
    """The callbacks ``run_study``'s ``progress`` asks for (see its docstring)."""
    if isinstance(progress, StudyProgress):
        yield progress
        return
    shown, terminal = progress is not False, progress is True
    with study_progress("replications", show=shown, terminal=terminal) as watcher:
        yield watcher


def default_folder(source: str | Path) -> Path:
    """A fresh folder for a study's results: ``results/<scenario name>-<UTC time>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path("results") / f"{Path(source).stem.strip('<>')}-{stamp}"


def run_study(
    scenario: str | Path | Scenario,
    *,
    n: int | None = None,
    out: str | Path | None = None,
    seed: int | None = None,
    workers: int = 1,
    executor: str = "process",
    scheduler: str | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    resume: bool = False,
    until_ci: str | float | Sequence[str | float] | None = None,
    max_n: int = 100_000,
    csv: bool = False,
    progress: StudyProgress | bool | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> Results:
    """Run (or resume) a Monte Carlo study and return its results; see ``sim run --help``.

    ``n`` replications (at least 1; default ``DEFAULT_N``, or a resumed study's own) in chunks of
    ``chunk_size``; with ``until_ci`` (one precision target or several, as ``sim run
    --until-ci`` takes them: ``0.01``, ``"10%"``, ``"rung>=5:0.005"``; see
    ``sim.study.stopping``) more are added until every target is met, or ``max_n``. A resumed
    study is finished as it was planned: an ``n`` other than its own is refused, not silently
    ignored. ``progress``: callbacks (``StudyProgress``), True for a bar in a notebook or on a
    terminal, None (the default) for a bar in a notebook only, False for none.
    """
    if n is None and not resume:
        n = DEFAULT_N
    for name, value in (
        ("n", 1 if n is None else n),
        ("chunk_size", chunk_size),
        ("workers", workers),
    ):
        if value < 1:
            raise ValueError(f"{name} must be at least 1, got {value}")
    try:
        targets = [target.text for target in parse_targets(until_ci)] or None
    except TargetError as exc:
        raise TargetError(f"until_ci must be precision targets: {exc}") from None
    source, loaded = _resolve(scenario, overrides)
    check_executor(executor, scheduler)
    posterior = posterior_of(loaded)  # a posterior that cannot be read stops before any folder
    folder = Path(out) if out is not None else default_folder(source)
    fresh = {
        "status": "running",
        "scenario_name": loaded.name,
        "scenario_file": source,
        "overrides": list(overrides.items()) if isinstance(overrides, Mapping) else list(overrides),
        "scenario_sha256": model_hash(loaded),
        "seed": loaded.seed if seed is None else seed,
        "n": n,
        "chunk_size": chunk_size,
        "until_ci": targets,
        "max_n": max_n,
        "executor": executor,
        "workers": workers,
        "scheduler": scheduler,
        "package_version": PACKAGE_VERSION,
        "git_commit": git_commit(),
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "platform": platform.platform(),
        "started_utc": datetime.now(UTC).isoformat(),
    }
    if folder.exists() and not folder.is_dir():
        raise ResultsError(f"{folder}: is a file, not a folder; choose another --out")
    if resume and not folder.is_dir():
        raise ResultsError(f"{folder}: not a results folder (no such folder)")
    created = not folder.exists()
    folder.mkdir(parents=True, exist_ok=True)
    try:
        with study_lock(folder):
            try:
                manifest = open_folder(folder, fresh, resume, loaded)
            except BaseException as error:
                if "chunks" in fresh:  # it was being created: remove what it wrote
                    record_failure(folder, fresh, error, new=True)
                raise
            tables = OrderedTables(folder, manifest["chunk_size"])
            with _watched(progress) as watcher:
                study = _Study(folder, manifest, loaded, posterior, watcher, tables)
                try:
                    return _complete(study, executor, workers, scheduler, csv)
                except BaseException as error:
                    record_failure(folder, manifest, error, new=manifest is fresh)
                    raise
    finally:
        if created and folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()


def _complete(
    study: _Study, executor: str, workers: int, scheduler: str | None, csv: bool
) -> Results:
    """Finish the study in ``study.folder`` (run what it lacks, write its tables, remove its
    chunks) and return its results; a completed one only gets its chunks removed, or, if its
    tables were damaged since, is rebuilt."""
    folder, manifest = study.folder, study.manifest
    csv = csv or any(name.endswith(".csv") for name in manifest.get("files", {}))
    if manifest["status"] == "complete" and not reopen_for_rebuild(folder, manifest):
        save_manifest(folder, manifest)
        remove_chunks(folder)
        return Results(folder)
    try:
        with make_executor(executor, workers, scheduler) as pool:
            n_done = _run_all(study, pool)
        files = study.tables.finish(plan_chunks(0, n_done, manifest["chunk_size"]))
    finally:
        study.tables.discard()
    if csv:
        for name in (RUNS, EVENTS):
            target = write_csv(folder / name)
            files[target.name] = file_record(target)
    finished = {**manifest, "status": "complete", "n": n_done, "chunks": {}}
    finished["files"] = {**manifest.get("files", {}), **files}
    finished["finished_utc"] = datetime.now(UTC).isoformat()
    save_manifest(folder, finished)
    manifest.update(finished)
    remove_chunks(folder)
    return Results(folder)
