"""Figures of study tables: restraint sweeps, paired comparisons, Sobol indices and calibration.

Each function takes the DataFrame its docstring describes (the tables ``sim sweep``,
``sim compare``, ``sim sensitivity`` and ``sim calibrate`` write) and returns a ``PaperFigure``
whose ``data`` holds exactly the numbers drawn, every estimate with its interval.
"""

from __future__ import annotations

import textwrap
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.container import ErrorbarContainer

from sim.plot_style import (
    BAND_ALPHA,
    OKABE_ITO,
    ONE_COLUMN_INCHES,
    TWO_COLUMNS_INCHES,
    PaperFigure,
    paper_style,
    symbols,
)
from sim.results import wilson_interval


def _interval(axes: Axes, x, y, low, high, horizontal: bool = True, **style) -> ErrorbarContainer:
    """Points with 95% whiskers, horizontal (around ``x``) or vertical (around ``y``)."""
    style = {"fmt": "o", "ms": 3, "capsize": 2, "lw": 0.8, **style}
    x, y, low, high = (np.asarray(v, dtype=float) for v in (x, y, low, high))
    centre = x if horizontal else y
    # A bootstrap percentile interval may miss its own estimate; whiskers cannot be negative.
    error = [np.maximum(centre - low, 0), np.maximum(high - centre, 0)]
    return axes.errorbar(x, y, **{"xerr" if horizontal else "yerr": error}, **style)


def _short(parameter: str) -> str:
    """``actors.iran.policy.delay.median_days`` -> ``iran delay.median_days``;
    ``proxy[hezbollah>iran].obey_probability`` -> ``proxy[hezbollah>iran] obey_probability``."""
    parts = parameter.split(".")
    if parts[0] == "actors" and "policy" in parts:
        return f"{parts[1]} {'.'.join(parts[parts.index('policy') + 1 :])}"
    if parts[0].endswith("]") and len(parts) > 1:
        return f"{parts[0]} {'.'.join(parts[1:])}"
    return parameter


def path_labels(
    scenario_file: str | Path, paths: Iterable[str], meanings: bool = True
) -> dict[str, str]:
    """Readable names of scenario values given by path, for axis labels: a declared lever's
    meaning (the scenario's ``levers:``; only if ``meanings``), else the path with its relation
    named by alias (``relations.5.obey_probability`` -> ``proxy[hezbollah>iran].obey_probability``),
    else the path itself."""
    from sim.levers import relation_aliases, resolve_path
    from sim.scenario import load_scenario

    scenario = load_scenario(scenario_file)
    declared = (
        {resolve_path(scenario, s.path): s.meaning for s in scenario.levers.values()}
        if meanings
        else {}
    )
    aliases = {index: alias for alias, index in relation_aliases(scenario).items()}
    labels = {}
    for path in paths:
        parts = path.split(".")
        relation = parts[0] == "relations" and len(parts) > 1 and parts[1].isdigit()
        if path in declared:
            labels[path] = declared[path]
        elif relation and int(parts[1]) in aliases:
            labels[path] = ".".join([aliases[int(parts[1])], *parts[2:]])
        else:
            labels[path] = path
    return labels


def _wrap(text: str, width: int = 52) -> str:
    """A long axis label in lines of at most ``width`` characters; a closing parenthesis (a
    lever's scale, say) goes on a line of its own."""
    if len(text) <= width:
        return text
    head, sep, tail = text.partition(" (")
    if sep and tail.endswith(")") and len(head) <= width:
        return f"{head}\n({tail}"
    return "\n".join(textwrap.wrap(text, width)) or text


def _outcome_names(table: pd.DataFrame) -> pd.Series:
    names = table["label"] if "label" in table else table["outcome"]
    return names.map(symbols)


def sweep_levers(table: pd.DataFrame) -> list[str]:
    """The lever columns of a ``sim sweep`` table: those before ``setting``, named by path."""
    return list(table.columns[: list(table.columns).index("setting")])


