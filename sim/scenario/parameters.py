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
import pyarrow as pa
import pyarrow.parquet as pq
from pydantic import BaseModel, ValidationError

from sim.errors import ResultsError
from sim.scenario.coherence import node_at, number_at, position_path, relation_alias
from sim.scenario.problems import data_path, pydantic_message
from sim.scenario.schema import Scenario

WEIGHT = "weight"
"""The posterior column of importance weights; other columns without a dot are ignored."""
EPISODE_MARK = "#"
"""Ends ``parameters_from: FILE#EPISODE``: draw the shared columns and that episode's own."""
EPISODE_SEPARATOR = ":"
"""Between an episode's name and a path in an episode-specific column (``EPISODE:PATH``)."""


def posterior_file(parameters_from: str) -> str:
    """The file part of ``parameters_from`` (without its ``#EPISODE``, if any)."""
    return parameters_from.partition(EPISODE_MARK)[0]


def relocated(scenario: Scenario, file: Path) -> str:
    """The scenario's ``parameters_from`` with its file part replaced by ``file`` (resolved by
    the loader), its ``#EPISODE`` kept."""
    _, mark, episode = (scenario.parameters_from or "").partition(EPISODE_MARK)
    return f"{file}{mark}{episode}"


def posterior_episode(parameters_from: str) -> str | None:
    """The episode ``parameters_from`` names after ``#``, or None."""
    _, mark, episode = parameters_from.partition(EPISODE_MARK)
    return episode if mark else None


def scenario_with(scenario: Scenario, values: Mapping[str, Any]) -> Scenario:
    """``scenario`` with values set by dotted path (``actors.iran.policy.delay.median_days``,
    ``proxy[hezbollah>iran].obey_probability``: a relation alias lands on that relation wherever
    the scenario lists it).

    No YAML is read and nothing is re-validated: microseconds instead of the ~40 ms of
    ``parse_scenario``. Use it for values already known to be valid (prior draws inside ranges
    whose corners were validated when the config was loaded, posterior draws from such priors).
    """
    for path, value in values.items():
        scenario = _replace(scenario, position_path(scenario, path).split("."), value)
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
        ``weight`` column, if present, holds importance weights (absent: equal weights).

        Raises ``ResultsError`` (``PATH: column C, row R: why``) for a file that is not Parquet,
        has no rows or no parameter columns, a column of text, a missing or non-finite value, or
        weights that are negative or all zero. Whether the paths and values suit a scenario is
        ``posterior_problems``'s question.
        """
        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for damaged files
            raise ResultsError(f"{path}: cannot read as a posterior (Parquet): {exc}") from None
        try:
            return cls._of_table(table)
        except ValueError as exc:
            raise ResultsError(f"{path}: {exc}") from None

    @classmethod
    def _of_table(cls, table: pa.Table) -> PosteriorSample:
        """The sample in ``table``; ``ValueError`` says what makes it unusable."""
        names = table.column_names
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:
            raise ValueError(f"column {twice[0]} appears more than once")
        if table.num_rows == 0:
            raise ValueError("has no rows; a posterior needs at least one parameter set")
        paths = [name for name in names if "." in name]
        if not paths:
            raise ValueError(
                "has no parameter columns (dotted paths, e.g. restrains[us>israel].pressure)"
            )
        columns = {name: _numbers(name, table[name]) for name in paths}
        weights = _weights(table[WEIGHT]) if WEIGHT in names else None
        return cls.from_columns(columns, weights)

    def for_episode(self, episode: str | None) -> PosteriorSample:
        """The columns one scenario draws: the shared ones (no ``EPISODE:`` prefix) and, for
        ``episode``, that episode's own with the prefix removed; other episodes' are left out.

        ``ValueError`` when the sample has episode-specific columns but none of ``episode``
        (a misspelt name would otherwise silently draw the shared columns alone).
        """
        own = {p: p.partition(EPISODE_SEPARATOR) for p in self.paths}
        named = sorted({e for p, (e, sep, _) in own.items() if sep})
        if episode is not None and named and episode not in named:
            raise ValueError(
                f"has no columns of episode {episode!r}; its episodes: {', '.join(named)}"
            )
        keep = [i for i, p in enumerate(self.paths) if not own[p][1] or own[p][0] == episode]
        paths = tuple(own[self.paths[i]][2] or self.paths[i] for i in keep)
        return PosteriorSample(paths, self.values[:, keep], self.weights)

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


def _numbers(name: str, column: pa.ChunkedArray) -> np.ndarray:
    """A column's values as floats; ``ValueError`` for text, missing or non-finite values."""
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        raise ValueError(f"column {name} holds {column.type}, not numbers")
    values = column.to_numpy(zero_copy_only=False).astype(float)
    bad = np.flatnonzero(~np.isfinite(values))
    if bad.size:
        row = int(bad[0])
        raise ValueError(
            f"column {name}, row {row}: {values[row]} is not a finite number "
            f"({bad.size} such row(s))"
        )
    return values


