"""Comparing settings with common random numbers, and sweeping levers over a grid.

Every setting runs with the same root seed, so replication ``k`` of every setting draws the same
numbers for the same purpose (``sim.model.rng.Streams``): differences between settings are paired, and
their confidence intervals come from the per-replication differences. Each setting is an ordinary
study (``sim.study.montecarlo.run_study``) in its own subfolder, so executors, progress and resume work
as for ``sim run``. The folder also holds ``comparison.parquet``/``.csv`` (``sweep.*`` for a sweep),
``manifest.json`` and ``models/`` (``sim.study.folder.keep_models``: a copy of each scenario file, so
that the folder can move and still be resumed and run again).

    >>> from sim.analysis.compare import compare, sweep
    >>> compare("scenarios/april-2024.yaml", ["strong: restrains[us>israel].pressure=1"], n=1000)
    >>> sweep("scenarios/april-2024.yaml", ["restrains[us>israel].pressure=0:1:5"], n=1000)
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.outcomes import Outcome, OutcomeError, estimate, parse_outcome, parse_outcomes
from sim.scenario.levers import MAX_LEVER_STEPS, Lever, load_with_overrides
from sim.scenario.loading import load_scenario
from sim.scenario.schema import Scenario
from sim.study import PACKAGE_VERSION
from sim.study.executors import DEFAULT_WORKERS
from sim.study.folder import MODELS, keep_models
from sim.study.guard import refuse_unguarded_main
from sim.study.montecarlo import default_folder, run_study
from sim.study.results import (
    ResultsError,
    atomic_write_bytes,
    git_commit,
    write_manifest,
)
from sim.study.summary import t_half_width
from sim.study.tables import write_csv_safely

__all__ = ["DEFAULT_OUTCOMES", "Lever", "Setting", "compare", "outcome_indicator", "sweep"]

DEFAULT_OUTCOMES = ("rung>=3", "rung>=4", "rung>=5", "rung>=6", "strike:israel>iran>=3")
"""Direct strike on a homeland, major strike, strategic strikes, regional war, and Israel striking
Iran's homeland (the step US pressure on Israel can act on)."""

MAX_SWEEP_POINTS = MAX_LEVER_STEPS
"""Most grid points a sweep runs: each is a study folder of its own (``sim explore`` samples
larger spaces)."""


def outcome_label(outcome: str | Outcome) -> str:
    """Words for an outcome, for tables: ``rung>=6`` -> ``P(regional war)``."""
    try:
        return parse_outcome(outcome).label
    except OutcomeError:
        return f"P({outcome})"


def outcome_indicator(
    runs: pd.DataFrame, outcome: str | Outcome, events: pd.DataFrame | None = None
) -> np.ndarray:
    """Per-replication values of an outcome (0/1 for binary ones), in replication order.

    ``rung>=R``: the run reached rung R. ``strike:A>B>=R``: A struck B at rung R or higher. Every
    form of ``sim.analysis.outcomes``; ``events`` are needed by those the runs table lacks.
    """
    return parse_outcome(outcome).values(runs, events)


