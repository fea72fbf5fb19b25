"""Parameter sets applied to a validated scenario: posterior samples and values set by path.

A scenario that declares ``parameters_from`` (a posterior sample written by ``sim calibrate``)
gets one accepted parameter set per replication, drawn on that replication's own ``parameters``
stream, so Monte Carlo results carry parameter uncertainty as well as chance.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
from pydantic import BaseModel

from sim.errors import ResultsError
from sim.scenario.schema import Scenario


def scenario_with(scenario: Scenario, values: Mapping[str, Any]) -> Scenario:
    """``scenario`` with values set by dotted path (``actors.iran.policy.delay.median_days``).

    No YAML is read and nothing is re-validated: microseconds instead of the ~40 ms of
    ``parse_scenario``. Use it for values already known to be valid (prior draws inside ranges
    whose corners were validated when the config was loaded, posterior draws from such priors).
    """
    for path, value in values.items():
        scenario = _replace(scenario, path.split("."), value)
    return scenario


def _replace(node: Any, keys: list[str], value: Any) -> Any:
    if not keys:
        return value
    head, rest = keys[0], keys[1:]
    if isinstance(node, BaseModel):
        return node.model_copy(update={head: _replace(getattr(node, head), rest, value)})
    if isinstance(node, dict):
        key = int(head) if head not in node and head.isdigit() else head
        return {**node, key: _replace(node[key], rest, value)}
    copy = list(node)
    copy[int(head)] = _replace(node[int(head)], rest, value)
    return copy


@dataclass(frozen=True)
class PosteriorSample:
    """Parameter sets (one column per dotted path) with optional importance weights.

    ``values`` has one row per parameter set and one column per entry of ``paths``;
    ``weights`` (one per row) are importance weights, or None for equal weights.
    """

    paths: tuple[str, ...]
    values: np.ndarray
    weights: np.ndarray | None = None

    @classmethod
    def from_columns(
        cls, columns: Mapping[str, Sequence[float]], weights: np.ndarray | None = None
    ) -> PosteriorSample:
        """From columns by dotted path (a DataFrame or a dict of sequences)."""
        paths = tuple(columns)
        values = np.column_stack([np.asarray(columns[p], dtype=float) for p in paths])
        return cls(paths, values, None if weights is None else np.asarray(weights, float))

    @classmethod
    def load(cls, path: str | Path) -> PosteriorSample:
        """Read a sample written by ``sim calibrate``: columns with a dot are parameters; a
        ``weight`` column, if present, holds importance weights (absent: equal weights)."""
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise ResultsError(f"{path}: cannot read posterior ({exc})") from None
        names = table.column_names
        weights = table["weight"].to_numpy() if "weight" in names else None
        columns = {name: table[name].to_numpy() for name in names if "." in name}
        if not columns or table.num_rows == 0:
            raise ResultsError(f"{path}: posterior has no parameter sets")
        return cls.from_columns(columns, weights)

    def column(self, path: str) -> np.ndarray:
        """Every set's value of one parameter."""
        return self.values[:, self.paths.index(path)]

    def draw(self, rng: np.random.Generator) -> dict[str, float]:
        """One parameter set, chosen with probability proportional to its weight."""
        if self.weights is None:
            row = int(rng.integers(len(self.values)))
        else:
            row = int(rng.choice(len(self.values), p=self.weights / self.weights.sum()))
        return dict(zip(self.paths, map(float, self.values[row]), strict=True))


@lru_cache(maxsize=8)
def load_posterior(path: str) -> PosteriorSample:
    """A posterior sample by absolute path, read once per process (files are never rewritten)."""
    return PosteriorSample.load(path)


def with_fixed(scenario: Scenario, paths: Iterable[str]) -> Scenario:
    """``scenario`` with ``paths`` added to ``parameters_fixed``: values a study sets itself
    (``scenario_with``), which posterior draws must not replace."""
    fixed = list(scenario.parameters_fixed)
    fixed += [path for path in paths if path not in fixed]
    return scenario.model_copy(update={"parameters_fixed": fixed})


def posterior_of(scenario: Scenario) -> PosteriorSample | None:
    """The posterior sample ``scenario`` draws from (read once per process), or None.

    A study reads it where it starts and sends it with every task, so that workers, a remote
    Dask cluster's included, never need the file.
    """
    return None if scenario.parameters_from is None else load_posterior(scenario.parameters_from)


def draw_parameters(
    scenario: Scenario, rng: np.random.Generator, posterior: PosteriorSample | None = None
) -> tuple[Scenario, dict]:
    """The scenario with one parameter set from its posterior (if it has one), and that set.

    ``posterior`` is the scenario's own sample when the caller already holds it
    (``posterior_of``); without it the sample is read from ``parameters_from``.
    """
    if scenario.parameters_from is None:
        return scenario, {}
    drawn = (posterior or load_posterior(scenario.parameters_from)).draw(rng)
    fixed = tuple(scenario.parameters_fixed)
    values = {p: v for p, v in drawn.items() if not any(_within(p, f) for f in fixed)}
    return scenario_with(scenario, values), values


def _within(path: str, fixed: str) -> bool:
    """Whether dotted ``path`` is ``fixed`` or lies below it (``relations.5`` holds
    ``relations.5.obey_probability``)."""
    return path == fixed or path.startswith(fixed + ".")
