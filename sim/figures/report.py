"""One self-contained HTML page for a results folder: figures, tables, manifest and scenario.

The page has no scripts and no external resources (figures are inline SVG, text as paths), so it opens anywhere
and can be attached to a paper's supplementary material as it is.
"""

from __future__ import annotations

import html
import io
import json
from pathlib import Path

import matplotlib
import pandas as pd

from sim.figures import plots
from sim.study.results import Results

STYLE = """
body { font-family: Georgia, 'Times New Roman', serif; max-width: 60rem; margin: 2rem auto;
       padding: 0 1rem; color: #222; line-height: 1.45; }
table { border-collapse: collapse; margin: 1rem 0; font-size: 0.9rem; }
th, td { border-bottom: 1px solid #ccc; padding: 0.2rem 0.6rem; text-align: right; }
th:first-child, td:first-child { text-align: left; }
pre { background: #f6f6f6; padding: 0.8rem; overflow-x: auto; font-size: 0.8rem; }
figure { margin: 1.5rem 0; } figcaption { font-size: 0.9rem; color: #444; }
"""


def _svg(figure) -> str:
    """The figure as an inline SVG element, text drawn as paths so it looks the same anywhere."""
    buffer = io.StringIO()
    with plots.paper_style(), matplotlib.rc_context({"svg.fonttype": "path"}):
        figure.savefig(buffer, format="svg", metadata={"Date": None})
    text = buffer.getvalue()
    width = figure.get_figwidth() * 1.5
    style = f"<svg style='width:{width:.2f}in;max-width:100%;height:auto' "
    return style + text[text.index("<svg") + len("<svg ") :]


def _table(frame: pd.DataFrame) -> str:
    return frame.to_html(index=False, float_format=lambda v: f"{v:.3f}", border=0)


def build_report(results: Results) -> str:
    """The whole page as a string."""
    m = results.manifest
    summary = results.summary()
    figures = []
    for name, draw in plots.RESULTS_FIGURES.items():
        figure = draw(results)
        figures.append(
            f"<figure id='{name}'>{_svg(figure)}<figcaption>{html.escape(figure.caption)} "
            f"The numbers drawn: <code>sim plot {html.escape(str(results.folder))} --kind {name}"
            f"</code> writes <code>figures/{name}.csv</code>.</figcaption></figure>"
        )
    title = html.escape(f"{m.get('scenario_name')} - {m.get('n')} replications")
    parts = [
        f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{title}</title>",
        f"<style>{STYLE}</style></head><body><h1>{title}</h1>",
        f"<p>Seed {m.get('seed')}, escalation-sim {html.escape(str(m.get('package_version')))}, "
        f"commit <code>{html.escape(str(m.get('git_commit')))}</code>, scenario SHA-256 "
        f"<code>{html.escape(str(m.get('scenario_sha256')))}</code>.</p>",
        "<h2>Probability of reaching each rung within the horizon</h2>",
        _table(summary.rungs),
        "<h2>Most frequent paths</h2>",
        _table(summary.actor_paths),
        "<h2>Figures</h2>",
        *figures,
        "<h2>Manifest</h2>",
        f"<pre>{html.escape(json.dumps(m, indent=2, sort_keys=True))}</pre>",
        "<h2>Scenario (resolved)</h2>",
        f"<pre>{html.escape(results.scenario_text)}</pre>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(folder: str | Path, out: str | Path | None = None) -> Path:
    """Write the report for a results folder (default ``FOLDER/report.html``); return its path."""
    from sim.study.results import atomic_write_bytes

    results = Results(folder)
    target = Path(out) if out else results.folder / "report.html"
    atomic_write_bytes(target, build_report(results).encode("utf-8"))
    return target
