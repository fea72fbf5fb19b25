"""Figures of study tables: restraint sweeps, paired comparisons, Sobol indices and calibration.

Each function takes the DataFrame its docstring describes (the tables ``sim sweep``,
``sim compare``, ``sim sensitivity`` and ``sim calibrate`` write) and returns a ``PaperFigure``
whose ``data`` holds exactly the numbers drawn, every estimate with its interval.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.axes import Axes

from sim.plot_style import (
    BAND_ALPHA,
    OKABE_ITO,
    ONE_COLUMN_INCHES,
    TWO_COLUMNS_INCHES,
    PaperFigure,
    paper_style,
)


def _interval(axes: Axes, x, y, low, high, horizontal: bool = True, **style) -> None:
    """Points with 95% whiskers, horizontal (around ``x``) or vertical (around ``y``)."""
    style = {"fmt": "o", "ms": 3, "capsize": 2, "lw": 0.8, **style}
    x, y, low, high = (np.asarray(v, dtype=float) for v in (x, y, low, high))
    centre = x if horizontal else y
    # A bootstrap percentile interval may miss its own estimate; whiskers cannot be negative.
    error = [np.maximum(centre - low, 0), np.maximum(high - centre, 0)]
    axes.errorbar(x, y, **{"xerr" if horizontal else "yerr": error}, **style)


def _short(parameter: str) -> str:
    """``actors.iran.policy.delay.median_days`` -> ``iran delay.median_days``."""
    parts = parameter.split(".")
    if parts[0] == "actors" and "policy" in parts:
        return f"{parts[1]} {'.'.join(parts[parts.index('policy') + 1 :])}"
    return parameter


def _outcome_names(table: pd.DataFrame) -> pd.Series:
    return table["label"] if "label" in table else table["outcome"]


def sweep_probabilities(table: pd.DataFrame, levers: Sequence[str] | None = None) -> PaperFigure:
    """Outcome probabilities across one or two levers (a ``sim sweep`` table), with 95% bands.

    ``table`` columns: one column per lever holding its value (named by its path; by default the
    columns before ``setting``), ``outcome`` (optionally ``label``), ``probability``, ``ci_low``,
    ``ci_high``. One lever: a line per outcome. Two levers: a panel per outcome, a line per value
    of the second lever.
    """
    levers = list(levers or table.columns[: list(table.columns).index("setting")])
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
                else [(f"{levers[1]} = {value:g}", sub) for value, sub in part.groupby(levers[1])]
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
            axes.set(xlabel=levers[0], ylabel="probability", ylim=(0, 1))
        figure.legend(
            *axes_list[0].get_legend_handles_labels(), loc="outside lower center", ncols=2
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
                axes, part.difference, y, part.ci_low, part.ci_high, color=color, label=setting
            )
        axes.axvline(0, color="0.3", lw=0.6, ls="--")
        axes.set_yticks(np.arange(len(outcomes))[::-1], outcomes, fontsize=6)
        axes.set(xlabel=f"difference from {baseline}", ylabel="outcome")
        figure.legend(loc="outside lower center", ncols=2, handlelength=1)
    caption = f"Paired differences from {baseline} (common random numbers), with 95% intervals."
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
        panels = np.atleast_1d(figure.subplots(1, len(outcomes), sharey=True))
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
            title = titles.get(outcome, outcome)
            axes.set(
                xlabel="Sobol index", ylabel="" if axes is not panels[0] else "uncertain input"
            )
            axes.set_title(title, fontsize=7)
            axes.set_yticks(list(positions.values()), [_short(p) for p in positions], fontsize=6)
        panels[0].legend(loc="lower right")
    caption = "First-order and total Sobol indices with bootstrap 95% intervals."
    return figure.finish(data, caption)


def prior_posterior(posterior: pd.DataFrame, priors: pd.DataFrame) -> PaperFigure:
    """Prior against posterior for each calibrated parameter, on the scale of its prior range.

    ``posterior``: the accepted sample, one column per parameter (other columns are ignored).
    ``priors``: columns ``parameter``, ``low``, ``high`` (uniform priors; ``prior_low`` and
    ``prior_high``, as in ``calibration/summary.csv``, are accepted too). Each row shows the
    prior's and the posterior's median with 50% and 90% intervals, as 0 (low) to 1 (high).
    """
    priors = priors.rename(columns={"prior_low": "low", "prior_high": "high"})
    quantiles = [0.05, 0.25, 0.5, 0.75, 0.95]
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
        axes.set_yticks(np.arange(n)[::-1], [_short(p) for p in priors.parameter], fontsize=6)
        axes.set(
            xlabel="position in the prior range (0 = low, 1 = high)",
            ylabel="parameter",
            xlim=(-0.02, 1.02),
        )
        axes.legend(loc="upper center", bbox_to_anchor=(0.5, 1.0 + 0.6 / (n + 2)), ncols=2)
    caption = (
        f"Prior and posterior of {n} calibrated parameters ({len(posterior)} accepted draws): "
        "medians with 50% (thick) and 90% (thin) intervals, scaled to each prior's range."
    )
    return figure.finish(data, caption)


def predictive_check(sample: pd.DataFrame, columns: int = 4) -> PaperFigure:
    """Posterior predictive check: for each target, the simulated values' median with 50% and
    90% intervals, against the observed value.

    ``sample`` columns: ``target``, ``observed`` (the same on every row of a target) and
    ``simulated`` (one row per simulated run).
    """
    grouped = sample.groupby("target", sort=False)
    data = grouped["simulated"].quantile([0.05, 0.25, 0.5, 0.75, 0.95]).unstack()
    data.columns = ["q05", "q25", "median", "q75", "q95"]
    data = data.assign(observed=grouped["observed"].first(), runs=grouped.size()).reset_index()
    rows = int(np.ceil(len(data) / columns))
    with paper_style():
        figure = PaperFigure(TWO_COLUMNS_INCHES, 0.75 * rows + 0.4)
        panels = np.atleast_1d(figure.subplots(rows, columns)).ravel()
        for axes, target in zip(panels, data.itertuples(), strict=False):
            _interval(
                axes,
                [target.median],
                [0],
                [target.q05],
                [target.q95],
                color=OKABE_ITO[0],
                capsize=0,
                lw=0.8,
                label="simulated, 90%",
            )
            _interval(
                axes,
                [target.median],
                [0],
                [target.q25],
                [target.q75],
                fmt="none",
                ecolor=OKABE_ITO[0],
                capsize=0,
                lw=2.5,
            )
            axes.plot(target.observed, 0, "D", ms=4, color=OKABE_ITO[3], label="observed")
            axes.set_yticks([])
            axes.spines["left"].set_visible(False)
            axes.set(xlabel=target.target, ylim=(-1, 1))
        for axes in panels[len(data) :]:
            axes.set_axis_off()
        figure.legend(*panels[0].get_legend_handles_labels(), loc="outside upper center", ncols=2)
    caption = (
        "Posterior predictive check: simulated median with 50% (thick) and 90% (thin) intervals "
        "against the observed value (diamond), for each calibration target."
    )
    return figure.finish(data, caption)
