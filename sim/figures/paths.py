"""Escalation paths: the path tree (who struck whom at which rung next, with the share of runs on
each branch, from the ``path`` column of the runs table) and one run's path in time (the
timeline, from the events table)."""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection

from sim.figures.style import (
    OKABE_ITO,
    SERIES_MARKERS,
    TWO_COLUMNS_INCHES,
    PaperFigure,
    paper_style,
)
from sim.model.events import EVENT_SCHEMA, HOURS_PER_DAY
from sim.study.results import Results, ResultsError, wilson_interval

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


def _typical_replication(runs: pd.DataFrame) -> int:
    """The lowest-numbered run that reached the median highest rung with the median strikes."""
    rung = runs.max_rung.median()
    candidates = runs[runs.max_rung == np.floor(rung)]
    strikes = candidates.strikes.median()
    chosen = candidates[candidates.strikes >= strikes]
    return int(chosen.replication.min())


def _timeline_strikes(axes: Axes, log: pd.DataFrame, actors: list[str]) -> pd.DataFrame:
    """Strikes (filled, labelled with target, rung and projectiles) and decisions (open circle:
    answer, cross: no answer) in one row per actor; returns the strikes drawn, each with the
    projectiles its waves launched (logged at launch, so a strike still in flight at the horizon
    counts too; a log from before waves were logged gives its outcomes' counts)."""
    waves = log[log.kind == "wave"].groupby("strike_id")["count"].sum()
    outcomes = log[log.kind == "outcome"].set_index("strike_id").launched
    strikes = log[log.kind == "strike"]
    launched = strikes.strike_id.map(waves).fillna(strikes.strike_id.map(outcomes)).fillna(0)
    strikes = strikes.assign(launched=launched.astype(int))
    days = strikes.time_hours / HOURS_PER_DAY
    rows = strikes.attacker.map(actors.index)
    axes.plot(days, rows, "o", ms=4, color="black", label="strike: target, rung (projectiles)")
    for day, row, strike in zip(days, rows, strikes.itertuples(), strict=True):
        text = f"{strike.target}, {int(strike.rung)} ({strike.launched})"
        axes.annotate(text, (day, row), xytext=(2, 4), textcoords="offset points", fontsize=7)
    decisions = log[log.kind == "decision"]
    for respond, marker, name in ((True, "o", "answer"), (False, "x", "no answer")):
        chosen = decisions[decisions.respond == respond]
        axes.plot(
            chosen.time_hours / HOURS_PER_DAY,
            chosen.actor.map(actors.index),
            marker,
            ms=5,
            mfc="none",
            color=OKABE_ITO[0],
            label=f"decision: {name}",
        )
    axes.set_yticks(range(len(actors)), actors)
    axes.set_ylim(-0.6, len(actors) - 0.2)
    axes.set(ylabel="actor", xlabel="days since the opening strike")
    return strikes


def _timeline_waves(
    axes: Axes, log: pd.DataFrame, strikes: pd.DataFrame, actors: list[str], legend: dict
) -> pd.DataFrame:
    """Each wave of a strike as a segment below its attacker's row, from its launch to the last
    arrival it can have, with a marker at its launch, one grey and one marker shape per weapon
    (colours mark the layers below); puts each weapon's (segments, markers) in ``legend`` by its
    label; returns the waves drawn, with their attacker."""
    waves = (
        log[log.kind == "wave"]
        .drop(columns="attacker")
        .merge(strikes[["strike_id", "attacker"]], on="strike_id", how="left")
    )
    weapons = sorted(waves.weapon.unique())
    for k, weapon in enumerate(weapons):
        chosen = waves[waves.weapon == weapon]
        row = chosen.attacker.map(actors.index) - 0.18 - 0.3 * k / max(1, len(weapons) - 1)
        grey = str(round(0.55 * k / max(1, len(weapons) - 1), 3))  # black to mid grey
        start, stop = chosen.launch_hours / HOURS_PER_DAY, chosen.last_arrival_hours / HOURS_PER_DAY
        label = f"{weapon} wave"
        segments = axes.hlines(
            row, start, stop, color=grey, lw=2.5, capstyle="projecting", label=label
        )
        # A wave lasts hours on an axis of weeks: a marker of the weapon's shape at its launch
        # shows where it is and which weapon it is, in any print (the strike's own dot, "o",
        # is left out of the shapes).
        launches = axes.scatter(start, row, s=10, marker=SERIES_MARKERS[1 + k % 7], color=grey)
        legend[label] = (segments, launches)
    return waves


