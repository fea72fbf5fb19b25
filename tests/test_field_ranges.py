"""Every numeric field of the scenario schema has a range a run can honour (issue 15 item 2).

The JSON Schema of ``Scenario`` is walked for every numeric field (a number, an integer, or a
mapping to them); each must carry both bounds, and any value over its whole range (its extremes
and huge or tiny magnitudes included), set in a small scenario with every mechanism on, must be
refused with a ``ScenarioError`` or give a replication that finishes in bounded time.
"""

import copy
import math
import re
import sys
from collections.abc import Iterator
from typing import Any

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.cli.support import check_runnable
from sim.model.policies import (
    Observation,
    delay_hours,
    force,
    latent_height,
    rung_probabilities,
)
from sim.model.world import run_replication
from sim.scenario.loading import parse_scenario
from sim.scenario.problems import ScenarioError
from sim.scenario.schema import Scenario

SCHEMA = Scenario.model_json_schema()
NUMERIC = {"number", "integer"}
LOWER = ("minimum", "exclusiveMinimum")
UPPER = ("maximum", "exclusiveMaximum")


def _layer(name: str, operator: str) -> dict[str, Any]:
    return {
        "name": name,
        "operator": operator,
        "kill_probability": {"rocket": 0.7},
        "stock": 20,
        "fire_channels": 2,
        "engagement_minutes": 1.0,
        "engagement_window_minutes": 5.0,
        "shots_per_target": 1,
        "unit_cost_usd": 1e5,
        "min_rung": 0,
        "resupply": {"interceptors": 5, "every_days": 2.0},
    }


def _policy(packages: dict[int, Any]) -> dict[str, Any]:
    return {
        "base_response_probability": 0.6,
        "red_line_rung": 3,
        "red_line_weight": 0.5,
        "harm_weight": 0.2,
        "thwarted_weight": 0.5,
        "domestic_pressure": 0.5,
        "domestic_weight": 0.5,
        "restraint_weight": 0.5,
        "escalate_probability": 0.3,
        "deescalate_probability": 0.1,
        "self_restraint": 0.1,
        "escalation_aversion": 0.5,
        "max_rung": 6,
        "delay": {"median_days": 1.0, "sigma": 0.5},
        "telegraph_probability": 0.3,
        "strike_patron_probability": 0.2,
        "proxy_order_probability": 0.5,
        "packages": packages,
        "memory": {"account_weight": 1.0, "settle_tolerance": 0.5, "weariness_weight": 0.1},
        "height": {
            "spread": 0.5,
            "escalation_bias": 0.0,
            "red_line_shift": 0.5,
            "thwarted_shift": 0.5,
            "restraint_shift": 1.0,
            "self_restraint_shift": 1.0,
        },
        "timing": {
            "urgency": 1.0,
            "reference_severity": 3.0,
            "min_median_hours": 2.0,
            "max_median_days": 30.0,
        },
        "signals": {"attribution": 0.5, "claim_probability": 0.8},
        "proxy_weight": 0.5,
    }


