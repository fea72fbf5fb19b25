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
import math
import platform
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from sim.scenario.levers import load_with_overrides, resolve_overrides
from sim.scenario.loading import parse_scenario, scenario_hash
from sim.scenario.parameters import PosteriorSample, posterior_of
from sim.scenario.schema import Scenario
from sim.study import DEFAULT_N, PACKAGE_VERSION
from sim.study.chunks import Chunk, plan_chunks, simulate_chunk
from sim.study.executors import Executor, check_executor, make_executor
from sim.study.results import (
    EVENTS,
    MANIFEST,
    RUNS,
    SCENARIO_COPY,
    SOURCE_COPY,
    Results,
    ResultsError,
    atomic_write_bytes,
    check_manifest_seal,
    file_record,
    file_sha256,
    git_commit,
    max_half_width,
    read_manifest,
    save_manifest,
)
from sim.study.tables import (
    OrderedTables,
    chunk_path,
    clear_folder,
    finished_chunks,
    finished_nothing,
    is_leftover,
    read_chunk,
    record_failure,
    remove_chunks,
    reopen_for_rebuild,
    study_lock,
    write_csv,
)

DEFAULT_CHUNK_SIZE = 100


def canonical_text(scenario: Scenario) -> str:
    """The resolved scenario as YAML: variants, overrides and defaults all spelled out.

    Its hash identifies a study's model: the same model gives the same hash, whichever file,
    variant or ``--set`` produced it, and any change to the model changes it.
    """
    return yaml.safe_dump(scenario.model_dump(), sort_keys=False, allow_unicode=True)


def model_hash(scenario: Scenario) -> str:
    """SHA-256 identifying a study's model: its canonical text, with the posterior it draws from
    named by the SHA-256 of the file's content instead of by its path.

    So the same model has the same hash in any checkout or on any machine, and a posterior
    re-fitted in place gives another (a study never mixes draws from two posteriors).
    """
    if scenario.parameters_from is None:
        return scenario_hash(canonical_text(scenario))
    content = hashlib.sha256(Path(scenario.parameters_from).read_bytes()).hexdigest()
    named = scenario.model_copy(update={"parameters_from": f"sha256:{content}"})
    return scenario_hash(canonical_text(named))


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


def _copies(manifest: dict[str, Any], text: str) -> dict[str, bytes]:
    """The files a study keeps of its scenario: the resolved text, and the source file's bytes."""
    copies = {SCENARIO_COPY: text.encode("utf-8")}
    source = Path(manifest["scenario_file"])
    if source.is_file():
        copies[SOURCE_COPY] = source.read_bytes()
    return copies