NAMED_LAYERS = 3
"""The timeline's bars name the layers that intercepted the most in the run, this many; the rest
are stacked as "other layers" (nine categories in one stack cannot be told apart)."""
LAYER_COLOURS = (OKABE_ITO[0], OKABE_ITO[5], OKABE_ITO[6], "0.2")
"""Colours of the named layers and of "other layers"; with vermillion (``OKABE_ITO[3]``) for
leakers their grey levels (0.34, 0.62, 0.84, 0.2 and 0.47) differ, so the stack reads in
greyscale."""


def _timeline_interceptions(axes: Axes, log: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """Stacked bars per strike: projectiles intercepted by each of the ``NAMED_LAYERS`` busiest
    layers, by all other layers together, then leakers on top; returns the bars drawn and the
    layers counted as "other layers"."""
    caught = log[log.kind == "interception"].pivot_table(
        index="strike_id", columns="layer", values="intercepted", aggfunc="sum", sort=False
    )
    outcome = log[log.kind == "outcome"].set_index("strike_id")
    table = caught.reindex(outcome.index).fillna(0)
    table = table.loc[:, table.sum() > 0]
    busiest = list(table.sum().sort_values(ascending=False, kind="stable").index)
    named, others = busiest[:NAMED_LAYERS], busiest[NAMED_LAYERS:]
    table = table[named].assign(**({"other layers": table[others].sum(axis=1)} if others else {}))
    table = table.assign(leakers=outcome.leaked)
    days = outcome.time_hours / HOURS_PER_DAY
    bottom = np.zeros(len(table))
    colours = [*LAYER_COLOURS[: len(named)], *LAYER_COLOURS[3:][: len(others[:1])], OKABE_ITO[3]]
    for colour, column in zip(colours, table.columns, strict=True):
        axes.bar(
            days,
            table[column],
            bottom=bottom,
            width=0.8,
            color=colour,
            label=column,
            edgecolor="white",
            lw=0.3,
        )
        bottom += table[column].to_numpy()
    axes.set(ylabel="projectiles", xlabel="days since the opening strike")
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, handlelength=1)
    return table.assign(day=days).reset_index(), others


def run_timeline(results: Results | pd.DataFrame, replication: int | None = None) -> PaperFigure:
    """One run as a timeline, from the events table: strikes by attacker (label: target and rung),
    their waves (a segment per weapon from launch to the last possible arrival), decisions (open
    circle: answer, cross: no answer), and for each strike the projectiles each
    layer intercepted and the leakers. ``replication`` defaults to a typical run (median highest
    rung, at least the median number of strikes). A single run has no estimates to bound."""
    events = (results.events if isinstance(results, Results) else results).reindex(
        columns=EVENT_SCHEMA.names
    )  # older logs lack wave columns
    if replication is None:
        replication = _typical_replication(results.runs) if isinstance(results, Results) else 0
    log = events[events.replication == replication].sort_values("time_hours", kind="stable")
    if log.empty:  # every run logs at least its opening strike
        known = events.replication
        raise ResultsError(
            f"no replication {replication} in these results (they hold {known.min()}-{known.max()})"
        )
    actors = list(dict.fromkeys([*log.attacker.dropna(), *log.actor.dropna()]))
    with paper_style():
        figure = PaperFigure(TWO_COLUMNS_INCHES, 3.2)
        top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[1.3, 1])
        strikes = _timeline_strikes(top, log, actors)
        wave_legend: dict[str, tuple] = {}
        waves = _timeline_waves(top, log, strikes, actors, wave_legend)
        handles, names = top.get_legend_handles_labels()
        handles = [
            wave_legend.get(name, handle) for handle, name in zip(handles, names, strict=True)
        ]
        top.legend(handles, names, loc="upper left", bbox_to_anchor=(0, 1.42), ncols=3, fontsize=7)
        table, others = _timeline_interceptions(bottom, log)
        top.set_xlabel("")
        top.tick_params(labelbottom=False)
        bottom.set_xlim(left=-1)
    data = log[log.kind.isin(["strike", "decision"])][
        ["kind", "time_hours", "strike_id", "attacker", "actor", "target", "rung", "respond"]
    ]
    launched = strikes.set_index("strike_id").launched  # as each strike's label gives it
    data = data.assign(launched=data.strike_id.map(launched).where(data.kind == "strike"))
    wave_columns = ["kind", "time_hours", "strike_id", "attacker", "weapon", "count"]
    wave_columns += ["launch_hours", "last_arrival_hours"]
    data = pd.concat(
        [data, waves[wave_columns], table.assign(kind="interception")], ignore_index=True
    )
    caption = (
        f"Replication {replication}: strikes, their waves (launch to last arrival), decisions, "
        "interceptions by layer and leakers."
    )
    if others:
        caption += f" Other layers: {', '.join(others)}."
    return figure.finish(data.assign(replication=replication), caption)