def sweep_probabilities(
    table: pd.DataFrame,
    levers: Sequence[str] | None = None,
    labels: Mapping[str, str] | None = None,
) -> PaperFigure:
    """Outcome probabilities across one or two levers (a ``sim sweep`` table), with 95% bands.

    ``table`` columns: one column per lever holding its value (named by its path; by default the
    columns before ``setting``), ``outcome`` (optionally ``label``), ``probability``, ``ci_low``,
    ``ci_high``. One lever: a line per outcome. Two levers: a panel per outcome, a line per value
    of the second lever. ``labels`` names a lever's axis (by its column; ``path_labels`` gives
    declared levers' meanings); a lever without one is named by its path.
    """
    levers = list(levers or sweep_levers(table))
    names = {lever: _wrap((labels or {}).get(lever) or lever) for lever in levers}
    data = table.assign(outcome_label=_outcome_names(table))[
        [*levers, "outcome", "outcome_label", "probability", "ci_low", "ci_high"]
    ].sort_values(["outcome", *levers[::-1]])
    groups = list(data.groupby("outcome", sort=False))
    panels = 1 if len(levers) == 1 else len(groups)
    with paper_style():
        width = ONE_COLUMN_INCHES if panels == 1 else TWO_COLUMNS_INCHES
        figure = PaperFigure(width, 2.4)
        axes_list = np.atleast_1d(figure.subplots(1, panels, sharey=True))
        for index, (_, part) in enumerate(groups):
            axes = axes_list[0 if panels == 1 else index]
            lines = (
                [(part.outcome_label.iloc[0], part)]
                if len(levers) == 1
                else [(f"{value:g}", sub) for value, sub in part.groupby(levers[1])]
            )
            shift = index if panels == 1 else 0
            for color, (name, sub) in zip(OKABE_ITO[shift:], lines, strict=False):
                axes.fill_between(
                    sub[levers[0]], sub.ci_low, sub.ci_high, color=color, alpha=BAND_ALPHA, lw=0
                )
                axes.plot(
                    sub[levers[0]], sub.probability, color=color, marker="o", ms=3, label=name
                )
            if panels > 1:
                axes.set_title(part.outcome_label.iloc[0])
            axes.set(xlabel=names[levers[0]], ylabel="probability", ylim=(0, 1))
        figure.legend(
            *axes_list[0].get_legend_handles_labels(),
            loc="outside lower center",
            ncols=2 if len(levers) == 1 else len(lines),
            title=None if len(levers) == 1 else names[levers[1]],
        )
    caption = "Outcome probabilities across the swept lever(s), with 95% Wilson bands."
    return figure.finish(data, caption)


