"""Loading scenario files: YAML text -> validated, frozen ``Scenario``; the project's only YAML reader.

Every mistake becomes one ``Problem`` naming the file, the line and the field, for example
``scenarios/x.yaml:14: actors.iran.policy.delay.median_days: must be > 0, got -3``. YAML is read
with safe-loader semantics (no tags, no code), duplicate keys are errors, and ``1e6`` is a number.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from sim.scenario.problems import (
    Path_,
    Problem,
    ScenarioError,
    data_path,
    dotted_field,
    pydantic_message,
)
from sim.scenario.schema import Adversaries, Defends, ProxyOf, Restrains, Scenario

Model = TypeVar("Model", bound=BaseModel)


class _Loader(yaml.SafeLoader):
    """Safe loader that also reads ``1e6`` and ``2.5e-3`` as floats (YAML 1.2 style)."""


_Loader.add_implicit_resolver(
    "tag:yaml.org,2002:float",
    re.compile(r"^[-+]?(?:\d[\d_]*)?(?:\.\d*)?[eE][-+]?\d+$"),
    list("-+0123456789."),
)


def _key_value(key_node: yaml.Node) -> Any:
    """A mapping key as ``yaml.load`` builds it (``0x10`` -> 16, ``yes`` -> True), so that paths
    in the line map match the keys of the data."""
    if key_node.tag == "tag:yaml.org,2002:str" or not isinstance(key_node, yaml.ScalarNode):
        return key_node.value
    try:
        return _Loader("").construct_object(key_node, deep=True)
    except yaml.YAMLError:  # the merge key ``<<`` has no constructor of its own
        return key_node.value


def _line_map(node: yaml.Node, path: Path_, lines: dict[Path_, int], dupes: list[Path_]) -> None:
    """Record the 1-based line of every key and item below ``node``; note duplicate keys.

    A node reached again through an alias is not walked again: an alias bomb (each level ten
    aliases of the one below) would otherwise take exponential time.
    """
    visited: set[int] = set()

    def walk(node: yaml.Node, path: Path_) -> None:
        lines.setdefault(path, node.start_mark.line + 1)
        if id(node) in visited:
            return
        visited.add(id(node))
        if isinstance(node, yaml.MappingNode):
            seen: set[Any] = set()
            for key_node, value_node in node.value:
                key = _key_value(key_node)
                if key in seen:
                    dupes.append((*path, key))
                seen.add(key)
                lines[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for index, item in enumerate(node.value):
                walk(item, (*path, index))

    walk(node, path)


def _reference_problems(scenario: Scenario) -> list[tuple[Path_, str]]:
    """Cross-references the schema alone cannot check: names of actors and weapons must exist."""
    actors, weapons = set(scenario.actors), set(scenario.weapons)
    problems: list[tuple[Path_, str]] = []

    def need(kind: str, names: set[str], name: str, path: Path_) -> None:
        if name not in names:
            known = ", ".join(sorted(names))
            problems.append((path, f"unknown {kind} {name!r} (known: {known})"))

    relation_fields = {
        Adversaries: (),
        Defends: ("ally", "protects"),
        Restrains: ("ally", "restrained"),
        ProxyOf: ("proxy", "patron"),
    }
    defenders: set[tuple[str, str]] = set()
    for i, relation in enumerate(scenario.relations):
        if isinstance(relation, Adversaries):
            for j, name in enumerate(relation.actors):
                need("actor", actors, name, ("relations", i, "actors", j))
        for field in relation_fields[type(relation)]:
            need("actor", actors, getattr(relation, field), ("relations", i, field))
        if isinstance(relation, Defends):
            defenders.add((relation.ally, relation.protects))
    for actor_id, actor in scenario.actors.items():
        base = ("actors", actor_id)
        for weapon in actor.arsenal:
            need("weapon", weapons, weapon, (*base, "arsenal", weapon))
        for i, layer in enumerate(actor.defence):
            need("actor", actors, layer.operator, (*base, "defence", i, "operator"))
            if (
                layer.operator in actors
                and layer.operator != actor_id
                and ((layer.operator, actor_id) not in defenders)
            ):
                problems.append(
                    (
                        (*base, "defence", i, "operator"),
                        f"{layer.operator!r} operates a layer for {actor_id!r} but no "
                        f"'defends' relation says {layer.operator!r} protects {actor_id!r}",
                    )
                )
            for weapon in layer.kill_probability:
                need("weapon", weapons, weapon, (*base, "defence", i, "kill_probability", weapon))
        if actor.policy:
            for rung, package in actor.policy.packages.items():
                for weapon in package.projectiles:
                    need(
                        "weapon",
                        weapons,
                        weapon,
                        (*base, "policy", "packages", rung, "projectiles", weapon),
                    )
    for i, event in enumerate(scenario.opening):
        need("actor", actors, event.attacker, ("opening", i, "attacker"))
        need("actor", actors, event.target, ("opening", i, "target"))
        for weapon in event.projectiles:
            need("weapon", weapons, weapon, ("opening", i, "projectiles", weapon))
    return problems


def read_document(text: str, source: str = "<string>") -> tuple[dict, dict[Path_, int]]:
    """Parse YAML text safely into data and a map from key paths to 1-based lines."""

    def fail(message: str, line: int | None = None, field: str = "") -> ScenarioError:
        return ScenarioError([Problem(source, line, field, message)])

    if not text.strip():
        raise fail(
            "file is empty; a scenario needs name, seed, horizon_days, weapons, actors, opening"
        )
    try:
        node = yaml.compose(text, Loader=_Loader)
        data = yaml.load(text, Loader=_Loader)
    except yaml.constructor.ConstructorError as exc:
        mark, reason = exc.problem_mark, str(exc.problem)
        if reason.startswith("could not determine a constructor"):
            reason = f"YAML tags that build objects are not allowed in a scenario: {reason}"
        else:
            reason = f"malformed YAML: {reason}"
        raise fail(reason, mark.line + 1 if mark else None) from None
    except yaml.reader.ReaderError as exc:
        line = len(re.findall(r"\r\n|[\r\n\x85\u2028\u2029]", text[: exc.position])) + 1
        raise fail(
            f"malformed YAML: {exc.reason} (character #x{exc.character:04x})", line
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        context, problem = getattr(exc, "context", None), getattr(exc, "problem", None)
        reason = "; ".join(filter(None, [context, problem])) or str(exc)
        raise fail(f"malformed YAML: {reason}", mark.line + 1 if mark else None) from None
    except RecursionError:
        raise fail("malformed YAML: nested too deeply") from None
    if not isinstance(data, dict):
        raise fail(f"the top level must be a mapping of keys, got {type(data).__name__}", 1)
    lines: dict[Path_, int] = {}
    dupes: list[Path_] = []
    try:
        _line_map(node, (), lines, dupes)
    except RecursionError:
        raise fail("malformed YAML: nested too deeply") from None
    if dupes:
        raise ScenarioError(
            [Problem(source, lines.get(p), dotted_field(p), "duplicate key") for p in dupes]
        )
    return data, lines


Where = tuple[str, int | None]
"""Where a value came from: a source (a file, or an override) and a line in it (if any)."""


def _place(where: dict[Path_, Where], path: Path_, found: Mapping[Path_, Where]) -> None:
    """Forget what ``where`` knew below ``path`` and record ``found`` instead."""
    for stale in [p for p in where if p[: len(path)] == path]:
        del where[stale]
    where.update(found)


def _document(text: str, source: str, seen: frozenset[Path] = frozenset()) -> tuple[dict, dict]:
    """Data and locations of a scenario, resolving ``extends: BASE`` and ``set: {PATH: VALUE}``.

    A variant file names its base (relative to itself), replaces whole top-level keys, and sets
    single values by dotted path, so that a variant states only how it differs.
    """
    data, lines = read_document(text, source)
    where: dict[Path_, Where] = {p: (source, line) for p, line in lines.items()}
    if "extends" not in data:
        return data, where
    base_name, changes = data.pop("extends"), data.pop("set", None) or {}
    here = (source, lines[("extends",)])
    if not isinstance(base_name, str) or not isinstance(changes, dict):
        raise ScenarioError([Problem(*here, "extends", "needs a file name, and set a mapping")])
    try:  # a name with a NUL byte is a ValueError, one too long an OSError
        base = (Path(source).parent / base_name).resolve()
        if base in seen:
            problem = f"{base_name} extends itself in a cycle"
            raise ScenarioError([Problem(*here, "extends", problem)])
        base_text = base.read_text(encoding="utf-8")
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise ScenarioError(
            [Problem(*here, "extends", f"cannot read {base_name}: {exc}")]
        ) from None
    merged, merged_where = _document(base_text, str(base), seen | {base})
    for key, value in data.items():
        merged[key] = value
        _place(merged_where, (key,), {p: w for p, w in where.items() if p[:1] == (key,)})
    for dotted, value in changes.items():
        origin = (source, lines.get(("set", dotted), here[1]))
        _place(merged_where, _keys(str(dotted)), _set_path(merged, str(dotted), value, origin))
    _fix_parameters(merged, map(str, changes))
    return merged, merged_where


def _fix_parameters(data: dict, dotted_paths: Iterable[str]) -> None:
    """Record values set explicitly (by a variant's ``set:`` or by ``--set``) in
    ``parameters_fixed``, so that draws from ``parameters_from`` never replace them."""
    paths = [path for path in dotted_paths if "." in path]
    fixed = data.setdefault("parameters_fixed", []) if paths else None
    if isinstance(fixed, list):  # anything else is reported by validation
        fixed.extend(path for path in paths if path not in fixed)


def parse_scenario(
    text: str, source: str = "<string>", overrides: Sequence[str] | Mapping[str, Any] = ()
) -> Scenario:
    """Validate scenario YAML text (and its base, if it ``extends`` one), with overrides on top.

    Raises ``ScenarioError`` listing every problem found; a problem caused by an override names
    the override (``--set actors.us.pressure=2``) instead of a file line.
    """
    data, where = _document(text, source)
    origins = apply_overrides(data, overrides)
    for path, origin in origins.items():
        _place(where, path, {path: origin})
    _fix_parameters(data, (".".join(map(str, path)) for path in origins))
    return _locate_posterior(validate_data(data, where, source), where, source)


def _locate_posterior(scenario: Scenario, where: Mapping[Path_, Where], source: str) -> Scenario:
    """Resolve ``parameters_from`` against the folder of the file that named it; check it exists."""
    if scenario.parameters_from is None:
        return scenario
    named_in = where.get(("parameters_from",), (source, None))
    folder = Path(named_in[0]).parent if Path(named_in[0]).exists() else Path.cwd()
    try:  # a name with a NUL byte is a ValueError, one too long an OSError
        path = (folder / scenario.parameters_from).resolve()
        found = path.is_file()
    except (OSError, ValueError) as exc:
        message = f"cannot read {scenario.parameters_from}: {exc}"
        raise ScenarioError([Problem(*named_in, "parameters_from", message)]) from None
    if not found:
        raise ScenarioError([Problem(*named_in, "parameters_from", f"no such file: {path}")])
    return scenario.model_copy(update={"parameters_from": str(path)})


def parse_override(assignment: str) -> tuple[str, Any]:
    """Split ``path=value``; the value is read as a YAML scalar or flow collection."""
    path, sep, value = assignment.partition("=")
    if not sep or not path.strip():
        raise ScenarioError(
            [Problem(f"--set {assignment}", None, "", "expected PATH=VALUE, e.g. seed=7")]
        )
    try:
        parsed = yaml.load(value, Loader=_Loader) if value.strip() else None
    except yaml.YAMLError as exc:
        raise ScenarioError(
            [Problem(f"--set {assignment}", None, path, f"cannot read the value: {exc}")]
        ) from None
    return path.strip(), parsed


def _has(node: Any, key: str | int) -> bool:
    """Whether ``node[key]`` exists (a mapping key or a list index)."""
    if isinstance(node, dict):
        return key in node
    return isinstance(node, list) and isinstance(key, int) and key < len(node)


def _keys(dotted: str) -> Path_:
    return tuple(int(k) if k.isascii() and k.isdigit() else k for k in dotted.split("."))


def _set_path(data: dict, dotted: str, value: Any, origin: Where) -> dict[Path_, Where]:
    """Set one dotted path in ``data`` (in place); return where the new value came from."""
    keys = _keys(dotted)
    node: Any = data
    for depth, key in enumerate(keys[:-1]):
        if not _has(node, key):
            known = ", ".join(map(str, node)) if isinstance(node, dict) else ""
            hint = f" (known: {known})" if known else ""
            raise ScenarioError(
                [Problem(*origin, dotted_field(keys[: depth + 1]), f"no such key{hint}")]
            )
        node = node[key]
    if not (isinstance(node, dict) or _has(node, keys[-1])):
        raise ScenarioError([Problem(*origin, dotted, "no such place to set")])
    node[keys[-1]] = value
    return {keys: origin}


def apply_overrides(data: dict, overrides: Sequence[str] | Mapping[str, Any]) -> dict[Path_, Where]:
    """Set each ``path=value`` in ``data`` (in place); return where each set value came from."""
    pairs = overrides.items() if isinstance(overrides, Mapping) else map(parse_override, overrides)
    origins: dict[Path_, Where] = {}
    for dotted, value in pairs:
        origins.update(_set_path(data, dotted, value, (f"--set {dotted}={value}", None)))
    return origins


def _problem(where: Mapping[Path_, Where], source: str, path: Path_, message: str) -> Problem:
    """A problem at ``path``, placed at the nearest recorded ancestor's file and line."""
    for end in range(len(path), -1, -1):
        if path[:end] in where:
            return Problem(*where[path[:end]], dotted_field(path), message)
    return Problem(source, None, dotted_field(path), message)


def validate_model(
    model: type[Model], data: Mapping[str, Any], where: Mapping[Path_, Where], source: str
) -> Model:
    """Validate parsed YAML ``data`` as a pydantic ``model``; ``where`` maps key paths to their
    file and line. Every error becomes one ``file:line: field: message`` in a ``ScenarioError``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        problems = [
            _problem(where, source, data_path(data, e["loc"]), pydantic_message(e))
            for e in exc.errors()
        ]
        raise ScenarioError(problems) from None


def validate_data(data: Mapping[str, Any], where: Mapping[Path_, Where], source: str) -> Scenario:
    """Validate parsed scenario data; ``where`` maps key paths to their file and line."""
    scenario = validate_model(Scenario, data, where, source)
    references = _reference_problems(scenario)
    if references:
        raise ScenarioError([_problem(where, source, p, m) for p, m in references])
    return scenario


def load_scenario(path: str | Path, overrides: Sequence[str] | Mapping[str, Any] = ()) -> Scenario:
    """Read and validate a scenario file, with optional ``path=value`` overrides.

    Raises ``ScenarioError`` with ``file:line: field: message`` lines.
    """
    source = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ScenarioError([Problem(source, None, "", "no such file")]) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(source, None, "", f"cannot read: {exc}")]) from None
    return parse_scenario(text, source, overrides)


def scenario_hash(text: str) -> str:
    """SHA-256 of a scenario's text, for manifests: the same file gives the same hash."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
