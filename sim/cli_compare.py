"""``sim compare`` and ``sim sweep``: restraint studies with common random numbers."""

from __future__ import annotations

from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from sim.cli_support import EXECUTOR_OPTION, WORKERS_OPTION, progress_bar, stderr, user_errors
from sim.compare import DEFAULT_OUTCOMES, Lever, Setting, compare, parse_variant, sweep
from sim.results import ResultsError
from sim.scenario import load_scenario

OUTCOME_HELP = (
    "Outcome to report (repeatable): rung>=R, or strike:ATTACKER>TARGET>=R. "
    f"Default: {', '.join(DEFAULT_OUTCOMES)}."
)
OUTCOMES_OPTION = click.option("--outcome", "outcomes", multiple=True, help=OUTCOME_HELP)


def _print(table, columns: list[str], title: str) -> None:
    view = Table(title=title)
    for column in columns:
        view.add_column(column, justify="left" if column in {"setting", "outcome"} else "right")
    for row in table[columns].itertuples(index=False):
        view.add_row(*(f"{v:.3f}" if isinstance(v, float) else str(v) for v in row))
    Console(width=None if stderr.is_terminal else 160).print(view)


@click.command("compare")
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--variant",
    "variants",
    multiple=True,
    metavar="'NAME: PATH=VALUE, ...'",
    help="A setting of the first FILE with overrides (repeatable).",
)
@click.option(
    "-n",
    "--replications",
    "n",
    type=click.IntRange(min=2),
    default=2000,
    show_default=True,
    help="Replications per setting.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the settings' studies and comparison.parquet/.csv.",
)
@OUTCOMES_OPTION
@WORKERS_OPTION
@EXECUTOR_OPTION
@click.option(
    "--seed", type=click.IntRange(min=0), help="Common root seed (default: the first file's)."
)
@user_errors
def compare_command(files, variants, n, out, outcomes, workers, executor, seed) -> None:
    """Compare settings with common random numbers: FILES and/or --variant settings of FILES[0].

    The first setting is the baseline. For each setting and outcome: the probability with a 95%
    Wilson CI, the paired difference from the baseline with a 95% CI from the per-replication
    differences, and how many times smaller the variance of that difference is than it would be
    with independent streams.
    """
    settings = [Setting(Path(f).stem, Path(f)) for f in files]
    settings += [parse_variant(v, Path(files[0])) for v in variants]
    with progress_bar("replications") as progress:
        table = compare(
            settings,
            n=n,
            out=out,
            outcomes=outcomes or DEFAULT_OUTCOMES,
            seed=seed,
            workers=workers,
            executor=executor,
            progress=progress,
            on_setting=lambda s: stderr.print(f"setting {s.name}"),
        )
    _print(
        table,
        [
            "setting",
            "outcome",
            "probability",
            "ci_low",
            "ci_high",
            "difference",
            "diff_ci_low",
            "diff_ci_high",
            "variance_ratio",
        ],
        f"Paired comparison against {settings[0].name} (n = {n} each)",
    )
    click.echo(f"tables: {Path(out) / 'comparison.parquet'} (and .csv)")


@click.command("sweep")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--lever",
    "levers",
    multiple=True,
    required=True,
    metavar="PATH=START:STOP:STEPS",
    help="A scenario value to sweep (one or two), e.g. relations.4.pressure=0:1:5.",
)
@click.option(
    "-n",
    "--replications",
    "n",
    type=click.IntRange(min=2),
    default=1000,
    show_default=True,
    help="Replications per grid point.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for the grid points' studies and sweep.parquet/.csv.",
)
@OUTCOMES_OPTION
@WORKERS_OPTION
@EXECUTOR_OPTION
@user_errors
def sweep_command(file, levers, n, out, outcomes, workers, executor) -> None:
    """Probabilities of outcomes across a grid of one or two levers, with 95% CIs.

    \b
    The headline restraint study:
      sim sweep scenarios/april-2024.yaml --lever relations.4.pressure=0:1:5 -o results/us
      sim sweep scenarios/april-2024.yaml --lever actors.iran.policy.self_restraint=0:1:5 -o results/iran
    """
    named = load_scenario(file).levers
    parsed = [Lever.parse(text, named) for text in levers]
    with progress_bar("replications") as progress:
        table = sweep(
            file,
            parsed,
            n=n,
            out=out,
            outcomes=outcomes or DEFAULT_OUTCOMES,
            workers=workers,
            executor=executor,
            progress=progress,
        )
    columns = [lever.path for lever in parsed] + ["outcome", "probability", "ci_low", "ci_high"]
    _print(table, columns, f"Sweep of {', '.join(lever.path for lever in parsed)} (n = {n} each)")
    click.echo(f"tables: {Path(out) / 'sweep.parquet'} (and .csv)")


@click.command("sensitivity")
@click.argument("file", type=click.Path(path_type=Path))
@click.option(
    "--uncertain",
    "uncertain",
    multiple=True,
    required=True,
    metavar="PATH=LOW:HIGH",
    help="An uncertain scenario value and its uniform range (repeatable).",
)
@click.option("--outcome", default="rung>=6", show_default=True, help=OUTCOME_HELP)
@click.option(
    "-n",
    "--base-samples",
    "n",
    type=click.IntRange(min=8),
    default=64,
    show_default=True,
    help="Sobol base sample size (a power of two).",
)
@click.option(
    "--replications",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Replications per parameter point (common random numbers).",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    required=True,
    help="Folder for sobol.parquet/.csv.",
)
@user_errors
def sensitivity_command(file, uncertain, outcome, n, replications, out) -> None:
    """Sobol indices (first order and total, bootstrap 95% CIs) of P(OUTCOME) over uncertain values.

    \b
    Which assumption drives P(regional war)?
      sim sensitivity scenarios/april-2024.yaml -o results/sobol \\
        --uncertain relations.4.pressure=0:1 \\
        --uncertain actors.iran.policy.self_restraint=0:0.7 \\
        --uncertain actors.iran.policy.escalation_aversion=0:2 \\
        --uncertain actors.israel.policy.escalation_aversion=0:2
    """
    from sim.compare import write_table
    from sim.sensitivity import Uncertain, scenario_sensitivity

    named = load_scenario(file).levers
    parsed = [Uncertain.parse(text, named) for text in uncertain or named]
    if not parsed:
        raise ResultsError(f"{file}: declares no levers; give --uncertain PATH=LOW:HIGH")
    with progress_bar("replications") as progress:
        table = scenario_sensitivity(
            file, parsed, outcome, n=n, replications=replications, progress=progress
        )
    Path(out).mkdir(parents=True, exist_ok=True)
    write_table(table, Path(out), "sobol")
    _print(table, list(table.columns), f"Sobol indices of P({outcome})")
