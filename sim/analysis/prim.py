"""PRIM (Friedman and Fisher 1999) as scenario discovery uses it (Bryant and Lempert 2010).

Written here rather than wrapped from EMA Workbench's ``ema_workbench.analysis.prim``, which
installs and works with this project's numpy and pandas: it takes one row per run and no
weights, and computes every box's quasi-p-values at every peel in pandas, so one search took
1 s on 3,000 runs (300 points x 10 replications) and the 40 half-study searches of the
stability would take minutes on a 20,000-run study. Here a row is a design point weighted by
its runs and runs of interest (the same coverage and density as one row per run, since the
points' factor values are all PRIM sees), and quasi-p-values are computed for the chosen box.
The steps follow EMA Workbench's defaults: peel ``peel_alpha`` of the box's runs off one side
of one factor (a categorical factor loses one category), choosing the peel of highest gain in
density per run removed ("lenient1"), while the box keeps at least ``mass_min`` of all runs;
then paste ``paste_alpha`` back on a restricted side while that raises the density.

The end of the module states how sure a box is over Monte Carlo noise: bootstrap intervals of
its coverage and density over replications, and its stability over half-studies
(``sim.analysis.discovery`` says why these two).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from sim.errors import ResultsError

Limits = dict[str, object]
"""A box: per factor, ``(low, high)`` (inclusive, in the factor's unit) or a frozenset of the
categories kept."""


class DiscoveryError(ResultsError):
    """The study or the request cannot give a scenario-discovery answer (shown without traceback)."""


@dataclass(frozen=True)
class Design:
    """Design points with their weights: ``x`` (one row per point, one column per factor),
    ``runs`` (runs per point) and ``interest`` (runs of interest per point)."""

    x: pd.DataFrame
    runs: np.ndarray
    interest: np.ndarray
    columns: dict[str, np.ndarray] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "columns", factor_columns(self.x))

    def whole(self) -> Limits:
        """The box holding every point: each factor's range or all its categories."""
        return {
            name: frozenset(column.unique()) if categorical(column) else _range(column)
            for name, column in self.x.items()
        }


@dataclass(frozen=True)
class PrimTrajectory:
    """The peeling-and-pasting trajectory of one PRIM search.

    ``tradeoff``: one row per box (``box`` 0 is the whole space): ``coverage``, ``density``,
    ``mass`` (share of runs in the box), ``restricted`` (number of restricted factors),
    ``runs``, ``runs_of_interest`` and ``step`` (start, peel or paste). ``limits[i]``: box
    ``i``'s limits.
    """

    tradeoff: pd.DataFrame
    limits: list[Limits]


def categorical(column: pd.Series) -> bool:
    """A factor PRIM treats by categories: anything but numbers (booleans included)."""
    return not pd.api.types.is_numeric_dtype(column) or pd.api.types.is_bool_dtype(column)


def _range(column: pd.Series) -> tuple[float, float]:
    return float(column.min()), float(column.max())


def factor_columns(x: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each factor's values as an array: floats, or objects for a categorical factor."""
    return {
        name: column.to_numpy(object) if categorical(column) else column.to_numpy(float)
        for name, column in x.items()
    }


def in_box(columns: Mapping[str, np.ndarray], limits: Limits) -> np.ndarray:
    """Which points (given by ``factor_columns``) lie in the box (True/False)."""
    inside = np.ones(len(next(iter(columns.values()))), dtype=bool)
    for name, limit in limits.items():
        values = columns[name]
        if isinstance(limit, frozenset):
            inside &= np.isin(values, list(limit))
        else:
            inside &= (values >= limit[0]) & (values <= limit[1])
    return inside


def restricted_factors(limits: Limits, whole: Limits) -> list[str]:
    """The factors on which the box is narrower than the whole space, in design order."""
    return [name for name in whole if limits[name] != whole[name]]


def _numeric_moves(values, weights, inside, beside, limit, share, removing):
    """Candidate limits for one numeric factor: peel (``removing``) or paste ``share`` of the
    box's runs at each end, whole values at a time so that ties move together. ``inside``: the
    points in the box; ``beside``: those in it on every other factor (where pastes come from)."""
    low, high = limit
    moves = []
    box_runs = weights[inside].sum()
    for side in (0, 1):
        if removing:
            pool = values[inside]
            pool_weights = weights[inside]
        else:
            outside = beside & (values < low if side == 0 else values > high)
            pool, pool_weights = values[outside], weights[outside]
        if len(pool) == 0:
            continue
        levels, at = np.unique(pool, return_inverse=True)
        per_level = np.bincount(at, weights=pool_weights)
        ascending = removing == (side == 0)  # peel the low end or paste the high end
        order = np.arange(len(levels)) if ascending else np.arange(len(levels))[::-1]
        taken = np.searchsorted(np.cumsum(per_level[order]), share * box_runs) + 1
        taken = min(int(taken), len(levels) - 1 if removing else len(levels))
        if taken < 1:
            continue
        edge = levels[order[taken - 1]]
        if removing:
            new_edge = levels[order[taken]]
            moves.append((new_edge, high) if side == 0 else (low, new_edge))
        else:
            moves.append((edge, high) if side == 0 else (low, edge))
    return moves


def _moves(design: Design, limits: Limits, whole: Limits, share: float, peeling: bool):
    """Every candidate box one step away: peels of any factor, or pastes of restricted ones."""
    candidates = []
    for name in design.x.columns:
        limit = limits[name]
        if not peeling and limit == whole[name]:
            continue
        if isinstance(limit, frozenset):
            if peeling:
                options = [limit - {c} for c in limit if len(limit) > 1]
            else:
                options = [limit | {c} for c in whole[name] - limit]
        else:
            others = {k: v for k, v in limits.items() if k != name}
            options = _numeric_moves(
                design.columns[name],
                design.runs,
                in_box(design.columns, limits),
                in_box(design.columns, others),
                limit,
                share,
                peeling,
            )
        candidates += [{**limits, name: option} for option in options]
    return candidates


def _counts(design: Design, limits: Limits) -> tuple[float, float]:
    inside = in_box(design.columns, limits)
    return float(design.runs[inside].sum()), float(design.interest[inside].sum())


def _simpler(candidate: Limits, other: Limits, whole: Limits) -> bool:
    """Of two equally good steps, prefer the box restricting fewer factors (as EMA does)."""
    return len(restricted_factors(candidate, whole)) < len(restricted_factors(other, whole))


def _best_step(design, limits, whole, share, peeling):
    """The candidate of highest gain in density per run moved, with its score (or None)."""
    runs, interest = _counts(design, limits)
    best, best_score = None, 0.0
    for candidate in _moves(design, limits, whole, share, peeling):
        new_runs, new_interest = _counts(design, candidate)
        if new_runs == 0 or new_runs == runs:
            continue
        gain = new_interest / new_runs - interest / runs
        score = gain / abs(new_runs - runs)
        tie = best is not None and score == best_score
        if score > best_score or (tie and _simpler(candidate, best, whole)):
            best, best_score = candidate, score
    return best, best_score


def prim_trajectory(
    design: Design,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
) -> PrimTrajectory:
    """Peel, then paste, one box; every box on the way is a point of the trade-off curve."""
    whole = design.whole()
    total_runs, total_interest = design.runs.sum(), design.interest.sum()
    boxes, steps = [whole], ["start"]
    for peeling, share in ((True, peel_alpha), (False, paste_alpha)):
        while True:
            step, _ = _best_step(design, boxes[-1], whole, share, peeling)
            if step is None or _counts(design, step)[0] < mass_min * total_runs:
                break
            boxes.append(step)
            steps.append("peel" if peeling else "paste")
    counts = np.array([_counts(design, box) for box in boxes])
    tradeoff = pd.DataFrame(
        {
            "box": np.arange(len(boxes)),
            "coverage": counts[:, 1] / total_interest,
            "density": counts[:, 1] / counts[:, 0],
            "mass": counts[:, 0] / total_runs,
            "restricted": [len(restricted_factors(box, whole)) for box in boxes],
            "runs": counts[:, 0].astype(int),
            "runs_of_interest": counts[:, 1].astype(int),
            "step": steps,
        }
    )
    return PrimTrajectory(tradeoff, boxes)


def chosen_box(tradeoff: pd.DataFrame, min_density: float | None = None) -> int:
    """The box of the trade-off curve to report.

    With ``min_density``: the box of highest coverage among those at least that dense (the
    densest box if none is). Without: the box of highest coverage x density, the one the runs
    of interest are most concentrated in for the coverage it keeps; on a planted box with
    outcome rates ``p_in`` inside and ``p_out < p_in / 2`` outside it is the planted box, and
    on noise alone it is usually the whole space (no box).
    """
    if min_density is not None:
        dense = tradeoff[tradeoff["density"] >= min_density]
        if dense.empty:
            return int(tradeoff["density"].idxmax())
        return int(dense["coverage"].idxmax())
    return int((tradeoff["coverage"] * tradeoff["density"]).idxmax())


def quasi_p_values(design: Design, limits: Limits) -> dict[str, tuple[float, float]]:
    """Per restricted factor, the quasi-p-value of its lower and upper limit (NaN where that
    side is not restricted; a categorical factor's value is in the lower place).

    As Bryant and Lempert (2010): the one-sided binomial probability of at least the box's
    runs of interest among its runs, were its density that of the box with this one limit
    lifted. A small value says the limit is not noise.
    """
    from scipy.stats import binom  # here, not with the command line (half a second)

    whole = design.whole()
    runs, interest = _counts(design, limits)
    values = {}
    for name in restricted_factors(limits, whole):
        limit, full = limits[name], whole[name]
        if isinstance(limit, frozenset):
            lifted = [full, None]
        else:
            lifted = [
                (full[0], limit[1]) if limit[0] != full[0] else None,
                (limit[0], full[1]) if limit[1] != full[1] else None,
            ]
        sides = []
        for relaxed in lifted:
            if relaxed is None:
                sides.append(float("nan"))
                continue
            wider_runs, wider_interest = _counts(design, {**limits, name: relaxed})
            sides.append(float(binom.sf(interest - 1, runs, wider_interest / wider_runs)))
        values[name] = (sides[0], sides[1])
    return values


AGREEMENT = 0.75
"""Intersection over union (of the design points two boxes hold) from which they count as the
same box. Boxes that noise made overlap by about 0.5 at most on the toy studies of the tests
(they hold much of the space), a planted box's by 0.95; which factors each half restricts is
reported apart (``restricted_share``), so a weak extra restriction does not undo a match."""


def point_counts(points: np.ndarray, interest: np.ndarray, order: pd.Index):
    """Runs and runs of interest per design point, in the order of ``order``."""
    counts = pd.DataFrame({"point": points, "interest": interest}).groupby("point")["interest"]
    return (
        counts.size().reindex(order, fill_value=0).to_numpy(),
        counts.sum().reindex(order, fill_value=0).to_numpy(),
    )


def weighted_design(design: pd.DataFrame, points: np.ndarray, interest: np.ndarray) -> Design:
    """The design points weighted by the given runs (a point without runs weighs nothing)."""
    per_point, interest_per_point = point_counts(points, interest, design.index)
    return Design(design.reset_index(drop=True), per_point, interest_per_point)


def search(design: Design, options: dict) -> tuple[PrimTrajectory, int, list[str], np.ndarray]:
    """PRIM over the weighted design: the trajectory, the chosen box, its restricted factors
    and which design points it holds. ``options``: ``outcome`` (for errors), ``peel_alpha``,
    ``paste_alpha``, ``mass_min``, ``min_density`` (as ``prim_trajectory``, ``chosen_box``)."""
    if design.interest.sum() in (0, design.runs.sum()):
        which = "no" if design.interest.sum() == 0 else "every"
        raise DiscoveryError(f"{options['outcome']}: {which} run is of interest: nothing to find")
    trajectory = prim_trajectory(
        design, options["peel_alpha"], options["paste_alpha"], options["mass_min"]
    )
    chosen = chosen_box(trajectory.tradeoff, options["min_density"])
    limits = trajectory.limits[chosen]
    factors = restricted_factors(limits, trajectory.limits[0])
    return trajectory, chosen, factors, in_box(design.columns, limits)


def bootstrap_intervals(
    runs_per_point: np.ndarray,
    interest_per_point: np.ndarray,
    inside: np.ndarray,
    generator: np.random.Generator,
    resamples: int,
) -> tuple[tuple[float, float], tuple[float, float]]:
    """Bootstrap 95% intervals of the box's coverage and density over replications: a point's
    resampled runs of interest are binomial (its runs drawn with replacement)."""
    share = interest_per_point / np.maximum(runs_per_point, 1)
    drawn = generator.binomial(runs_per_point, share, size=(resamples, len(share)))
    total = np.maximum(drawn.sum(axis=1), 1)
    in_box_interest = drawn[:, inside].sum(axis=1)
    coverage = in_box_interest / total
    density = in_box_interest / max(runs_per_point[inside].sum(), 1)
    return tuple(np.quantile(coverage, [0.025, 0.975])), tuple(np.quantile(density, [0.025, 0.975]))


def half_masks(points: np.ndarray, generator: np.random.Generator) -> np.ndarray:
    """Each point's runs split at random into two halves (True: the first half)."""
    shuffled = generator.permutation(len(points))
    order = shuffled[np.argsort(points[shuffled], kind="stable")]
    position = np.empty(len(points), dtype=int)
    sorted_points = points[order]
    starts = np.searchsorted(sorted_points, sorted_points, side="left")
    position[order] = np.arange(len(points)) - starts
    sizes = pd.Series(points).map(pd.Series(points).value_counts()).to_numpy()
    return position < sizes // 2


def point_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two sets of design points (True/False per point)."""
    union = (a | b).sum()
    return float((a & b).sum() / union) if union else 1.0


def half_study_stability(
    design: pd.DataFrame,
    points: np.ndarray,
    interest: np.ndarray,
    options: dict,
    generator: np.random.Generator,
    splits: int,
) -> tuple[np.ndarray, list[tuple[Limits, list[str]]]]:
    """``splits`` random half-study pairs of the runs (``points``: each run's design point,
    ``interest``: whether it is of interest): per pair, the IoU of the halves' boxes and
    whether they agree (1 or 0); and every half's box limits and restricted factors."""
    agreements, halves = [], []
    for _ in range(splits):
        first = half_masks(points, generator)
        found = []
        for half in (first, ~first):
            trajectory, chosen, factors, inside = search(
                weighted_design(design, points[half], interest[half]), options
            )
            found.append(inside)
            halves.append((trajectory.limits[chosen], factors))
        overlap = point_iou(*found)
        agreements.append((overlap, overlap >= AGREEMENT))
    return np.asarray(agreements, dtype=float), halves
