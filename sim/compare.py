"""Comparing settings with common random numbers, and sweeping levers over a grid.

Every setting runs with the same root seed, so replication ``k`` of every setting draws the same
numbers for the same purpose (``sim.rng.Streams``): differences between settings are paired, and
their confidence intervals come from the per-replication differences. Each setting is an ordinary
study (``sim.montecarlo.run_study``) in its own subfolder, so executors, progress and resume work
as for ``sim run``.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.montecarlo import run_study
from sim.results import ResultsError, atomic_write_bytes, wilson_interval
from sim.scenario import load_scenario
from sim.schema import LeverSpec

DEFAULT_OUTCOMES = ("rung>=3", "rung>=4", "rung>=5", "rung>=6", "strike:israel>iran>=3")
"""Direct strike on a homeland, major strike, strategic strikes, regional war, and Israel striking
Iran's homeland (the step US pressure on Israel can act on)."""

_RUNG = re.compile(r"^rung>=([0-6])$")
_STRIKE = re.compile(r"^strike:([a-z][a-z0-9_]*)>([a-z][a-z0-9_]*)>=([0-6])$")


def outcome_indicator(runs: pd.DataFrame, outcome: str) -> np.ndarray:
    """Per-replication 0/1 values of an outcome, in replication order.

    ``rung>=R``: the run reached rung R. ``strike:A>B>=R``: A struck B at rung R or higher.
    """
    runs = runs.sort_values("replication")
    if match := _RUNG.match(outcome):
        return (runs["max_rung"].to_numpy() >= int(match[1])).astype(float)
    if match := _STRIKE.match(outcome):
        attacker, target, rung = match[1], match[2], int(match[3])
        pattern = re.compile(rf"(?:^| ){attacker}>{target}:([0-6])")
        return np.array(
            [any(int(r) >= rung for r in pattern.findall(path)) for path in runs["path"]],
            dtype=float,
        )
    raise ResultsError(f"unknown outcome {outcome!r}: use rung>=R or strike:ATTACKER>TARGET>=R")


@dataclass(frozen=True)
class Setting:
    """A named scenario setting: a file and overrides by path."""

    name: str
    file: Path
    overrides: tuple[str, ...] = field(default_factory=tuple)


def parse_variant(text: str, file: Path) -> Setting:
    """``"NAME: PATH=VALUE, PATH=VALUE"`` -> a Setting of ``file`` with those overrides."""
    name, sep, assignments = text.partition(":")
    if not sep or not name.strip():
        raise ResultsError(f"variant {text!r}: expected 'NAME: PATH=VALUE, PATH=VALUE'")
    overrides = tuple(a.strip() for a in assignments.split(",") if a.strip())
    return Setting(name.strip(), file, overrides)


