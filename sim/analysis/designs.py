"""Experiment designs over factors: Latin hypercube, Sobol', Halton, full factorial and Morris.

A factor is a scenario value by path (or a declared lever) that a design varies: continuous over a
range, integer over a range of whole numbers, or categorical over listed values (which may be whole
scenario files: the ``scenario`` factor). Every design is made on the unit cube, one column per
factor, and mapped onto the factors: a continuous factor takes ``low + u * (high - low)``, an
integer or categorical one of ``k`` values the value ``floor(u * k)`` (so each is equally likely).
Randomness comes only from the generator a caller passes (``sim.model.rng`` streams), so a design
is the same for the same seed. Morris designs and their elementary effects come from SALib
(an optional dependency: ``pip install SALib``); its problem dicts go in (``factors_from_problem``)
and out (``salib_problem``), so a SALib user can bring their own analysis.

    >>> factors = [Factor.parse("us_pressure"), Factor.parse("actors.iran.policy.self_restraint=0:1")]
    >>> unit = unit_design("lhs", factors, 64, Streams(2024, 0).get("explore", "design"))
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from sim.errors import ResultsError
from sim.scenario.coherence import node_at
from sim.scenario.levers import check_value, declared_levers, resolve_path
from sim.scenario.loading import load_scenario
from sim.scenario.schema import LeverSpec, Scenario

DESIGNS = ("lhs", "sobol", "halton", "factorial", "morris")
MAX_DESIGN_POINTS = 100_000
"""Most points a design may have (each is run ``replications`` times): a full factorial of many
factors, or a huge Morris design, is refused before anything is made."""
MORRIS_LEVELS = 4
"""Grid levels of a Morris design (SALib's default): steps of 2/3 of each factor's range."""
FILE_FACTOR = "scenario"
"""The factor whose levels are whole scenario files (variants): ``scenario=[a.yaml,b.yaml]``."""
FACTOR_FORMS = "NAME (a declared lever), PATH=LOW:HIGH, PATH=LOW..HIGH (integers) or PATH=[A,B,...]"


class FactorError(ResultsError):
    """A factor specification that is malformed or names what the scenario does not have."""


@dataclass(frozen=True)
class Factor:
    """A value a design varies: ``name`` (its column), ``path`` (the scenario path it sets, or
    ``scenario`` for whole files), ``kind`` (continuous, integer or categorical), the range
    ``low``-``high`` (both included) or the categorical ``levels``."""

    name: str
    path: str
    kind: str
    low: float = math.nan
    high: float = math.nan
    levels: tuple[Any, ...] = ()

    @classmethod
    def parse(cls, text: str, named: Mapping[str, LeverSpec] | None = None) -> Factor:
        """A factor from ``NAME``, ``PATH=LOW:HIGH``, ``PATH=LOW..HIGH`` or ``PATH=[A,B,...]``
        (a declared lever's name may stand for its path)."""
        named = named or {}
        text = text.strip()
        if text in named:
            spec = named[text]
            return cls(text, spec.path, "continuous", float(spec.low), float(spec.high))
        name, sep, spec = (part.strip() for part in text.partition("="))
        if not sep and name:
            declared = ", ".join(named) or "none"
            raise FactorError(
                f"factor {text!r}: no declared lever of that name (declared: {declared}); "
                f"or {FACTOR_FORMS}"
            )
        if not sep or not name:
            raise FactorError(f"factor {text!r}: expected {FACTOR_FORMS}")
        path = named[name].path if name in named else name
        if spec.startswith("["):
            return cls(name, path, "categorical", levels=_levels(text, spec))
        low, dots, high = spec.partition("..")
        if dots:
            return cls(name, path, "integer", *_whole_numbers(text, low, high))
        low, colon, high = spec.partition(":")
        bounds = _numbers(low, high) if colon else None
        if bounds is None or not bounds[0] < bounds[1]:
            raise FactorError(
                f"factor {text!r}: expected {FACTOR_FORMS}, LOW < HIGH, finite numbers"
            )
        return cls(name, path, "continuous", *bounds)

    @property
    def size(self) -> int:
        """How many values an integer or categorical factor has (0: continuous)."""
        if self.kind == "integer":
            return int(self.high - self.low) + 1
        return len(self.levels) if self.kind == "categorical" else 0

    def values(self, unit: np.ndarray) -> list[Any]:
        """The factor's values at unit-cube coordinates ``unit`` (in [0, 1])."""
        unit = np.clip(np.asarray(unit, dtype=float), 0.0, 1.0)
        if self.kind == "continuous":
            return (self.low + unit * (self.high - self.low)).tolist()
        index = np.minimum((unit * self.size).astype(int), self.size - 1)
        if self.kind == "integer":
            return (int(self.low) + index).tolist()
        return [self.levels[i] for i in index]

    def grid(self, levels: int) -> np.ndarray:
        """Unit coordinates of a full factorial: every value of an integer or categorical factor,
        ``levels`` evenly spaced values (both ends included) of a continuous one."""
        if self.kind == "continuous":
            return np.linspace(0.0, 1.0, levels)
        return (np.arange(self.size) + 0.5) / self.size


def _numbers(*parts: str) -> tuple[float, ...] | None:
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        return None
    return values if all(math.isfinite(v) for v in values) else None


def _whole_numbers(text: str, low: str, high: str) -> tuple[float, float]:
    try:
        a, b = int(low), int(high)
    except ValueError:
        raise FactorError(f"factor {text!r}: PATH=LOW..HIGH takes whole numbers") from None
    if not a < b:
        raise FactorError(f"factor {text!r}: PATH=LOW..HIGH needs LOW < HIGH")
    return float(a), float(b)


def _levels(text: str, spec: str) -> tuple[Any, ...]:
    """The listed values of ``[A,B,...]``, each read as a YAML scalar (0.5, true, a file name)."""
    if not spec.endswith("]"):
        raise FactorError(f"factor {text!r}: a list of values is written PATH=[A,B,...]")
    items = [item.strip() for item in spec[1:-1].split(",")]
    try:
        levels = tuple(yaml.safe_load(item) for item in items)
    except yaml.YAMLError:
        raise FactorError(f"factor {text!r}: values must be plain numbers or words") from None
    if "" in items or len(levels) < 2 or len(set(map(repr, levels))) != len(levels):
        raise FactorError(f"factor {text!r}: list two or more distinct, non-empty values")
    return levels


def design_size(kind: str, factors: Sequence[Factor], n: int, levels: int = 3) -> int:
    """How many points the design has: ``n`` (LHS, Sobol', Halton), the product of the factors'
    value counts (factorial), or ``n`` trajectories of ``factors + 1`` points (Morris)."""
    if kind == "factorial":
        return math.prod(len(f.grid(levels)) for f in factors)
    return n * (len(factors) + 1) if kind == "morris" else n


def check_design(kind: str, factors: Sequence[Factor], n: int, levels: int = 3) -> None:
    """Refuse an unknown design, no factors, repeated factors, or a design too large to run."""
    if kind not in DESIGNS:
        raise FactorError(f"design {kind!r}: unknown; choose one of {', '.join(DESIGNS)}")
    if not factors:
        raise FactorError(f"a design needs at least one factor: {FACTOR_FORMS}")
    for what in ("name", "path"):
        seen = [getattr(f, what) for f in factors]
        repeated = sorted({s for s in seen if seen.count(s) > 1})
        if repeated:
            raise FactorError(f"factor {repeated[0]!r} given twice")
    if n < 1 or (kind == "factorial" and levels < 2):
        raise FactorError("a design needs n >= 1 points (and a factorial >= 2 levels)")
    if kind == "sobol" and n & (n - 1):
        raise FactorError(f"a Sobol' design needs a power of two points, got {n}")
    size = design_size(kind, factors, n, levels)
    if size > MAX_DESIGN_POINTS:
        raise FactorError(
            f"the {kind} design has {size:,} points; at most {MAX_DESIGN_POINTS:,} are run"
        )


def unit_design(
    kind: str, factors: Sequence[Factor], n: int, rng: np.random.Generator, levels: int = 3
) -> np.ndarray:
    """The design on the unit cube, shape (points, factors); ``rng`` makes it reproducible."""
    from scipy import stats  # here, not with the command line (half a second)

    check_design(kind, factors, n, levels)
    d = len(factors)
    if kind == "lhs":
        return stats.qmc.LatinHypercube(d=d, rng=rng).random(n)
    if kind == "sobol":
        return stats.qmc.Sobol(d=d, rng=rng).random(n)
    if kind == "halton":
        return stats.qmc.Halton(d=d, rng=rng).random(n)
    if kind == "factorial":
        grids = np.meshgrid(*(f.grid(levels) for f in factors), indexing="ij")
        return np.column_stack([g.ravel() for g in grids])
    from SALib.sample import morris

    return morris.sample(_unit_problem(factors), n, num_levels=MORRIS_LEVELS, seed=rng)


def experiments(factors: Sequence[Factor], unit: np.ndarray) -> pd.DataFrame:
    """One row per design point: ``point`` (0, 1, ...) and each factor's value, by name."""
    table = pd.DataFrame({"point": np.arange(len(unit), dtype=np.int64)})
    for column, factor in enumerate(factors):
        table[factor.name] = factor.values(unit[:, column])
    return table


def salib_problem(factors: Sequence[Factor]) -> dict[str, Any]:
    """A SALib problem dict: ``names`` and ``bounds`` (a categorical factor's bounds are the
    index range of its levels, listed under ``levels``)."""
    bounds = [
        [f.low, f.high] if f.kind != "categorical" else [0, len(f.levels) - 1] for f in factors
    ]
    return {
        "num_vars": len(factors),
        "names": [f.name for f in factors],
        "bounds": bounds,
        "kinds": [f.kind for f in factors],
        "paths": [f.path for f in factors],
        "levels": {f.name: list(f.levels) for f in factors if f.kind == "categorical"},
    }


def factors_from_problem(problem: Mapping[str, Any]) -> list[Factor]:
    """Factors from a SALib problem dict: continuous over ``bounds`` unless ``kinds`` (as
    ``salib_problem`` writes them) says otherwise; ``names`` are paths or lever names."""
    try:
        names, bounds = list(problem["names"]), [list(b) for b in problem["bounds"]]
    except (KeyError, TypeError):
        raise FactorError("a SALib problem needs 'names' and 'bounds'") from None
    if len(names) != len(bounds) or any(len(b) != 2 for b in bounds):
        raise FactorError("a SALib problem needs one [low, high] bound per name")
    kinds = problem.get("kinds") or ["continuous"] * len(names)
    paths = problem.get("paths") or names
    levels = problem.get("levels") or {}
    factors = []
    for name, path, kind, (low, high) in zip(names, paths, kinds, bounds, strict=True):
        if kind == "categorical":
            factors.append(Factor(name, path, kind, levels=tuple(levels[name])))
        elif _numbers(str(low), str(high)) and float(low) < float(high):
            factors.append(Factor(name, path, kind, float(low), float(high)))
        else:
            raise FactorError(f"SALib problem: {name}: bounds must be finite with low < high")
    return factors


def _unit_problem(factors: Sequence[Factor]) -> dict[str, Any]:
    d = len(factors)
    return {"num_vars": d, "names": [f.name for f in factors], "bounds": [[0.0, 1.0]] * d}


def morris_indices(
    factors: Sequence[Factor],
    unit: np.ndarray,
    values: np.ndarray,
    outcomes: Sequence[str],
    rng: np.random.Generator,
) -> pd.DataFrame:
    """Morris elementary-effect statistics (SALib), one row per outcome and factor: ``mu``,
    ``mu_star`` (mean absolute effect) with its bootstrap 95% half-width ``mu_star_conf``, and
    ``sigma``. An effect is the outcome's change per full range of the factor (unit scale).
    ``values``: shape (points, outcomes), in the order of the Morris design ``unit``."""
    from SALib.analyze import morris

    values = np.asarray(values, dtype=float).reshape(len(unit), len(outcomes))
    rows = []
    for k, outcome in enumerate(outcomes):
        result = morris.analyze(
            _unit_problem(factors), unit, values[:, k], num_levels=MORRIS_LEVELS, seed=rng
        )
        for j, factor in enumerate(factors):
            rows.append(
                {
                    "outcome": outcome,
                    "factor": factor.name,
                    "mu": float(result["mu"][j]),
                    "mu_star": float(result["mu_star"][j]),
                    "mu_star_conf": float(result["mu_star_conf"][j]),
                    "sigma": float(result["sigma"][j]),
                }
            )
    return pd.DataFrame(rows)


def parse_factors(
    factors: Sequence[Factor | str] | Mapping[str, Any],
    file: str | Path,
    lever_file: str | Path | None = None,
) -> list[Factor]:
    """Factors from ``Factor``s, specification strings (``Factor.parse``; declared lever names
    allowed) or a SALib problem dict."""
    if isinstance(factors, Mapping):
        named = declared_levers(file, lever_file)
        return [
            replace(f, path=named[f.path].path) if f.path in named else f
            for f in factors_from_problem(factors)
        ]
    texts = [f.partition("=") for f in factors if isinstance(f, str)]
    declared = set(load_scenario(file).levers) if texts else set()
    needed = lever_file is not None or any(
        not sep or name.strip() in declared for name, sep, _ in texts
    )
    named = declared_levers(file, lever_file) if needed else {}  # two scenario loads per lever
    return [f if isinstance(f, Factor) else Factor.parse(f, named) for f in factors]


def resolve_factors(factors: Sequence[Factor], bases: Mapping[str, Scenario]) -> list[Factor]:
    """Factors with relation aliases resolved, each checked at its ends (or every level) in every
    file: an out-of-range value gets the ``--factor NAME: field: message`` error now."""
    checked = []
    for factor in factors:
        if factor.path == FILE_FACTOR:
            checked.append(factor)
            continue
        origin = f"--factor {factor.name}"
        path = resolve_path(next(iter(bases.values())), factor.path, origin)
        ends = factor.levels if factor.kind == "categorical" else (factor.low, factor.high)
        for file, scenario in bases.items():
            _check_kind(factor, scenario, path)
            for value in ends:
                value = int(value) if factor.kind == "integer" else value
                check_value(file, path, value, f"{origin} ({factor.path}={value})")
        checked.append(
            Factor(factor.name, path, factor.kind, factor.low, factor.high, factor.levels)
        )
    return checked


def _check_kind(factor: Factor, scenario: Scenario, path: str) -> None:
    """Refuse a continuous range on a whole-number field (its points would not be whole); a
    path that leads nowhere is left to ``check_value``, which names the field."""
    try:
        node = node_at(scenario, path)
    except LookupError:
        return
    if factor.kind == "continuous" and isinstance(node, int) and not isinstance(node, bool):
        raise FactorError(
            f"factor {factor.name!r}: {path} is a whole number; write {factor.name}="
            f"{factor.low:g}..{factor.high:g} for an integer factor"
        )
