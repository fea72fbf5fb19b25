"""``sim plot``: paper figures, with the numbers they show, from a results, sweep or compare folder."""

from __future__ import annotations

from pathlib import Path

import click
import pandas as pd

from sim.cli_support import user_errors
from sim.results import Results, ResultsError


def _figures(folder: Path, kinds: tuple[str, ...]):
    """(name, figure, data, manifest) for each figure the folder can give."""
    from sim import plots

    if (folder / "sweep.parquet").exists():
        table = pd.read_parquet(folder / "sweep.parquet")
        lever = table.columns[0]
        figure, data = plots.sweep_probabilities(table, lever)
        return [("sweep", figure, data, {})]
    if (folder / "comparison.parquet").exists():
        figure, data = plots.paired_differences(pd.read_parquet(folder / "comparison.parquet"))
        return [("compare", figure, data, {})]
    results = Results(folder)
    unknown = set(kinds) - set(plots.RESULTS_FIGURES)
    if unknown:
        raise ResultsError(
            f"unknown --kind {', '.join(sorted(unknown))}; choose from "
            f"{', '.join(plots.RESULTS_FIGURES)}"
        )
    return [
        (kind, *plots.RESULTS_FIGURES[kind](results), results.manifest)
        for kind in kinds or plots.RESULTS_FIGURES
    ]


@click.command("plot")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    help="Figure(s) from a results folder: cumulative, max-rung, paths, interception "
    "(default: all). Sweep and compare folders give their own figure.",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["pdf", "svg", "png"]),
    help="Output format(s) (default: pdf and png).",
)
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), help="Where to write (default: FOLDER/figures)."
)
@user_errors
def plot_command(
    folder: Path, kinds: tuple[str, ...], formats: tuple[str, ...], out: Path | None
) -> None:
    """Draw paper figures from FOLDER (a `sim run`, `sim sweep` or `sim compare` output).

    Each figure is written as vector PDF/SVG or 300-dpi PNG in a one- or two-column journal size,
    with a CSV of the exact numbers drawn beside it, and the scenario, seed, n, version and git
    commit in the file metadata.
    """
    from sim.plots import save_figure

    target = out or folder / "figures"
    for name, figure, data, manifest in _figures(folder, kinds):
        for path in save_figure(figure, data, target / name, formats or ("pdf", "png"), manifest):
            click.echo(str(path))


@click.command("report")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--out",
    "-o",
    type=click.Path(path_type=Path),
    help="The HTML file (default: FOLDER/report.html).",
)
@user_errors
def report_command(folder: Path, out: Path | None) -> None:
    """One self-contained HTML page for a results FOLDER: figures, tables, manifest, scenario.

    No scripts and no external resources: attach it to a paper's supplementary material as it is.
    """
    from sim.report import write_report

    click.echo(str(write_report(folder, out)))
