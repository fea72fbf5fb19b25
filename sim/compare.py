"""The documented import for comparisons from a notebook: ``from sim.compare import Setting,
compare, sweep``. The code lives in ``sim/analysis/compare.py``; this name stays put."""

from sim.analysis.compare import (
    DEFAULT_OUTCOMES,
    Setting,
    compare,
    outcome_indicator,
    outcome_label,
    paired_difference,
    parse_variant,
    sweep,
)

__all__ = [
    "DEFAULT_OUTCOMES",
    "Setting",
    "compare",
    "outcome_indicator",
    "outcome_label",
    "paired_difference",
    "parse_variant",
    "sweep",
]
