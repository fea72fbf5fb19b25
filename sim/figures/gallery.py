"""The figure gallery (``docs/gallery.md`` and ``docs/gallery/*.png``), drawn by ``sim gallery``.

Every image is made by the same functions as ``sim plot``, from results tables written by
``sim.run``, ``sim.analysis.compare.compare``/``sweep`` and ``sim.analysis.sensitivity.sobol`` on the shipped
scenarios, and from the shipped calibration output; each image's numbers are in the CSV beside
it. PNGs are written at a modest resolution to keep the gallery small.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import matplotlib
import pandas as pd
import yaml

from sim.analysis.compare import Setting, compare, sweep
from sim.analysis.sensitivity import sobol
from sim.figures import plots
from sim.figures.folders import calibration_figure, sobol_figure, sweep_figure
from sim.figures.style import trace_text
from sim.study import PACKAGE_VERSION
from sim.study.montecarlo import run_study
from sim.study.results import Results, git_commit, read_manifest
from sim.study.tables import write_csv_safely

DPI = 110
SOBOL_BASE_SAMPLES = 64
SOBOL_REPLICATIONS = 24


def _save(figure: plots.PaperFigure, name: str, manifest: dict, docs: Path) -> tuple[str, str, str]:
    """Write ``docs/gallery/NAME.png`` and ``.csv``; return (name, caption, trace)."""
    target = docs / "gallery" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    write_csv_safely(figure.data, target.with_suffix(".csv"))
    with plots.paper_style(), matplotlib.rc_context({"savefig.dpi": DPI}):
        figure.savefig(target.with_suffix(".png"), metadata={"Description": trace_text(manifest)})
    return name, figure.caption, trace_text(manifest)


def _april_like(results: Results) -> int | None:
    """The first run in which Iran answers the opening strike with a direct strike on Israel, as
    in April 2024: its timeline shows waves and every layer at work (the default typical run, a
    tit-for-tat in third countries, shows neither). None (the typical run) if no run does."""
    april = results.runs.path.str.startswith("israel>iran:2 iran>israel:3")
    return int(results.runs.replication[april].min()) if april.any() else None


def _figures(
    root: Path, n: int, workers: int, work: Path, docs: Path
) -> list[tuple[str, str, str]]:
    """Every gallery figure: one study, a comparison, a sweep, Sobol indices, the calibration."""
    scenarios, calibration = root / "scenarios", root / "calibration"
    april = scenarios / "april-2024.yaml"
    results = run_study(april, n=n, workers=workers, out=work / "run")
    drawn = dict(plots.RESULTS_FIGURES, timeline=lambda r: plots.run_timeline(r, _april_like(r)))
    shown = [_save(draw(results), name, results.manifest, docs) for name, draw in drawn.items()]
    settings = [Setting("baseline", april)] + [
        Setting(name, scenarios / f"april-2024-{name}.yaml")
        for name in ("strong-us-restraint", "no-allied-defence", "hezbollah-ordered-in")
    ]
    table = compare(settings, n=n // 2, out=work / "compare", workers=workers)
    shown.append(
        _save(plots.paired_differences(table), "compare", read_manifest(work / "compare"), docs)
    )
    levers = ["restrains[us>israel].pressure=0:1:5"]
    sweep(april, levers, n=n // 2, out=work / "sweep", workers=workers)
    shown.append(_save(sweep_figure(work / "sweep"), "sweep", read_manifest(work / "sweep"), docs))
    sobol(
        april,
        n=SOBOL_BASE_SAMPLES,
        replications=SOBOL_REPLICATIONS,
        out=work / "sobol",
        workers=workers,
    )
    shown.append(_save(sobol_figure(work / "sobol"), "sobol", read_manifest(work / "sobol"), docs))
    posterior = pd.read_parquet(calibration / "posterior.parquet")
    fitted = _calibration_trace(calibration, len(posterior))
    shown.append(_save(calibration_figure(calibration), "calibration", fitted, docs))
    sample = pd.read_parquet(calibration / "predictive_sample.parquet")
    shown.append(_save(plots.predictive_check(sample), "predictive", fitted, docs))
    return shown


def _calibration_trace(calibration: Path, draws: int) -> dict:
    """What identifies the shipped calibration: its config, seed, posterior size and version."""
    config = yaml.safe_load((calibration / "calibrate.yaml").read_text(encoding="utf-8"))
    return {
        "scenario_file": "calibration/calibrate.yaml",
        "seed": config.get("seed"),
        "n": draws,
        "package_version": PACKAGE_VERSION,
        "git_commit": git_commit(),
    }


def _page(shown: list[tuple[str, str, str]], n: int) -> str:
    """docs/gallery.md: each image with its caption, its CSV and its trace."""
    lines = [
        "# Figure gallery",
        "",
        "Made by `sim gallery` from the shipped scenarios "
        f"(n = {n} replications; comparisons and sweeps {n // 2} per setting; Sobol indices "
        f"from {SOBOL_BASE_SAMPLES} base samples of {SOBOL_REPLICATIONS} replications) and the "
        "shipped calibration. `sim plot` draws the same figures as PDF, SVG or 300-dpi PNG (the "
        "timeline of the replication its caption names: `sim plot DIR --kind timeline -r K`); "
        f"these PNGs are {DPI} dpi to keep the documentation small.",
        "",
    ]
    for name, caption, trace in shown:
        lines += [
            f"## {name}",
            "",
            f"![{name}](gallery/{name}.png)",
            "",
            f"{caption} Numbers: [gallery/{name}.csv](gallery/{name}.csv). Made from: {trace}.",
            "",
        ]
    return "\n".join(lines)


def draw_gallery(root: Path, n: int = 500, workers: int = 1) -> Path:
    """Draw every figure from the project at ``root`` into ``root/docs``; return the page.

    Figures are drawn into a scratch folder first, so a failure leaves the old gallery whole.
    """
    docs = root / "docs"
    with tempfile.TemporaryDirectory() as work:
        scratch = Path(work) / "docs"
        shown = _figures(root, n, workers, Path(work), scratch)
        (scratch / "gallery.md").write_text(_page(shown, n), encoding="utf-8")
        shutil.rmtree(docs / "gallery", ignore_errors=True)
        shutil.move(scratch / "gallery", docs / "gallery")
        (scratch / "gallery.md").replace(docs / "gallery.md")
    return docs / "gallery.md"