SIMPLE = {
    "projectiles": {"rocket": 4},
    "size_sigma": 0.3,
    "casualties_mean": 1.0,
    "damage_usd_mean": 1e6,
    "cost_usd": 1e5,
}
CHOICE = {
    "options": [
        {**SIMPLE, "name": "one", "probability": 0.5, "thwarted_shift": 1.0, "telegraphed": True},
        {**SIMPLE, "name": "other", "probability": 0.5, "thwarted_shift": -1.0},
    ]
}
BASE: dict[str, Any] = {
    "name": "every field",
    "seed": 7,
    "horizon_days": 20.0,
    "max_strikes": 40,
    "weapons": {
        "rocket": {
            "flight_time": {"min_hours": 0.1, "mode_hours": 0.2, "max_hours": 0.4},
            "failure_probability": 0.05,
            "unit_cost_usd": 100.0,
            "damage_usd_per_hit": 1e5,
            "casualties_per_hit": 0.5,
        }
    },
    "actors": {
        "a": {
            "name": "A",
            "arsenal": {"rocket": 60},
            "defence": [_layer("dome", "a")],
            "policy": _policy({2: SIMPLE, 4: CHOICE}),
        },
        "b": {
            "name": "B",
            "arsenal": {"rocket": 60},
            "defence": [_layer("dome", "b"), _layer("sling", "c")],
            "abroad": [_layer("outpost", "b")],
            "policy": _policy({1: SIMPLE, 3: CHOICE}),
        },
        "c": {
            "name": "C",
            "arsenal": {"rocket": 60},
            "policy": {
                **_policy({1: SIMPLE}),
                "campaign": {"target": "b", "rate_per_day": 0.5, "rung": 1},
            },
        },
    },
    "relations": [
        {"kind": "adversaries", "actors": ["a", "b"]},
        {"kind": "defends", "ally": "c", "protects": "b", "joins_combat_at_rung": 4},
        {"kind": "restrains", "ally": "c", "restrained": "b", "pressure": 0.3},
        {
            "kind": "proxy",
            "proxy": "c",
            "patron": "a",
            "obey_probability": 0.7,
            "ordered_rung": 4,
            "telegraph_probability": 0.2,
            "campaign_multiplier": 1.5,
        },
    ],
    "opening": [
        {
            "day": 0.5,
            "attacker": "a",
            "target": "b",
            "rung": 3,
            "projectiles": {"rocket": 8},
            "casualties": 3,
            "damage_usd": 1e6,
        }
    ],
    "severity": {"harm_weight": 0.5},
    "ceasefire": {
        "mediator": "c",
        "base_hazard_per_day": 0.01,
        "rung_weight": 0.5,
        "cost_weight": 0.5,
        "pressure_weight": 1.0,
        "check_every_hours": 24.0,
    },
    "history": [
        {
            "day": -3.0,
            "attacker": "b",
            "target": "a",
            "rung": 2,
            "projectiles": {"rocket": 5},
            "failed": 1,
            "intercepted": 2,
            "interceptors_fired": {"dome": 2},
            "casualties": 4,
            "damage_usd": 1e6,
        }
    ],
    "end_when_settled": True,
    "levers": {
        "pressure": {"path": "restrains[c>b].pressure", "low": 0.0, "high": 1.0, "meaning": "m"}
    },
}


def _fresh(node: Any) -> Any:
    """A copy that shares no dict or list (a shared one would be dumped as a YAML alias, and
    setting a field in it would set it in every place that shares it)."""
    if isinstance(node, dict):
        return {key: _fresh(value) for key, value in node.items()}
    if isinstance(node, list):
        return [_fresh(item) for item in node]
    return node


BASE = _fresh(BASE)


def _resolve(spec: dict[str, Any]) -> dict[str, Any]:
    """The spec itself, or the definition its ``$ref`` names; an optional value's non-null one."""
    if "$ref" in spec:
        return SCHEMA["$defs"][spec["$ref"].rsplit("/", 1)[-1]]
    options = [s for s in spec.get("anyOf", []) if s.get("type") != "null"]
    if len(options) == 1:
        return _resolve(options[0])
    return spec


def _model_name(spec: dict[str, Any]) -> str:
    return spec.get("title", "Scenario")


def numeric_fields(spec: dict[str, Any], data: Any, path: tuple) -> Iterator[tuple]:
    """(path in the data, schema of the value, model and field) of every numeric field below
    ``data``; a mapping's numeric values are reached by the keys ``data`` holds."""
    spec = _resolve(spec)
    if "oneOf" in spec:
        kind = data["kind"]
        chosen = next(
            s for s in spec["oneOf"] if _resolve(s)["properties"]["kind"]["const"] == kind
        )
        yield from numeric_fields(chosen, data, path)
    elif "properties" in spec:
        for field, sub in spec["properties"].items():
            value = _resolve(sub)
            if value.get("type") in NUMERIC:
                yield (*path, field), value, (_model_name(spec), field)
            elif isinstance(data, dict) and field in data:
                yield from numeric_fields(sub, data[field], (*path, field))
    elif spec.get("type") == "object" and isinstance(data, dict):
        values = spec.get("additionalProperties") or next(
            iter(spec.get("patternProperties", {}).values()), {}
        )
        for key, item in data.items():
            resolved = _resolve(values)
            if resolved.get("type") in NUMERIC:
                yield (*path, key), resolved, (_model_name({"title": path[-1]}), "values")
            else:
                yield from numeric_fields(values, item, (*path, key))
    elif spec.get("type") == "array" and isinstance(data, list):
        for i, item in enumerate(data):
            yield from numeric_fields(spec["items"], item, (*path, i))


def declared_numbers(spec: dict[str, Any], where: str) -> Iterator[tuple[str, dict]]:
    """(where, schema) of every numeric value the schema declares, however nested."""
    if spec.get("type") in NUMERIC:
        yield where, spec
    for key in ("anyOf", "oneOf"):
        for i, sub in enumerate(spec.get(key, [])):
            yield from declared_numbers(sub, f"{where}|{i}")
    for key in ("items", "additionalProperties"):
        if isinstance(spec.get(key), dict):
            yield from declared_numbers(spec[key], f"{where}[]")
    for sub in spec.get("patternProperties", {}).values():
        yield from declared_numbers(sub, f"{where}[]")
    for field, sub in spec.get("properties", {}).items():
        yield from declared_numbers(sub, f"{where}.{field}")


