"""Priors, targets and distances: how far a simulated run is from what was observed.

A target is a statistic of one run (``sim.calibration.statistics``) with the observed value and
the range of simulated values that counts as reproducing it. Its distance is 0 at the observed
value and 1 at the edge of that range; an episode's distance combines its targets' (each times
the episode's weight) and the calibration's combines the episodes' (``graded``: the maximum when
it is at most 1, else 1 plus the mean excess over 1), so a distance of at most 1 means every
target of every episode is reproduced. ``table_distance`` is the same
distance for whole tables of statistics at once, against any observed values (the synthetic data
sets of simulation-based calibration).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from sim.calibration.schema import TargetSpec
from sim.calibration.statistics import Statistic
from sim.scenario.parameters import EPISODE_SEPARATOR

MISMATCH = 2.0  # distance of a binary target that is missed (a tolerance is 1)
UNDEFINED = 3.0  # distance of a statistic the run does not define (Iran never answered)


@dataclass(frozen=True)
class Prior:
    """A uniform prior over one scenario value, with the reason for its range.

    ``path`` is the posterior column: the scenario's dotted path for a shared prior,
    ``EPISODE:PATH`` for one only episode ``episode`` uses.
    """

    path: str
    low: float
    high: float
    reason: str
    episode: str | None = None

    @property
    def scenario_path(self) -> str:
        """The dotted path in the scenario (the column without its episode prefix)."""
        return self.path.split(EPISODE_SEPARATOR, 1)[1] if self.episode else self.path


@dataclass(frozen=True)
class Target:
    """An observed statistic and the range of simulated values that count as reproducing it.

    ``low``/``high`` bound the accepted range; a binary target (``binary``) must match exactly.
    ``name`` is the statistic's name (``answered[iran>israel]``).
    """

    name: str
    observed: float
    low: float
    high: float
    reason: str
    binary: bool = False

    @property
    def statistic(self) -> Statistic:
        """The statistic the target names."""
        return Statistic.parse(self.name)

    def distance(self, simulated: float) -> float:
        """0 at the observed value, 1 at the edge of the accepted range, capped at 2.

        A missed binary target is 2; a statistic the run does not define is 3.
        """
        if math.isnan(simulated):
            return UNDEFINED
        if self.binary:
            return 0.0 if simulated == self.observed else MISMATCH
        edge = self.high if simulated > self.observed else self.low
        span = abs(edge - self.observed)
        if span == 0:
            return 0.0 if simulated == self.observed else MISMATCH
        return min(MISMATCH, abs(simulated - self.observed) / span)

    def matches(self, simulated: float) -> bool:
        """Whether a simulated value reproduces the observation within the tolerance."""
        return self.distance(simulated) <= 1.0

    @classmethod
    def of(cls, name: str, spec: TargetSpec) -> Target:
        """The target ``name`` as its config entry ``spec`` declares it."""
        low, high = spec.bounds()
        return cls(name, spec.observed, low, high, spec.reason, binary=spec.match == "equal")


def graded(distances: Sequence[float]) -> float:
    """Distances combined so that the result is at most 1 exactly when every one is: their
    maximum when it is at most 1, else 1 plus their mean excess over 1.

    The maximum alone would keep that meaning but gives ABC-SMC nothing to descend: with many
    targets almost every run misses one of them by the full 2 of a binary target, the tolerance
    sits at 2 and no generation gets closer. Above 1 the mean excess falls as more targets are
    reproduced (and by less), so the tolerances can fall towards 1 one target at a time; at or
    below 1, where the fit ends, it is the maximum: the accepted runs are those reproducing every
    target, as with the maximum.
    """
    top = max(distances)
    if top <= 1.0:
        return top
    return 1.0 + sum(max(0.0, d - 1.0) for d in distances) / len(distances)


def episode_distance(
    targets: Sequence[Target], stats: Mapping[str, float], weight: float = 1.0
) -> float:
    """How far one episode's run is from its observations: its targets' distances, each times
    the episode's ``weight``, ``graded`` (at most 1 when every target is within tolerance/w)."""
    return graded([weight * t.distance(stats[t.name]) for t in targets])


def combined_distance(distances: Sequence[float]) -> float:
    """The calibration's distance: the episodes' (weighted) distances ``graded``, so that at most 1
    still means every target of every episode is reproduced within its tolerance."""
    return graded(distances)


def graded_rows(distances: np.ndarray) -> np.ndarray:
    """``graded`` of each row of a (m, n) array of distances."""
    top = distances.max(axis=1)
    excess = 1.0 + np.maximum(distances - 1.0, 0.0).mean(axis=1)
    return np.where(top <= 1.0, top, excess)


def target_distances(
    simulated: np.ndarray, observed: np.ndarray, below: float, above: float, binary: bool
) -> np.ndarray:
    """``Target.distance`` for arrays: each simulated value against the observed value in the
    same position (broadcast), with the accepted range ``[observed - below, observed + above]``.

    An observed NaN (a synthetic data set where the statistic is undefined) is reproduced only
    by a NaN (distance 0); any defined value is ``UNDEFINED`` from it, as a NaN is from a number.
    """
    simulated, observed = np.broadcast_arrays(
        np.asarray(simulated, float), np.asarray(observed, float)
    )
    gap = simulated - observed
    if binary:
        distance = np.where(gap == 0, 0.0, MISMATCH)
    else:
        span = np.where(gap > 0, above, below)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            scaled = np.minimum(MISMATCH, np.abs(gap) / span)
        distance = np.where(span == 0, np.where(gap == 0, 0.0, MISMATCH), scaled)
    either = np.isnan(simulated) | np.isnan(observed)
    both = np.isnan(simulated) & np.isnan(observed)
    return np.where(both, 0.0, np.where(either, UNDEFINED, distance))


def table_distance(
    groups: Sequence[tuple[float, Sequence[Target]]],
) -> Callable[[np.ndarray, np.ndarray], np.ndarray]:
    """The calibration distance as a function of tables: ``distance(rows (m, k), observed (k,))``
    gives each row's combined distance from ``observed``.

    ``groups`` lists each episode's weight and targets; the k columns are their targets in that
    order. Each target keeps its tolerance, moved to the new observed value: the range
    ``[low, high]`` around ``observed`` becomes the same range around the row's value.
    """
    columns = [(w, t, t.observed - t.low, t.high - t.observed) for w, ts in groups for t in ts]
    bounds = np.cumsum([0] + [len(ts) for _, ts in groups])

    def distance(rows: np.ndarray, observed: np.ndarray) -> np.ndarray:
        rows = np.atleast_2d(np.asarray(rows, float))
        per_target = np.column_stack([
            target_distances(rows[:, i], observed[i], below, above, t.binary)
            for i, (_, t, below, above) in enumerate(columns)
        ])  # fmt: skip
        episodes = [
            graded_rows(weight * per_target[:, start:stop])
            for (weight, _), start, stop in zip(groups, bounds[:-1], bounds[1:], strict=True)
        ]
        return graded_rows(np.column_stack(episodes))

    return distance
