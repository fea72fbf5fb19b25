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
from typing import Any

import yaml

from sim.errors import ResultsError
from sim.scenario.coherence import (
    coherence_problems,
    no_relation,
    positional_problem,
    raw_alias,
    raw_position,
)
from sim.scenario.parameters import posterior_file, posterior_problems, relocated
from sim.scenario.problems import (
    Path_,
    Problem,
    ScenarioError,
    Where,
    dotted_field,
    impossible_date,
    validate_model,
)
from sim.scenario.schema import Scenario
from sim.scenario.versions import refuse_version_1

MAX_FILE_BYTES = 262_144
"""The largest YAML file (scenario, ``extends:`` base, lever file) read, in bytes: 256 KiB, about
18 times the shipped scenario (parsing that much takes seconds; 1 MiB took over a minute). A
larger file is refused before it is parsed, reading at most one byte more than this (so
``/dev/zero`` is refused too)."""


def read_yaml_file(path: str | Path) -> str:
    """The UTF-8 text of a YAML file of at most ``MAX_FILE_BYTES``, newlines made ``\n``.

    Raises ``OSError`` if it cannot be read and ``ValueError`` if it is too large or not UTF-8.
    """
    with open(path, "rb") as file:
        raw = file.read(MAX_FILE_BYTES + 1)
    if len(raw) > MAX_FILE_BYTES:
        raise ValueError(_too_large("file"))
    return raw.decode("utf-8").replace("\r\n", "\n").replace("\r", "\n")


def _too_large(what: str) -> str:
    return f"{what} is larger than {MAX_FILE_BYTES:,} bytes (256 KiB), the most a scenario may hold"


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


def _parse(text: str) -> tuple[yaml.Node | None, Any]:
    """The node tree and the data of one YAML document, parsed once (YAML errors propagate)."""
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        return node, None if node is None else loader.construct_document(node)
    finally:
        loader.dispose()


def read_document(text: str, source: str = "<string>") -> tuple[dict, dict[Path_, int]]:
    """Parse YAML text safely into data and a map from key paths to 1-based lines."""

    def fail(message: str, line: int | None = None, field: str = "") -> ScenarioError:
        return ScenarioError([Problem(source, line, field, message)])

    if len(text) > MAX_FILE_BYTES or len(text.encode("utf-8", "surrogatepass")) > MAX_FILE_BYTES:
        raise fail(_too_large("text"))
    if not text.strip():
        raise fail(
            "file is empty; a scenario needs name, seed, horizon_days, weapons, actors, opening"
        )
    try:
        node, data = _parse(text)
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
    except ValueError as exc:  # a date-like value that is no date (2024-13-01)
        path, line, value = impossible_date(text)
        reason = (
            f"must be a valid date, got {value!r} ({exc})" if line else f"malformed YAML: {exc}"
        )
        raise fail(reason, line, dotted_field(path)) from None
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


def _place(where: dict[Path_, Where], path: Path_, found: Mapping[Path_, Where]) -> None:
    """Forget what ``where`` knew below ``path`` and record ``found`` instead."""
    for stale in [p for p in where if p[: len(path)] == path]:
        del where[stale]
    where.update(found)


def _document(text: str, source: str, seen: frozenset[Path] = frozenset()) -> tuple[dict, dict]:
    """Data and locations of a scenario, resolving ``extends: BASE``, ``add:`` and
    ``set: {PATH: VALUE}``.

    A variant file names its base (relative to itself), replaces whole top-level keys, adds list
    entries and mapping keys (``add: {relations: [...], actors: {...}}``) and then sets single
    values by dotted path, so that a variant states only how it differs.
    """
    data, lines = read_document(text, source)
    if seen:
        _check_is_scenario(data, lines, source)
    refuse_version_1(data, lines, source)
    where: dict[Path_, Where] = {p: (source, line) for p, line in lines.items()}
    if "extends" not in data:
        return data, where
    base_name, changes = data.pop("extends"), data.pop("set", None) or {}
    additions = data.pop("add", None) or {}
    here = (source, lines[("extends",)])
    if not isinstance(base_name, str) or not isinstance(changes, dict):
        raise ScenarioError([Problem(*here, "extends", "needs a file name, and set a mapping")])
    try:  # a name with a NUL byte is a ValueError, one too long an OSError
        base = (Path(source).parent / base_name).resolve()
        if base in seen:
            problem = f"{base_name} extends itself in a cycle"
            raise ScenarioError([Problem(*here, "extends", problem)])
        base_text = read_yaml_file(base)
    except (OSError, ValueError) as exc:
        raise ScenarioError(
            [Problem(*here, "extends", f"cannot read {base_name}: {exc}")]
        ) from None
    merged, merged_where = _document(base_text, str(base), seen | {base})
    for key, value in data.items():
        merged[key] = value
        _place(merged_where, (key,), {p: w for p, w in where.items() if p[:1] == (key,)})
    _add_entries(merged, merged_where, additions, lines, (source, lines.get(("add",), here[1])))
    for dotted, value in changes.items():
        origin = (source, lines.get(("set", dotted), here[1]))
        found = _set_path(merged, str(dotted), value, origin)
        _place(merged_where, next(iter(found)), found)
    _fix_parameters(merged, map(str, changes))
    return merged, merged_where


