"""``sim plot`` and ``sim report``: paper figures with the numbers they show, and a one-page
report, from a results, sweep, compare, sensitivity or calibration folder."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import click
import pandas as pd

from sim.cli_support import WORKERS_OPTION, user_errors
from sim.results import Results, ResultsError, read_manifest


def _read_manifest(folder: Path) -> dict:
    try:
        return read_manifest(folder)
    except ResultsError:
        return {}


def sweep_figure(folder: Path):
    """A sweep's figure, its levers named by their declared meanings when the swept scenario
    file is still where the sweep read it and still loads (else by their paths)."""
    from sim import plots
    from sim.plot_studies import path_labels, sweep_levers
    from sim.problems import ScenarioError

    table = pd.read_parquet(folder / "sweep.parquet")
    source = Path(_read_manifest(folder).get("settings", [{}])[0].get("file", ""))
    try:
        labels = path_labels(source, sweep_levers(table)) if source.is_file() else None
    except ScenarioError:  # the scenario has changed since (or its posterior moved): paths
        labels = None
    return plots.sweep_probabilities(table, labels=labels)


def _calibrated_scenario(folder: Path, parameters: Iterable[str]) -> Path | None:
    """The scenario a calibration folder was fitted on, if it is still there: the one named by
    the config on the first line of its report.md (the path `sim calibrate --config` was given),
    else by a calibrate.yaml kept beside the outputs (the shipped calibration/). A config counts
    only if its priors are exactly the folder's parameters."""
    import yaml

    configs = []
    report = folder / "report.md"
    if report.is_file():
        named = re.search(r"^Config `([^`]+)`", report.read_text(encoding="utf-8"), re.MULTILINE)
        configs += [Path(named.group(1))] if named else []
    for config in [*configs, folder / "calibrate.yaml"]:
        try:
            raw = yaml.safe_load(config.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            continue
        if not isinstance(raw, dict) or not isinstance(raw.get("priors"), dict):
            continue
        scenario = config.parent / str(raw.get("scenario") or "")
        if set(raw["priors"]) == set(parameters) and scenario.is_file():
            return scenario
    return None


def calibration_figure(folder: Path):
    """Prior against posterior, relations named by alias when the calibrated scenario file can
    be found (``_calibrated_scenario``; else by their paths)."""
    from sim import plots
    from sim.plot_studies import path_labels
    from sim.problems import ScenarioError

    summary = pd.read_csv(folder / "summary.csv")
    scenario = _calibrated_scenario(folder, summary.parameter)
    try:
        labels = path_labels(scenario, summary.parameter, meanings=False) if scenario else None
    except ScenarioError:  # the scenario has changed since (or its posterior moved): paths
        labels = None
    return plots.prior_posterior(pd.read_parquet(folder / "posterior.parquet"), summary, labels)


def _study_figures(folder: Path) -> dict[str, Callable] | None:
    """The figure makers of a study folder (sweep, compare, sensitivity, calibration), if it is one."""
    from sim import plots

    if (folder / "sweep.parquet").exists():
        return {"sweep": lambda: sweep_figure(folder)}
    if (folder / "comparison.parquet").exists():
        table = folder / "comparison.parquet"
        return {"compare": lambda: plots.paired_differences(pd.read_parquet(table))}
    if (folder / "sobol.parquet").exists():
        return {"sobol": lambda: plots.sobol_indices(pd.read_parquet(folder / "sobol.parquet"))}
    if (folder / "posterior.parquet").exists() and (folder / "summary.csv").exists():
        figures = {"calibration": lambda: calibration_figure(folder)}
        if (folder / "predictive_sample.parquet").exists():
            sample = folder / "predictive_sample.parquet"
            figures["predictive"] = lambda: plots.predictive_check(pd.read_parquet(sample))
        return figures
    return None


def figures_of(folder: Path, kinds: tuple[str, ...] = (), replication: int | None = None):
    """(name, figure, manifest) for each figure asked of ``folder`` (all it can give by default)."""
    from sim import plots

    makers = _study_figures(folder)
    manifest = _read_manifest(folder)
    if makers is None:
        results = Results(folder)
        manifest = results.manifest
        makers = {
            name: (lambda draw=draw: draw(results)) for name, draw in plots.RESULTS_FIGURES.items()
        }
        makers["timeline"] = lambda: plots.run_timeline(results, replication)
    unknown = set(kinds) - set(makers)
    if unknown:
        raise ResultsError(
            f"{folder}: unknown --kind {', '.join(sorted(unknown))}; this folder gives "
            f"{', '.join(makers)}"
        )
    return [(name, makers[name](), manifest) for name in kinds or makers]


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
@user_errors
def plot_command(
    folder: Path,
    kinds: tuple[str, ...],
    formats: tuple[str, ...],
    out: Path | None,
    replication: int | None,
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
    from sim.plots import save_figure

    target = out or folder / "figures"
    for name, figure, manifest in figures_of(folder, kinds, replication):
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
    from sim.report import write_report

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
    from sim.gallery import draw_gallery

    click.echo(str(draw_gallery(root, n, workers)))
