"""Global sensitivity: which uncertain value drives an outcome (Sobol indices with bootstrap CIs).

Points come from a scrambled Sobol' sequence (Saltelli's A, B and A_B matrices) and the indices
from ``scipy.stats.sobol_indices`` (Saltelli 2010 first order, Jansen total order). One evaluation
of the model at a point is the mean of each outcome's indicator over replications ``0..R-1`` of
the study seed: common random numbers, so two points differ by their parameters, not by chance.
Bootstrap 95% intervals (percentile, resampling the base sample's rows) use a generator from
``sim.model.rng`` so that they are reproducible; points are evaluated on any executor. With ``out``,
each finished block of points is kept (``out/blocks/KEY/``, KEY naming the model, the
uncertain paths, the points, replications and seed; the outcomes are in each block's name), so
an interrupted study run again with the same ``out`` only evaluates what is missing, and its
indices equal an uninterrupted study's. A finished study removes its blocks: its evaluations
table holds the same numbers. The folder keeps the model it ran (``scenario.yaml`` and the
posterior copy, ``sim.study.folder.keep_copies``), so that moved, it is resumed or run again
from ``OUT/scenario.yaml`` with the same blocks, and its figure names its inputs.

    >>> from sim.analysis.sensitivity import sobol
    >>> sobol("scenarios/april-2024.yaml", outcomes=["rung>=6"], n=64, replications=48)
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import warnings
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from sim.analysis.compare import check_outcomes, write_table
from sim.analysis.explore import replication_values
from sim.analysis.outcomes import Outcome
from sim.model.rng import Streams
from sim.scenario.levers import (
    Uncertain,
    check_value,
    declared_levers,
    load_with_overrides,
    resolve_path,
)
from sim.scenario.loading import load_scenario
from sim.scenario.parameters import PosteriorSample, posterior_of, scenario_with, with_fixed
from sim.scenario.schema import Scenario
from sim.study import PACKAGE_VERSION
from sim.study.chunks import parquet_bytes
from sim.study.executors import DEFAULT_WORKERS, make_executor
from sim.study.folder import keep_copies
from sim.study.guard import refuse_unguarded_main
from sim.study.montecarlo import model_hash
from sim.study.results import ResultsError, atomic_write_bytes, git_commit, write_manifest

__all__ = ["DEFAULT_OUTCOMES", "Uncertain", "function_sobol", "sobol"]

DEFAULT_OUTCOMES = ("rung>=3", "rung>=5", "rung>=6", "strike:israel>iran>=3")
DEFAULT_BASE_SAMPLES = 128
DEFAULT_REPLICATIONS = 48
POINTS_PER_TASK = 8
BOOTSTRAP_RESAMPLES = 999
MIN_RELIABLE_BASE_SAMPLES = 64
"""Below this base sample size the Saltelli estimators are too noisy to read: N = 16 gave a
first-order index of 1.05 [0.60, 1.59] (issue 13 item 9), outside the possible 0 to 1."""


class SmallSampleWarning(UserWarning):
    """A Sobol base sample too small for its indices to be read."""


def saltelli_points(
    bounds: Sequence[tuple[float, float]], n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """All points to evaluate, shape (d, n * (d + 2)): A, then B, then each A_B^(i) (A with
    column i from B); and the (2, d, n) array of A and B."""
    d = len(bounds)
    if n < 2 or n & (n - 1):
        raise ResultsError(f"the Sobol base sample size must be a power of two, got {n}")
    if n < MIN_RELIABLE_BASE_SAMPLES:
        warnings.warn(
            f"Sobol base sample N = {n} is too small: indices may fall outside 0-1 and their "
            f"intervals are wide; use N >= {MIN_RELIABLE_BASE_SAMPLES} (--base-samples)",
            SmallSampleWarning,
            stacklevel=3,
        )
    from scipy import stats  # here, not with the command line (half a second)

    unit = stats.qmc.Sobol(d=2 * d, rng=rng, bits=64).random(n).T.reshape(2, d, n)
    low, high = np.array(bounds, dtype=float).T
    a_b = low[None, :, None] + unit * (high - low)[None, :, None]
    a, b = a_b
    mixed = [np.where(np.arange(d)[:, None] == i, b, a) for i in range(d)]
    return np.concatenate([a, b, *mixed], axis=1), a_b


def _split(values: np.ndarray, n: int, d: int) -> dict[str, np.ndarray]:
    """Model outputs (s, n * (d + 2)) -> scipy's ``f_A`` (s, n), ``f_B`` (s, n), ``f_AB`` (d, s, n)."""
    s = values.shape[0]
    f_ab = values[:, 2 * n :].reshape(s, d, n).transpose(1, 0, 2)
    return {"f_A": values[:, :n], "f_B": values[:, n : 2 * n], "f_AB": f_ab}


