"""Whether a schema-valid scenario makes sense as a whole: the checks no single field can make.

Names must exist (an actor named in a relation, a weapon in an arsenal); a relation joins two
different actors, is stated once, and proxies form no cycle (A the proxy of B, B of A); a lever's
path and every ``parameters_fixed`` path name a place in the scenario. Also here: how a relation
is named (``restrains[us>israel]``), so that an alias resolves to exactly one relation (a
positional path, ``relations.4.pressure``, is refused with the alias to write instead), and how a
dotted path is looked up in a parsed scenario (``node_at``), shared by levers, ``--set``, variants'
``set:``, priors and posterior columns. Two relations never share kind and actors (the duplicate
check below refuses it), so the alias is an identity and no ``id:`` field is needed. Pure functions over a parsed ``Scenario``; ``sim.scenario.loading`` calls
``coherence_problems`` after the schema and locates each problem at its file and line.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from itertools import pairwise
from typing import Any

from pydantic import BaseModel

from sim.scenario.problems import Path_, Problem, ScenarioError, Where, located, overridden
from sim.scenario.schema import Adversaries, Defends, ProxyOf, Restrains, Scenario

ALIAS = re.compile(
    r"^(adversaries|defends|restrains|proxy)\[\s*([a-z][a-z0-9_]*)\s*([>,])\s*"
    r"([a-z][a-z0-9_]*)\s*\](?:\.(.+))?$"
)
"""A relation named by its kind and actors, then an optional dotted rest."""

ENDS = {
    Restrains: ("ally", "restrained"),
    Defends: ("ally", "protects"),
    ProxyOf: ("proxy", "patron"),
}
_ITSELF = {
    Adversaries: "{0!r} cannot be its own adversary",
    Defends: "{0!r} cannot defend itself (its own layers need no relation)",
    Restrains: "{0!r} cannot restrain itself (use its policy's self_restraint)",
    ProxyOf: "{0!r} cannot be its own proxy",
}


def relation_ends(relation: BaseModel) -> tuple[str, str]:
    """The two actors a relation joins, in the order its alias names them."""
    if isinstance(relation, Adversaries):
        return relation.actors[0], relation.actors[1]
    first, second = ENDS[type(relation)]
    return getattr(relation, first), getattr(relation, second)


def relation_alias(relation: BaseModel) -> str:
    """``restrains[us>israel]``, ``adversaries[iran,israel]`` (as written)."""
    a, b = relation_ends(relation)
    return (
        f"adversaries[{a},{b}]"
        if isinstance(relation, Adversaries)
        else f"{relation.kind}[{a}>{b}]"
    )


def _identity(relation: BaseModel) -> tuple[str, tuple[str, ...]]:
    """What makes two relations the same: the kind and the ends (in either order for
    adversaries)."""
    ends = relation_ends(relation)
    return relation.kind, tuple(sorted(ends)) if isinstance(relation, Adversaries) else ends


def relation_aliases(scenario: Scenario) -> dict[str, int]:
    """Every relation's alias (``restrains[us>israel]``) and its index in ``relations``."""
    return {relation_alias(r): index for index, r in enumerate(scenario.relations)}


def find_relation(scenario: Scenario, kind: str, a: str, b: str) -> int | None:
    """Index of the relation of ``kind`` between ``a`` and ``b`` (direction matters but for
    adversaries), or None."""
    wanted = (kind, tuple(sorted((a, b))) if kind == "adversaries" else (a, b))
    for index, relation in enumerate(scenario.relations):
        if _identity(relation) == wanted:
            return index
    return None


POSITION = re.compile(r"^\s*relations\.(\d+)(?:\.(.*))?$")
"""A relation named by its place in the list (``relations.4.pressure``): refused, since adding or
reordering relations would silently retarget it."""

_KINDS = {"defends": Defends, "restrains": Restrains, "proxy": ProxyOf}


def raw_alias(item: Any) -> str | None:
    """The alias of a relation as parsed YAML (a mapping), or None if it is not well formed."""
    if not isinstance(item, Mapping):
        return None
    kind = item.get("kind")
    if kind == "adversaries":
        actors = item.get("actors")
        ok = isinstance(actors, list) and len(actors) == 2
        return f"adversaries[{actors[0]},{actors[1]}]" if ok else None
    if kind not in _KINDS:
        return None
    first, second = ENDS[_KINDS[kind]]
    a, b = item.get(first), item.get(second)
    return f"{kind}[{a}>{b}]" if isinstance(a, str) and isinstance(b, str) else None


def positional_problem(relations: list, path: str) -> str | None:
    """Why ``path`` may not be used (it names a relation by position, with the alias to write
    instead), or None if it names no relation by position."""
    match = POSITION.match(path)
    if not match:
        return None
    index, rest = int(match.group(1)), match.group(2)
    alias = raw_alias(relations[index]) if index < len(relations) else None
    if alias is None:
        return (
            f"relations.{index}: name a relation by its kind and actors, not its place in the "
            "list (e.g. restrains[us>israel].pressure)"
        )
    return f"relations.{index} is {alias}: write {alias}" + (f".{rest}" if rest else "")


