"""``sim calibrate``: ABC-SMC on the seed text's events; writes a posterior sample and a report."""

from __future__ import annotations

from pathlib import Path

import click

from sim.cli.support import (
    EXECUTOR_OPTION,
    WORKERS_OPTION,
    OptionError,
    check_output_folder,
    progress_bar,
    user_errors,
)

DEFAULT_OUT = Path("results/calibration")
"""Where a fit goes unless told: a results folder, never the shipped posterior's."""
SHIPPED = Path("calibration")
"""The folder of the shipped posterior every scenario draws from (``--install`` writes there)."""


@click.command("calibrate")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=Path("calibration/calibrate.yaml"),
    show_default=True,
    help="Priors (with reasons), targets (with tolerances), SMC budget and seeds.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path, file_okay=False),
    help=f"Where posterior.parquet, report.md and the tables go (saved generations: "
    f"OUT/draws/). Default: {DEFAULT_OUT}.",
)
@click.option(
    "--install",
    is_flag=True,
    help=f"Write into {SHIPPED}/ instead, replacing the shipped posterior that every scenario "
    "draws from (parameters_from:).",
)
@click.option(
    "--particles", type=click.IntRange(min=20), help="Particles per generation (default: config)."
)
@click.option("--no-checks", is_flag=True, help="Fit only: skip predictive checks and report.")
@WORKERS_OPTION
@EXECUTOR_OPTION
@user_errors
def calibrate_command(
    config_path: Path,
    out: Path | None,
    install: bool,
    particles: int | None,
    no_checks: bool,
    workers: int,
    executor: str,
) -> None:
    """Calibrate policy parameters on the seed text's events by ABC-SMC.

    Each proposal runs the simulator once (30-day horizon); generations of particles are fitted
    with shrinking tolerances until every target is reproduced within its tolerance. The report
    gives each generation's acceptance rate and effective sample size, each parameter's posterior
    against its prior, a posterior predictive check of every target (observed value beside the
    simulated distribution), and how much of the headline probabilities' spread comes from
    parameters vs chance.

    Results are the same for any number of workers. Interrupted? Run the same command again: saved
    chunks and generations (OUT/draws/<config hash>/) are reused and the result is unchanged.

    \b
    A fit goes to results/calibration/ unless -o says where; scenarios keep drawing from the
    shipped calibration/posterior.parquet until you replace it on purpose:
      sim calibrate --install
    """
    from dataclasses import replace

    from sim.calibration.smc import run_calibration
    from sim.calibration.targets import Config

    if install and out is not None:
        raise OptionError(f"--install writes to {SHIPPED}/; leave out -o {out} (or --install)")
    out = SHIPPED if install else out or DEFAULT_OUT
    check_output_folder(out)

    config = Config.load(config_path)
    if particles:
        config = replace(config, smc={**config.smc, "particles": particles})
    with progress_bar("runs") as progress:
        tables = run_calibration(
            config, out, workers=workers, executor=executor, progress=progress,
            checks=not no_checks,
        )  # fmt: skip
    last = tables["generations"].iloc[-1]
    click.echo(
        f"{len(tables['generations'])} generations; final acceptance {last.acceptance_rate:.3f}, "
        f"ESS {last.ess:.0f}"
    )
    for row in tables.get("predictive", []).itertuples() if not no_checks else []:
        if row.target == "all targets at once":
            click.echo(f"      all targets at once: {row.share_matching:.0%} of runs")
            continue
        verdict = "PASS" if row.passes else "FAIL"
        click.echo(
            f"{verdict}  {row.target}: observed {row.observed:g}, "
            f"{row.share_matching:.0%} of runs within [{row.low:g}, {row.high:g}]"
        )
    click.echo(f"posterior: {out / 'posterior.parquet'}")
