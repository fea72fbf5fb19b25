"""The ``sim`` command line: validate, schema, trace and run; each command's --help teaches its use.

Mistakes in what the user gave (a scenario file, a results folder, an option) end with a one-line
message per problem on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from click.core import ParameterSource
from rich.console import Console
from rich.table import Table

from sim.analysis.compare import check_outcomes, outcome_values, summarize
from sim.cli.support import (
    EXECUTOR_OPTION,
    EXIT_USAGE,
    WORKERS_OPTION,
    PrecisionTarget,
    check_output_folder,
    check_runnable,
    percent,
    progress_bar,
    replications_option,
    report_console,
    study_faults,
    user_errors,
)
from sim.scenario.loading import ScenarioError, load_scenario
from sim.scenario.schema import Scenario
from sim.study import DEFAULT_N, PACKAGE_VERSION
from sim.study.executors import DASK_WORKER_WAIT_SECONDS
from sim.study.results import Results, ResultsError, Summary

SET_OPTION = click.option(
    "--set",
    "overrides",
    multiple=True,
    metavar="PATH=VALUE",
    help="Override a scenario value by its path, e.g. --set 'restrains[us>israel].pressure=0.9' "
    "(repeatable; relations are named by kind and actors, never by position).",
)


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(PACKAGE_VERSION, prog_name="sim")
def main() -> None:
    """Escalation simulator: scenario YAML -> SimPy world -> Monte Carlo -> probabilities.

    \b
    Start here:
      sim validate scenarios/april-2024.yaml     check a scenario file
      sim trace scenarios/april-2024.yaml        one run as a readable timeline
      sim run scenarios/april-2024.yaml -n 2000  probabilities of each rung, with 95% CIs
    """


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
def validate(files: tuple[Path, ...]) -> None:
    """Check scenario FILES; print every problem as file:line: field: message.

    Exits 0 when every file is valid, 2 otherwise.
    """
    failed = False
    for path in files:
        try:
            scenario = load_scenario(path)
        except ScenarioError as exc:
            click.echo(str(exc), err=True)
            failed = True
            continue
        click.echo(
            f"ok: {path} ({scenario.name}: {len(scenario.actors)} actors, "
            f"{len(scenario.weapons)} weapons, {scenario.horizon_days:g} days)"
        )
    if failed:
        sys.exit(EXIT_USAGE)


@main.command()
@click.option("--markdown", is_flag=True, help="Print the scenario reference as Markdown instead.")
@click.option(
    "--calibration", is_flag=True, help="The schema of a calibration config (calibrate.yaml)."
)
def schema(markdown: bool, calibration: bool) -> None:
    """Print the scenario JSON Schema (for editors: yaml-language-server's $schema)."""
    if calibration:
        from sim.calibration.schema import CalibrationFile

        click.echo(json.dumps(CalibrationFile.model_json_schema(), indent=2))
        return
    if markdown:
        from sim.scenario.reference_doc import scenario_reference

        click.echo(scenario_reference(), nl=False)
        return
    click.echo(json.dumps(Scenario.model_json_schema(), indent=2))


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: the scenario's).")
@click.option(
    "--replication",
    "-r",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Which replication to replay; matches row K of a study with the same seed.",
)
@SET_OPTION
@user_errors
def trace(file: Path, seed: int | None, replication: int, overrides: tuple[str, ...]) -> None:
    """Print one replication of FILE as a timeline: strikes and their waves, interceptions,
    decisions, outcomes.

    The same scenario, seed and replication give the same text, byte for byte.
    """
    from sim.model.trace import format_trace
    from sim.model.world import run_replication
    from sim.scenario.levers import load_with_overrides, resolve_overrides

    scenario = load_with_overrides(file, overrides)
    check_runnable(scenario, file)
    used_seed = scenario.seed if seed is None else seed
    title = f"{scenario.name} - seed {used_seed}, replication {replication}"
    if overrides:  # as paths, so that an alias and its path give the same text
        title += " - with " + ", ".join(
            f"--set {o}" for o in resolve_overrides(scenario, overrides)
        )
    click.echo(format_trace(run_replication(scenario, replication, used_seed), title), nl=False)


def print_summary(summary: Summary, console: Console) -> None:
    """Rung probabilities and the most frequent paths as terminal tables."""
    table = Table(title=f"Probability of reaching each rung within the horizon (n = {summary.n})")
    for name in ("rung", "meaning", "P(reach)", "95% CI (Wilson)", "median day reached"):
        table.add_column(name, justify="left" if name == "meaning" else "right", no_wrap=True)
    for row in summary.rungs.itertuples():
        median = (
            "-"
            if row.median_days_to_reach != row.median_days_to_reach
            else (f"{row.median_days_to_reach:.1f}")
        )
        table.add_row(
            str(row.rung),
            row.label,
            f"{row.probability:.3f}",
            f"[{row.ci_low:.3f}, {row.ci_high:.3f}]",
            median,
        )
    console.print(table)
    paths = Table(title="Most frequent escalation paths (rungs of successive strikes)")
    for name in ("path", "runs", "share", "95% CI"):
        paths.add_column(name, justify="left" if name == "path" else "right")
    for row in summary.paths.itertuples():
        paths.add_row(
            row.path, str(row.runs), f"{row.share:.3f}", f"[{row.ci_low:.3f}, {row.ci_high:.3f}]"
        )
    console.print(paths)


@main.command()
@click.argument("file", type=click.Path(path_type=Path))
@replications_option(
    "-n",
    "--replications",
    "n",
    default=DEFAULT_N,
    help="Number of replications (with --resume: the study's own).",
)
@WORKERS_OPTION
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    help="Results folder (default: results/<scenario>-<UTC time>).",
)
@click.option(
    "--resume",
    type=click.Path(path_type=Path),
    help="Finish an interrupted study in this folder (same scenario and seed).",
)
@click.option("--seed", type=click.IntRange(min=0), help="Root seed (default: the scenario's).")
@click.option(
    "--chunk-size",
    type=click.IntRange(min=1),
    default=100,
    show_default=True,
    help="Replications per chunk: the unit of work, of saving and of resuming.",
)
@EXECUTOR_OPTION
@click.option(
    "--scheduler",
    help="Dask scheduler address (tcp://host:port); default a local one. A scheduler with no "
    f"worker is waited for {DASK_WORKER_WAIT_SECONDS:g} s (SIM_DASK_WORKER_WAIT=SECONDS sets "
    "another wait).",
)
@click.option(
    "--until-ci",
    multiple=True,
    type=PrecisionTarget(),
    help="Add replications until a 95% CI half-width is at most this: a probability (0.01), a "
    "percentage of the estimate (10%), either for every rung or for one (rung>=5:10%). "
    "Repeatable; all must be met (or --max-n reached).",
)
@replications_option("--max-n", default=100_000, help="Cap on replications with --until-ci.")
@click.option("--csv", is_flag=True, help="Also write runs.csv and events.csv.")
@click.option(
    "--outcome",
    "outcomes",
    multiple=True,
    help="An outcome to estimate besides the rung table (repeatable), e.g. days_to_rung>=4, "
    "casualties:israel>=10, exhausted:israel/arrow-3; every form of `sim compare --outcome`.",
)
@SET_OPTION
@user_errors
def run(
    file: Path,
    n: int,
    workers: int,
    out: Path | None,
    resume: Path | None,
    seed: int | None,
    chunk_size: int,
    executor: str,
    scheduler: str | None,
    until_ci: tuple[str, ...],
    max_n: int,
    csv: bool,
    outcomes: tuple[str, ...],
    overrides: tuple[str, ...],
) -> None:
    """Run N replications of scenario FILE and print the probability of reaching each rung.

    \b
    Writes to the results folder:
      runs.parquet     one row per replication (max rung, first day at each rung, path, totals)
      events.parquet   one row per event (strikes, waves, interceptions, decisions, outcomes)
      manifest.json    scenario hash, seed, N, versions, git commit, options, times
      scenario.yaml    the exact scenario text that ran
    Ctrl-C, a killed worker or a full disk keeps every finished chunk: continue with
    --resume FOLDER (exit status 130 after Ctrl-C, 1 after a fault, 2 for a mistake in the input).
    """
    from sim.scenario.levers import load_with_overrides
    from sim.study.montecarlo import default_folder, run_study

    folder = resume or out or default_folder(file)
    given = click.get_current_context().get_parameter_source
    n_given = given("n") is not ParameterSource.DEFAULT
    scenario = load_with_overrides(file, overrides)
    check_runnable(scenario, file)
    parsed = check_outcomes(outcomes, scenario, file) if outcomes else []
    if resume is None:
        check_output_folder(folder)
    else:
        if given("chunk_size") is not ParameterSource.DEFAULT:
            _note_kept_chunk_size(resume, chunk_size)
        if until_ci:
            _note_kept_targets(resume, list(until_ci))
    again = f"continue with `sim run {file} --resume {folder}`"
    with progress_bar("replications") as progress, study_faults(folder, again):
        results = run_study(
            file,
            n=n if n_given or resume is None else None,
            out=folder,
            seed=seed,
            workers=workers,
            executor=executor,
            overrides=overrides,
            scheduler=scheduler,
            chunk_size=chunk_size,
            resume=resume is not None,
            until_ci=list(until_ci) or None,
            max_n=max_n,
            csv=csv,
            progress=progress,
        )
    console = report_console()
    summary = results.summary()
    print_summary(summary, console)
    _note_unmet_targets(results.manifest, summary)
    if parsed:
        print_outcomes(results, parsed, console)
    console.print(
        f"results: {results.folder}  (n = {results.manifest['n']}, seed {results.manifest['seed']})"
    )