def raw_position(relations: list, path: str) -> str | None:
    """``path`` with a relation alias replaced by ``relations.INDEX`` among ``relations`` as
    parsed YAML (mappings), or None if no relation matches; a path without alias is returned."""
    match = ALIAS.match(path.strip())
    if not match:
        return path.strip()
    kind, a, _, b, rest = match.groups()
    wanted = {f"{kind}[{a}>{b}]", f"adversaries[{a},{b}]", f"adversaries[{b},{a}]"}
    if kind != "adversaries":
        wanted = {f"{kind}[{a}>{b}]"}
    for index, item in enumerate(relations):
        if raw_alias(item) in wanted:
            return f"relations.{index}" + (f".{rest}" if rest else "")
    return None


def _relation_match(scenario: Scenario, path: str, origin: str) -> tuple[int, str | None] | None:
    """The index and dotted rest of the relation an alias ``path`` names; None for a path
    without alias. ``ScenarioError`` (naming ``origin``) for a positional path or no match."""
    if POSITION.match(path):
        refused = positional_problem([r.model_dump() for r in scenario.relations], path)
        raise ScenarioError([Problem(origin or path, None, path.strip(), str(refused))])
    match = ALIAS.match(path.strip())
    if not match:
        return None
    kind, a, _, b, rest = match.groups()
    index = find_relation(scenario, kind, a, b)
    if index is None:
        message = no_relation(path, list(relation_aliases(scenario)))
        raise ScenarioError([Problem(origin or path, None, path, message)])
    return index, rest


def no_relation(path: str, aliases: list[str]) -> str:
    """What to say when the alias ``path`` names none of the relations called ``aliases``."""
    kind, a, _, b, _ = ALIAS.match(path.strip()).groups()
    known = ", ".join(k for k in aliases if k.startswith(kind)) or "none"
    return f"no {kind} relation {a}>{b} (known: {known})"


def resolve_path(scenario: Scenario, path: str, origin: str = "") -> str:
    """A dotted path checked and written in its stable form: a relation by its alias, as the
    scenario states it (``restrains[us>israel].pressure``), never by its place in the list.

    Raises ``ScenarioError`` naming ``origin`` (e.g. ``--set ...``) for a positional path
    (``relations.4.pressure``, with the alias to write instead) or an alias no relation matches.
    """
    found = _relation_match(scenario, path, origin)
    if found is None:
        return path.strip()
    index, rest = found
    alias = relation_alias(scenario.relations[index])
    return alias + (f".{rest}" if rest else "")


def position_path(scenario: Scenario, path: str) -> str:
    """A dotted path with a relation alias replaced by ``relations.INDEX`` (today's place of
    that relation): for looking a value up or setting it, never for storing the path.
    A positional path is returned as it is (internal use); errors as ``resolve_path``'s."""
    if POSITION.match(path):
        return path.strip()
    found = _relation_match(scenario, path, "")
    if found is None:
        return path.strip()
    index, rest = found
    return f"relations.{index}" + (f".{rest}" if rest else "")


def node_at(scenario: Scenario, path: str) -> Any:
    """The value at a dotted path (a relation by alias or, internally, by index) of a parsed
    scenario, defaults included.

    Only schema fields, mapping keys and list indices are followed (never attributes such as
    ``__class__``). Raises ``LookupError`` saying which part names nothing.
    """
    node: Any = scenario
    keys = position_path(scenario, path).split(".")
    for depth, key in enumerate(keys):
        node = _child(node, key, _shown(path, keys, depth))
    return node


def _shown(path: str, keys: list[str], depth: int) -> str:
    """The first ``depth`` parts of ``keys`` (``path`` placed), as the user named them: a
    relation by the alias ``path`` gives, not by its place in the list."""
    match = ALIAS.match(path.strip())
    if match is None or depth < 2:
        return ".".join(keys[:depth])
    return ".".join([_alias_part(path), *keys[2:depth]])


def _alias_part(path: str) -> str:
    """``proxy[hezbollah>iran]`` of ``proxy[ hezbollah > iran ].obey_probability``."""
    return path.strip().partition("]")[0].replace(" ", "") + "]"


def _child(node: Any, key: str, path: str) -> Any:
    """``node`` (at dotted ``path``, "" for the scenario) has field, key or item ``key``: that
    value; else ``LookupError``."""
    parent = path or "the scenario"
    if isinstance(node, BaseModel):
        fields = type(node).model_fields
        if key not in fields:
            raise LookupError(f"{parent} has no field {key!r} (fields: {', '.join(fields)})")
        if getattr(node, key) is None:
            raise LookupError(f"{f'{path}.' if path else ''}{key} is not set in this scenario")
        return getattr(node, key)
    if isinstance(node, Mapping):
        found = key if key in node else int(key) if key.isascii() and key.isdigit() else None
        if found not in node:
            raise LookupError(f"{parent} has no key {key!r} (known: {', '.join(map(str, node))})")
        return node[found]
    if isinstance(node, list):
        if not (key.isascii() and key.isdigit() and int(key) < len(node)):
            raise LookupError(f"{parent} has no item {key!r} (it has {len(node)}, from 0)")
        return node[int(key)]
    raise LookupError(f"{parent} is a value ({type(node).__name__}), not a section")