def paired_differences(table: pd.DataFrame) -> PaperFigure:
    """Paired differences from the baseline (a ``sim compare`` table), with 95% intervals.

    ``table`` columns: ``setting`` (the first is the baseline), ``outcome`` (optionally
    ``label``), ``difference``, and its interval as ``diff_ci_low``/``diff_ci_high`` (what
    ``sim compare`` writes; there ``ci_low``/``ci_high`` bound the probability) or, when those
    are absent, ``ci_low``/``ci_high``. The baseline's rows (differences of zero) are left out.
    """
    low, high = ("diff_ci_low", "diff_ci_high") if "diff_ci_low" in table else ("ci_low", "ci_high")
    baseline = table.setting.iloc[0]
    data = table[table.setting != baseline].assign(outcome_label=_outcome_names(table))
    data = data[["setting", "outcome", "outcome_label", "difference", low, high]]
    data = data.rename(columns={low: "ci_low", high: "ci_high"}).reset_index(drop=True)
    outcomes = list(dict.fromkeys(data.outcome_label))
    settings = list(dict.fromkeys(data.setting))
    step = 0.7 / max(len(settings), 1)
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 0.12 * len(data) + 0.25 * len(outcomes) + 1.0)
        axes = figure.add_subplot()
        for k, (color, setting) in enumerate(zip(OKABE_ITO, settings, strict=False)):
            part = data[data.setting == setting]
            y = len(outcomes) - 1 - part.outcome_label.map(outcomes.index) + 0.35 - (k + 0.5) * step
            _interval(
                axes,
                part.difference,
                y,
                part.ci_low,
                part.ci_high,
                color=color,
                label=setting,
                capsize=2.5,
                zorder=3,
            )
            # An interval of zero width (every paired run agreed) is drawn as a tall tick, so it
            # reads as an interval, not as a point whose interval is missing.
            zero = (part.ci_high - part.ci_low).to_numpy() <= 1e-12
            x, y = part.difference.to_numpy(), np.asarray(y, dtype=float)
            axes.plot(x[zero], y[zero], "|", ms=8, mew=2, color=color, zorder=3)
        if (data.ci_high - data.ci_low <= 1e-12).any():
            axes.plot([], [], "|", ms=8, mew=2, color="0.3", label="interval of zero width")
        axes.axvline(0, color="0.6", lw=0.5, ls="--", zorder=1)
        axes.set_yticks(np.arange(len(outcomes))[::-1], outcomes, fontsize=6.5)
        axes.set(
            xlabel=f"difference in probability from {baseline}\n(0.1 = 10 percentage points)",
            ylabel="outcome",
        )
        figure.legend(loc="outside lower center", ncols=2, handlelength=1)
    caption = (
        f"Paired differences in outcome probability from {baseline} (common random numbers), "
        "with 95% intervals; a tall tick is an interval of zero width (every pair of runs agreed)."
    )
    return figure.finish(data, caption)


def sobol_indices(table: pd.DataFrame) -> PaperFigure:
    """First-order and total Sobol indices per parameter and outcome (a ``sim sensitivity``
    table), with bootstrap 95% intervals.

    ``table`` columns: ``parameter``, ``outcome``, ``first_order``, ``first_order_low``,
    ``first_order_high``, ``total``, ``total_low``, ``total_high``. One panel per outcome.
    """
    data = table[
        [
            "outcome",
            "parameter",
            "first_order",
            "first_order_low",
            "first_order_high",
            "total",
            "total_low",
            "total_high",
        ]
    ].reset_index(drop=True)
    outcomes = list(dict.fromkeys(data.outcome))
    titles = dict(zip(table.outcome, table["label"], strict=True)) if "label" in table else {}
    with paper_style():
        width = ONE_COLUMN_INCHES if len(outcomes) == 1 else TWO_COLUMNS_INCHES
        parameters = list(dict.fromkeys(data.parameter))
        figure = PaperFigure(width, 0.25 * len(parameters) + 1.0)
        panels = np.atleast_1d(figure.subplots(1, len(outcomes), sharex=True, sharey=True))
        positions = {p: i for i, p in enumerate(parameters[::-1])}
        for axes, outcome in zip(panels, outcomes, strict=True):
            part = data[data.outcome == outcome]
            y = part.parameter.map(positions).to_numpy(dtype=float)
            for offset, kind, color, fmt in (
                (0.15, "first_order", OKABE_ITO[0], "o"),
                (-0.15, "total", OKABE_ITO[1], "s"),
            ):
                _interval(
                    axes,
                    part[kind],
                    y + offset,
                    part[f"{kind}_low"],
                    part[f"{kind}_high"],
                    color=color,
                    fmt=fmt,
                    label=kind.replace("_", " "),
                )
            axes.axvline(0, color="0.3", lw=0.5)
            title = symbols(titles.get(outcome, outcome))
            axes.set(
                xlabel="Sobol index", ylabel="" if axes is not panels[0] else "uncertain input"
            )
            axes.set_title(title, fontsize=7)
            axes.set_yticks(list(positions.values()), [_short(p) for p in positions], fontsize=6.5)
        panels[0].legend(loc="lower right")
    caption = "First-order and total Sobol indices with bootstrap 95% intervals."
    return figure.finish(data, caption)