def print_outcomes(results: Results, outcomes: list, console: Console) -> None:
    """The ``--outcome`` estimates of a finished study: probability or mean, 95% interval, and
    the share of runs censored at the horizon where the outcome can be censored."""
    table = Table(title="Outcomes (95% CI)")
    for column in ("outcome", "estimate [95% CI]", "runs", "censored"):
        table.add_column(column, no_wrap=column == "outcome")
    values = outcome_values(results, outcomes)
    for outcome in outcomes:
        row = summarize(outcome, values[outcome.text])
        table.add_row(
            row["label"],
            f"{row['estimate']:.3g} [{row['ci_low']:.3g}, {row['ci_high']:.3g}]",
            f"{row['n']:,}",
            percent(row["censored"]) if outcome.censorable else "-",
        )
    console.print(table)


def _note_kept_chunk_size(folder: Path, asked: int) -> None:
    """Say in one line that a resumed study keeps the chunk size it was planned with."""
    from sim.study.results import read_manifest

    kept = read_manifest(folder).get("chunk_size")
    if kept is not None and kept != asked:
        click.echo(
            f"note: --chunk-size {asked} ignored: {folder} keeps its chunks of {kept} "
            "(they are the unit of resuming)",
            err=True,
        )


def _note_kept_targets(folder: Path, asked: list[str]) -> None:
    """Say in one line that a resumed study keeps the ``--until-ci`` targets it was planned
    with (the stopping rule must read the same targets to give the same study)."""
    from sim.study.results import read_manifest
    from sim.study.stopping import parse_targets

    try:
        kept = [target.text for target in parse_targets(read_manifest(folder).get("until_ci"))]
    except (ResultsError, ValueError):  # the study's own checks say what is wrong
        return
    if kept != asked:
        click.echo(
            f"note: --until-ci {' '.join(asked)} ignored: {folder} keeps its targets "
            f"({' '.join(kept) or 'none'})",
            err=True,
        )