def paired_difference(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Mean of ``b - a`` with a Student-t CI from the paired replications, and the variance the
    difference would have had with independent streams, over the variance it has when paired."""
    d = b - a
    n = len(d)
    mean, sd = float(d.mean()), float(d.std(ddof=1)) if n > 1 else 0.0
    half = float(stats.t.ppf(0.5 + confidence / 2, n - 1) * sd / np.sqrt(n)) if n > 1 else np.nan
    independent = float(a.var(ddof=1) + b.var(ddof=1)) if n > 1 else np.nan
    paired = sd**2
    return {
        "difference": mean,
        "diff_ci_low": mean - half,
        "diff_ci_high": mean + half,
        "variance_ratio": independent / paired if paired > 0 else np.inf,
    }


def _probability_rows(indicator: np.ndarray) -> dict[str, float]:
    k, n = indicator.sum(), len(indicator)
    low, high = wilson_interval(np.array([k]), np.array([n]))
    return {"probability": k / n, "ci_low": float(low[0]), "ci_high": float(high[0]), "n": n}


def write_table(table: pd.DataFrame, folder: Path, stem: str) -> None:
    """The table as Parquet and CSV, each written atomically."""
    atomic_write_bytes(folder / f"{stem}.parquet", table.to_parquet(index=False))
    atomic_write_bytes(folder / f"{stem}.csv", table.to_csv(index=False).encode("utf-8"))


def compare(
    settings: Sequence[Setting],
    *,
    n: int,
    out: str | Path,
    outcomes: Sequence[str] = DEFAULT_OUTCOMES,
    seed: int | None = None,
    on_setting: Callable[[Setting], Any] | None = None,
    **study_options: Any,
) -> pd.DataFrame:
    """Run every setting with common random numbers; one row per setting and outcome.

    The first setting is the baseline; each row gives the setting's probability with a Wilson CI
    and its paired difference from the baseline with a t CI and the variance ratio the pairing won.
    """
    if len(settings) < 2 or len({s.name for s in settings}) != len(settings):
        raise ResultsError("compare needs two or more settings with distinct names")
    folder = Path(out)
    common_seed = seed if seed is not None else load_scenario(settings[0].file).seed
    indicators = {}
    for setting in settings:
        if on_setting:
            on_setting(setting)
        target = folder / setting.name
        results = run_study(
            setting.file,
            n=n,
            out=target,
            seed=common_seed,
            overrides=setting.overrides,
            resume=(target / "manifest.json").exists(),
            **study_options,
        )
        indicators[setting.name] = {o: outcome_indicator(results.runs, o) for o in outcomes}
    baseline = settings[0].name
    rows = []
    for setting in settings:
        for outcome in outcomes:
            values = indicators[setting.name][outcome]
            row = {
                "setting": setting.name,
                "outcome": outcome,
                "overrides": " ".join(setting.overrides),
                **_probability_rows(values),
            }
            row |= paired_difference(indicators[baseline][outcome], values)
            rows.append(row)
    table = pd.DataFrame(rows)
    write_table(table, folder, "comparison")
    return table


@dataclass(frozen=True)
class Lever:
    """A scenario value swept over a grid: ``path`` from ``start`` to ``stop`` in ``steps``."""

    path: str
    values: tuple[float, ...]

    @classmethod
    def parse(cls, text: str, named: Mapping[str, LeverSpec] | None = None) -> Lever:
        """``PATH=START:STOP:STEPS`` (e.g. ``relations.4.pressure=0:1:5``); PATH may be the name
        of a lever the scenario declares, and ``NAME`` alone sweeps its range in five steps."""
        named = named or {}
        if text in named:
            spec = named[text]
            return cls(spec.path, tuple(np.linspace(spec.low, spec.high, 5).round(12).tolist()))
        path, sep, grid = text.partition("=")
        path = named[path.strip()].path if path.strip() in named else path
        parts = grid.split(":")
        try:
            start, stop, steps = float(parts[0]), float(parts[1]), int(parts[2])
        except (ValueError, IndexError):
            raise ResultsError(f"lever {text!r}: expected PATH=START:STOP:STEPS") from None
        if not sep or steps < 1 or len(parts) != 3:
            raise ResultsError(f"lever {text!r}: expected PATH=START:STOP:STEPS, STEPS >= 1")
        return cls(path.strip(), tuple(np.linspace(start, stop, steps).round(12).tolist()))


def sweep(
    file: str | Path,
    levers: Sequence[Lever],
    *,
    n: int,
    out: str | Path,
    outcomes: Sequence[str] = DEFAULT_OUTCOMES,
    **options: Any,
) -> pd.DataFrame:
    """Every grid point of one or two levers, with common random numbers across points.

    One row per point and outcome: the lever values, the probability with a Wilson CI, and the
    paired difference from the first grid point with its CI.
    """
    if not 1 <= len(levers) <= 2:
        raise ResultsError("sweep takes one or two levers")
    points = list(itertools.product(*(lever.values for lever in levers)))
    settings = [
        Setting(
            f"point-{i:03d}",
            Path(file),
            tuple(f"{lever.path}={value}" for lever, value in zip(levers, point, strict=True)),
        )
        for i, point in enumerate(points)
    ]
    table = compare(settings, n=n, out=out, outcomes=outcomes, **options)
    for index, lever in enumerate(levers):
        by_setting = {s.name: point[index] for s, point in zip(settings, points, strict=True)}
        table.insert(index, lever.path, table["setting"].map(by_setting))
    write_table(table, Path(out), "sweep")
    return table