def _bytes_record(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _create(folder: Path, manifest: dict[str, Any], text: str) -> dict[str, Any]:
    """Start a study in ``folder`` (empty but for leftovers): the manifest first, recording its
    scenario copies' hashes, then the copies. A kill at any moment leaves a folder that
    ``finished_nothing`` accepts."""
    manifest["chunks"] = {}  # from here on, a failure removes what this study wrote
    clear_folder(folder)
    copies = _copies(manifest, text)
    manifest["n"] = manifest["n"] or DEFAULT_N
    manifest["files"] = {name: _bytes_record(data) for name, data in copies.items()}
    save_manifest(folder, manifest)
    for name, data in copies.items():
        atomic_write_bytes(folder / name, data)
    return manifest


def _restore_copies(folder: Path, manifest: dict[str, Any], text: str) -> None:
    """Write again a scenario copy that is missing or changed since it was recorded (the model
    hash matched, so the text is this study's); an older folder's copies are recorded as found."""
    files = manifest.setdefault("files", {})
    for name, data in _copies(manifest, text).items():
        path = folder / name
        if name not in files and path.is_file():
            files[name] = file_record(path)
        elif not path.is_file() or file_sha256(path) != files[name]["sha256"]:
            atomic_write_bytes(path, data)
            files[name] = _bytes_record(data)


def _open_folder(folder: Path, fresh: dict[str, Any], resume: bool, text: str) -> dict[str, Any]:
    """Start a study in ``folder``, or check that a resumed one is the same study. A folder
    holding only this tool's leftovers counts as empty, for ``--resume`` too."""
    if not (folder / MANIFEST).exists() and all(is_leftover(p) for p in folder.iterdir()):
        resume = False
    if not resume:
        if not finished_nothing(folder):
            raise ResultsError(
                f"{folder}: already exists and is not empty; choose another --out "
                f"or continue it with --resume {folder}"
            )
        return _create(folder, fresh, text)
    old = read_manifest(folder)
    check_manifest_seal(folder, old)
    missing = [k for k in ("scenario_sha256", "seed", "n", "chunk_size", "status") if k not in old]
    if missing:
        raise ResultsError(
            f"{folder / 'manifest.json'}: corrupted manifest (no {', '.join(missing)})"
        )
    if old["scenario_sha256"] != fresh["scenario_sha256"]:
        raise ResultsError(
            f"{folder}: was made from another scenario (sha256 {old['scenario_sha256'][:12]}..., "
            f"this one {fresh['scenario_sha256'][:12]}...; same file and --set options?); "
            "refusing to mix two studies"
        )
    if old["seed"] != fresh["seed"]:
        raise ResultsError(
            f"{folder}: was made with seed {old['seed']}, not {fresh['seed']}; "
            "refusing to mix two studies"
        )
    if fresh["n"] not in (None, old["n"]) and not old.get("until_ci"):
        raise ResultsError(
            f"{folder}: is a study of {old['n']} replications, not {fresh['n']}; resuming "
            "finishes a study as it was planned (leave out -n, or start a new study)"
        )
    old.setdefault("resumed_utc", []).append(datetime.now(UTC).isoformat())
    _restore_copies(folder, old, text)
    return old


@dataclass
class StudyProgress:
    """Callbacks a caller may pass to watch a study (a progress bar, a log)."""

    start: Callable[[int, int], None] = lambda total, done: None
    advance: Callable[[int], None] = lambda replications: None
    extend: Callable[[int], None] = lambda total: None


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
            target = _next_target(n_done, reached, manifest["until_ci"], manifest["max_n"], size)
            if target:
                study.progress.extend(target)
    return n_done


def _next_target(n: int, reached: np.ndarray, width: float, cap: int, size: int) -> int:
    """Replications needed for every CI half-width to fall to ``width`` (0 when done)."""
    current = max_half_width(reached, n)
    if current <= width or n >= cap:
        return 0
    wanted = math.ceil(n * (current / width) ** 2 * 1.1)
    return min(cap, max(n + size, math.ceil(wanted / size) * size))


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
    until_ci: float | None = None,
    max_n: int = 100_000,
    csv: bool = False,
    progress: StudyProgress | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
) -> Results:
    """Run (or resume) a Monte Carlo study and return its results; see ``sim run --help``.

    ``n`` replications (at least 1; default ``DEFAULT_N``, or a resumed study's own) in chunks of
    ``chunk_size``; with ``until_ci`` (a CI half-width, as a probability) more are added until
    every rung's half-width is at most it, or ``max_n``. A resumed study is finished as it was
    planned: an ``n`` other than its own is refused, not silently ignored.
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
    if until_ci is not None and not until_ci > 0:
        raise ValueError(f"until_ci must be a positive half-width, got {until_ci}")
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
        "until_ci": until_ci,
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
                manifest = _open_folder(folder, fresh, resume, canonical_text(loaded))
            except BaseException as error:
                if "chunks" in fresh:  # it was being created: remove what it wrote
                    record_failure(folder, fresh, error, new=True)
                raise
            tables = OrderedTables(folder, manifest["chunk_size"])
            study = _Study(folder, manifest, loaded, posterior, progress or StudyProgress(), tables)
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