@dataclass(frozen=True)
class Setting:
    """A named scenario setting: a file and overrides by path (aliases allowed)."""

    name: str
    file: Path
    overrides: tuple[str, ...] = field(default_factory=tuple)
    origins: tuple[str, ...] = field(default_factory=tuple)
    """Where each override came from, for error messages (``--set`` when empty)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "file", Path(self.file))  # a str from Python callers too

    def origin_of_each(self) -> tuple[str, ...]:
        """One origin per override."""
        return self.origins or ("--set",) * len(self.overrides)


def parse_variant(text: str, file: str | Path) -> Setting:
    """``"NAME: PATH=VALUE, PATH=VALUE"`` -> a Setting of ``file`` with those overrides."""
    name, sep, assignments = text.partition(":")
    if not sep or not name.strip() or "=" in name:
        raise ResultsError(f"variant {text!r}: expected 'NAME: PATH=VALUE, PATH=VALUE'")
    overrides = tuple(a.strip() for a in assignments.split(",") if a.strip())
    origin = f"--variant {name.strip()}:"
    return Setting(name.strip(), Path(file), overrides, (origin,) * len(overrides))


def _settings(
    base: str | Path | Sequence[Setting | str | Path],
    variants: Sequence[str] | Mapping[str, Any],
    common: Sequence[str],
) -> list[Setting]:
    """The settings to compare: files or Settings, then variants of the first file."""
    items = [base] if isinstance(base, str | Path) else list(base)
    settings = [s if isinstance(s, Setting) else Setting(Path(s).stem, Path(s)) for s in items]
    if not settings:
        raise ResultsError("compare needs a scenario file")
    first = settings[0].file
    if isinstance(variants, Mapping):
        settings += [
            Setting(
                name,
                first,
                tuple(f"{p}={v}" for p, v in dict(values).items()),
                (f"--variant {name}:",) * len(values),
            )
            for name, values in variants.items()
        ]
    else:
        settings += [parse_variant(text, first) for text in variants]
    if len(settings) < 2 or len({s.name for s in settings}) != len(settings):
        raise ResultsError("compare needs two or more settings with distinct names")
    for setting in settings:
        check_setting_name(setting.name)
    return [
        Setting(
            s.name,
            s.file,
            (*common, *s.overrides),
            ("--set",) * len(common) + s.origin_of_each(),
        )
        for s in settings
    ]


def check_setting_name(name: str) -> None:
    """Refuse a setting name that is not a plain folder name: each setting's study is written to
    ``OUT/NAME``, so a separator, ``..`` or an absolute name would write outside ``OUT``, and
    ``models`` would mix a study with the scenario files' copies (``MODELS``)."""
    if name in ("", ".") or ".." in name or any(c in name for c in "/\\\0"):
        raise ResultsError(
            f"setting name {name!r}: a name becomes a folder below --out; use no '/', '\\', "
            "'..' or absolute names"
        )
    if name == MODELS:
        raise ResultsError(
            f"setting name {name!r}: {MODELS}/ below --out keeps the scenario files' copies; "
            "choose another name"
        )


def paired_difference(a: np.ndarray, b: np.ndarray, confidence: float = 0.95) -> dict[str, float]:
    """Mean of ``b - a`` over paired replications, with a Student-t CI, and what pairing saved.

    ``independent_variance`` is the variance the difference of the two means would have with
    independent streams, var(a)/n + var(b)/n (p_a(1-p_a)/n + p_b(1-p_b)/n for 0/1 outcomes);
    ``paired_variance`` is the variance it has, var(b - a)/n; ``variance_saved`` is the share of
    the former that pairing removed. Pairs where either value is NaN (an undefined ratio) are
    left out.
    """
    both = np.isfinite(a) & np.isfinite(b)
    a, b = a[both], b[both]
    d, n = b - a, len(a)
    mean = float(d.mean())
    sd = float(d.std(ddof=1)) if n > 1 else np.nan
    half = t_half_width(sd, n, confidence)
    independent = float(a.var() + b.var()) / n if n else np.nan
    paired = sd**2 / n
    saved = 1 - paired / independent if independent > 0 else np.nan
    return {
        "difference": mean,
        "diff_ci_low": mean - half,
        "diff_ci_high": mean + half,
        "paired_variance": paired,
        "independent_variance": independent,
        # With no paired variance (a setting against itself, the baseline row) the ratio is
        # undefined, not infinite: left blank; variance_saved states the gain.
        "variance_ratio": independent / paired if paired > 0 else np.nan,
        "variance_saved": saved,
    }


def write_table(table: pd.DataFrame, folder: Path, stem: str) -> None:
    """The table as Parquet and CSV, each written atomically."""
    atomic_write_bytes(folder / f"{stem}.parquet", table.to_parquet(index=False))
    write_csv_safely(table, folder / f"{stem}.csv")


def check_outcomes(
    outcomes: Sequence[str | Outcome], scenario: Scenario, source: str | Path
) -> list[Outcome]:
    """The outcomes parsed against ``scenario``: an unknown form, or an actor or layer it does
    not have, is refused (a misspelt name would otherwise be an outcome that never happens)."""
    return parse_outcomes(outcomes, scenario, source)