def _bounds(spec: dict[str, Any]) -> tuple[float, float, bool, bool]:
    """(low, high, low excluded, high excluded) of a numeric schema; a missing bound is the
    largest finite float (an unbounded field is drawn over every value the schema accepts, and
    fails ``test_every_numeric_field_declares_both_bounds`` as well)."""
    huge = 10**30 if spec["type"] == "integer" else sys.float_info.max
    low_key = next((k for k in LOWER if k in spec), None)
    high_key = next((k for k in UPPER if k in spec), None)
    return (
        spec[low_key] if low_key else -huge,
        spec[high_key] if high_key else huge,
        low_key == "exclusiveMinimum",
        high_key == "exclusiveMaximum",
    )


def values_over(spec: dict[str, Any]) -> st.SearchStrategy:
    """Values over a field's whole schema range: its extremes, values next to them, and
    magnitudes spread over every power of ten within it."""
    low, high, no_low, no_high = _bounds(spec)
    if spec["type"] == "integer":
        low, high = math.floor(low) + no_low, math.ceil(high) - no_high
        return st.sampled_from([low, high]) | st.integers(low, high)
    inside = st.floats(low, high, exclude_min=no_low, exclude_max=no_high)
    edges = [v for v, shut in ((low, no_low), (high, no_high)) if not shut]
    near = [math.nextafter(low, high), math.nextafter(high, low)]
    magnitudes = (
        st.integers(-300, 300)
        .map(lambda e: 10.0**e)
        .flatmap(
            lambda m: (
                st.sampled_from([m, -m]).filter(lambda v: low < v < high)
                if low < m < high or low < -m < high
                else st.just(near[0])
            )
        )
    )
    return st.sampled_from(edges + near) | inside | magnitudes


def _set(data: dict, path: tuple, value: Any) -> dict:
    changed = copy.deepcopy(data)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


FIELDS = {".".join(map(str, path)): spec for path, spec, _ in numeric_fields(SCHEMA, BASE, ())}
FAMILIES = sorted(
    {
        name.split(".")[0] if name.split(".")[0] != "actors" else ".".join(name.split(".")[:3])
        for name in FIELDS
    }
)


def test_every_numeric_field_declares_both_bounds():
    """A numeric field without a range fails here, so no new field escapes the checks below."""
    unbounded = [
        where
        for name, model in [("Scenario", SCHEMA), *SCHEMA["$defs"].items()]
        for where, spec in declared_numbers(model, name)
        if not (any(k in spec for k in LOWER) and any(k in spec for k in UPPER))
    ]
    assert unbounded == []


def test_the_base_scenario_reaches_every_numeric_field_and_runs():
    """Every model's every numeric field is drawn below (none left out of the base scenario)."""
    reached = {model_field for _, _, model_field in numeric_fields(SCHEMA, BASE, ())}
    declared = {
        (name, field)
        for name, model in SCHEMA["$defs"].items()
        for field, sub in model.get("properties", {}).items()
        if _resolve(sub).get("type") in NUMERIC
    } | {("Scenario", f) for f, s in SCHEMA["properties"].items() if s.get("type") in NUMERIC}
    assert declared - reached == set()
    assert run_replication(parse_scenario(yaml.safe_dump(BASE)), 0)


@pytest.mark.parametrize("family", FAMILIES)
def test_any_value_in_range_is_refused_or_runs(family):
    """For every numeric field of the family, any schema value: a ScenarioError or a run that
    finishes (within 5 seconds an example), never another exception."""
    names = [name for name in FIELDS if name == family or name.startswith(f"{family}.")]

    @settings(max_examples=4 * len(names), deadline=None)
    @given(data=st.data())
    def check(data):
        name = data.draw(st.sampled_from(names), label="field")
        value = data.draw(values_over(FIELDS[name]), label="value")
        try:
            scenario = parse_scenario(yaml.safe_dump(_set(BASE, _typed(name), value)))
        except ScenarioError:
            return
        run_replication(scenario, 0)

    check()


