"""The documented import for figures from a notebook: ``from sim import plots``. Every figure
maker returns a ``PaperFigure`` (a matplotlib Figure with ``.data`` and ``.caption``). The code
lives in ``sim/figures/``; this name stays put."""

from sim.figures.plots import (
    RESULTS_FIGURES,
    PaperFigure,
    cumulative_rung_probability,
    interception_outcomes,
    max_rung_distribution,
    paired_differences,
    paper_style,
    path_tree,
    predictive_check,
    prior_posterior,
    run_timeline,
    save_figure,
    sobol_indices,
    sweep_probabilities,
)

__all__ = [
    "RESULTS_FIGURES",
    "PaperFigure",
    "cumulative_rung_probability",
    "interception_outcomes",
    "max_rung_distribution",
    "paired_differences",
    "paper_style",
    "path_tree",
    "predictive_check",
    "prior_posterior",
    "run_timeline",
    "save_figure",
    "sobol_indices",
    "sweep_probabilities",
]
