"""``sim compare``, ``sim sweep`` and ``sim sensitivity``: restraint studies with common random
numbers, and which assumption drives an outcome."""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

import click
import numpy as np
import pandas as pd
from rich.table import Table

from sim.analysis.compare import DEFAULT_OUTCOMES, Setting, compare, parse_variant, sweep
from sim.analysis.outcomes import OUTCOME_SYNTAX
from sim.analysis.sensitivity import DEFAULT_BASE_SAMPLES, DEFAULT_REPLICATIONS
from sim.cli.support import (
    EXECUTOR_OPTION,
    WORKERS_OPTION,
    check_output_folder,
    percent,
    progress_bar,
    report_console,
    stderr,
    study_faults,
    user_errors,
)
from sim.scenario.levers import Lever, declared_levers

OUTCOME_HELP = (
    f"Outcome to report (repeatable): {OUTCOME_SYNTAX} (rung 3 is a direct strike on a homeland, "
    "5 strategic strikes, 6 regional war; see docs/comparing.md)."
)
OUTCOMES_OPTION = click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    help=OUTCOME_HELP + f" Default: {', '.join(DEFAULT_OUTCOMES)}.",
)
SET_OPTION = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a value in every setting, by path (relations by kind and actors): "
    "--set actors.iran.policy.self_restraint=0.5, "
    "--set 'restrains[us>israel].pressure=0.9' (repeatable).",
)
LEVER_FILE_OPTION = click.option(
    "--levers",
    "lever_file",
    type=click.Path(path_type=Path),
    help="A lever file (levers: {NAME: {path, low, high, meaning}}) adding to the scenario's own.",
)
SCHEDULER_OPTION = click.option(
    "--scheduler", help="Dask scheduler address (tcp://host:port); default a local one."
)


def _replications(api: Callable[..., Any], what: str):
    """``-n``, defaulting to what the Python function ``api`` does: one set of defaults."""
    default = inspect.signature(api).parameters["n"].default
    return click.option(
        "-n",
        "--replications",
        "n",
        type=click.IntRange(min=2),
        default=default,
        show_default=True,
        help=f"Replications per {what}.",
    )


def _out(what: str):
    return click.option(
        "--out", "-o", type=click.Path(path_type=Path), required=True, help=f"Folder for {what}."
    )


def _resumable(folder: Path) -> AbstractContextManager[None]:
    """Check that ``folder`` can be written; on Ctrl-C, a killed worker or a full disk, say
    that the same command with the same --out continues (exit status 130, or 1)."""
    check_output_folder(folder)
    return study_faults(folder, "run the same command again with the same --out to continue")


def _fmt(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float | np.floating) else str(value)


def _print(table: pd.DataFrame, columns: list[str], title: str) -> None:
    view = Table(title=title)
    for column in columns:
        view.add_column(column, justify="left" if column in {"setting", "label"} else "right")
    for row in table[columns].itertuples(index=False):
        view.add_row(*(_fmt(v) for v in row))
    report_console().print(view)


def _with_intervals(table: pd.DataFrame) -> pd.DataFrame:
    """Probability and difference columns as 'value [low, high]' text."""
    view = table.copy()
    estimates = view.estimate if "estimate" in view else view.probability
    view["P [95% CI]"] = [
        f"{p:.3f} [{lo:.3f}, {hi:.3f}]"
        for p, lo, hi in zip(estimates, view.ci_low, view.ci_high, strict=True)
    ]
    view["difference [95% CI]"] = [
        f"{d:+.3f} [{lo:+.3f}, {hi:+.3f}]"
        for d, lo, hi in zip(view.difference, view.diff_ci_low, view.diff_ci_high, strict=True)
    ]
    baseline = view.setting == view.setting.iloc[0]
    view["variance saved"] = [
        "-" if base or not np.isfinite(s) else percent(s)
        for base, s in zip(baseline, view.variance_saved, strict=True)
    ]
    return view


def _pairing_note(table: pd.DataFrame) -> str:
    """One line: how much variance pairing saved, over the rows that differ from the baseline."""
    rows = table[(table.setting != table.setting.iloc[0]) & (table.paired_variance > 0)]
    rows = rows[np.isfinite(rows.variance_saved)]
    if rows.empty:
        return "pairing: no setting differs from the baseline in any replication"
    saved = rows.variance_saved
    return (
        f"common random numbers removed {percent(saved.median())} (median; from "
        f"{percent(saved.min())} to {percent(saved.max())}) of the variance the differences "
        "would have with independent streams"
    )