def _typed(name: str) -> tuple:
    """A dotted field name as the keys the data holds: list indices and package rungs are
    integers."""
    return tuple(int(k) if k.isdigit() else k for k in name.split("."))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("actors.b.policy.restraint_weight", 2000.0),
        ("actors.b.policy.red_line_weight", -1000.0),
        ("actors.b.policy.delay.sigma", 800.0),
        ("actors.a.policy.packages.2.size_sigma", 1000.0),
        ("weapons.rocket.casualties_per_hit", 1e19),
        ("opening.0.casualties", 10**30),
        ("actors.b.defence.0.engagement_window_minutes", 1e308),
        ("horizon_days", 1e12),
    ],
)
def test_the_values_issue_15_ran_into_are_refused_by_field(name, value):
    """Each crashed a run (overflow, a Poisson mean too large, an infinite bin count) or never
    ended; now the schema refuses it in one line that names the field."""
    shown = re.escape(re.sub(r"\.(\d+)", r"[\1]", name))
    with pytest.raises(ScenarioError, match=rf"^<string>:\d+: {shown}: [^\n]*$"):
        parse_scenario(yaml.safe_dump(_set(BASE, _typed(name), value)))


def test_an_opening_on_or_after_the_horizon_is_refused_by_field():
    text = yaml.safe_dump(_set(BASE, ("opening", 0, "day"), 20.0))
    with pytest.raises(ScenarioError) as refused:
        parse_scenario(text)
    assert str(refused.value).splitlines() == [
        f"<string>:{_line_of(text, 'day: 20.0')}: opening[0].day: day 20 is not before the horizon "
        "(20 days): no run would see it"
    ]


@pytest.mark.parametrize("place", ["defence", "abroad"])
def test_a_resupply_of_more_than_ten_thousand_deliveries_is_refused_by_field(place):
    """Every 0.01 days over 3,650 days is 365,000 deliveries (each a simulated event)."""
    data = _set(BASE, ("horizon_days",), 3650.0)
    data = _set(data, ("actors", "b", place, 0, "resupply", "every_days"), 0.01)
    field = re.escape(f"actors.b.{place}[0].resupply.every_days")
    with pytest.raises(ScenarioError, match=rf"{field}: 0.01 days makes 3.65e\+05 deliveries"):
        parse_scenario(yaml.safe_dump(data))
    assert parse_scenario(yaml.safe_dump(_set(data, ("horizon_days",), 100.0)))


def _line_of(text: str, part: str) -> int:
    """Line (from 1) of the only line of ``text`` that contains ``part``."""
    (line,) = [i for i, line in enumerate(text.splitlines(), 1) if part in line]
    return line


@given(z=st.floats(-1e6, 1e6))
def test_a_delay_and_a_strike_size_stay_finite_for_any_normal_draw(z):
    """At the widest sigma (5) a far draw must give a finite delay (hours) and a size within
    the arsenal, not an OverflowError."""
    scenario = parse_scenario(
        yaml.safe_dump(
            _set(
                _set(BASE, _typed("actors.b.policy.delay.sigma"), 5.0),
                _typed("actors.b.policy.packages.1.size_sigma"),
                5.0,
            )
        )
    )
    policy = scenario.actors["b"].policy
    seen = Observation(actor="b", attacker="a", rung=3, severity=z)
    assert 0.0 <= delay_hours(policy, seen, z) < math.inf
    assert 0 <= force(policy.packages[1], {"rocket": 60}, z)["rocket"] <= 60


def test_the_command_line_asks_the_horizon_check_of_a_scenario_that_skipped_validation():
    """``model_copy(update=...)`` does not validate: ``check_runnable`` asks the schema's check."""
    scenario = parse_scenario(yaml.safe_dump(BASE)).model_copy(update={"horizon_days": 0.25})
    with pytest.raises(ScenarioError, match=r"^src: opening.0.day: day 0.5 is not before the "):
        check_runnable(scenario, "src")
    check_runnable(parse_scenario(yaml.safe_dump(BASE)), "src")


def test_every_rung_keeps_a_chance_at_the_narrowest_spread_of_its_range():
    """Spread 0.0625 around eta 3: rung 6 is 40 spreads away, a chance of about 4e-18 that the
    difference of two cumulative chances near 1 rounded to 0 (found by tests/test_height.py)."""
    data = _set(BASE, _typed("actors.b.policy.height.spread"), 0.0625)
    data = _set(data, _typed("actors.b.policy.height.red_line_shift"), 0.0)
    policy = parse_scenario(yaml.safe_dump(data)).actors["b"].policy
    seen = Observation(actor="b", attacker="a", rung=3, severity=3.0)
    assert latent_height(policy, seen) == pytest.approx(3.0 - 0.1)
    chances = rung_probabilities(policy, seen)
    assert all(p > 0 for p in chances) and sum(chances) == pytest.approx(1.0)
    assert chances[6] == pytest.approx(1 / (1 + math.exp((5.5 - 2.9) / 0.0625)))