def prior_posterior(
    posterior: pd.DataFrame, priors: pd.DataFrame, labels: Mapping[str, str] | None = None
) -> PaperFigure:
    """Prior against posterior for each calibrated parameter, on the scale of its prior range.

    ``posterior``: the accepted sample, one column per parameter (other columns are ignored).
    ``priors``: columns ``parameter``, ``low``, ``high`` (uniform priors; ``prior_low`` and
    ``prior_high``, as in ``calibration/summary.csv``, are accepted too) and optionally ``label``
    (a prior's declared name). Each row shows the prior's and the posterior's median with 50% and
    90% intervals, as 0 (low) to 1 (high). A parameter is named by its ``label``, else by
    ``labels[parameter]`` (``path_labels(scenario, paths, meanings=False)`` names relations by
    alias), else by its path.
    """
    priors = priors.rename(columns={"prior_low": "low", "prior_high": "high"})
    quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]
    given = priors["label"] if "label" in priors else [None] * len(priors)
    names = {
        p: label if isinstance(label, str) and label else _short((labels or {}).get(p, p))
        for p, label in zip(priors.parameter, given, strict=True)
    }
    rows = []
    for prior in priors.itertuples():
        values = posterior[prior.parameter].to_numpy(dtype=float)
        span = prior.high - prior.low
        for source, qs in (
            ("prior", [prior.low + q * span for q in quantiles]),
            ("posterior", np.quantile(values, quantiles)),
        ):
            q = dict(zip(("q05", "q25", "median", "q75", "q95"), qs, strict=True))
            rows.append(
                {
                    "parameter": prior.parameter,
                    "label": names[prior.parameter],
                    "source": source,
                    "low": prior.low,
                    "high": prior.high,
                    **q,
                }
                | {f"scaled_{k}": (v - prior.low) / span for k, v in q.items()}
            )
    data = pd.DataFrame(rows)
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, 0.3 * len(priors) + 0.9)
        axes = figure.add_subplot()
        n = len(priors)
        for offset, color, (source, part) in zip(
            (0.15, -0.15), ("0.55", OKABE_ITO[0]), data.groupby("source", sort=False), strict=True
        ):
            y = np.arange(n)[::-1] + offset
            _interval(
                axes,
                part.scaled_median,
                y,
                part.scaled_q05,
                part.scaled_q95,
                color=color,
                capsize=0,
                lw=0.7,
                label=f"{source}, 90%",
            )
            _interval(
                axes,
                part.scaled_median,
                y,
                part.scaled_q25,
                part.scaled_q75,
                fmt="none",
                ecolor=color,
                capsize=0,
                lw=2.2,
            )
        axes.set_yticks(np.arange(n)[::-1], list(names.values()), fontsize=6.5)
        axes.set(
            xlabel="position in the prior range\n(0 = low, 1 = high)",
            ylabel="parameter",
            xlim=(-0.02, 1.02),
        )
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, 1.0 + 0.6 / (n + 2)), ncols=2)
    caption = (
        f"Prior and posterior of {n} calibrated parameters ({len(posterior)} accepted draws): "
        "medians with 50% (thick) and 90% (thin) intervals, scaled to each prior's range."
    )
    return figure.finish(data, caption)