def _weights(column: pa.ChunkedArray) -> np.ndarray:
    """Importance weights: finite, none negative, not all zero (``ValueError`` otherwise)."""
    weights = _numbers(WEIGHT, column)
    negative = np.flatnonzero(weights < 0)
    if negative.size:
        row = int(negative[0])
        raise ValueError(f"column {WEIGHT}, row {row}: must be >= 0, got {weights[row]:g}")
    if not weights.sum() > 0:
        raise ValueError(f"column {WEIGHT}: every weight is 0; at least one must be positive")
    return weights


def load_posterior(path: str) -> PosteriorSample:
    """A posterior sample by absolute path, read once per process while the file is unchanged;
    ``FILE#EPISODE`` gives the columns that episode draws (``PosteriorSample.for_episode``), a
    plain ``FILE`` the shared columns alone. Raises ``ResultsError`` for an unknown episode."""
    file = posterior_file(path)
    stat = Path(file).stat()
    return _episode_sample(file, stat.st_mtime_ns, stat.st_size, posterior_episode(path))


@lru_cache(maxsize=8)
def _episode_sample(file: str, mtime_ns: int, size: int, episode: str | None) -> PosteriorSample:
    """``load_posterior`` remembered by file version and episode."""
    try:
        return _load_posterior(file, mtime_ns, size).for_episode(episode)
    except ValueError as exc:
        raise ResultsError(f"{file}: {exc}") from None


@lru_cache(maxsize=8)
def _load_posterior(path: str, mtime_ns: int, size: int) -> PosteriorSample:
    """``PosteriorSample.load`` remembered by path, modification time and size."""
    return PosteriorSample.load(path)


def posterior_problems(scenario: Scenario, path: str) -> list[str]:
    """What makes the posterior at ``path`` unfit for ``scenario``, each as
    ``PATH: column C[, row R]: why``; empty if it is fit.

    Every column it draws (none within ``parameters_fixed``: a block a variant removed keeps no
    place for its columns) must name a number of the scenario, a relation by its alias
    (``proxy[hezbollah>iran].obey_probability``; a positional ``relations.5...`` is refused, since
    a reordered scenario would give the value to another relation); every row, with the values it sets (those of ``parameters_fixed``
    excepted, as a run does), must pass the schema. Raises ``ResultsError`` for a file that
    ``PosteriorSample.load`` refuses. Remembered per file version and scenario. ``path`` may end
    in ``#EPISODE``: then the columns checked are those that episode draws (``load_posterior``);
    other episodes' own columns are ignored.
    """
    file = posterior_file(path)
    stat = Path(file).stat()
    key = (file, stat.st_mtime_ns, stat.st_size, posterior_episode(path))
    return [f"{file}: {message}" for message in _problems_of(*key, scenario.model_dump_json())]


@lru_cache(maxsize=32)
def _problems_of(
    path: str, mtime_ns: int, size: int, episode: str | None, scenario_json: str
) -> tuple[str, ...]:
    """``posterior_problems`` without the file name, remembered (the scenario as JSON)."""
    sample = _episode_sample(path, mtime_ns, size, episode)
    scenario = Scenario.model_validate_json(scenario_json)
    fixed = scenario.parameters_fixed
    drawn = [p for p in sample.paths if not any(_within(p, f) for f in fixed)]
    found = [f"column {p}: {why}" for p in drawn if (why := number_at(scenario, p))]
    if found:
        return tuple(found)
    placed = PosteriorSample(tuple(position_path(scenario, p) for p in sample.paths), sample.values)
    named = dict(zip(placed.paths, sample.paths, strict=True))
    return tuple(
        _renamed(message, named) for message in _row_problems(_placed_fixed(scenario), placed)
    )


def _renamed(message: str, named: Mapping[str, str]) -> str:
    """A row problem ``column relations.I...`` named by the column's own (alias) name."""
    column = message.removeprefix("column ").partition(",")[0]
    return message.replace(f"column {column}", f"column {named.get(column, column)}", 1)


def _placed_fixed(scenario: Scenario) -> Scenario:
    """``scenario`` with its ``parameters_fixed`` paths at today's positions (for matching)."""
    fixed = [position_path(scenario, p) for p in scenario.parameters_fixed]
    return scenario.model_copy(update={"parameters_fixed": fixed})