@click.command("compare")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--variant",
    "variants",
    multiple=True,
    metavar="'NAME: PATH=VALUE, ...'",
    help="A setting of the first FILE with overrides (repeatable); aliases allowed.",
)
@_replications(compare, "setting")
@_out("one study per setting, comparison.parquet/.csv and manifest.json")
@OUTCOMES_OPTION
@SET_OPTION
@click.option(
    "--seed", type=click.IntRange(min=0), help="Common root seed (default: the first file's)."
)
@WORKERS_OPTION
@EXECUTOR_OPTION
@SCHEDULER_OPTION
@user_errors
def compare_command(
    files, variants, n, out, outcomes, overrides, seed, workers, executor, scheduler
) -> None:
    """Compare settings with common random numbers: FILES and/or --variant settings of FILES[0].

    \b
    The first setting is the baseline. For each setting and outcome: the probability with a 95%
    Wilson CI, the paired difference from the baseline with a 95% t CI from the per-replication
    differences, and the share of variance pairing saved against independent streams.
    Example:
      sim compare scenarios/april-2024.yaml -n 2000 -o results/cmp \\
        --variant "strong-us: restrains[us>israel].pressure=1.0" \\
        --variant "iran-holds: actors.iran.policy.self_restraint=0.6"
    Ctrl-C keeps finished work: run the same command again to continue.
    """
    settings = [Setting(Path(f).stem, Path(f)) for f in files]
    settings += [parse_variant(v, Path(files[0])) for v in variants]
    with progress_bar("replications") as progress, _resumable(out):
        table = compare(
            settings,
            n=n,
            out=out,
            outcomes=outcomes or DEFAULT_OUTCOMES,
            overrides=overrides,
            seed=seed,
            workers=workers,
            executor=executor,
            scheduler=scheduler,
            progress=progress,
            on_setting=lambda s: stderr.print(f"setting {s.name}"),
        )
    columns = ["setting", "label", "P [95% CI]", "difference [95% CI]", "variance saved"]
    _print(
        _with_intervals(table), columns, f"Paired comparison against {settings[0].name} (n = {n})"
    )
    click.echo(_pairing_note(table))
    click.echo(f"tables: {Path(out) / 'comparison.parquet'} (and .csv), manifest.json")


@click.command("sweep")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--lever",
    "levers",
    multiple=True,
    required=True,
    metavar="PATH=START:STOP:STEPS",
    help="A value to sweep (one or two levers: a grid), by path, alias or declared name: "
    "'restrains[us>israel].pressure=0:1:5', or a declared lever: us_pressure=0:1:5.",
)
@_replications(sweep, "grid point")
@_out("one study per grid point, sweep.parquet/.csv and manifest.json")
@OUTCOMES_OPTION
@SET_OPTION
@LEVER_FILE_OPTION
@WORKERS_OPTION
@EXECUTOR_OPTION
@SCHEDULER_OPTION
@user_errors
def sweep_command(
    file, levers, n, out, outcomes, overrides, lever_file, workers, executor, scheduler
) -> None:
    """Probabilities of outcomes across a grid of one or two levers, with 95% CIs.

    \b
    Every grid point uses the same replications (common random numbers); each row also gives the
    paired difference from the first grid point with its 95% CI.
    The headline restraint study (US pressure on Israel, then Iran's own restraint):
      sim sweep scenarios/april-2024.yaml -n 1000 -o results/us \\
        --lever 'restrains[us>israel].pressure=0:1:5'
      sim sweep scenarios/april-2024.yaml -n 1000 -o results/iran \\
        --lever actors.iran.policy.self_restraint=0:1:5
    """
    named = declared_levers(file, lever_file)
    parsed = [Lever.parse(text, named) for text in levers]
    with progress_bar("replications") as progress, _resumable(out):
        table = sweep(
            file,
            parsed,
            n=n,
            out=out,
            outcomes=outcomes or DEFAULT_OUTCOMES,
            overrides=overrides,
            workers=workers,
            executor=executor,
            scheduler=scheduler,
            progress=progress,
            on_setting=lambda s: stderr.print(f"{s.name}: {' '.join(s.overrides)}"),
        )
    lever_columns = list(table.columns[: len(parsed)])
    columns = [*lever_columns, "label", "P [95% CI]", "difference [95% CI]"]
    _print(_with_intervals(table), columns, f"Sweep of {', '.join(lever_columns)} (n = {n} each)")
    click.echo(_pairing_note(table))
    click.echo(f"tables: {Path(out) / 'sweep.parquet'} (and .csv), manifest.json")