def _predictive_rows(sample: pd.DataFrame) -> pd.DataFrame:
    """Per target: the simulated median with its 50% and 90% ranges, or for a 0/1 target the
    share of runs at 1 with its Wilson 95% interval; the observed value and the runs."""
    rows = []
    for target, group in sample.groupby("target", sort=False):
        values = group["simulated"].dropna().to_numpy(dtype=float)
        row = {"target": target}
        if len(values) and np.isin(values, (0.0, 1.0)).all():
            ones = int(values.sum())
            (low,), (high,) = wilson_interval(np.array([ones]), np.array([len(values)]))
            row |= {"statistic": "share of runs at 1", "estimate": ones / len(values)}
            row |= {"ci_low": float(low), "ci_high": float(high), "q25": np.nan, "q75": np.nan}
            row |= {"interval": "Wilson 95%"}
        else:
            q05, q25, median, q75, q95 = np.quantile(values, [0.05, 0.25, 0.5, 0.75, 0.95])
            row |= {"statistic": "median", "estimate": median, "ci_low": q05, "ci_high": q95}
            row |= {"q25": q25, "q75": q75, "interval": "5%-95% of runs"}
        rows.append(row | {"observed": group["observed"].iloc[0], "runs": len(values)})
    return pd.DataFrame(rows)


def predictive_check(sample: pd.DataFrame, columns: int = 4) -> PaperFigure:
    """Posterior predictive check: for each target, the simulated values' median with the middle
    50% (thick bar) and 90% (thin bar) of runs, against the observed value. A 0/1 target (every
    simulated value 0 or 1; quantiles of it say nothing) shows instead the share of runs at 1 with
    its Wilson 95% interval (a thin bar with caps).

    ``sample`` columns: ``target``, ``observed`` (the same on every row of a target) and
    ``simulated`` (one row per simulated run). The figure's ``data``: ``statistic`` (median or
    share), ``estimate``, ``ci_low``/``ci_high`` (the thin bar), ``q25``/``q75`` (the thick bar;
    empty for a 0/1 target), ``observed`` and ``runs``.
    """
    data = _predictive_rows(sample)
    rows = int(np.ceil(len(data) / columns))
    handles: dict[str, object] = {}
    with paper_style():
        figure = PaperFigure(TWO_COLUMNS_INCHES, 0.75 * rows + 0.6)
        panels = np.atleast_1d(figure.subplots(rows, columns)).ravel()
        for axes, target in zip(panels, data.itertuples(), strict=False):
            binary = target.statistic != "median"
            drawn = _interval(
                axes,
                [target.estimate],
                [0],
                [target.ci_low],
                [target.ci_high],
                color=OKABE_ITO[0],
                fmt="s" if binary else "o",
                capsize=2.5 if binary else 0,
                lw=0.8,
                zorder=2,
            )
            if binary:
                handles.setdefault("0/1 target: share of runs at 1, Wilson 95% interval", drawn)
                axes.set_xlim(-0.05, 1.05)
            else:
                handles.setdefault("simulated median, middle 90% of runs (thin)", drawn)
                thick = _interval(
                    axes,
                    [target.estimate],
                    [0],
                    [target.q25],
                    [target.q75],
                    fmt="none",
                    ecolor=OKABE_ITO[0],
                    capsize=0,
                    lw=2.5,
                    zorder=2,
                )
                handles.setdefault("middle 50% of runs (thick)", thick)
            (observed,) = axes.plot(
                target.observed, 0, "D", ms=6, mfc="none", mew=1.1, color=OKABE_ITO[3], zorder=3
            )
            handles.setdefault("observed", observed)
            axes.set_yticks([])
            axes.spines["left"].set_visible(False)
            name = f"{target.target} (share of runs)" if binary else target.target
            axes.set(xlabel=name, ylim=(-1, 1))
        for axes in panels[len(data) :]:
            axes.set_axis_off()
        order = [
            "simulated median, middle 90% of runs (thin)",
            "middle 50% of runs (thick)",
            "0/1 target: share of runs at 1, Wilson 95% interval",
            "observed",
        ]
        shown = [k for k in order if k in handles]
        figure.legend(
            [handles[k] for k in shown], shown, loc="outside upper center", ncols=len(shown)
        )
    caption = (
        "Posterior predictive check: for each calibration target, the simulated median with the "
        "middle 50% (thick) and 90% (thin) of runs, or for a 0/1 target the share of runs at 1 "
        "with its Wilson 95% interval (capped), against the observed value (hollow diamond)."
    )
    return figure.finish(data, caption)
