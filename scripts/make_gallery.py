"""Draw the figure gallery (docs/gallery.md and docs/gallery/*.png) from the shipped scenarios.

    python scripts/make_gallery.py [--n 500]

Every image is made by the same functions as ``sim plot``, from results tables written by
``sim.run`` and ``sim.compare.sweep``/``compare`` and from the shipped calibration output; each
image's numbers are in the CSV beside it. PNGs are written at a modest resolution to keep the
gallery small.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import matplotlib
import pandas as pd

import sim
from sim import plots
from sim.compare import Setting, compare, sweep
from sim.plot_style import trace_text

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ROOT / "scenarios"
DOCS = ROOT / "docs"
DPI = 110


def _save(figure: plots.PaperFigure, name: str, manifest: dict) -> tuple[str, str, str]:
    """Write ``docs/gallery/NAME.png`` and ``.csv``; return (name, caption, trace)."""
    target = DOCS / "gallery" / name
    target.parent.mkdir(parents=True, exist_ok=True)
    figure.data.to_csv(target.with_suffix(".csv"), index=False)
    with plots.paper_style(), matplotlib.rc_context({"savefig.dpi": DPI}):
        figure.savefig(target.with_suffix(".png"), metadata={"Description": trace_text(manifest)})
    return name, figure.caption, trace_text(manifest)


def _figures(n: int, work: Path) -> list[tuple[str, str, str]]:
    """Every gallery figure: from one study, a comparison, a sweep and the calibration."""
    results = sim.run(SCENARIOS / "april-2024.yaml", n=n, workers=1, out=work / "run")
    shown = [
        _save(draw(results), name, results.manifest) for name, draw in plots.RESULTS_FIGURES.items()
    ]
    settings = [Setting("baseline", SCENARIOS / "april-2024.yaml")] + [
        Setting(name, SCENARIOS / f"april-2024-{name}.yaml")
        for name in ("strong-us-restraint", "no-allied-defence", "hezbollah-ordered-in")
    ]
    table = compare(settings, n=n // 2, out=work / "compare", workers=1)
    shown.append(
        _save(
            plots.paired_differences(table),
            "compare",
            {"settings": [{"file": s.file.name} for s in settings], "n_per_setting": n // 2},
        )
    )
    swept = sweep(
        SCENARIOS / "april-2024.yaml",
        ["relations.4.pressure=0:1:5"],
        n=n // 2,
        out=work / "sweep",
        workers=1,
    )
    shown.append(
        _save(
            plots.sweep_probabilities(swept),
            "sweep",
            {"scenario_file": "april-2024.yaml", "n_per_setting": n // 2},
        )
    )
    calibration = ROOT / "calibration"
    posterior = pd.read_parquet(calibration / "posterior.parquet")
    figure = plots.prior_posterior(posterior, pd.read_csv(calibration / "summary.csv"))
    shown.append(_save(figure, "calibration", {"scenario_file": "calibration/calibrate.yaml"}))
    return shown


def _page(shown: list[tuple[str, str, str]], n: int) -> str:
    """docs/gallery.md: each image with its caption, its CSV and its trace."""
    lines = [
        "# Figure gallery",
        "",
        "Made by `python scripts/make_gallery.py` from the shipped scenarios "
        f"(n = {n} replications; comparisons and sweeps {n // 2} per setting) and the shipped "
        "calibration. `sim plot` draws the same figures as PDF, SVG or 300-dpi PNG; these PNGs "
        f"are {DPI} dpi to keep the documentation small.",
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


def main() -> None:
    """Parse ``--n``, draw every figure, write the page."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=500, help="replications of the main study")
    n = parser.parse_args().n
    with tempfile.TemporaryDirectory() as work:
        shown = _figures(n, Path(work))
    (DOCS / "gallery.md").write_text(_page(shown, n), encoding="utf-8")
    print(f"wrote {DOCS / 'gallery.md'} and {len(shown)} figures in {DOCS / 'gallery'}")


if __name__ == "__main__":
    main()
