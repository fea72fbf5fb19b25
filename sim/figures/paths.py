"""The escalation path tree: who struck whom at which rung next, with the share of runs on each
branch, from the ``path`` column of the runs table."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from matplotlib.collections import LineCollection

from sim.figures.style import OKABE_ITO, TWO_COLUMNS_INCHES, PaperFigure, paper_style
from sim.study.results import Results, wilson_interval

END = "(no further strike)"


def _label(step: str) -> str:
    """``iran>israel:3`` -> ``iran on israel, rung 3``."""
    if step == END:
        return step
    actors, rung = step.rsplit(":", 1)
    attacker, target = actors.split(">", 1)
    return f"{attacker} on {target}, rung {rung}"


def branch_table(runs: pd.DataFrame, steps: int = 4, threshold: float = 0.02) -> pd.DataFrame:
    """Every path prefix of up to ``steps`` strikes (and its end, where runs stopped there) held by
    at least ``threshold`` of the runs: its share of all runs with a 95% Wilson interval, and its
    share among the runs that reached its parent."""
    n = len(runs)
    counts: Counter[tuple[str, ...]] = Counter()
    for path in runs["path"]:
        tokens = tuple(path.split())
        for depth in range(1, min(len(tokens), steps) + 1):
            counts[tokens[:depth]] += 1
        if len(tokens) < steps:
            counts[(*tokens, END)] += 1
    kept = {k: v for k, v in counts.items() if v / n >= threshold}
    kept = {k: v for k, v in kept.items() if all(k[:d] in kept for d in range(1, len(k)))}
    prefixes = sorted(kept, key=lambda k: tuple((-kept[k[: d + 1]], k[d]) for d in range(len(k))))
    runs_on = np.array([kept[k] for k in prefixes])
    low, high = wilson_interval(runs_on, np.full(len(runs_on), n))
    parents = [kept.get(k[:-1], n) for k in prefixes]
    return pd.DataFrame(
        {
            "step": [len(k) for k in prefixes],
            "branch": [" ".join(k) for k in prefixes],
            "parent": [" ".join(k[:-1]) for k in prefixes],
            "strike": [k[-1] for k in prefixes],
            "runs": runs_on,
            "n": n,
            "share": runs_on / n,
            "ci_low": low,
            "ci_high": high,
            "share_of_parent": runs_on / np.array(parents),
        }
    )


def _layout(table: pd.DataFrame) -> dict[str, float]:
    """Vertical position of each branch: leaves in order from the top, parents between children."""
    children: dict[str, list[str]] = {}
    for branch, parent in zip(table.branch, table.parent, strict=True):
        children.setdefault(parent, []).append(branch)
    y: dict[str, float] = {}

    leaves = iter(range(0, -len(table) - 1, -1))

    def place(branch: str) -> float:
        kids = children.get(branch, [])
        y[branch] = float(np.mean([place(k) for k in kids])) if kids else float(next(leaves))
        return y[branch]

    for root in children.get("", []):
        place(root)
    return y


def path_tree(
    results: Results | pd.DataFrame, steps: int = 4, threshold: float = 0.02
) -> PaperFigure:
    """The first ``steps`` strikes of the runs as a tree (runs table, ``path`` column): each
    branch is a strike (attacker on target, rung) labelled with the share of all runs that took
    it and its 95% Wilson interval; line width grows with the share; branches held by fewer than
    ``threshold`` of the runs are left out, so shares of siblings may not sum to their parent's."""
    runs = results.runs if isinstance(results, Results) else results
    table = branch_table(runs, steps, threshold)
    y = _layout(table)
    table["y"] = table.branch.map(y)
    with paper_style():
        figure = PaperFigure(TWO_COLUMNS_INCHES, 0.27 * (table.y.max() - table.y.min() + 2) + 0.3)
        axes = figure.add_subplot()
        edges = table[table.parent != ""]
        segments = [
            [(step - 1 + 0.68, y[parent]), (step - 0.03, yy)]
            for step, parent, yy in zip(edges.step, edges.parent, edges.y, strict=True)
        ]
        axes.add_collection(
            LineCollection(segments, linewidths=0.4 + 4 * edges.share, colors=OKABE_ITO[5])
        )
        for row in table.itertuples():
            colour = "0.45" if row.strike == END else "black"
            axes.text(
                row.step,
                row.y,
                f"{_label(row.strike)}\n{row.share:.2f} [{row.ci_low:.2f}, {row.ci_high:.2f}]",
                fontsize=7,
                va="center",
                color=colour,
                linespacing=1.1,
            )
        for step in range(1, steps + 1):
            axes.text(
                step,
                table.y.max() + 0.9,
                "opening" if step == 1 else f"strike {step}",
                fontsize=7.5,
                fontweight="bold",
            )
        axes.set_xlim(0.95, steps + 0.8)
        axes.set_ylim(table.y.min() - 0.6, table.y.max() + 1.2)
        axes.set_axis_off()
    caption = (
        f"The first {steps} strikes of n = {len(runs)} runs: each branch with the share of all runs "
        f"that took it [95% Wilson interval]; branches below {threshold:.0%} of runs are omitted."
    )
    return figure.finish(table, caption)
