"""Exploratory studies: a design over many factors, R replications per point, outcomes of choice.

Every design point runs replications ``0..R-1`` of the study seed, so replication ``k`` draws the
same numbers at every point (common random numbers, ``sim.model.rng``): points differ by their
factors, not by chance, and replication ``k`` of a point equals replication ``k`` of ``sim run``
with the point's values set. Tasks (one point, up to ``chunk_size`` replications) run on any
executor of ``sim.study`` and each finished task is kept in ``OUT/chunks/`` at once, so a study
run again with the same arguments and ``out`` only runs what is missing, and its tables equal an
uninterrupted study's on any executor. The folder holds:

- ``experiments.parquet``: one row per ``point`` with its factor values (one column per factor);
- ``outcomes.parquet``: one row per point and outcome: ``estimate`` (a probability, or a mean) with
  its 95% interval ``ci_low``-``ci_high``, ``n`` runs, and the share ``censored`` at the horizon;
- ``runs.parquet``: one row per point and ``replication``, one column per outcome (its expression);
- ``problem.json`` (the SALib problem), ``morris.parquet`` for a Morris design, ``manifest.json``;
- ``scenario.yaml`` and the posterior it draws from (a study of one scenario file): the model it
  ran, so that the folder can move and be resumed or run again from its own copy.

    >>> from sim.analysis.explore import explore
    >>> explore("scenarios/april-2024.yaml", ["us_pressure", "iran_restraint"], n=64,
    ...         replications=100, outcomes=["rung>=4", "casualties:israel"], out="results/x")
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.analysis.compare import DEFAULT_OUTCOMES, summarize, write_table
from sim.analysis.designs import (
    FILE_FACTOR,
    Factor,
    experiments,
    morris_indices,
    parse_factors,
    resolve_factors,
    salib_problem,
    unit_design,
)
from sim.analysis.outcomes import Outcome, parse_outcomes
from sim.model.events import events_arrow
from sim.model.outcomes import run_row
from sim.model.rng import Streams
from sim.model.world import run_replication
from sim.scenario.levers import load_with_overrides
from sim.scenario.parameters import PosteriorSample, posterior_of, scenario_with, with_fixed
from sim.scenario.schema import Scenario
from sim.study import PACKAGE_VERSION
from sim.study.chunks import parquet_bytes
from sim.study.executors import DEFAULT_WORKERS, make_executor
from sim.study.folder import keep_copies
from sim.study.guard import refuse_unguarded_main
from sim.study.montecarlo import StudyProgress, model_hash
from sim.study.results import (
    ResultsError,
    atomic_write_bytes,
    git_commit,
    read_manifest,
    write_manifest,
)

DEFAULT_POINTS = 64
DEFAULT_REPLICATIONS = 100
DEFAULT_CHUNK_SIZE = 100
CHUNKS = "chunks"


@dataclass(frozen=True)
class Exploration:
    """An explore study's tables (see the module's docstring) and its SALib problem."""

    folder: Path | None
    experiments: pd.DataFrame
    outcomes: pd.DataFrame
    runs: pd.DataFrame
    problem: dict[str, Any]
    morris: pd.DataFrame | None = None


def replication_values(
    scenario: Scenario,
    seed: int,
    start: int,
    stop: int,
    outcomes: Sequence[Outcome],
    posterior: PosteriorSample | None = None,
) -> np.ndarray:
    """Each outcome's value in replications ``start..stop-1`` of ``scenario``, shape
    (replications, outcomes); the events are tabled only when an outcome needs them."""
    actors, needs_events = list(scenario.actors), any(o.needs_events for o in outcomes)
    rows, logs = [], []
    for replication in range(start, stop):
        events = run_replication(scenario, replication, seed, posterior)
        rows.append(run_row(events, replication, actors))
        if needs_events:
            logs.append((replication, events))
    runs = pd.DataFrame(rows)
    table = events_arrow(logs).to_pandas() if needs_events else None
    return np.column_stack([o.values(runs, table) for o in outcomes])


def evaluate_task(
    base: Scenario,
    values: Mapping[str, Any],
    point: int,
    seed: int,
    start: int,
    stop: int,
    outcomes: Sequence[Outcome],
    posterior: PosteriorSample | None,
) -> tuple[int, int, np.ndarray]:
    """One task in a worker: ``base`` with the point's ``values`` set by path, replications
    ``start..stop-1``; returns the point, ``start`` and the values (replications, outcomes)."""
    scenario = scenario_with(base, values)
    return point, start, replication_values(scenario, seed, start, stop, outcomes, posterior)


def _bases(
    file: str | Path, factors: Sequence[Factor], overrides: Sequence[str]
) -> dict[str, Scenario]:
    """The scenario of each file a point may use (the ``scenario`` factor's levels, else
    ``file``), with overrides applied; every mistake as ``sim validate`` reports it."""
    files = next((f.levels for f in factors if f.path == FILE_FACTOR), (str(file),))
    return {str(name): load_with_overrides(name, overrides) for name in files}


def _point_values(factors: Sequence[Factor], row: Mapping[str, Any]) -> dict[str, Any]:
    return {f.path: row[f.name] for f in factors if f.path != FILE_FACTOR}


def _point_file(factors: Sequence[Factor], row: Mapping[str, Any], file: str | Path) -> str:
    return next((str(row[f.name]) for f in factors if f.path == FILE_FACTOR), str(file))


def explore(
    file: str | Path,
    factors: Sequence[Factor | str] | Mapping[str, Any],
    *,
    design: str = "lhs",
    n: int = DEFAULT_POINTS,
    replications: int = DEFAULT_REPLICATIONS,
    outcomes: Sequence[str | Outcome] = DEFAULT_OUTCOMES,
    seed: int | None = None,
    levels: int = 3,
    out: str | Path | None = None,
    overrides: Sequence[str] = (),
    lever_file: str | Path | None = None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    workers: int = DEFAULT_WORKERS,
    executor: str = "process",
    scheduler: str | None = None,
    progress: StudyProgress | None = None,
) -> Exploration:
    """Run ``replications`` of each point of a ``design`` over ``factors`` and estimate each
    outcome at every point (see the module's docstring).

    ``factors``: specifications (``PATH=LOW:HIGH``, ``PATH=LOW..HIGH``, ``PATH=[A,B]``, a
    declared lever's name; ``scenario=[a.yaml,b.yaml]`` for whole files), ``Factor``s, or a
    SALib problem dict. ``n``: points (LHS, Sobol', Halton) or trajectories (Morris); ``levels``:
    values per continuous factor of a full factorial. ``outcomes``: expressions of
    ``sim.analysis.outcomes`` or ``Outcome``s. Costs points x ``replications`` runs.
    """
    if replications < 1 or chunk_size < 1 or workers < 1:
        raise ResultsError("replications, chunk_size and workers must each be at least 1")
    refuse_unguarded_main(executor, workers, scheduler)
    chosen = parse_factors(factors, file, lever_file)
    bases = _bases(file, chosen, overrides)
    chosen = resolve_factors(chosen, bases)
    first = next(iter(bases.values()))
    parsed = parse_outcomes(outcomes, first, file)
    for name, scenario in bases.items():
        parse_outcomes(outcomes, scenario, name)
    study_seed = first.seed if seed is None else seed
    unit = unit_design(design, chosen, n, Streams(study_seed, 0).get("explore", "design"), levels)
    table = experiments(chosen, unit)
    paths = [f.path for f in chosen if f.path != FILE_FACTOR]
    bases = {name: with_fixed(s, paths) for name, s in bases.items()}
    plan = {
        "design": design,
        "n": n,
        "levels": levels,
        "replications": replications,
        "chunk_size": chunk_size,
        "seed": study_seed,
        "factors": salib_problem(chosen),
        "outcomes": [o.text for o in parsed],
        "models": [model_hash(s) for s in bases.values()],
        "points_sha256": hashlib.sha256(table.to_csv(index=False).encode()).hexdigest(),
    }
    study = _Study(Path(out) if out is not None else None, chosen, table, unit, bases, plan, parsed)
    if study.folder is not None and _open(study, file, overrides) == "complete":
        return load_exploration(study.folder)
    values = _run(study, progress or StudyProgress(), (workers, executor, scheduler))
    result = _tables(study, values)
    if study.folder is not None:
        _finish(study, result)
    return result


@dataclass(frozen=True)
class _Study:
    """What an explore study runs: its folder (None: kept in memory), factors, design (the
    experiments table and its unit-cube points), the scenario of each file, plan and outcomes."""

    folder: Path | None
    factors: list[Factor]
    table: pd.DataFrame
    unit: np.ndarray
    bases: dict[str, Scenario]
    plan: dict[str, Any]
    outcomes: list[Outcome]


def _chunk_path(folder: Path, point: int, start: int) -> Path:
    return folder / CHUNKS / f"{point:06d}-{start:09d}.parquet"


def _read_chunk(path: Path, rows: int, outcomes: Sequence[Outcome]) -> np.ndarray:
    """A kept task's values (rows, outcomes), every page checked; damage names the file."""
    try:
        table = pq.read_table(path, page_checksum_verification=True)
        values = np.column_stack([table[o.text].to_numpy() for o in outcomes])
    except Exception as exc:  # pyarrow raises several types for damaged files
        reason = " ".join(str(exc).split())
        raise ResultsError(f"{path}: corrupted chunk ({reason}); delete it and run again") from None
    if values.shape != (rows, len(outcomes)):
        raise ResultsError(f"{path}: holds {len(values)} replications, expected {rows}; delete it")
    return values


def _run(study: _Study, progress: StudyProgress, where: tuple) -> np.ndarray:
    """Every point's values, shape (points, replications, outcomes): kept tasks are read, the
    others run on the executor and are kept as each finishes."""
    plan, folder = study.plan, study.folder
    replications, size = plan["replications"], plan["chunk_size"]
    values = np.full((len(study.table), replications, len(study.outcomes)), np.nan)
    posteriors = {name: posterior_of(base) for name, base in study.bases.items()}
    tasks = []
    for point, row in enumerate(study.table.to_dict("records")):
        name = _point_file(study.factors, row, next(iter(study.bases)))
        for start in range(0, replications, size):
            stop = min(start + size, replications)
            kept = None if folder is None else _chunk_path(folder, point, start)
            if kept is not None and kept.exists():
                values[point, start:stop] = _read_chunk(kept, stop - start, study.outcomes)
                continue
            point_values = _point_values(study.factors, row)
            tasks.append(
                (
                    study.bases[name],
                    point_values,
                    point,
                    plan["seed"],
                    start,
                    stop,
                    study.outcomes,
                    posteriors[name],
                )
            )
    total = values.shape[0] * replications
    progress.start(total, total - sum(task[5] - task[4] for task in tasks))
    with make_executor(where[1], where[0], where[2]) as pool:
        for point, start, block in pool.imap(evaluate_task, tasks):
            values[point, start : start + len(block)] = block
            if folder is not None:
                columns = {o.text: block[:, k] for k, o in enumerate(study.outcomes)}
                atomic_write_bytes(
                    _chunk_path(folder, point, start), parquet_bytes(pa.table(columns))
                )
            progress.advance(len(block))
    return values


def _tables(study: _Study, values: np.ndarray) -> Exploration:
    """The experiments, outcomes and runs tables (and Morris indices) of finished values."""
    points, replications, _ = values.shape
    runs = pd.DataFrame(
        {
            "point": np.repeat(np.arange(points, dtype=np.int64), replications),
            "replication": np.tile(np.arange(replications, dtype=np.int64), points),
        }
    )
    rows = []
    for k, outcome in enumerate(study.outcomes):
        runs[outcome.text] = values[:, :, k].ravel()
        rows += [{"point": p, **summarize(outcome, values[p, :, k])} for p in range(points)]
    table = pd.DataFrame(rows).drop(columns="probability").sort_values(["point"], kind="stable")
    morris = None
    if study.plan["design"] == "morris":
        with np.errstate(all="ignore"):
            means = np.nanmean(values, axis=1)
        rng = Streams(study.plan["seed"], 0).get("explore", "morris")
        names = [o.text for o in study.outcomes]
        morris = morris_indices(study.factors, study.unit, means, names, rng)
    problem = salib_problem(study.factors)
    return Exploration(
        study.folder, study.table, table.reset_index(drop=True), runs, problem, morris
    )


def _plain(plan: Mapping[str, Any]) -> Any:
    """The plan as JSON would give it back (tuples as lists), to compare with a manifest's."""
    return json.loads(json.dumps(plan, default=str))


def _by_content(plan: Any) -> Any:
    """A manifest's plan with its models as a list of hashes: an older folder named each by
    its file's path as typed, so that the same study from another directory looked like
    another one."""
    if isinstance(plan, dict) and isinstance(plan.get("models"), dict):
        return {**plan, "models": list(plan["models"].values())}
    return plan


def _open(study: _Study, file: str | Path, overrides: Sequence[str]) -> str:
    """Start the study's folder, or check that it holds this same study; its status. A new
    folder of one scenario file keeps that scenario (``keep_copies``), so that moved, it is
    resumed or run again from ``OUT/scenario.yaml``."""
    folder = study.folder
    if folder.exists() and not folder.is_dir():
        raise ResultsError(f"{folder}: is a file, not a folder; choose another --out")
    if (folder / "manifest.json").exists():
        old = read_manifest(folder)
        if old.get("kind") != "explore" or _by_content(old.get("plan")) != _plain(study.plan):
            raise ResultsError(
                f"{folder}: holds another study (other design, factors, outcomes, seed or "
                "scenario); refusing to mix them: choose another --out"
            )
        return old.get("status", "running")
    if folder.exists() and any(folder.iterdir()):
        raise ResultsError(f"{folder}: already exists and is not empty; choose another --out")
    only = next(iter(study.bases.values())) if len(study.bases) == 1 else None
    kept = {} if only is None else keep_copies(folder, only, file)
    write_manifest(
        folder,
        {
            "kind": "explore",
            "status": "running",
            "plan": _plain(study.plan),
            "scenario_file": str(file),
            "overrides": list(overrides),
            "outcomes": [
                {"outcome": o.text, "label": o.label, "kind": o.kind} for o in study.outcomes
            ],
            "common_random_numbers": True,
            **kept,
            "package_version": PACKAGE_VERSION,
            "git_commit": git_commit(),
            "started_utc": datetime.now(UTC).isoformat(),
        },
    )
    return "running"


TABLES = ("experiments", "outcomes", "runs")


def _finish(study: _Study, result: Exploration) -> None:
    """Write the tables, the SALib problem and the manifest marked complete; drop the chunks."""
    folder = study.folder
    for name in TABLES:
        write_table(getattr(result, name), folder, name)
    if result.morris is not None:
        write_table(result.morris, folder, "morris")
    text = json.dumps(result.problem, indent=2, default=str) + "\n"
    atomic_write_bytes(folder / "problem.json", text.encode("utf-8"))
    manifest = read_manifest(folder)
    manifest.update(
        status="complete",
        points=len(result.experiments),
        tables=[f"{name}.parquet" for name in TABLES],
        finished_utc=datetime.now(UTC).isoformat(),
    )
    write_manifest(folder, manifest)
    for path in (folder / CHUNKS).glob("*.parquet"):
        path.unlink()
    if (folder / CHUNKS).is_dir():
        (folder / CHUNKS).rmdir()


def load_exploration(folder: str | Path) -> Exploration:
    """A finished explore study's tables from its folder."""
    folder = Path(folder)
    manifest = read_manifest(folder)
    if manifest.get("kind") != "explore" or manifest.get("status") != "complete":
        raise ResultsError(f"{folder}: not a finished explore study")
    tables = {name: pd.read_parquet(folder / f"{name}.parquet") for name in TABLES}
    morris = folder / "morris.parquet"
    problem = json.loads((folder / "problem.json").read_text(encoding="utf-8"))
    return Exploration(
        folder,
        **tables,
        problem=problem,
        morris=pd.read_parquet(morris) if morris.exists() else None,
    )
