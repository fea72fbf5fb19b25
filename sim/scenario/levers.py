"""Levers: scenario values named by path, readable aliases for relations, grids and ranges.

A lever is any scenario value, named by its dotted path (``actors.iran.policy.self_restraint``).
Relations are a list, so a position (``relations.4.pressure``) would silently retarget when a
relation is added above it: it is refused, and a relation is named by its kind and actors:

    restrains[us>israel].pressure
    defends[us>israel].joins_combat_at_rung
    proxy[hezbollah>iran].obey_probability
    adversaries[iran,israel]            (either order)

Named levers (a path, a range and a meaning) are declared in the scenario's ``levers:`` section, or
in a separate lever file (``levers: {NAME: {path, low, high, meaning}}``) read with the same safe
loader; every lever is checked by setting its low and high values through the scenario validator,
so a bad lever gets the same ``file:line: field: message`` error as a bad scenario.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError

from sim.errors import ResultsError
from sim.scenario.coherence import relation_aliases as relation_aliases  # part of this API
from sim.scenario.coherence import resolve_path
from sim.scenario.loading import (
    Problem,
    ScenarioError,
    load_scenario,
    parse_override,
    read_document,
    read_yaml_file,
)
from sim.scenario.problems import written_alias
from sim.scenario.schema import LeverSpec, Scenario

POSITIONAL_FIELD = re.compile(r"^relations(?:\[\d+\]|\.\d+)")
"""A field naming a relation by its place in the list (``relations[5]``, ``relations.5``)."""

MAX_LEVER_STEPS = 1_000
"""The most grid points of one lever, and of a sweep: each point is a study of its own (a lever of
2e8 steps used to fill the memory before anything ran)."""


def resolve_override(scenario: Scenario, assignment: str) -> str:
    """``PATH=VALUE`` checked and in its stable form (a relation by alias; a positional path is
    refused with the alias to write); the value's text is kept as typed."""
    path, sep, value = assignment.partition("=")
    if not sep:
        return assignment  # sim.scenario.loading.parse_override reports the mistake
    return f"{resolve_path(scenario, path, f'--set {assignment}')}={value}"


def resolve_overrides(
    scenario: Scenario, overrides: Iterable[str] | Mapping[str, Any]
) -> tuple[str, ...] | dict[str, Any]:
    """Every ``PATH=VALUE`` (or ``{PATH: VALUE}``) checked against ``scenario`` and written in its
    stable form, as a manifest records it."""
    if isinstance(overrides, Mapping):
        return {resolve_path(scenario, p, f"--set {p}"): v for p, v in overrides.items()}
    return tuple(resolve_override(scenario, text) for text in overrides)


def load_with_overrides(
    file: str | Path,
    overrides: Iterable[str] | Mapping[str, Any] = (),
    origins: Sequence[str] = (),
) -> Scenario:
    """``file`` with overrides applied, relation aliases (``restrains[us>israel].pressure``)
    resolved against the file's own relations; every mistake as ``load_scenario`` reports it.

    A problem caused by an override names it as it was typed, after its origin: ``--set`` unless
    ``origins`` gives one per override (``--variant NAME:``, ``--lever``).
    """
    if isinstance(overrides, Mapping):
        typed = [f"{path}={value}" for path, value in overrides.items()]
    else:
        overrides = list(overrides)  # read more than once below; a generator would be spent
        typed = overrides
    try:
        return load_scenario(file, overrides)
    except ScenarioError as exc:
        raise _named_as_typed(exc, typed, typed, origins or ["--set"] * len(typed)) from None


def _named_as_typed(
    error: ScenarioError, typed: list[str], resolved: list[str], origins: Sequence[str]
) -> ScenarioError:
    """``error`` with each problem an override caused named by its origin and typed text."""
    named = {
        label: f"{origin} {text}"
        for text, done, origin in zip(typed, resolved, origins, strict=True)
        for label in _set_labels(text, done)
    }
    return ScenarioError([
        Problem(named[p.source], p.line, _alias_field(p), p.message) if p.source in named else p
        for p in error.problems
    ])  # fmt: skip