def _indices(f: Mapping[str, np.ndarray], idx: np.ndarray | None = None) -> np.ndarray:
    """First and total indices, shape (2, s, d), of the evaluations (rows ``idx`` of the sample)."""
    if idx is not None:
        f = {"f_A": f["f_A"][:, idx], "f_B": f["f_B"][:, idx], "f_AB": f["f_AB"][..., idx]}
    from scipy import stats

    result = stats.sobol_indices(func=dict(f), n=f["f_A"].shape[1])
    s, d = f["f_A"].shape[0], f["f_AB"].shape[0]
    return np.stack([result.first_order.reshape(s, d), result.total_order.reshape(s, d)])


def indices_table(
    values: np.ndarray, n: int, names: Sequence[str], outputs: Sequence[str], seed: int
) -> pd.DataFrame:
    """Sobol indices with bootstrap 95% CIs from evaluations ordered as ``saltelli_points``;
    one row per output and input."""
    f = _split(np.atleast_2d(values), n, len(names))
    estimate = _indices(f)
    rng = Streams(seed, 0).get("sobol", "bootstrap")
    resampled = np.stack([_indices(f, rng.integers(0, n, n)) for _ in range(BOOTSTRAP_RESAMPLES)])
    low, high = np.percentile(resampled, [2.5, 97.5], axis=0)
    rows = []
    for k, output in enumerate(outputs):
        for j, name in enumerate(names):
            rows.append(
                {
                    "outcome": output,
                    "parameter": name,
                    "first_order": estimate[0, k, j],
                    "first_order_low": low[0, k, j],
                    "first_order_high": high[0, k, j],
                    "total": estimate[1, k, j],
                    "total_low": low[1, k, j],
                    "total_high": high[1, k, j],
                }
            )
    return pd.DataFrame(rows)


