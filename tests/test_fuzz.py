"""Random documents and random mutations of the shipped scenario: only clean errors or scenarios."""

import copy
from pathlib import Path

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.scenario import ScenarioError, parse_scenario
from sim.schema import Scenario

APRIL_TEXT = (Path(__file__).parents[1] / "scenarios" / "april-2024.yaml").read_text()
APRIL = yaml.safe_load(APRIL_TEXT)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
documents = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


def yaml_lines(text: str) -> int:
    """Lines as YAML counts them: \\n, \\r\\n, a lone \\r, NEL and the Unicode separators."""
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + sum(text.count(c) for c in "\x85\u2028\u2029") + 1


def check(text: str) -> None:
    """Parsing either succeeds or raises ScenarioError whose problems are well formed."""
    lines = yaml_lines(text)
    try:
        assert isinstance(parse_scenario(text, "fuzz.yaml"), Scenario)
    except ScenarioError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert problem.message
            assert problem.line is None or 1 <= problem.line <= lines
            assert str(problem).startswith("fuzz.yaml")


@settings(max_examples=150, deadline=None)
@given(documents)
def test_random_documents(document):
    check(yaml.safe_dump(document))


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=200))
def test_random_text(text):
    check(text)


def paths(node, prefix=()):
    """Every key path of a nested document."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield (*prefix, key)
            yield from paths(value, (*prefix, key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield (*prefix, index)
            yield from paths(value, (*prefix, index))


ALL_PATHS = list(paths(APRIL))


def parent_of(document, path):
    node = document
    for key in path[:-1]:
        node = node[key]
    return node


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(ALL_PATHS), st.sampled_from(["delete", "replace", "rename"]), documents)
def test_mutations_of_the_shipped_scenario(path, action, value):
    document = copy.deepcopy(APRIL)
    parent, key = parent_of(document, path), path[-1]
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = value
    elif isinstance(parent, dict):
        parent[f"{key}_typo"] = parent.pop(key)
    check(yaml.safe_dump(document, sort_keys=False))
