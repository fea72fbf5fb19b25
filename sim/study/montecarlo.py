"""Many replications of a scenario, on any executor, in chunks that survive interruption.

Replication ``k`` draws only from ``Streams(seed, k)``, so its result does not depend on the worker,
the chunk size, the executor, or whether the study was interrupted and resumed. Chunks of
replications run on an executor (serial, a process pool, or Dask) and are written to
``chunks/`` as soon as they finish, atomically; ``resume`` runs only the missing ones. At the end the
chunks are streamed, in replication order, into ``runs.parquet`` and ``events.parquet``, so memory
stays bounded for any number of replications.
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
from sim.scenario.parameters import posterior_of
from sim.scenario.schema import Scenario
from sim.study import DEFAULT_N, PACKAGE_VERSION
from sim.study.chunks import Chunk, plan_chunks, simulate_chunk
from sim.study.executors import Executor, check_executor, make_executor
from sim.study.results import (
    EVENTS,
    RUNS,
    SCENARIO_COPY,
    Results,
    ResultsError,
    atomic_write_bytes,
    git_commit,
    max_half_width,
    read_manifest,
    write_manifest,
)
from sim.study.tables import (
    CHUNKS,
    OrderedTables,
    chunk_path,
    finished_chunks,
    read_chunk,
    write_csv,
)

SOURCE_COPY = "scenario-source.yaml"
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


def _open_folder(folder: Path, manifest: dict[str, Any], resume: bool) -> dict[str, Any]:
    """Create a fresh study folder, or check that a resumed one is the same study."""
    if not resume:
        if folder.exists() and not folder.is_dir():
            raise ResultsError(f"{folder}: is a file, not a folder; choose another --out")
        if folder.exists() and any(folder.iterdir()):
            raise ResultsError(
                f"{folder}: already exists and is not empty; choose another --out "
                f"or continue it with --resume {folder}"
            )
        folder.mkdir(parents=True, exist_ok=True)
        atomic_write_bytes(folder / SCENARIO_COPY, manifest.pop("_text").encode("utf-8"))
        source = Path(manifest["scenario_file"])
        if source.is_file():
            atomic_write_bytes(folder / SOURCE_COPY, source.read_bytes())
        write_manifest(folder, manifest)
        return manifest
    old = read_manifest(folder)
    manifest.pop("_text")
    missing = [k for k in ("scenario_sha256", "seed", "n", "chunk_size", "status") if k not in old]
    if missing:
        raise ResultsError(
            f"{folder / 'manifest.json'}: corrupted manifest (no {', '.join(missing)})"
        )
    if old["scenario_sha256"] != manifest["scenario_sha256"]:
        raise ResultsError(
            f"{folder}: was made from another scenario (sha256 {old['scenario_sha256'][:12]}..., "
            f"this one {manifest['scenario_sha256'][:12]}...; same file and --set options?); "
            "refusing to mix two studies"
        )
    if old["seed"] != manifest["seed"]:
        raise ResultsError(
            f"{folder}: was made with seed {old['seed']}, not {manifest['seed']}; "
            "refusing to mix two studies"
        )
    if manifest["n"] not in (None, old["n"]) and not old.get("until_ci"):
        raise ResultsError(
            f"{folder}: is a study of {old['n']} replications, not {manifest['n']}; resuming "
            "finishes a study as it was planned (leave out -n, or start a new study)"
        )
    old.setdefault("resumed_utc", []).append(datetime.now(UTC).isoformat())
    return old


@dataclass
class StudyProgress:
    """Callbacks a caller may pass to watch a study (a progress bar, a log)."""

    start: Callable[[int, int], None] = lambda total, done: None
    advance: Callable[[int], None] = lambda replications: None
    extend: Callable[[int], None] = lambda total: None


def _run_chunks(
    executor: Executor,
    scenario: Scenario,
    seed: int,
    todo: list[Chunk],
    folder: Path,
    progress: StudyProgress,
    tables: OrderedTables,
) -> None:
    """Run ``todo`` and write each chunk as it finishes (runs table last: it marks completion);
    append every chunk that is next in replication order to the final tables at once."""
    posterior = posterior_of(scenario)
    tasks = [(scenario, seed, chunk, posterior) for chunk in todo]
    for chunk, runs, events in executor.imap(simulate_chunk, tasks):
        atomic_write_bytes(chunk_path(folder, "events", chunk), events)
        atomic_write_bytes(chunk_path(folder, "runs", chunk), runs)
        tables.append_ready(chunk)
        progress.advance(chunk.stop - chunk.start)


def _reached_counts(folder: Path, chunks: list[Chunk]) -> np.ndarray:
    """Runs reaching each rung, from the chunks' ``max_rung`` columns."""
    max_rungs = np.concatenate(
        [read_chunk(folder, "runs", c, ["max_rung"])["max_rung"].to_numpy() for c in chunks]
    )
    return np.array([(max_rungs >= r).sum() for r in range(7)])


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
    text = canonical_text(loaded)
    folder = Path(out) if out is not None else default_folder(source)
    progress = progress or StudyProgress()
    manifest = _open_folder(
        folder,
        {
            "_text": text,
            "status": "running",
            "scenario_name": loaded.name,
            "scenario_file": source,
            "overrides": list(overrides.items())
            if isinstance(overrides, Mapping)
            else list(overrides),
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
        },
        resume,
    )
    if manifest.get("status") == "complete":
        return Results(folder)
    size, study_seed, target = manifest["chunk_size"], manifest["seed"], manifest["n"]
    tables = OrderedTables(folder, size)
    try:
        with make_executor(executor, workers, scheduler) as pool:
            done = finished_chunks(folder, size)
            progress.start(target, sum(c.stop - c.start for c in done if c.stop <= target))
            for chunk in sorted(done):
                tables.append_ready(chunk)
            while target:
                todo = [c for c in plan_chunks(0, target, size) if c not in done]
                _run_chunks(pool, loaded, study_seed, todo, folder, progress, tables)
                done.update(todo)
                n_done, target = target, 0
                if manifest.get("until_ci"):
                    chunks = plan_chunks(0, n_done, size)
                    target = _next_target(
                        n_done,
                        _reached_counts(folder, chunks),
                        manifest["until_ci"],
                        manifest["max_n"],
                        size,
                    )
                    if target:
                        progress.extend(target)
        tables.finish(plan_chunks(0, n_done, size))
    finally:
        tables.discard()
    if csv:
        for name in (RUNS, EVENTS):
            write_csv(folder / name)
    manifest.update(status="complete", n=n_done, finished_utc=datetime.now(UTC).isoformat())
    write_manifest(folder, manifest)
    for path in (folder / CHUNKS).glob("*.parquet"):
        path.unlink()
    return Results(folder)
