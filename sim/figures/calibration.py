"""Figures of a calibration (the tables ``sim calibrate`` writes): prior against posterior per
parameter, and the posterior predictive check of each target.

Each function returns a ``PaperFigure`` whose ``data`` holds exactly the numbers drawn, every
estimate with its interval.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from sim.figures.style import (
    OKABE_ITO,
    ONE_COLUMN_INCHES,
    TWO_COLUMNS_INCHES,
    PaperFigure,
    interval_points,
    paper_style,
    short_parameter,
)
from sim.study.results import wilson_interval


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
        p: label if isinstance(label, str) and label else short_parameter((labels or {}).get(p, p))
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
        for offset, color, marker, (source, part) in zip(
            (0.15, -0.15),
            ("0.55", OKABE_ITO[0]),
            ("s", "o"),  # told apart by shape too, in greyscale
            data.groupby("source", sort=False),
            strict=True,
        ):
            y = np.arange(n)[::-1] + offset
            interval_points(
                axes,
                part.scaled_median,
                y,
                part.scaled_q05,
                part.scaled_q95,
                color=color,
                fmt=marker,
                capsize=0,
                lw=0.7,
                label=f"{source}, 90%",
            )
            interval_points(
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
        observed = group["observed"].iloc[0]
        whole = bool(np.all(values == np.round(values)) and float(observed).is_integer())
        rows.append(row | {"observed": observed, "runs": len(values), "integer": whole})
    return pd.DataFrame(rows)


def _integer_axis(axes, target) -> None:
    """Ticks at whole numbers only, for a target that takes whole values (a rung, a count):
    2.25 rungs means nothing. Half a unit of room either side, so the ends are not on the
    axis's edge."""
    axes.xaxis.set_major_locator(MaxNLocator(nbins=5, steps=[1, 2, 5, 10], integer=True))
    ends = (target.ci_low, target.ci_high, target.observed)
    axes.set_xlim(min(ends) - 0.5, max(ends) + 0.5)


def predictive_check(sample: pd.DataFrame, columns: int = 4) -> PaperFigure:
    """Posterior predictive check: for each target, the simulated values' median with the middle
    50% (thick bar) and 90% (thin bar) of runs, against the observed value. A 0/1 target (every
    simulated value 0 or 1; quantiles of it say nothing) shows instead the share of runs at 1 with
    its Wilson 95% interval (a thin bar with caps).

    ``sample`` columns: ``target``, ``observed`` (the same on every row of a target) and
    ``simulated`` (one row per simulated run). The figure's ``data``: ``statistic`` (median or
    share), ``estimate``, ``ci_low``/``ci_high`` (the thin bar), ``q25``/``q75`` (the thick bar;
    empty for a 0/1 target), ``observed``, ``runs`` and ``integer`` (every value whole: a rung or
    a count, drawn with whole-number ticks only).
    """
    data = _predictive_rows(sample)
    rows = int(np.ceil(len(data) / columns))
    handles: dict[str, object] = {}
    with paper_style():
        figure = PaperFigure(TWO_COLUMNS_INCHES, 0.75 * rows + 0.6)
        panels = np.atleast_1d(figure.subplots(rows, columns)).ravel()
        for axes, target in zip(panels, data.itertuples(), strict=False):
            binary = target.statistic != "median"
            drawn = interval_points(
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
                thick = interval_points(
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
            if target.integer and not binary:
                _integer_axis(axes, target)
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