def _note_unmet_targets(manifest: dict, summary: Summary) -> None:
    """Say in one line which ``--until-ci`` targets the study stopped short of, at ``--max-n``."""
    from sim.study.stopping import parse_targets, unmet

    targets = parse_targets(manifest.get("until_ci"))
    missed = unmet(summary.rungs["runs_reaching"].to_numpy(), summary.n, targets)
    if missed:
        names = " ".join(dict.fromkeys(target.text for target, _ in missed))
        click.echo(
            f"note: stopped at --max-n {summary.n:,} before --until-ci {names} was met", err=True
        )


@main.command()
@click.argument("folder", type=click.Path(path_type=Path))
@user_errors
def summary(folder: Path) -> None:
    """Print the summary tables of an existing results FOLDER."""
    print_summary(Results(folder).summary(), report_console())


def _add_command_groups() -> None:
    """Commands that live beside the step they drive."""
    from sim.cli.calibrate import calibrate_command
    from sim.cli.compare import compare_command, sensitivity_command, sweep_command
    from sim.cli.discover import discover_command
    from sim.cli.explore import explore_command
    from sim.cli.figures import gallery_command, plot_command, report_command
    from sim.cli.score import score_command

    main.add_command(compare_command)
    main.add_command(sweep_command)
    main.add_command(sensitivity_command)
    main.add_command(plot_command)
    main.add_command(report_command)
    main.add_command(gallery_command)
    main.add_command(calibrate_command)
    main.add_command(discover_command)
    main.add_command(explore_command)
    main.add_command(score_command)


_add_command_groups()
