"""CART boxes and feature scores for scenario discovery, through scikit-learn.

scikit-learn (an optional dependency, installed with EMA Workbench) fits a decision tree on the
design points, each point weighted by its runs of interest and its other runs, so a leaf's
share of runs of interest is its density exactly as PRIM counts it. Every leaf is a box; the
one reported is, of the leaves denser than all runs, the one of highest coverage x density,
PRIM's default choice. Feature scores
are extra-trees impurity importances (Geurts et al. 2006), as in EMA Workbench's
``get_ex_feature_scores``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.analysis.prim import DiscoveryError, categorical


@dataclass(frozen=True)
class CartBox:
    """The CART leaf reported as a box.

    ``limits``: one row per factor the leaf's path splits on, ``factor``, ``low``, ``high``
    (a split's threshold, halfway between the design values it separates; -inf or inf on an
    open side). ``leaves``: every leaf with its ``coverage``, ``density``, ``runs`` and
    ``runs_of_interest``; ``leaf`` names the reported one. ``skipped``: categorical factors,
    which a box of threshold splits cannot state, left out of the tree.
    """

    limits: pd.DataFrame
    coverage: float
    density: float
    leaves: pd.DataFrame
    leaf: int
    skipped: tuple[str, ...]


def _sklearn_tree():
    try:
        from sklearn import ensemble, tree
    except ImportError as exc:
        raise DiscoveryError(
            "CART and feature scores need scikit-learn, an optional dependency: "
            "pip install scikit-learn"
        ) from exc
    return tree, ensemble


def weighted_rows(
    points: pd.DataFrame, runs: np.ndarray, of_interest: np.ndarray
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Each design point twice, as 1 (weight: its runs of interest) and 0 (its other runs)."""
    x = pd.concat([points, points], ignore_index=True)
    labels = np.r_[np.ones(len(points), int), np.zeros(len(points), int)]
    weights = np.r_[of_interest, runs - of_interest].astype(float)
    keep = weights > 0
    return x[keep].reset_index(drop=True), labels[keep], weights[keep]


def _leaf_limits(fitted, names: list[str]) -> dict[int, dict[str, list[float]]]:
    """Each leaf's [low, high] on each factor its path splits on."""
    structure = fitted.tree_
    limits: dict[int, dict[str, list[float]]] = {}
    stack = [(0, {})]
    while stack:
        node, bounds = stack.pop()
        left, right = structure.children_left[node], structure.children_right[node]
        if left == right:
            limits[node] = bounds
            continue
        name, split = names[structure.feature[node]], float(structure.threshold[node])
        low, high = bounds.get(name, [-np.inf, np.inf])
        stack.append((left, {**bounds, name: [low, min(high, split)]}))
        stack.append((right, {**bounds, name: [max(low, split), high]}))
    return limits


def cart_box(
    points: pd.DataFrame,
    runs: np.ndarray,
    of_interest: np.ndarray,
    mass_min: float = 0.05,
    min_gain: float = 0.01,
    random_state: int = 0,
) -> CartBox:
    """Fit a tree on design points ``points`` (one column per factor) with ``runs`` runs each,
    ``of_interest`` of them of interest; report the leaf of highest coverage x density among
    those denser than all runs.

    ``mass_min``: the smallest share of all runs a leaf may hold; ``min_gain``: the least
    decrease in (weighted Gini) impurity a split must bring, as a share of the impurity of all
    runs (so a rare outcome can still be split), which keeps Monte Carlo noise from cutting a
    box into pieces.
    """
    tree, _ = _sklearn_tree()
    skipped = tuple(name for name in points.columns if categorical(points[name]))
    numeric = points.drop(columns=list(skipped)).astype(float)
    x, labels, weights = weighted_rows(numeric, runs, of_interest)
    base_rate = of_interest.sum() / runs.sum()
    fitted = tree.DecisionTreeClassifier(
        min_weight_fraction_leaf=mass_min,
        min_impurity_decrease=min_gain * 2 * base_rate * (1 - base_rate),
        random_state=random_state,
    ).fit(x.to_numpy(), labels, sample_weight=weights)
    leaf_of_point = fitted.apply(numeric.to_numpy())
    leaves = (
        pd.DataFrame({"leaf": leaf_of_point, "runs": runs, "runs_of_interest": of_interest})
        .groupby("leaf", as_index=False)
        .sum()
    )
    leaves["coverage"] = leaves["runs_of_interest"] / of_interest.sum()
    leaves["density"] = leaves["runs_of_interest"] / leaves["runs"]
    denser = leaves[leaves["density"] > base_rate]
    if denser.empty:  # no split found: the one leaf is the whole space
        denser = leaves
    best = denser.loc[(denser["coverage"] * denser["density"]).idxmax()]
    bounds = _leaf_limits(fitted, list(numeric.columns))[int(best["leaf"])]
    limits = pd.DataFrame(
        [(name, low, high) for name, (low, high) in bounds.items()],
        columns=["factor", "low", "high"],
    )
    return CartBox(
        limits,
        float(best["coverage"]),
        float(best["density"]),
        leaves,
        int(best["leaf"]),
        skipped,
    )


def feature_scores(
    points: pd.DataFrame,
    runs: np.ndarray,
    of_interest: np.ndarray,
    random_state: int = 0,
    trees: int = 100,
) -> pd.DataFrame:
    """Extra-trees importances of each factor for being of interest, highest first.

    Columns ``factor``, ``score`` (shares of the trees' impurity decrease; they sum to 1) and
    ``rank`` (1 = most important). A categorical factor enters by its category codes.
    """
    _, ensemble = _sklearn_tree()
    coded = pd.DataFrame({name: _codes(column) for name, column in points.items()})
    x, labels, weights = weighted_rows(coded, runs, of_interest)
    forest = ensemble.ExtraTreesClassifier(
        n_estimators=trees, min_weight_fraction_leaf=0.01, random_state=random_state
    ).fit(x.to_numpy(), labels, sample_weight=weights)
    scores = pd.DataFrame({"factor": list(coded.columns), "score": forest.feature_importances_})
    scores = scores.sort_values("score", ascending=False, ignore_index=True)
    scores["rank"] = np.arange(1, len(scores) + 1)
    return scores


def tree_views(
    points: pd.DataFrame,
    runs: np.ndarray,
    of_interest: np.ndarray,
    mass_min: float,
    random_state: int,
) -> tuple[CartBox | None, pd.DataFrame | None]:
    """The CART box and the feature scores, or (None, None) when scikit-learn is not installed:
    PRIM's answer does not need them."""
    try:
        _sklearn_tree()
    except DiscoveryError:
        return None, None
    return (
        cart_box(points, runs, of_interest, mass_min, random_state=random_state),
        feature_scores(points, runs, of_interest, random_state=random_state),
    )


def _codes(column: pd.Series) -> pd.Series:
    """A factor as numbers: its values, or a categorical factor's category codes."""
    return column.astype("category").cat.codes if categorical(column) else column.astype(float)
