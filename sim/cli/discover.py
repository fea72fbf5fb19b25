"""``sim discover``: scenario discovery on an explore study, printed, with its tables and figures."""

from __future__ import annotations

import json
import re
import shutil
import tempfile
from pathlib import Path

import click
import pandas as pd

from sim.analysis.prim import categorical
from sim.cli.support import user_errors
from sim.study.tables import write_csv_safely


def _slug(outcome: str) -> str:
    """``casualties:israel>=10`` -> ``casualties-israel-ge-10``: a folder name for an outcome."""
    text = outcome.replace(">=", "-ge-").replace("<=", "-le-").replace(">", "-gt-")
    return re.sub(r"[^A-Za-z0-9._]+", "-", text.replace("<", "-lt-")).strip("-") or "outcome"


def _tables(result) -> dict[str, pd.DataFrame]:
    """The tables written, by file stem (the CART and feature-score ones need scikit-learn)."""
    tables = {"box": result.box, "tradeoff": result.tradeoff}
    if result.cart is not None and result.scores is not None:
        tables |= {
            "cart_box": result.cart.limits,
            "cart_leaves": result.cart.leaves,
            "feature_scores": result.scores,
        }
    return tables


def _summary_record(result) -> dict:
    """The numbers of the answer, for ``summary.json``."""
    return {
        "outcome": result.outcome,
        "points": result.points,
        "runs": result.runs,
        "base_rate": result.base_rate,
        "coverage": result.coverage,
        "coverage_interval": list(result.coverage_interval),
        "density": result.density,
        "density_interval": list(result.density_interval),
        "stability": result.stability,
        "stability_iou": result.stability_iou,
        "stability_method": "independent half-studies (each point's runs split in two)",
        "restricted": list(result.box["factor"]),
        "cart": None
        if result.cart is None
        else {
            "coverage": result.cart.coverage,
            "density": result.cart.density,
            "skipped_categorical": list(result.cart.skipped),
        },
        "settings": result.settings,
    }


def _figures(result, experiments: pd.DataFrame, folder: Path):
    """Each figure's name (its files' stem, none of them a table's) and the figure: trade-off,
    box limits, a heatmap of the outcome over the two best-scoring numeric factors (by feature
    score; without scikit-learn, the box's factors first), and Morris mu*-sigma when the study
    is a Morris design."""
    from sim.figures import exploration

    yield "tradeoff-curve", exploration.tradeoff_curve(result.tradeoff, result.outcome)
    if not result.box.empty:
        yield "box-limits", exploration.box_limits(result.box, result.outcome)
    design = experiments.set_index("point")
    ranked = list(result.box["factor"]) + list(design.columns)
    if result.scores is not None:
        ranked = list(result.scores["factor"])
    numeric = [f for f in dict.fromkeys(ranked) if not categorical(design[f])]
    if len(numeric) >= 2:
        rates = result.rates.set_index("point")
        share = rates["runs_of_interest"] / rates["runs"]
        table = design[numeric[:2]].assign(estimate=share.reindex(design.index)).dropna()
        grid = not table.duplicated(numeric[:2]).any() and table[numeric[0]].nunique() <= 12
        yield (
            "heatmap",
            exploration.outcome_heatmap(
                table,
                numeric[0],
                numeric[1],
                bins=None if grid else 6,
                label=f"P({result.outcome})",
            ),
        )
    morris = folder / "morris.parquet"
    if morris.is_file():
        effects = pd.read_parquet(morris)
        if "outcome" in effects:
            effects = effects[effects["outcome"] == result.outcome]
        if not effects.empty:
            yield "morris", exploration.morris_effects(effects, result.outcome)


def _replaceable(target: Path) -> None:
    """Refuse to write over a folder that is not an earlier ``sim discover`` output (it would be
    replaced whole: the study itself, say)."""
    from sim.analysis.discovery import DiscoveryError

    earlier = (target / "summary.json").is_file()
    if target.exists() and (not target.is_dir() or (any(target.iterdir()) and not earlier)):
        raise DiscoveryError(
            f"{target}: exists and is not an earlier `sim discover` output; choose another --out"
        )