@click.command("sensitivity")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--uncertain",
    "uncertain",
    multiple=True,
    metavar="PATH=LOW:HIGH",
    help="An uncertain value and its uniform range, or a declared lever's name (repeatable; "
    "default: every declared lever).",
)
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    help=OUTCOME_HELP + " Default: rung>=3, rung>=5, rung>=6, strike:israel>iran>=3.",
)
@click.option(
    "--base-samples",
    "n",
    type=click.IntRange(min=2),
    default=DEFAULT_BASE_SAMPLES,
    show_default=True,
    help="Sobol base sample size N (a power of two); the model runs at N x (inputs + 2) points.",
)
@click.option(
    "--replications",
    "-r",
    type=click.IntRange(min=1),
    default=DEFAULT_REPLICATIONS,
    show_default=True,
    help="Replications per point (the same ones at every point: common random numbers).",
)
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: the scenario's).")
@_out("sobol.parquet/.csv, evaluations.parquet/.csv and manifest.json")
@SET_OPTION
@LEVER_FILE_OPTION
@WORKERS_OPTION
@EXECUTOR_OPTION
@SCHEDULER_OPTION
@user_errors
def sensitivity_command(
    file,
    uncertain,
    outcomes,
    n,
    replications,
    seed,
    out,
    overrides,
    lever_file,
    workers,
    executor,
    scheduler,
) -> None:
    """Sobol indices (first order and total, bootstrap 95% CIs): which uncertain value drives
    each outcome.

    \b
    First order: the share of the outcome's variance a value explains alone; total: alone and
    in interaction with the others. The defaults (5 declared levers, 128 base samples, 48
    replications: about 43,000 runs) take about a minute on 2 cores; raise --base-samples for
    narrower intervals and --replications for less noise per point.
      sim sensitivity scenarios/april-2024.yaml -o results/sobol
      sim sensitivity scenarios/april-2024.yaml -o results/sobol --outcome rung>=6 \\
        --uncertain us_pressure --uncertain iran_restraint \\
        --uncertain actors.israel.policy.escalation_aversion=0:2
    """
    from sim.analysis.sensitivity import DEFAULT_OUTCOMES as SOBOL_OUTCOMES
    from sim.analysis.sensitivity import MIN_RELIABLE_BASE_SAMPLES, SmallSampleWarning, sobol

    if n < MIN_RELIABLE_BASE_SAMPLES:
        click.echo(
            f"warning: --base-samples {n} is too small for Sobol indices to be read (they may "
            f"fall outside 0-1, with wide intervals); use at least {MIN_RELIABLE_BASE_SAMPLES}",
            err=True,
        )
    with (
        progress_bar("replications") as progress,
        _resumable(out),
        warnings.catch_warnings(),
    ):
        warnings.simplefilter("ignore", SmallSampleWarning)
        table = sobol(
            file,
            list(uncertain) or None,
            outcomes=outcomes or SOBOL_OUTCOMES,
            n=n,
            replications=replications,
            seed=seed,
            out=out,
            lever_file=lever_file,
            overrides=overrides,
            workers=workers,
            executor=executor,
            scheduler=scheduler,
            progress=progress,
        )
    view = table.copy()
    for kind in ("first_order", "total"):
        view[f"{kind} [95% CI]"] = [
            f"{v:.2f} [{lo:.2f}, {hi:.2f}]"
            for v, lo, hi in zip(view[kind], view[f"{kind}_low"], view[f"{kind}_high"], strict=True)
        ]
    _print(view, ["label", "parameter", "first_order [95% CI]", "total [95% CI]"], "Sobol indices")
    click.echo(f"tables: {Path(out) / 'sobol.parquet'} (and .csv), manifest.json")
