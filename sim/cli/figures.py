"""``sim plot`` and ``sim report``: paper figures with the numbers they show, and a one-page
report, from a results, sweep, compare, sensitivity or calibration folder."""

from __future__ import annotations

from pathlib import Path

import click

from sim.cli.support import WORKERS_OPTION, OptionError, check_output_folder, user_errors
from sim.figures.folders import figures_of


@click.command("plot")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--kind",
    "kinds",
    multiple=True,
    help="Figure(s) to draw (repeatable; default: all the folder gives). A `sim run` folder: "
    "cumulative, max-rung, path-tree, interception, timeline. A sweep, compare or sensitivity "
    "folder: sweep, compare or sobol. A calibration folder: calibration (and predictive when it "
    "holds predictive_sample.parquet).",
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["pdf", "svg", "png"]),
    help="Output format(s), repeatable (default: pdf and png). PDF and SVG are vector with "
    "embedded TrueType fonts; PNG is 300 dpi.",
)
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), help="Where to write (default: FOLDER/figures)."
)
@click.option(
    "--replication", "-r", type=int, help="The run the timeline shows (default: a typical one)."
)
@click.option(
    "--scale",
    type=click.Choice(["linear", "log"]),
    default="linear",
    show_default=True,
    help="A sweep's probability axis: linear (scaled to the data) or logarithmic, for rare "
    "outcomes such as rung 5 or 6.",
)
@user_errors
def plot_command(
    folder: Path,
    kinds: tuple[str, ...],
    formats: tuple[str, ...],
    out: Path | None,
    replication: int | None,
    scale: str,
) -> None:
    """Draw paper figures from FOLDER: a `sim run`, `sim sweep`, `sim compare`,
    `sim sensitivity` or `sim calibrate` output.

    Each figure is sized for one (3.5 in) or two (7.2 in) journal columns, in a colour-blind-safe
    palette, with a 95% interval or band on every estimate. Beside FIGURE.pdf/.svg/.png it writes
    FIGURE.csv, the exact numbers drawn, for captions; the scenario, seed, n, version and git
    commit are in each file's metadata.

    \b
    Example:
      sim plot results/april --kind cumulative --format pdf --format png
    """
    from sim.figures.plots import save_figure

    target = out or folder / "figures"
    check_output_folder(target)
    for name, figure, manifest in figures_of(folder, kinds, replication, scale):
        for path in save_figure(figure, target / name, formats or ("pdf", "png"), manifest):
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
    """One self-contained HTML page for a `sim run` FOLDER: figures, tables, manifest, scenario.

    Figures are inline SVG; there are no scripts and no external resources, so the page can be
    attached to a paper's supplementary material as it is.
    """
    from sim.figures.report import write_report

    if out is not None:
        if out.is_dir():
            raise OptionError(f"--out {out}: is a folder; give the HTML file to write")
        check_output_folder(out.parent)
    click.echo(str(write_report(folder, out)))


@click.command("gallery")
@click.option(
    "--root",
    type=click.Path(file_okay=False, exists=True, path_type=Path),
    default=Path("."),
    show_default=True,
    help="The project folder: scenarios/ and calibration/ are read, docs/ is written.",
)
@click.option(
    "-n",
    type=click.IntRange(min=20),
    default=500,
    show_default=True,
    help="Replications of the main study (comparisons and sweeps take half as many each).",
)
@WORKERS_OPTION
@user_errors
def gallery_command(root: Path, n: int, workers: int) -> None:
    """Draw every figure from the shipped scenarios and calibration into docs/gallery.md.

    The figures are those of `sim plot`, from a study, a comparison of the shipped variants, a
    sweep of US pressure, Sobol indices of the declared levers and the shipped calibration; the
    numbers of each are in the CSV beside it.
    """
    from sim.figures.gallery import draw_gallery

    click.echo(str(draw_gallery(root, n, workers)))
