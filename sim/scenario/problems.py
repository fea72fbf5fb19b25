"""What is wrong with a scenario, said plainly: ``Problem`` (file, line, field, message) and
``ScenarioError``, and the translation of pydantic's errors into those words and dotted fields.

``sim.scenario.loading`` finds the problems; this module only says them (``validate_model``: a
pydantic model's errors as located problems, for any file the project reads).
"""

from __future__ import annotations

import dataclasses
import re
import reprlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

Path_ = tuple[str | int, ...]

Where = tuple[str, int | None]
"""Where a value came from: a source (a file, or an override) and a line in it (if any)."""

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario file."""

    source: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return (
            f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"
        )


class ScenarioError(Exception):
    """A scenario could not be loaded; ``problems`` lists every mistake found."""

    SHOWN = 100
    """Problems its message lists; a file with thousands says how many more there are."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        lines = [str(p) for p in problems[: self.SHOWN]]
        if len(problems) > self.SHOWN:
            lines.append(f"... and {len(problems) - self.SHOWN:,} more problems")
        super().__init__("\n".join(lines))


WRITTEN_ALIAS = re.compile(r"(?:adversaries|defends|restrains|proxy)\[[^\]=]*\]")
"""A relation alias as a user writes it (``proxy[hezbollah>iran]``), in an override or a line."""


def written_alias(source: str, line: int | None) -> str | None:
    """The relation alias the user wrote where a value came from: in an override (``--set
    proxy[hezbollah>iran].obey_probability=2``), or on that line of a file (a variant's ``set:``
    key, a lever's path); None if none was written there."""
    if source.startswith("--set "):
        text = source.removeprefix("--set ").partition("=")[0]
    else:
        try:
            text = Path(source).read_text(encoding="utf-8").splitlines()[line - 1] if line else ""
        except (OSError, ValueError, IndexError):
            return None
    found = WRITTEN_ALIAS.search(text)
    return found.group(0).replace(" ", "") if found else None


def field_name(path: Path_, source: str = "", line: int | None = None) -> str:
    """``path`` dotted, a relation named by the alias the user wrote at ``source`` (and
    ``line``), never by its place in the list: ``relations[5].obey_probability`` is
    ``proxy[hezbollah>iran].obey_probability`` when set as that; a relation a file lists (no
    alias written) keeps its place, which the line shows."""
    alias = None
    if len(path) >= 2 and path[0] == "relations" and isinstance(path[1], int):
        alias = written_alias(source, line)
    if alias is None:
        return dotted_field(path)
    rest = dotted_field(path[2:])
    return f"{alias}.{rest}" if rest else alias


def located(where: Mapping[Path_, Where], source: str, path: Path_, message: str) -> Problem:
    """A problem at ``path``, placed at the file and line of its nearest recorded ancestor
    (``where`` maps key paths to their file and line; ``source`` is the fallback), a relation
    named by the alias written there (``field_name``)."""
    for end in range(len(path), -1, -1):
        if path[:end] in where:
            return Problem(*where[path[:end]], field_name(path, *where[path[:end]]), message)
    return Problem(source, None, dotted_field(path), message)


def overridden(where: Mapping[Path_, Where], path: Path_) -> Mapping[Path_, Where]:
    """``where``, with a whole relation placed where part of it was set from another source
    (``--set adversaries[iran,israel].actors=[iran,iran]``, a variant's ``set:``): that makes
    the relation wrong, not the file that listed it."""
    if len(path) != 2 or path[0] != "relations":
        return where
    listed = where.get(path, ("", None))[0]
    below = [w for p, w in where.items() if p[:2] == path and len(p) > 2 and w[0] != listed]
    return {**where, path: below[0]} if below else where