def _provenance(manifest: dict, result) -> dict:
    """The study's manifest with the seed and the number of runs where figure metadata looks
    for them (an explore manifest keeps its seed in ``plan``)."""
    plan = manifest.get("plan") if isinstance(manifest.get("plan"), dict) else {}
    return {"seed": plan.get("seed"), **manifest, "n": result.runs}


def _write(result, experiments, folder: Path, target: Path, formats, manifest) -> None:
    """Every table and figure into a fresh folder beside ``target``, then put in its place (an
    earlier discovery there is moved aside first and removed last), so an interrupted or failed
    write leaves ``target`` as it was."""
    from sim.figures.style import save_figure

    _replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    try:
        for name, table in _tables(result).items():
            write_csv_safely(table, staging / f"{name}.csv")
        record = _summary_record(result) | {"study": str(folder)}
        (staging / "summary.json").write_text(json.dumps(record, indent=2, default=float))
        for name, figure in _figures(result, experiments, folder):
            save_figure(figure, staging / name, formats, _provenance(manifest, result))
        earlier = staging.with_name(f"{staging.name}.earlier")
        if target.exists():
            target.rename(earlier)
        staging.rename(target)
        shutil.rmtree(earlier, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


@click.command("discover")
@click.argument("folder", type=click.Path(path_type=Path))
@click.option(
    "--outcome",
    required=True,
    help="The outcome whose runs of interest to locate: a runs.parquet column or its label.",
)
@click.option(
    "--threshold",
    type=float,
    help="For an outcome that is not 0/1: runs with the outcome at least this are of interest.",
)
@click.option(
    "--min-density",
    type=click.FloatRange(0, 1),
    help="Report the box of highest coverage at least this dense (default: highest "
    "coverage x density).",
)
@click.option(
    "--splits",
    type=click.IntRange(min=1),
    default=20,
    show_default=True,
    help="Half-study pairs for the stability.",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=100),
    default=1000,
    show_default=True,
    help="Bootstrap resamples for the intervals.",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=0,
    show_default=True,
    help="Seed of the bootstrap, the half-study splits and the trees.",
)
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), help="Default: FOLDER/discovery/OUTCOME."
)
@click.option(
    "--format",
    "formats",
    multiple=True,
    type=click.Choice(["pdf", "svg", "png"]),
    help="Figure format(s), repeatable (default: pdf and png).",
)
@user_errors
def discover_command(
    folder: Path,
    outcome: str,
    threshold: float | None,
    min_density: float | None,
    splits: int,
    resamples: int,
    seed: int,
    out: Path | None,
    formats: tuple[str, ...],
) -> None:
    """Where in an explore study's factor space do the runs of interest live?

    PRIM peels and pastes a box over FOLDER's design (the trade-off curve of coverage, the
    share of runs of interest inside the box, against density, the share of the box's runs
    that are of interest), names its restricted factors with their limits and quasi-p-values,
    and states its Monte Carlo uncertainty: bootstrap 95% intervals over replications, and how
    often independent half-studies find the box again. CART and extra-trees feature scores
    give a second view. Tables (CSV), summary.json and figures go to --out (an earlier
    discovery there is replaced once the new one is complete).

    \b
    Example:
      sim discover results/explore --outcome "rung>=5"
      sim discover results/explore --outcome casualties:israel --threshold 10
    """
    from sim.analysis.discovery import discover, outcome_column, read_explore_study

    experiments, runs, manifest = read_explore_study(folder)
    result = discover(
        experiments,
        runs,
        outcome_column(runs, outcome, manifest),
        threshold=threshold,
        min_density=min_density,
        splits=splits,
        resamples=resamples,
        seed=seed,
        source=str(folder / "runs.parquet"),
    )
    click.echo(result.summary())
    target = out or folder / "discovery" / _slug(result.outcome)
    _write(result, experiments, folder, target, formats or ("pdf", "png"), manifest)
    click.echo(f"tables and figures: {target}")