def _check(
    settings: Sequence[Setting], outcomes: Sequence[str | Outcome]
) -> dict[str, list[Outcome]]:
    """Each setting's outcomes (its horizon may differ), refusing an unknown outcome or a bad
    override before any setting runs."""
    parsed = {}
    for setting in settings:
        scenario = load_with_overrides(setting.file, setting.overrides, setting.origin_of_each())
        parsed[setting.name] = check_outcomes(outcomes, scenario, setting.file)
    return parsed


def outcome_values(results: Any, outcomes: Sequence[Outcome]) -> dict[str, np.ndarray]:
    """Each outcome's per-replication values in a finished study (its events are read only when
    an outcome needs them)."""
    events = results.events if any(o.needs_events for o in outcomes) else None
    return {o.text: o.values(results.runs, events) for o in outcomes}


def summarize(outcome: Outcome, values: np.ndarray) -> dict[str, Any]:
    """The outcome's estimate with its 95% interval, named, with the share censored; for a binary
    outcome the estimate is also given as ``probability`` (NaN for a numeric one)."""
    row = {"outcome": outcome.text, "label": outcome.label, "kind": outcome.kind}
    row |= estimate(values, outcome.kind)
    row["probability"] = row["estimate"] if outcome.kind == "binary" else math.nan
    row["censored"] = outcome.censored(values)
    return row


def _run_setting(setting: Setting, folder: Path, n: int, seed: int, options: Mapping) -> Any:
    """One setting's study in ``folder``, resumed if started (``run_study`` refuses another n)."""
    started = (folder / "manifest.json").exists()
    return run_study(
        setting.file,
        n=n,
        out=folder,
        seed=seed,
        overrides=setting.overrides,
        resume=started,
        **options,
    )


def compare(
    settings: str | Path | Sequence[Setting | str | Path],
    variants: Sequence[str] | Mapping[str, Any] = (),
    *,
    n: int = 1000,
    out: str | Path | None = None,
    outcomes: Sequence[str | Outcome] = DEFAULT_OUTCOMES,
    seed: int | None = None,
    overrides: Sequence[str] = (),
    on_setting: Callable[[Setting], Any] | None = None,
    kind: str = "comparison",
    **study_options: Any,
) -> pd.DataFrame:
    """Run every setting with common random numbers; one row per setting and outcome.

    ``settings``: a scenario file, or a list of files and ``Setting``s; ``variants``: settings of
    the first file, as ``"NAME: PATH=VALUE, ..."`` strings or ``{NAME: {PATH: VALUE}}``;
    ``overrides`` apply to every setting; ``outcomes``: expressions of ``sim.analysis.outcomes``
    or ``Outcome``s. The first setting is the baseline: each row gives the setting's estimate (a
    probability with a Wilson 95% CI, or a mean with a t 95% CI) and its paired difference from
    the baseline (t 95% CI) with the variance pairing saved. ``study_options`` go to ``run_study`` (workers, executor ...).
    """
    study_options.setdefault("workers", DEFAULT_WORKERS)
    refuse_unguarded_main(
        study_options.get("executor", "process"),
        study_options["workers"],
        study_options.get("scheduler"),
    )
    chosen = _settings(settings, variants, overrides)
    folder = Path(out) if out is not None else default_folder(f"compare-{chosen[0].file.stem}")
    common_seed = seed if seed is not None else load_scenario(chosen[0].file).seed
    parsed = _check(chosen, outcomes)
    models = keep_models(folder, [s.file for s in chosen])
    values, summaries, hashes = {}, {}, {}
    for setting in chosen:
        if on_setting:
            on_setting(setting)
        results = _run_setting(setting, folder / setting.name, n, common_seed, study_options)
        values[setting.name] = outcome_values(results, parsed[setting.name])
        summaries[setting.name] = [
            summarize(o, values[setting.name][o.text]) for o in parsed[setting.name]
        ]
        hashes[setting.name] = results.manifest["scenario_sha256"]
    table = _table(chosen, values, summaries)
    write_table(table, folder, "comparison")
    names = [o.text for o in parsed[chosen[0].name]]
    _write_manifest(folder, kind, chosen, (hashes, models), n, common_seed, names)
    return table