def dotted_field(path: Path_) -> str:
    """``("actors", "iran", "defence", 0)`` -> ``actors.iran.defence[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) and out else f".{part}" if out else str(part)
    return out


def data_path(data: Any, loc: tuple) -> Path_:
    """Map a pydantic error location onto the document's keys, dropping union tags.

    Pydantic puts the tag of a tagged union (a relation's ``kind``) into the location right after
    the relation, and ``[key]`` after a bad mapping key; neither is a key of the document. The tag
    is recognised as the ``kind`` of the mapping it follows, so that a field named like its tag
    (``proxy`` in a ``kind: proxy`` relation) keeps its place in the path.
    """
    path: list[str | int] = []
    node, tag_seen = data, False
    for part in loc:
        if isinstance(node, Mapping) and not tag_seen and node.get("kind") == part:
            tag_seen = True
            continue
        if isinstance(node, Mapping):
            key = part if part in node else str(part) if str(part) in node else None
            if key is not None:
                path.append(key)
                node, tag_seen = node[key], False
                continue
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            path.append(part)
            node, tag_seen = node[part], False
            continue
        if part == "[key]":
            continue
        path.append(part)
        node = None
    return tuple(path)


_COMPARISONS = {
    "greater_than": ">",
    "greater_than_equal": ">=",
    "less_than": "<",
    "less_than_equal": "<=",
}


_SHORT = reprlib.Repr()  # Python 3.11's Repr takes no keyword arguments
_SHORT.maxlevel, _SHORT.maxdict, _SHORT.maxlist = 2, 4, 4
_SHORT.maxstring = _SHORT.maxother = 60
_KINDS = "adversaries, defends, restrains, proxy"


def pydantic_message(error: Mapping[str, Any], show_input: bool = True) -> str:
    """A short, plain message for one pydantic error (the value shown is cut to a short repr).

    With ``show_input`` False the message never contains the value that was given: errors in a
    file other than the one the user named (an ``extends:`` target) name keys and lines only, as
    that file may hold values that must not be echoed (passwords, keys).
    """
    kind, given = error["type"], _SHORT.repr(error.get("input"))
    got = f", got {given}" if show_input else ""
    ctx = error.get("ctx", {})
    if kind == "missing":
        return "required field is missing"
    if kind == "extra_forbidden":
        return "unknown key (check the spelling; see `sim schema`)"
    if kind in _COMPARISONS:
        bound = next(iter(ctx.values()), "?")
        return f"must be {_COMPARISONS[kind]} {bound}{got}"
    if kind == "union_tag_invalid":
        tag = f"; got {_SHORT.repr(ctx.get('tag'))}" if show_input else ""
        return f"kind must be one of {_KINDS}{tag}"
    if kind == "union_tag_not_found":
        return f"needs a kind: one of {_KINDS}"
    if kind == "string_pattern_mismatch":
        return f"must be a lowercase name (a-z, 0-9 and _, starting with a letter){got}"
    if kind == "too_short":
        return f"must have at least {ctx.get('min_length')} item(s){got}"
    if kind == "too_long":
        return f"must have at most {ctx.get('max_length')} item(s){got}"
    if kind == "finite_number":
        return f"must be a finite number{got}"
    if kind == "invalid_key" or (kind == "string_type" and error["loc"][-1:] == ("[key]",)):
        return f"keys must be names (text), got {given}"  # a key, which may be named
    text = error["msg"].removeprefix("Value error, ")
    text = text.replace("Input should be", "must be").replace("Input should", "must")
    if kind.endswith(("_type", "_parsing", "literal_error")):
        text += got
    return text if show_input else _without_values(text, error.get("input"))


def _without_values(text: str, given: Any) -> str:
    """``text`` cut before any ``, got ...`` and with the given text itself masked (a model's
    own check may quote the values it compared)."""
    text = text.split(", got ")[0]
    if isinstance(given, str) and len(given) >= 3 and given in text:
        text = text.replace(given, "(value not shown)")
    return text


def validate_model(
    model: type[Model], data: Mapping[str, Any], where: Mapping[Path_, Where], source: str
) -> Model:
    """Validate parsed YAML ``data`` as a pydantic ``model``; ``where`` maps key paths to their
    file and line. Every error becomes one ``file:line: field: message`` in a ``ScenarioError``."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError([_said(e, data, where, source) for e in exc.errors()]) from None


def _said(
    error: Mapping[str, Any], data: Any, where: Mapping[Path_, Where], source: str
) -> Problem:
    """One pydantic error as a located problem; in another file than ``source`` (a base it
    extends), the message names no value."""
    path = data_path(data, error["loc"])
    spot = located(overridden(where, path), source, path, "")
    shown = spot.source == source or spot.line is None
    return dataclasses.replace(spot, message=pydantic_message(error, show_input=shown))


def impossible_date(text: str) -> tuple[tuple, int | None, str]:
    """The key path, line and text of the first date-like value of YAML ``text`` that is no
    date (``2024-13-01``: PyYAML reads it as a date, then fails to build it with a ValueError)."""
    stack: list[tuple[yaml.Node | None, tuple]] = [(yaml.compose(text, Loader=yaml.SafeLoader), ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, yaml.MappingNode):
            stack += [(value, (*path, key.value)) for key, value in reversed(node.value)]
        elif isinstance(node, yaml.SequenceNode):
            stack += [(item, (*path, i)) for i, item in reversed(list(enumerate(node.value)))]
        elif node is not None and node.tag == "tag:yaml.org,2002:timestamp":
            try:
                yaml.SafeLoader("").construct_yaml_timestamp(node)
            except ValueError:
                return path, node.start_mark.line + 1, node.value
    return (), None, ""
