"""Schema versions: a scenario file must declare ``version: 2``, and version 1 is one setting away.

Version 2 is the model with memory, answers over all rungs, timing by severity, signals, endings,
history, packages as choices, strikes abroad, proxies' own campaigns and shared defences
(``docs/model-changes.md``). Each of these mechanisms is off unless its block is in the scenario,
so a version-1 file means the same once it declares the version; the declaration is required all
the same, so that nobody runs an old file believing it is calibrated or written for the new model.

The check is made on files as they are read (``sim.scenario.loading``), not in the ``Scenario``
model: scenarios built in Python, and YAML text given to ``parse_scenario`` without a file, are not
files and need no declaration. ``version_2_blocks`` names every version-2 block a scenario has
switched on, by mechanism, with the value that switches it off, for variants that compare the two
versions (``scenarios/april-2024-v1-mechanisms.yaml``, ``benchmarks/compare_v1_v2.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from sim.scenario.base import Means
from sim.scenario.coherence import relation_alias
from sim.scenario.problems import Path_, Problem, ScenarioError
from sim.scenario.schema import ProxyOf, Scenario

RESULTS_COPIES = ("scenario.yaml", "scenario-source.yaml")
"""The names of a results folder's copies of its scenario (beside its ``manifest.json``)."""

WHAT_CHANGED = (
    "Version 2 adds the blocks memory:, height:, timing:, signals:, campaign: and proxy_weight: "
    "(on a policy), options: (in a package), abroad: (on an actor), ceasefire:, "
    "end_when_settled:, history: and shared_defences: (on the scenario); each is off unless it "
    "is present, so a version-1 file runs as before. Write `version: 2` as its first line (see "
    "docs/model-changes.md)."
)


def refuse_version_1(data: Mapping[str, Any], lines: Mapping[Path_, int], source: str) -> None:
    """Raise one ``ScenarioError`` if the file ``source`` (its parsed ``data`` and key lines)
    does not declare ``version: 2``; text that was not read from a file passes.

    A missing, null or ``1`` version is a version-1 file, refused at line 1 (where the
    declaration belongs) or at its ``version:`` line; any other value is left to the schema,
    which says what it accepts.
    """
    declared = data.get("version")
    version_1 = declared is None or (declared == 1 and not isinstance(declared, bool))
    if not version_1 or not _is_file(source):
        return
    line = lines.get(("version",), 1)
    found = "no `version:` line" if "version" not in data else f"`version: {declared or 'null'}`"
    message = f"{_what_file(data, source, found)} {WHAT_CHANGED}"
    raise ScenarioError([Problem(source, line, "version", message)])


def _is_file(source: str) -> bool:
    try:
        return Path(source).is_file()
    except OSError:  # a name too long for the system is no file
        return False


def _what_file(data: Mapping[str, Any], source: str, found: str) -> str:
    """What kind of version-1 file this is, in words (a sentence); ``found`` is what it says."""
    path = Path(source)
    if path.name in RESULTS_COPIES and (path.parent / "manifest.json").is_file():
        return (
            f"this is a results folder's copy of its scenario, written before version 2 ({found}); "
            "to run it again, copy it out of the folder (its manifest seals it) and declare the "
            "version in the copy."
        )
    if "extends" in data:
        return (
            f"this is a version-1 variant ({found}; a variant declares it whatever its base does)."
        )
    return f"this is a version-1 scenario file ({found})."


MECHANISMS = (
    "memory",
    "height",
    "timing",
    "signals",
    "endings",
    "history",
    "patrons",
    "campaigns",
    "abroad",
    "packages",
    "shared_defences",
)
"""The version-2 mechanisms ``version_2_blocks`` names, in the order of docs/model-changes.md:
``patrons`` is a patron answering for its proxies (``proxy_weight``), ``campaigns`` the low-rung
campaigns of one's own."""

_MECHANISM_OF_BLOCK = {"campaign": "campaigns", "proxy_weight": "patrons"}


def version_2_blocks(scenario: Scenario) -> dict[str, dict[str, Any]]:
    """Every version-2 block ``scenario`` switches on, by mechanism: ``{mechanism: {PATH:
    OFF}}``, where setting each dotted ``PATH`` (a relation by its alias) to ``OFF`` switches
    the block off; mechanisms with no block on are left out.

    Off means what version 1 did: no memory, height, timing, signals, campaign, proxy_weight or
    abroad block; no ceasefire, no settled ending, no history, no shared defences; every strike
    claimed; a package with options becomes its most likely option (the first of the most
    likely), telegraphed as the policy says; ordered proxy strikes never telegraphed and
    every campaign_multiplier 1.
    """
    found: dict[str, dict[str, Any]] = {}

    def off(mechanism: str, path: str, value: Any) -> None:
        found.setdefault(mechanism, {})[path] = value

    for key, actor in scenario.actors.items():
        if actor.abroad is not None:
            off("abroad", f"actors.{key}.abroad", None)
        policy = actor.policy
        if policy is None:
            continue
        at = f"actors.{key}.policy"
        for block in ("memory", "height", "timing", "signals", "campaign", "proxy_weight"):
            if getattr(policy, block) is not None:
                off(_MECHANISM_OF_BLOCK.get(block, block), f"{at}.{block}", None)
        for rung, package in policy.packages.items():
            if package.options:
                off("packages", f"{at}.packages.{rung}", _most_likely(package.options))
    for index, strike in enumerate(scenario.opening):
        if not strike.claimed:
            off("signals", f"opening.{index}.claimed", True)
    if scenario.ceasefire is not None:
        off("endings", "ceasefire", None)
    if scenario.end_when_settled:
        off("endings", "end_when_settled", False)
    if scenario.history:
        off("history", "history", [])
    if scenario.shared_defences:
        off("shared_defences", "shared_defences", False)
    for relation in scenario.relations_of(ProxyOf):
        alias = relation_alias(relation)
        if relation.telegraph_probability is not None:
            off("packages", f"{alias}.telegraph_probability", None)
        if relation.campaign_multiplier != 1.0:
            off("campaigns", f"{alias}.campaign_multiplier", 1.0)
    return {mechanism: found[mechanism] for mechanism in MECHANISMS if mechanism in found}


def _most_likely(options: list) -> dict[str, Any]:
    """The means of the most likely option (the first of the most likely), as a package."""
    best = max(options, key=lambda option: option.probability)
    return best.model_dump(include=set(Means.model_fields), exclude_defaults=True)


def version_1_settings(scenario: Scenario) -> dict[str, Any]:
    """``{PATH: VALUE}`` that switches every version-2 block of ``scenario`` off."""
    return {
        path: value
        for block in version_2_blocks(scenario).values()
        for path, value in block.items()
    }