def function_sobol(
    func: Callable[[np.ndarray], np.ndarray],
    bounds: Sequence[tuple[float, float]],
    *,
    n: int,
    seed: int = 0,
    names: Sequence[str] | None = None,
    outputs: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Sobol indices of ``func`` (points (d, m) -> values (m,) or (s, m)) over independent uniform
    inputs in ``bounds``; ``n`` base samples (a power of two), ``n * (d + 2)`` evaluations."""
    points, _ = saltelli_points(bounds, n, Streams(seed, 0).get("sobol", "points"))
    values = np.atleast_2d(np.asarray(func(points), dtype=float))
    names = list(names or [f"x{i + 1}" for i in range(len(bounds))])
    outputs = list(outputs or [f"y{k + 1}" for k in range(values.shape[0])])
    return indices_table(values, n, names, outputs, seed)


def evaluate_points(
    scenario: Scenario,
    seed: int,
    replications: int,
    paths: Sequence[str],
    points: np.ndarray,
    outcomes: Sequence[Outcome],
    start: int,
    posterior: PosteriorSample | None = None,
) -> tuple[int, np.ndarray]:
    """Mean of each outcome over replications ``0..replications-1`` at each point (rows of
    ``points``); returns ``start`` (where the rows belong) and values of shape (rows, outcomes).
    ``posterior`` is the scenario's posterior sample, sent so that workers need no file. A mean
    leaves out runs where the outcome is undefined (a cost-exchange ratio without strikes)."""
    values = np.empty((len(points), len(outcomes)))
    for row, point in enumerate(points):
        setting = scenario_with(scenario, dict(zip(paths, map(float, point), strict=True)))
        runs = replication_values(setting, seed, 0, replications, outcomes, posterior)
        with np.errstate(all="ignore"):
            values[row] = np.nanmean(runs, axis=0)
    return start, values


def _uncertain(
    file: str | Path, uncertain: Sequence[Uncertain | str] | None, lever_file: str | Path | None
) -> list[Uncertain]:
    """The uncertain values: given, or every declared lever; aliases resolved, ranges checked."""
    named = declared_levers(file, lever_file)
    chosen = [Uncertain.parse(u, named) if isinstance(u, str) else u for u in uncertain or named]
    if not chosen:
        raise ResultsError(f"{file}: declares no levers; give --uncertain PATH=LOW:HIGH")
    scenario = load_scenario(file)
    resolved = []
    for u in chosen:
        path = resolve_path(scenario, u.path, f"--uncertain {u.path}")
        for value in (u.low, u.high):
            check_value(file, path, value, f"--uncertain {u.path}={u.low:g}:{u.high:g}")
        resolved.append(Uncertain(path, u.low, u.high, u.name or u.path))
    if len(resolved) < 2:
        raise ResultsError(
            f"Sobol indices need at least two uncertain values, got {len(resolved)} (one alone "
            "explains all the variance): add another --uncertain, or use sim sweep for one lever"
        )
    return resolved


def sobol(
    model: str | Path | Callable[[np.ndarray], np.ndarray],
    uncertain: Sequence[Any] | None = None,
    *,
    outcomes: Sequence[str] = DEFAULT_OUTCOMES,
    n: int = DEFAULT_BASE_SAMPLES,
    replications: int = DEFAULT_REPLICATIONS,
    seed: int | None = None,
    names: Sequence[str] | None = None,
    out: str | Path | None = None,
    lever_file: str | Path | None = None,
    overrides: Sequence[str] = (),
    workers: int = DEFAULT_WORKERS,
    executor: str = "process",
    scheduler: str | None = None,
    progress: Any = None,
) -> pd.DataFrame:
    """Sobol indices, first order and total with bootstrap 95% CIs; one row per outcome and input.

    ``model`` is a scenario file (``uncertain``: ``PATH=LOW:HIGH`` strings, ``Uncertain``s or
    declared lever names; default every declared lever) or a function of points (d, m) -> values
    (``uncertain``: its (low, high) bounds). A scenario costs ``n * (d + 2) * replications`` runs.
    """
    if callable(model):
        return function_sobol(model, uncertain or [], n=n, seed=seed or 0, names=names)
    refuse_unguarded_main(executor, workers, scheduler)
    chosen = _uncertain(model, uncertain, lever_file)
    base = with_fixed(load_with_overrides(model, overrides), [u.path for u in chosen])
    parsed = check_outcomes(outcomes, base, model)
    outcomes = [o.text for o in parsed]
    study_seed = base.seed if seed is None else seed
    points, _ = saltelli_points(
        [(u.low, u.high) for u in chosen], n, Streams(study_seed, 0).get("sobol", "points")
    )
    paths = [u.path for u in chosen]
    blocks = (
        None
        if out is None
        else _block_folder(Path(out), base, study_seed, replications, paths, points)
    )
    kept = {} if out is None else keep_copies(Path(out), base, model)
    values = _evaluate(
        base,
        study_seed,
        replications,
        chosen,
        points.T,
        parsed,
        progress,
        (workers, executor, scheduler),
        blocks,
    )
    table = indices_table(values.T, n, [u.label for u in chosen], list(outcomes), study_seed)
    table.insert(1, "label", table["outcome"].map({o.text: o.label for o in parsed}))
    table.insert(3, "path", table["parameter"].map({u.label: u.path for u in chosen}))
    if out is not None:
        _save(
            Path(out),
            table,
            points.T,
            values,
            chosen,
            outcomes,
            model,
            overrides,
            n=n,
            replications=replications,
            seed=study_seed,
            **kept,
        )
        _remove_blocks(blocks, outcomes)  # evaluations.parquet holds the same numbers
    return table


def _remove_blocks(blocks: Path, outcomes: Sequence[str]) -> None:
    """Remove a finished study's kept blocks, and their folders once empty: blocks of a study
    with other outcomes (same key, other names) or another key stay where they are."""
    for path in blocks.glob(f"*-{_outcomes_tag(outcomes)}.parquet"):
        path.unlink()
    for folder in (blocks, blocks.parent):
        with contextlib.suppress(OSError):  # not empty, or already gone
            folder.rmdir()


def _block_folder(
    out: Path,
    base: Scenario,
    seed: int,
    replications: int,
    paths: Sequence[str],
    points: np.ndarray,
) -> Path:
    """Where a study keeps its evaluated blocks: named by the SHA-256 of what decides their
    values (the model, the uncertain paths in order, every point, the replications and seed),
    so that blocks of another study in the same folder are never mixed in."""
    key = {
        "model": model_hash(base),
        "seed": seed,
        "replications": replications,
        "paths": list(paths),
        "points": hashlib.sha256(np.ascontiguousarray(points, dtype=float).tobytes()).hexdigest(),
    }
    return out / "blocks" / hashlib.sha256(json.dumps(key).encode()).hexdigest()[:16]


def _outcomes_tag(outcomes: Sequence[str]) -> str:
    """A short name for a list of outcomes, in block file names (the outcomes are their columns)."""
    return hashlib.sha256("\n".join(outcomes).encode()).hexdigest()[:8]


def _block_path(blocks: Path, start: int, outcomes: Sequence[str]) -> Path:
    """One block's file, named by its first point and its outcomes."""
    return blocks / f"{start:09d}-{_outcomes_tag(outcomes)}.parquet"


def _read_block(path: Path, rows: int, outcomes: Sequence[str]) -> np.ndarray:
    """A kept block's values (rows, outcomes), every page checked; damage names the file."""
    try:
        table = pq.read_table(path, page_checksum_verification=True)
        values = np.column_stack([table[o].to_numpy() for o in outcomes])
    except Exception as exc:  # pyarrow raises several types for damaged files
        reason = " ".join(str(exc).split())
        raise ResultsError(f"{path}: corrupted block ({reason}); delete it and run again") from None
    if values.shape != (rows, len(outcomes)):
        raise ResultsError(f"{path}: holds {len(values)} points, expected {rows}; delete it")
    return values


def _evaluate(
    base, seed, replications, chosen, points, outcomes, progress, where, blocks
) -> np.ndarray:
    """Every point's outcome means, shape (points, outcomes), computed on an executor. Blocks
    already kept in ``blocks`` (a folder, or None to keep nothing) are read instead of run, and
    each new block is kept as soon as it finishes."""
    paths, posterior = [u.path for u in chosen], posterior_of(base)
    names = [o.text for o in outcomes]
    values = np.empty((len(points), len(outcomes)))
    tasks = []
    for start in range(0, len(points), POINTS_PER_TASK):
        block = points[start : start + POINTS_PER_TASK]
        kept = None if blocks is None else _block_path(blocks, start, names)
        if kept is not None and kept.exists():
            values[start : start + len(block)] = _read_block(kept, len(block), names)
        else:
            tasks.append((base, seed, replications, paths, block, list(outcomes), start, posterior))
    if progress:
        done = len(points) - sum(len(task[4]) for task in tasks)
        progress.start(len(points) * replications, done * replications)
    with make_executor(where[1], where[0], where[2]) as pool:
        for start, block in pool.imap(evaluate_points, tasks):
            values[start : start + len(block)] = block
            if blocks is not None:
                table = pa.table({o: block[:, k] for k, o in enumerate(names)})
                atomic_write_bytes(_block_path(blocks, start, names), parquet_bytes(table))
            if progress:
                progress.advance(len(block) * replications)
    return values


def _save(folder, table, points, values, chosen, outcomes, model, overrides, **settings) -> None:
    """sobol.parquet/.csv, every evaluation (evaluations.parquet/.csv) and manifest.json (with
    the copies of the model ``keep_copies`` wrote, as ``settings["files"]``)."""
    folder.mkdir(parents=True, exist_ok=True)
    write_table(table, folder, "sobol")
    evaluations = pd.DataFrame(points, columns=[u.path for u in chosen])
    for k, outcome in enumerate(outcomes):
        evaluations[outcome] = values[:, k]
    write_table(evaluations, folder, "evaluations")
    write_manifest(
        folder,
        {
            "kind": "sensitivity",
            "status": "complete",
            "scenario_file": str(model),
            "overrides": list(overrides),
            "uncertain": [
                {"name": u.label, "path": u.path, "low": u.low, "high": u.high} for u in chosen
            ],
            "outcomes": list(outcomes),
            "base_samples": settings["n"],
            "replications_per_point": settings["replications"],
            "seed": settings["seed"],
            "common_random_numbers": True,
            "bootstrap_resamples": BOOTSTRAP_RESAMPLES,
            "files": settings["files"],
            "priors": settings["priors"],
            "package_version": PACKAGE_VERSION,
            "git_commit": git_commit(),
            "finished_utc": datetime.now(UTC).isoformat(),
        },
    )
