"""``sim calibrate``: ABC-SMC on the episodes of a calibration config; writes a posterior sample
and a report. ``--check``: simulation-based calibration of that fit (rank histograms, coverage)."""

from __future__ import annotations

from pathlib import Path

import click

from sim.cli.support import (
    EXECUTOR_OPTION,
    WORKERS_OPTION,
    OptionError,
    calibration_config_option,
    check_output_folder,
    progress_bar,
    user_errors,
)

DEFAULT_OUT = Path("results/calibration")
"""Where a fit goes unless told: a results folder, never the shipped posterior's."""
SHIPPED = Path("calibration")
"""The folder of the shipped posterior every scenario draws from (``--install`` writes there)."""


@click.command("calibrate")
@calibration_config_option(
    "Priors (with reasons), targets (with tolerances), SMC budget and seeds."
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
@click.option(
    "--check",
    "sbc",
    is_flag=True,
    help="Instead of fitting: simulation-based calibration on the config's check: budget (one "
    "reference table of prior simulations, shared with the fit's report); writes the sbc_*.csv "
    "tables, figures/ and the report's SBC section.",
)
@WORKERS_OPTION
@EXECUTOR_OPTION
@user_errors
def calibrate_command(
    config_path: Path,
    out: Path | None,
    install: bool,
    particles: int | None,
    no_checks: bool,
    sbc: bool,
    workers: int,
    executor: str,
) -> None:
    """Calibrate policy parameters on several observed episodes by ABC-SMC.

    Each proposal runs every episode once (over its observation window); generations of
    particles are fitted with shrinking tolerances until every target of every episode is
    reproduced within its tolerance. The report
    gives each generation's acceptance rate and effective sample size, each parameter's posterior
    against its prior, a posterior predictive check of every target (observed value beside the
    simulated distribution), and how much of the headline probabilities' spread comes from
    parameters vs chance; and how much each episode narrows each parameter. With --check, the
    fit's honesty instead: SBC ranks and the coverage of the 50/80/90/95% posterior intervals.

    Results are the same for any number of workers. Interrupted? Run the same command again: saved
    chunks and generations (OUT/draws/<config hash>/) are reused and the result is unchanged.

    \b
    A fit goes to results/calibration/ unless -o says where; scenarios keep drawing from the
    shipped calibration/posterior.parquet until you replace it on purpose:
      sim calibrate --install
    """
    from dataclasses import replace

    from sim.calibration.loading import load_config
    from sim.calibration.smc import run_calibration

    if install and out is not None:
        raise OptionError(f"--install writes to {SHIPPED}/; leave out -o {out} (or --install)")
    out = SHIPPED if install else out or DEFAULT_OUT
    check_output_folder(out)

    config = load_config(config_path)
    if particles:
        config = replace(config, smc={**config.smc, "particles": particles})
    if sbc:
        _check(config, out, workers, executor)
        return
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
        if row.target in ("all targets at once", "every episode at once"):
            click.echo(
                f"      {row.episode or 'all'}: {row.target}: {row.share_matching:.0%} of runs"
            )
            continue
        verdict = "PASS" if row.passes else "FAIL"
        click.echo(
            f"{verdict}  {row.episode}: {row.target}: observed {row.observed:g}, "
            f"{row.share_matching:.0%} of runs within [{row.low:g}, {row.high:g}]"
        )
    click.echo(f"posterior: {out / 'posterior.parquet'}")


def _check(config, out: Path, workers: int, executor: str) -> None:
    """``--check``: SBC on the reference table, its tables, figures and report section."""
    from sim.calibration.smc import run_check
    from sim.figures.sbc import write_sbc_figures

    with progress_bar("runs") as progress:
        result = run_check(config, out, workers=workers, executor=executor, progress=progress)
    write_sbc_figures(result, out / "figures")
    for name, passed in result.passed.items():
        click.echo(f"{'PASS' if passed else 'FAIL'}  {name}: rank uniformity")
    click.echo(f"SBC tables and figures: {out}")
