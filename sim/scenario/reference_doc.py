"""The scenario reference (docs/scenario-reference.md), generated from the schema itself.

``sim schema --markdown`` prints it; a test fails when the file and the schema drift apart.
"""

from __future__ import annotations

from typing import Any

from sim.scenario.schema import Scenario

INTRO = """\
# Scenario reference

Generated from `sim/scenario/schema.py` by `sim schema --markdown > docs/scenario-reference.md`; do not edit
by hand. Unknown keys are errors, types are strict (a quoted number is not a number), and every
mistake is reported as `file:line: field: message`. A scenario may instead `extends: BASE.yaml`
and `set:` values by dotted path (see `scenarios/april-2024-*.yaml`); `sim schema` prints the JSON
Schema for editors.
"""


def _type(spec: dict[str, Any]) -> str:
    if "$ref" in spec:
        return f"[{spec['$ref'].rsplit('/', 1)[-1]}](#{spec['$ref'].rsplit('/', 1)[-1].lower()})"
    if "anyOf" in spec:
        return " or ".join(_type(s) for s in spec["anyOf"])
    if "oneOf" in spec:
        return " or ".join(_type(s) for s in spec["oneOf"])
    kind = spec.get("type", "any")
    if kind == "array":
        return f"list of {_type(spec.get('items', {}))}"
    if kind == "object" and "patternProperties" in spec:
        (pattern, value), *_ = spec["patternProperties"].items()
        return f"mapping of names (`{pattern}`) to {_type(value)}"
    if kind == "object" and isinstance(spec.get("additionalProperties"), dict):
        return f"mapping to {_type(spec['additionalProperties'])}"
    if "const" in spec:
        return f"`{spec['const']}`"
    return str(kind)


def _bounds(spec: dict[str, Any]) -> str:
    parts = [
        f"{symbol} {spec[key]}"
        for key, symbol in (
            ("minimum", ">="),
            ("exclusiveMinimum", ">"),
            ("maximum", "<="),
            ("exclusiveMaximum", "<"),
        )
        if key in spec
    ]
    if "pattern" in spec:
        parts.append(f"matches `{spec['pattern']}`")
    return ", ".join(parts)


def _section(name: str, model: dict[str, Any]) -> list[str]:
    lines = [
        f"## {name}",
        "",
        " ".join(model.get("description", "").split()),
        "",
        "| field | type | required | default | constraints | meaning |",
        "|---|---|---|---|---|---|",
    ]
    required = set(model.get("required", []))
    for field, spec in model.get("properties", {}).items():
        default = f"`{spec['default']}`" if "default" in spec else ""
        meaning = " ".join(spec.get("description", "").split()).replace("|", "\\|")
        lines.append(
            f"| `{field}` | {_type(spec)} | {'yes' if field in required else ''} | "
            f"{default} | {_bounds(spec)} | {meaning} |"
        )
    return [*lines, ""]


def scenario_reference() -> str:
    """The reference as Markdown: the top-level Scenario, then every nested object."""
    schema = Scenario.model_json_schema()
    lines = [INTRO, *_section("Scenario", schema)]
    for name, model in sorted(schema.get("$defs", {}).items()):
        lines += _section(name, model)
    return "\n".join(lines).rstrip() + "\n"