def _alias_field(problem: Problem) -> str:
    """The field of a problem an override caused, its relation named by the alias the override
    was typed with, never by its place in the list (``relations[5].foo`` -> ``proxy[...].foo``)."""
    place = POSITIONAL_FIELD.match(problem.field)
    typed = written_alias(problem.source, None)
    if place is None or typed is None:
        return problem.field
    return typed + problem.field[place.end() :]


def _set_labels(typed: str, resolved: str) -> set[str]:
    """How ``sim.scenario.loading`` may name an override in a problem: as typed, as resolved, or as the
    path and parsed value it set."""
    labels = {f"--set {typed}", f"--set {resolved}"}
    try:
        path, value = parse_override(resolved)
    except ScenarioError:
        return labels
    return labels | {f"--set {path}={value}"}


def load_lever_file(path: str | Path) -> dict[str, LeverSpec]:
    """Named levers from a lever file: ``levers: {NAME: {path, low, high, meaning}}``."""
    return _read_lever_file(path)[0]


def _read_lever_file(path: str | Path) -> tuple[dict[str, LeverSpec], dict[tuple, int]]:
    """The levers of a lever file and the line of each of its keys."""
    source = str(path)
    try:
        text = read_yaml_file(path)
    except (OSError, ValueError) as exc:
        raise ScenarioError([Problem(source, None, "", f"cannot read: {exc}")]) from None
    data, lines = read_document(text, source)
    levers = data.get("levers")
    extra = sorted(set(data) - {"levers"})
    if not isinstance(levers, dict) or extra:
        raise ScenarioError(
            [Problem(source, 1, "levers", "a lever file holds one key, levers: {NAME: {...}}")]
        )
    problems, specs = [], {}
    for name, body in levers.items():
        try:
            specs[name] = LeverSpec.model_validate(body)
        except ValidationError as exc:
            for error in exc.errors():
                loc = ("levers", name, *error["loc"])
                where = lines.get(loc[:3], lines.get(loc[:2]))
                field = ".".join(map(str, loc))
                problems.append(Problem(source, where, field, _plain(error)))
    if problems:
        raise ScenarioError(problems)
    return specs, lines


def _plain(error: Mapping) -> str:
    """One pydantic error as a short message."""
    if error["type"] == "missing":
        return "required field is missing"
    if error["type"] == "extra_forbidden":
        return "unknown key (a lever has path, low, high, meaning)"
    text = error["msg"].removeprefix("Value error, ").replace("Input should be", "must be")
    typed = error["type"].endswith(("_type", "_parsing"))
    return f"{text}, got {error.get('input')!r}" if typed else text


def declared_levers(file: str | Path, lever_file: str | Path | None = None) -> dict[str, LeverSpec]:
    """The scenario's named levers plus those of ``lever_file``, each path in its stable form
    (a relation by alias) and checked by loading the scenario at its low and at its high value."""
    scenario = load_scenario(file)
    named = dict(scenario.levers)
    where = {name: (str(file), _key_lines(file)) for name in named}
    if lever_file is not None:
        extra, lines = _read_lever_file(lever_file)
        clash = sorted(set(extra) & set(named))
        if clash:
            raise ResultsError(f"{lever_file}: levers also declared in {file}: {', '.join(clash)}")
        named |= extra
        where |= {name: (str(lever_file), lines) for name in extra}
    checked = {}
    for name, spec in named.items():
        path = resolve_path(scenario, spec.path, f"lever {name}")
        source, lines = where[name]
        for end, value in (("low", spec.low), ("high", spec.high)):
            line = lines.get(("levers", name, end))
            origin = f"{source}:{line}: levers.{name}.{end}" if line else f"lever {name}"
            check_value(file, path, value, f"{origin} ({spec.path}={value:g})")
        checked[name] = spec.model_copy(update={"path": path})
    return checked


def _key_lines(file: str | Path) -> dict[tuple, int]:
    """The line of each key ``file`` itself states (a lever its ``extends:`` base declares has
    none here, and is then named without a line)."""
    return read_document(read_yaml_file(file), str(file))[1]


