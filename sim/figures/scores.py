"""The reliability diagram of a scoring (the ``reliability`` table ``sim score`` writes).

Returns a ``PaperFigure`` whose ``data`` holds exactly the numbers drawn, every observed
frequency with its Wilson 95% interval.
"""

from __future__ import annotations

import pandas as pd

from sim.figures.style import (
    OKABE_ITO,
    ONE_COLUMN_INCHES,
    PaperFigure,
    interval_points,
    paper_style,
)

COLUMNS = ["bin_low", "bin_high", "n", "mean_forecast", "happened", "observed_frequency"]


def reliability_diagram(table: pd.DataFrame) -> PaperFigure:
    """Observed frequency against mean forecast probability, one point per bin of forecasts.

    ``table``: ``sim.analysis.scores.reliability_table`` (columns ``bin_low``, ``bin_high``,
    ``n``, ``mean_forecast``, ``happened``, ``observed_frequency``, ``ci_low``, ``ci_high``).
    Points on the diagonal are forecasts that happened as often as they said; each point is
    labelled with the number of questions in its bin.
    """
    missing = [c for c in [*COLUMNS, "ci_low", "ci_high"] if c not in table]
    if missing:
        raise ValueError(f"a reliability table needs the columns {', '.join(missing)}")
    with paper_style():
        figure = PaperFigure(ONE_COLUMN_INCHES, ONE_COLUMN_INCHES)
        axes = figure.add_subplot()
        axes.plot([0, 1], [0, 1], color="0.6", lw=0.8, ls="--", label="perfectly reliable")
        interval_points(
            axes,
            table["mean_forecast"],
            table["observed_frequency"],
            table["ci_low"],
            table["ci_high"],
            horizontal=False,
            color=OKABE_ITO[0],
            label="model (Wilson 95% CI)",
        )
        for row in table.itertuples():
            axes.annotate(
                f"n={row.n}",
                (row.mean_forecast, row.observed_frequency),
                xytext=(4, 4),
                textcoords="offset points",
                fontsize=6,
            )
        axes.set(xlim=(-0.02, 1.02), ylim=(-0.02, 1.02), aspect="equal")
        axes.set_xlabel("forecast probability (mean in bin)")
        axes.set_ylabel("observed frequency")
        axes.legend(loc="upper left")
    return figure.finish(table[[*COLUMNS, "ci_low", "ci_high"]], _caption(table))


def _caption(table: pd.DataFrame) -> str:
    """The caption: how many forecasts in how many bins, and the largest miss."""
    questions = int(table["n"].sum())
    if table.empty:
        return "Reliability diagram: no binary questions were scored."
    miss = (table["observed_frequency"] - table["mean_forecast"]).abs()
    worst = table.loc[miss.idxmax()]
    return (
        f"Reliability of {questions} binary forecasts in {len(table)} bins of forecast "
        f"probability, with Wilson 95% intervals; the largest gap is in the bin "
        f"[{worst.bin_low:.1f}, {worst.bin_high:.1f}]: forecast {worst.mean_forecast:.2f}, "
        f"observed {worst.observed_frequency:.2f} of {int(worst.n)}."
    )