def _add_entries(
    data: dict, where: dict[Path_, Where], additions: Any, lines: Mapping[Path_, int], at: Where
) -> None:
    """Apply a variant's ``add:`` (in place): entries appended to a list of the base
    (``relations``, ``opening``), new keys of a mapping (``actors``, ``weapons``); a key the base
    has already is refused (change its values with ``set:``)."""
    if not isinstance(additions, dict):
        raise ScenarioError([Problem(*at, "add", "must map sections to entries to add")])
    for key, entries in additions.items():
        place = (at[0], lines.get(("add", key), at[1]))
        target = data.setdefault(key, [] if isinstance(entries, list) else {})
        offset = len(target) if isinstance(target, list) else 0
        if isinstance(target, list) and isinstance(entries, list):
            target.extend(entries)
        elif isinstance(target, dict) and isinstance(entries, dict):
            known = [Problem(at[0], lines.get(("add", key, k)), f"add.{key}.{k}", f"{key} has "
                     f"{k!r} already; change it with set:") for k in entries if k in target]  # fmt: skip
            if known:
                raise ScenarioError(known)
            target.update(entries)
        else:
            kinds = f"{type(target).__name__}, got {type(entries).__name__}"
            raise ScenarioError([Problem(*place, f"add.{key}", f"{key} takes entries as {kinds}")])
        for path, line in lines.items():
            if path[:2] == ("add", key) and len(path) > 2:
                entry = path[2] + offset if isinstance(path[2], int) else path[2]
                where[(key, entry, *path[3:])] = (at[0], line)


def _check_is_scenario(data: dict, lines: Mapping[Path_, int], source: str) -> None:
    """Refuse a base file with keys a scenario does not have, naming keys and lines only: such a
    file may be any YAML (credentials, say), and none of its values may be echoed."""
    known = {*Scenario.model_fields, "extends", "set", "add"}
    unknown = [key for key in data if key not in known]
    if unknown:
        message = "not a scenario key: an extends: base must be a scenario (see `sim schema`)"
        raise ScenarioError(
            [Problem(source, lines.get((key,)), dotted_field((key,)), message) for key in unknown]
        )


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
    typed = overrides if isinstance(overrides, Mapping) else dict(map(parse_override, overrides))
    _fix_parameters(data, map(str, typed))
    return _locate_posterior(validate_data(data, where, source), where, source)


def _locate_posterior(scenario: Scenario, where: Mapping[Path_, Where], source: str) -> Scenario:
    """Resolve ``parameters_from`` against the folder of the file that named it, and check the
    posterior there as a run will use it (``sim.scenario.parameters.posterior_problems``)."""
    if scenario.parameters_from is None:
        return scenario
    named_in = where.get(("parameters_from",), (source, None))

    def refuse(*messages: str) -> ScenarioError:
        return ScenarioError([Problem(*named_in, "parameters_from", m) for m in messages])

    folder = Path(named_in[0]).parent if Path(named_in[0]).exists() else Path.cwd()
    try:  # a name with a NUL byte is a ValueError, one too long an OSError
        path = (folder / posterior_file(scenario.parameters_from)).resolve()
        found, exists = path.is_file(), path.exists()
    except (OSError, ValueError) as exc:
        raise refuse(f"cannot read {scenario.parameters_from}: {exc}") from None
    if not found:
        raise refuse(f"not a file: {path}" if exists else f"no such file: {path}")
    located_scenario = scenario.model_copy(update={"parameters_from": relocated(scenario, path)})
    try:
        problems = posterior_problems(located_scenario, located_scenario.parameters_from)
    except (ResultsError, OSError) as exc:
        raise refuse(str(exc)) from None
    if problems:
        raise refuse(*problems)
    return located_scenario


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
    """Set one dotted path in ``data`` (in place); return where the new value came from.

    A relation is named by its alias (``restrains[us>israel].pressure``), resolved against the
    relations in ``data``; a positional path (``relations.4.pressure``) is refused with the alias
    to write instead, since it would silently retarget when relations are added or reordered.
    """
    relations = data.get("relations") if isinstance(data.get("relations"), list) else []
    refused = positional_problem(relations, dotted)
    if refused:
        raise ScenarioError([Problem(*origin, dotted, refused)])
    resolved = raw_position(relations, dotted)
    if resolved is None:
        message = no_relation(dotted, [a for a in map(raw_alias, relations) if a])
        raise ScenarioError([Problem(*origin, dotted, message)])
    keys = _keys(resolved)
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


def validate_data(data: Mapping[str, Any], where: Mapping[Path_, Where], source: str) -> Scenario:
    """Validate parsed scenario data; ``where`` maps key paths to their file and line."""
    scenario = validate_model(Scenario, data, where, source)
    problems = coherence_problems(scenario, where, source)
    if problems:
        raise ScenarioError(problems)
    return scenario


def load_scenario(path: str | Path, overrides: Sequence[str] | Mapping[str, Any] = ()) -> Scenario:
    """Read and validate a scenario file, with optional ``path=value`` overrides.

    Raises ``ScenarioError`` with ``file:line: field: message`` lines.
    """
    return parse_scenario(read_source(path), str(path), overrides)


def read_source(path: str | Path) -> str:
    """The text of a YAML input file (a scenario, questions, a calibration config), or a
    ``ScenarioError`` naming it: no such file, or unreadable (too large, not UTF-8, ...)."""
    source = str(path)
    try:
        return read_yaml_file(path)
    except FileNotFoundError:
        raise ScenarioError([Problem(source, None, "", "no such file")]) from None
    except (OSError, ValueError) as exc:
        raise ScenarioError([Problem(source, None, "", f"cannot read: {exc}")]) from None


def scenario_hash(text: str) -> str:
    """SHA-256 of a scenario's text, for manifests: the same file gives the same hash."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()