def check_value(file: str | Path, path: str, value: float, origin: str) -> None:
    """Validate ``file`` with ``path`` set to ``value``; errors name ``origin`` instead of --set."""
    try:
        load_scenario(file, {path: value})
    except ScenarioError as exc:
        problems = [
            Problem(origin, None, p.field, p.message) if p.source.startswith("--set") else p
            for p in exc.problems
        ]
        raise ScenarioError(problems) from None


@dataclass(frozen=True)
class Lever:
    """A scenario value swept over a grid: ``path`` takes each of ``values`` in turn."""

    path: str
    values: tuple[float, ...]
    name: str = ""

    @classmethod
    def parse(cls, text: str, named: Mapping[str, LeverSpec] | None = None) -> Lever:
        """``PATH=START:STOP:STEPS`` (``restrains[us>israel].pressure=0:1:5``), ``NAME=START:STOP:STEPS``
        for a declared lever, or ``NAME`` alone for its declared range in five steps."""
        named = named or {}
        if text.strip() in named:
            spec = named[text.strip()]
            return cls(spec.path, _grid(spec.low, spec.high, 5), text.strip())
        path, sep, grid = text.partition("=")
        if not sep:
            raise _no_such_lever(text, named, "PATH=START:STOP:STEPS")
        name = path.strip() if path.strip() in named else ""
        parts = grid.split(":")
        try:
            start, stop, steps = float(parts[0]), float(parts[1]), int(parts[2])
        except (ValueError, IndexError):
            raise ResultsError(f"lever {text!r}: expected PATH=START:STOP:STEPS") from None
        if not sep or not path.strip() or steps < 1 or len(parts) != 3:
            raise ResultsError(f"lever {text!r}: expected PATH=START:STOP:STEPS, STEPS >= 1")
        if steps > MAX_LEVER_STEPS:
            raise ResultsError(
                f"lever {text!r}: {steps:,} steps; a sweep runs at most {MAX_LEVER_STEPS:,} grid "
                "points (each a study of its own): use sim explore for larger designs"
            )
        return cls(named[name].path if name else path.strip(), _grid(start, stop, steps), name)

    def resolved(self, scenario: Scenario) -> Lever:
        """The lever with its path checked and in its stable form (a relation by alias, as the
        scenario states it; a positional path is refused with the alias to write)."""
        path = resolve_path(scenario, self.path, f"--lever {self.path}")
        return Lever(path, self.values, self.name or (self.path if path != self.path else ""))

    @property
    def label(self) -> str:
        """The lever's name if it has one, else its path (a column name)."""
        return self.name or self.path


def _no_such_lever(text: str, named: Mapping[str, LeverSpec], form: str) -> ResultsError:
    """A bare word that names no declared lever: say which names exist, and the other form."""
    declared = f"declared: {', '.join(named)}" if named else "the scenario declares none"
    return ResultsError(f"lever {text!r}: no declared lever of that name ({declared}); or {form}")


def _grid(start: float, stop: float, steps: int) -> tuple[float, ...]:
    return tuple(np.linspace(start, stop, steps).round(12).tolist())


@dataclass(frozen=True)
class Uncertain:
    """A scenario value by path, uncertain over the uniform range ``low`` to ``high``."""

    path: str
    low: float
    high: float
    name: str = ""

    @classmethod
    def parse(cls, text: str, named: Mapping[str, LeverSpec] | None = None) -> Uncertain:
        """``PATH=LOW:HIGH``, or the name of a declared lever (its range)."""
        named = named or {}
        if text.strip() in named:
            spec = named[text.strip()]
            return cls(spec.path, spec.low, spec.high, text.strip())
        path, sep, bounds = text.partition("=")
        if not sep:
            raise _no_such_lever(text, named, "PATH=LOW:HIGH")
        try:
            low, high = (float(v) for v in bounds.split(":"))
        except ValueError:
            raise ResultsError(f"{text!r}: expected PATH=LOW:HIGH") from None
        if not sep or not path.strip() or not low < high:
            raise ResultsError(f"{text!r}: expected PATH=LOW:HIGH with LOW < HIGH")
        return cls(path.strip(), low, high)

    @property
    def label(self) -> str:
        """The name if declared, else the path."""
        return self.name or self.path