def _row_problems(scenario: Scenario, sample: PosteriorSample) -> tuple[str, ...]:
    """The first row each column makes invalid, with how many rows do (schema errors).

    Each row's values are set into the part of the scenario that holds them (an actor, a
    relation) and that part is validated, with every check of its model and those below it.
    """
    fixed = tuple(scenario.parameters_fixed)
    used = [(i, p) for i, p in enumerate(sample.paths) if not any(_within(p, f) for f in fixed)]
    parts: dict[str, list[tuple[int, str]]] = {}
    for i, path in used:
        parts.setdefault(_part_of(scenario, path), []).append((i, path))
    first: dict[str, tuple[int, str]] = {}
    count: dict[str, int] = {}
    for part, columns in parts.items():
        model = node_at(scenario, part) if part else scenario
        data = model.model_dump()
        for row in range(len(sample.values)):
            said = _part_errors(model, data, part, columns, sample.values[row])
            for column, message in said.items():
                first.setdefault(column, (row, message))
                count[column] = count.get(column, 0) + 1
    return tuple(
        f"column {column}, row {row}: {message}"
        + (f" ({count[column]} rows like it)" if count[column] > 1 else "")
        for column, (row, message) in first.items()
    )


def _part_of(scenario: Scenario, path: str) -> str:
    """The section entry holding ``path`` (``actors.iran``, ``relations.5``), or "" for the
    whole scenario when that entry is not a model of its own."""
    part = ".".join(path.split(".")[:2])
    return part if part != path and isinstance(node_at(scenario, part), BaseModel) else ""


def _part_errors(
    model: BaseModel, data: dict, part: str, columns: list[tuple[int, str]], row: np.ndarray
) -> dict[str, str]:
    """Schema errors of ``model`` (dumped as ``data``, at dotted ``part``) with one row's values
    set, by the column each is about."""
    document = data
    prefix = part.split(".") if part else []
    for i, path in columns:
        document = _replace(document, path.split(".")[len(prefix) :], float(row[i]))
    try:
        type(model).model_validate(document)
    except ValidationError as exc:
        paths = [p for _, p in columns]
        errors = [(data_path(document, e["loc"]), pydantic_message(e)) for e in exc.errors()]
        return {_column_of((*prefix, *loc), paths): message for loc, message in errors[::-1]}
    return {}


def _column_of(location: tuple, paths: list[str]) -> str:
    """The column whose value an error at ``location`` is about (the location itself if none)."""
    dotted = ".".join(map(str, location))
    for path in paths:
        if path == dotted or path.startswith(dotted + ".") or dotted.startswith(path + "."):
            return path
    return dotted


def with_fixed(scenario: Scenario, paths: Iterable[str]) -> Scenario:
    """``scenario`` with ``paths`` added to ``parameters_fixed``: values a study sets itself
    (``scenario_with``), which posterior draws must not replace. A relation is recorded by its
    alias, as a file would state it."""
    fixed = list(scenario.parameters_fixed)
    stable = [_stable(scenario, path) for path in paths]
    fixed += [path for path in stable if path not in fixed]
    return scenario.model_copy(update={"parameters_fixed": fixed})


def posterior_of(scenario: Scenario) -> PosteriorSample | None:
    """The posterior sample ``scenario`` draws from (read once per process), or None.

    A study reads it where it starts and sends it with every task, so that workers, a remote
    Dask cluster's included, never need the file. It is checked against ``scenario`` as the
    loader checks it (``posterior_problems``), for a scenario built in Python as well: raises
    ``ResultsError`` listing the problems.
    """
    if scenario.parameters_from is None:
        return None
    try:
        problems = posterior_problems(scenario, scenario.parameters_from)
    except OSError as exc:
        raise ResultsError(f"{scenario.parameters_from}: cannot read posterior ({exc})") from None
    if problems:
        raise ResultsError("\n".join(problems))
    return load_posterior(scenario.parameters_from)


def draw_parameters(
    scenario: Scenario, rng: np.random.Generator, posterior: PosteriorSample | None = None
) -> tuple[Scenario, dict]:
    """The scenario with one parameter set from its posterior (if it has one), and that set.

    ``posterior`` is the scenario's own sample when the caller already holds it
    (``posterior_of``); without it the sample is read from ``parameters_from``. The set is keyed
    by the posterior's column names (a relation by alias), so that it says which relation each
    value was fitted for whatever the relations' order.
    """
    if scenario.parameters_from is None:
        return scenario, {}
    drawn = (posterior or load_posterior(scenario.parameters_from)).draw(rng)
    fixed = [position_path(scenario, f) for f in scenario.parameters_fixed]
    values = {
        path: value
        for path, value in drawn.items()
        if not any(_within(position_path(scenario, path), f) for f in fixed)
    }
    return scenario_with(scenario, values), values


def _stable(scenario: Scenario, path: str) -> str:
    """``path`` in the form a file states it: ``relations.I.rest`` as the relation's alias."""
    parts = path.split(".", 2)
    if len(parts) > 1 and parts[0] == "relations" and parts[1].isdigit():
        index = int(parts[1])
        if index < len(scenario.relations):
            alias = relation_alias(scenario.relations[index])
            return alias + (f".{parts[2]}" if len(parts) > 2 else "")
    return path


def _within(path: str, fixed: str) -> bool:
    """Whether dotted ``path`` is ``fixed`` or lies below it (``relations.5`` holds
    ``relations.5.obey_probability``)."""
    return path == fixed or path.startswith(fixed + ".")