def _table(
    settings: Sequence[Setting],
    values: Mapping[str, Mapping[str, np.ndarray]],
    summaries: Mapping[str, Sequence[Mapping[str, Any]]],
) -> pd.DataFrame:
    """One row per setting and outcome: its estimate and the paired difference from the first."""
    baseline = values[settings[0].name]
    rows = []
    for setting in settings:
        for summary in summaries[setting.name]:
            outcome = summary["outcome"]
            rows.append(
                {
                    "setting": setting.name,
                    **summary,
                    "overrides": " ".join(setting.overrides),
                    **paired_difference(baseline[outcome], values[setting.name][outcome]),
                }
            )
    return pd.DataFrame(rows)


def _write_manifest(
    folder: Path,
    kind: str,
    settings: Sequence[Setting],
    kept: tuple[Mapping[str, str], Mapping[str, str]],
    n: int,
    seed: int,
    outcomes: Sequence[str],
) -> None:
    """What was compared, how, with which versions (the settings' own manifests say more);
    ``kept``: each setting's model hash, and each file's copy (``keep_models``)."""
    hashes, models = kept
    write_manifest(
        folder,
        {
            "kind": kind,
            "status": "complete",
            "n_per_setting": n,
            "seed": seed,
            "common_random_numbers": True,
            "outcomes": list(outcomes),
            "baseline": settings[0].name,
            "settings": [
                {
                    "name": s.name,
                    "file": str(s.file),
                    "model": models[str(s.file)],
                    "overrides": list(s.overrides),
                    "scenario_sha256": hashes[s.name],
                    "folder": s.name,
                }
                for s in settings
            ],
            "package_version": PACKAGE_VERSION,
            "git_commit": git_commit(),
            "finished_utc": datetime.now(UTC).isoformat(),
        },
    )


def sweep(
    file: str | Path,
    levers: Sequence[Lever | str],
    *,
    n: int = 1000,
    out: str | Path | None = None,
    outcomes: Sequence[str | Outcome] = DEFAULT_OUTCOMES,
    overrides: Sequence[str] = (),
    **options: Any,
) -> pd.DataFrame:
    """Every grid point of one or two levers, with common random numbers across points.

    ``levers``: ``Lever``s or ``"PATH=START:STOP:STEPS"`` strings (declared lever names allowed).
    One row per point and outcome: the lever values (one column per lever, named by its path),
    the estimate with its 95% CI, and the paired difference from the first grid point. At most
    ``MAX_SWEEP_POINTS`` grid points; the same lever twice is refused before anything runs.
    """
    scenario = load_scenario(file)
    parsed = [
        (lever if isinstance(lever, Lever) else Lever.parse(lever, scenario.levers)).resolved(
            scenario
        )
        for lever in levers
    ]
    _check_levers(parsed)
    points = list(itertools.product(*(lever.values for lever in parsed)))
    settings = [
        Setting(
            f"point-{i:03d}",
            Path(file),
            tuple(f"{lever.path}={value}" for lever, value in zip(parsed, point, strict=True)),
            ("--lever",) * len(parsed),
        )
        for i, point in enumerate(points)
    ]
    folder = Path(out) if out is not None else default_folder(f"sweep-{Path(file).stem}")
    table = compare(
        settings, n=n, out=folder, outcomes=outcomes, overrides=overrides, kind="sweep", **options
    )
    for index, lever in enumerate(parsed):
        by_setting = {s.name: point[index] for s, point in zip(settings, points, strict=True)}
        table.insert(index, lever.path, table["setting"].map(by_setting))
    write_table(table, folder, "sweep")
    return table


def _check_levers(levers: Sequence[Lever]) -> None:
    """One or two distinct levers of at most ``MAX_SWEEP_POINTS`` grid points in all."""
    if not 1 <= len(levers) <= 2:
        raise ResultsError("sweep takes one or two levers")
    paths = [lever.path for lever in levers]
    if len(set(paths)) < len(paths):
        raise ResultsError(f"lever {levers[0].label!r} given twice (as --lever {paths[0]})")
    size = math.prod(len(lever.values) for lever in levers)
    if size > MAX_SWEEP_POINTS:
        raise ResultsError(
            f"the grid has {size:,} points; a sweep runs at most {MAX_SWEEP_POINTS:,} "
            "(each a study of its own): use sim explore for larger designs"
        )
