"""``sim calibrate``: ABC on the seed text's events; writes a posterior sample and a report."""

from __future__ import annotations

from pathlib import Path

import click

from sim.cli_support import EXECUTOR_OPTION, WORKERS_OPTION, progress_bar, user_errors


@click.command("calibrate")
@click.option(
    "--config",
    "config_path",
    type=click.Path(path_type=Path, exists=True),
    default=Path("calibration/calibrate.yaml"),
    show_default=True,
    help="Priors (with reasons), targets (with tolerances), budget and seed.",
)
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    default=Path("calibration"),
    show_default=True,
    help="Where posterior.parquet, report.md and tables go.",
)
@click.option("--draws", type=click.IntRange(min=10), help="Prior draws (default: the config's).")
@WORKERS_OPTION
@EXECUTOR_OPTION
@user_errors
def calibrate_command(
    config_path: Path, out: Path, draws: int | None, workers: int, executor: str
) -> None:
    """Calibrate policy parameters on the seed text's events by rejection ABC.

    Each prior draw runs the simulator once; the draws whose target statistics lie closest to the
    observed ones form the posterior. The report gives the acceptance rate, the effective sample
    size, each parameter's posterior against its prior, a posterior predictive check of every
    target, and how much of the headline probabilities' spread comes from parameters vs chance.
    Results are the same for any number of workers: draw i uses only its own random streams.
    """
    from dataclasses import replace

    from sim.calibration import Config, run_calibration

    config = Config.load(config_path)
    if draws:
        config = replace(config, draws=draws)
    with progress_bar("draws") as progress:
        tables = run_calibration(config, out, workers=workers, executor=executor, progress=progress)
    predictive = tables["predictive"]
    for row in predictive.itertuples():
        click.echo(
            f"{'PASS' if row.passes else 'FAIL'}  {row.target}: observed {row.observed:g}, "
            f"{row.share_matching:.0%} of runs match"
        )
    click.echo(f"report: {out / 'report.md'}")