def number_at(scenario: Scenario, path: str) -> str | None:
    """Why ``path`` (aliases allowed) names no number of the scenario, or None if it does."""
    try:
        value = node_at(scenario, resolve_path(scenario, path, path))
    except ScenarioError as exc:
        return exc.problems[0].message
    except LookupError as exc:
        return str(exc)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return f"names a {type(value).__name__}, not a number"
    return None


def reference_problems(scenario: Scenario) -> list[tuple[Path_, str]]:
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


def relation_problems(scenario: Scenario) -> list[tuple[Path_, str]]:
    """Relations that make no sense: an actor related to itself, the same relation twice, and
    proxy cycles; each at the relation's place in ``relations``."""
    problems: list[tuple[Path_, str]] = []
    first: dict[tuple, int] = {}
    for index, relation in enumerate(scenario.relations):
        a, b = relation_ends(relation)
        if a == b:
            problems.append((("relations", index), _ITSELF[type(relation)].format(a)))
        earlier = first.setdefault(_identity(relation), index)
        if earlier != index:
            message = (
                f"states {relation_alias(relation)} again (relations[{earlier}]); once is enough"
            )
            problems.append((("relations", index), message))
    return problems + _proxy_cycles(scenario)


def _proxy_cycles(scenario: Scenario) -> list[tuple[Path_, str]]:
    """Each cycle of proxy relations (A the proxy of B, B of A, or longer) once, at its first
    relation in file order; a relation of an actor to itself is reported as such, not here."""
    edges = [
        (index, r.proxy, r.patron)
        for index, r in enumerate(scenario.relations)
        if isinstance(r, ProxyOf) and r.proxy != r.patron
    ]
    problems, seen = [], set()
    for index, proxy, patron in edges:
        chain = _chain(edges, patron, proxy)
        if chain is None:
            continue
        cycle = frozenset([index, *(i for i, _, _ in chain)])
        if cycle in seen:
            continue
        seen.add(cycle)
        names = [proxy, patron, *(p for _, _, p in chain)]
        said = ", ".join(f"{x} the proxy of {y}" for x, y in pairwise(names))
        problems.append((("relations", min(cycle)), f"proxy cycle: {said}"))
    return problems


def _chain(edges: list[tuple[int, str, str]], start: str, goal: str) -> list | None:
    """Proxy edges leading from ``start`` to ``goal`` (breadth first), or None."""
    paths: dict[str, list] = {start: []}
    frontier = [start]
    while frontier:
        current = frontier.pop(0)
        if current == goal:
            return paths[current]
        for edge in edges:
            if edge[1] == current and edge[2] not in paths:
                paths[edge[2]] = [*paths[current], edge]
                frontier.append(edge[2])
    return None


def path_problems(scenario: Scenario) -> list[tuple[Path_, str]]:
    """Lever paths that name no number, and ``parameters_fixed`` paths that name nothing."""
    problems: list[tuple[Path_, str]] = []
    for name, spec in scenario.levers.items():
        reason = number_at(scenario, spec.path)
        if reason:
            problems.append((("levers", name, "path"), f"{spec.path}: {reason}"))
    for index, path in enumerate(scenario.parameters_fixed):
        try:
            node_at(scenario, resolve_path(scenario, path, path))
        except ScenarioError as exc:
            problems.append((("parameters_fixed", index), exc.problems[0].message))
        except LookupError as exc:
            if not _unset_field(scenario, path):
                problems.append((("parameters_fixed", index), f"{path}: {exc}"))
    return problems


def _unset_field(scenario: Scenario, path: str) -> bool:
    """Whether ``path`` names a field the schema has but the scenario leaves unset: a variant's
    ``set: {PATH: null}`` removes a block (``actors.iran.policy.memory``) and keeps it fixed, so
    that no posterior draw writes into it."""
    parent, _, last = position_path(scenario, path).rpartition(".")
    try:
        node = node_at(scenario, parent) if parent else scenario
    except LookupError:
        return False
    fields = type(node).model_fields if isinstance(node, BaseModel) else {}
    return last in fields and getattr(node, last) is None


def coherence_problems(
    scenario: Scenario, where: Mapping[Path_, Where], source: str
) -> list[Problem]:
    """Every coherence problem of ``scenario``, each at the file and line of its place."""
    found = reference_problems(scenario)
    found = found or relation_problems(scenario) + path_problems(scenario)
    return [located(overridden(where, path), source, path, message) for path, message in found]
