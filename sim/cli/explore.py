"""``sim explore``: a design over many factors, replications at every point, outcomes of choice."""

from __future__ import annotations

import sys
from pathlib import Path

import click
import yaml
from rich.console import Console
from rich.table import Table

from sim.analysis.compare import DEFAULT_OUTCOMES
from sim.analysis.designs import DESIGNS, FACTOR_FORMS
from sim.analysis.explore import DEFAULT_POINTS, DEFAULT_REPLICATIONS, Exploration, explore
from sim.analysis.outcomes import OUTCOME_SYNTAX
from sim.cli.support import (
    EXECUTOR_OPTION,
    EXIT_INTERRUPTED,
    WORKERS_OPTION,
    progress_bar,
    stderr,
    user_errors,
)
from sim.study.results import ResultsError

SHOWN_ROWS = 20
"""Rows of the outcomes table printed (the tables on disk hold them all)."""


def _problem(path: Path) -> dict:
    """A SALib problem dict from a JSON or YAML file."""
    try:
        problem = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise ResultsError(f"{path}: cannot read a SALib problem ({exc})") from None
    if not isinstance(problem, dict):
        raise ResultsError(f"{path}: a SALib problem is a mapping with names and bounds")
    return problem


def _print(result: Exploration) -> None:
    """The first rows of the outcomes table, and Morris indices when the design has them."""
    view = Table(title=f"Outcomes at {len(result.experiments)} design points (first {SHOWN_ROWS})")
    for column in ("point", "outcome", "estimate [95% CI]", "n"):
        view.add_column(column, justify="left" if column == "outcome" else "right")
    for row in result.outcomes.head(SHOWN_ROWS).itertuples():
        interval = f"{row.estimate:.3g} [{row.ci_low:.3g}, {row.ci_high:.3g}]"
        view.add_row(str(row.point), row.label, interval, str(row.n))
    console = Console(width=None if stderr.is_terminal else 160)
    console.print(view)
    if result.morris is not None:
        morris = Table(title="Morris elementary effects (per full factor range)")
        for column in ("outcome", "factor", "mu*", "mu* 95% half-width", "sigma"):
            morris.add_column(column)
        for row in result.morris.itertuples():
            values = (row.mu_star, row.mu_star_conf, row.sigma)
            morris.add_row(row.outcome, row.factor, *(f"{v:.3g}" for v in values))
        console.print(morris)


@click.command("explore")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--factor",
    "factors",
    multiple=True,
    metavar="SPEC",
    help=f"A factor to vary (repeatable): {FACTOR_FORMS}; scenario=[A.yaml,B.yaml] varies "
    "whole scenario files. Aliases allowed: 'restrains[us>israel].pressure=0:1'.",
)
@click.option(
    "--problem",
    "problem_file",
    type=click.Path(path_type=Path),
    help="A SALib problem (JSON or YAML: names, bounds) giving the factors instead of --factor.",
)
@click.option(
    "--design", type=click.Choice(DESIGNS), default="lhs", show_default=True, help="The design."
)
@click.option(
    "-n",
    "--points",
    "n",
    type=click.IntRange(min=1),
    default=DEFAULT_POINTS,
    show_default=True,
    help="Design points (lhs, halton; a power of two for sobol) or Morris trajectories "
    "(factors + 1 points each); a factorial takes every combination instead.",
)
@click.option(
    "-r",
    "--replications",
    type=click.IntRange(min=1),
    default=DEFAULT_REPLICATIONS,
    show_default=True,
    help="Replications per point, the same at every point (common random numbers).",
)
@click.option(
    "--levels",
    type=click.IntRange(min=2),
    default=3,
    show_default=True,
    help="Values per continuous factor in a full factorial (both ends included).",
)
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    help=f"Outcome to estimate (repeatable): {OUTCOME_SYNTAX}. "
    f"Default: {', '.join(DEFAULT_OUTCOMES)}.",
)
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: the scenario's).")
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), required=True, help="Folder for the tables."
)
@click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a value at every point, by path or alias (repeatable).",
)
@click.option(
    "--levers",
    "lever_file",
    type=click.Path(path_type=Path),
    help="A lever file (levers: {NAME: {path, low, high, meaning}}) adding to the scenario's own.",
)
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Replications of one point per task (each finished task is kept).",
)
@WORKERS_OPTION
@EXECUTOR_OPTION
@click.option("--scheduler", help="Dask scheduler address (tcp://host:port); default a local one.")
@user_errors
def explore_command(
    file,
    factors,
    problem_file,
    design,
    n,
    replications,
    levels,
    outcomes,
    seed,
    out,
    overrides,
    lever_file,
    chunk_size,
    workers,
    executor,
    scheduler,
) -> None:
    """Sample many factors at once with a design, run replications at every point, and estimate
    each outcome there (probability or mean, 95% CI).

    \b
    Writes experiments.parquet (one row per point: its factor values), outcomes.parquet (one row
    per point and outcome: estimate, ci_low, ci_high, n, censored), runs.parquet (one row per
    point and replication, one column per outcome), problem.json (SALib) and manifest.json.
      sim explore scenarios/april-2024.yaml -o results/explore -n 200 -r 100 \\
        --factor us_pressure --factor iran_restraint \\
        --factor 'defends[us>israel].joins_combat_at_rung=3..6' \\
        --outcome 'rung>=5' --outcome 'casualties:israel>=10'
      sim explore scenarios/april-2024.yaml -o results/morris --design morris -n 10 \\
        --factor us_pressure --factor israel_restraint --factor iran_restraint
    Ctrl-C keeps finished work: run the same command again to continue.
    """
    if bool(factors) == bool(problem_file):
        raise ResultsError("give the factors with --factor SPEC (repeatable) or --problem FILE")
    chosen = _problem(problem_file) if problem_file else list(factors)
    try:
        with progress_bar("replications") as progress:
            result = explore(
                file,
                chosen,
                design=design,
                n=n,
                replications=replications,
                outcomes=outcomes or DEFAULT_OUTCOMES,
                seed=seed,
                levels=levels,
                out=out,
                overrides=overrides,
                lever_file=lever_file,
                chunk_size=chunk_size,
                workers=workers,
                executor=executor,
                scheduler=scheduler,
                progress=progress,
            )
    except KeyboardInterrupt:
        click.echo(
            f"\ninterrupted: finished tasks are kept in {out}; run the same command again "
            "to continue",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)
    _print(result)
    click.echo(f"tables: {out}/experiments.parquet, outcomes.parquet, runs.parquet (and .csv)")
