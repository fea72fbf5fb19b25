"""Random documents and random mutations of the shipped scenario: only clean errors or scenarios."""

import copy
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from sim.scenario.loading import Problem, ScenarioError, load_scenario, parse_scenario
from sim.scenario.schema import Scenario

APRIL_TEXT = (Path(__file__).parents[1] / "scenarios" / "april-2024.yaml").read_text()
APRIL = yaml.safe_load(APRIL_TEXT)

scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**6), 10**6),
    st.floats(allow_nan=True),
    st.text(max_size=12),
)
keys = st.text(max_size=8) | st.integers(-3, 10) | st.booleans() | st.sampled_from(list(APRIL))
documents = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
    max_leaves=20,
)
# Documents shaped like a scenario at the top, so that validation goes deeper than the first key.
scenario_like = st.dictionaries(st.sampled_from(list(APRIL)), documents, min_size=1)
TOKENS = [
    *"ab01.-:[]{},'\"!&*|>#?%@~\t\n\r ",
    *[": ", "- ", "\n  ", "&a ", "*a", "<<: ", "? ", "---\n", "...\n", "1e3", ".nan", ".inf"],
    *["0x1f", "0o17", "1:20", "1_000", "yes", "~", "2024-04-01", "!!binary aGk=", "!!set "],
    *["!!python/object:os.system ", "!!python/name:os.system ", "[" * 400, "{a: " * 200],
]
YAML_KEYS = ["name", "seed", "a", "0x1f", "0o17", "1:20", "1_000", "yes", "~", "<<", "1.5", "? a"]
YAML_VALUES = ["1", "-3", "1e3", ".nan", "x", "[1, 2]", "{a: 1}", "&a [1]", "*a", "", "!!str 3"]
yaml_line = st.tuples(
    st.sampled_from(["", "  ", "- "]), st.sampled_from(YAML_KEYS), st.sampled_from(YAML_VALUES)
).map(lambda parts: f"{parts[0]}{parts[1]}: {parts[2]}\n")
yaml_text = st.lists(st.sampled_from(TOKENS), max_size=40).map("".join) | st.lists(
    yaml_line, min_size=1, max_size=8
).map("".join)


def yaml_lines(text: str) -> int:
    """Lines as YAML counts them: \\n, \\r\\n, a lone \\r, NEL and the Unicode separators."""
    breaks = text.count("\n") + text.count("\r") - text.count("\r\n")
    return breaks + sum(text.count(c) for c in "\x85\u2028\u2029") + 1


def check(text: str) -> None:
    """Parsing either succeeds or raises ScenarioError whose problems are well formed.

    Any other exception escapes and fails the test.
    """
    lines = yaml_lines(text)
    try:
        assert isinstance(parse_scenario(text, "fuzz.yaml"), Scenario)
    except ScenarioError as exc:
        assert exc.problems
        for problem in exc.problems:
            assert isinstance(problem, Problem) and problem.source == "fuzz.yaml"
            assert problem.field or problem.message
            assert problem.message.strip()
            assert problem.line is None or 1 <= problem.line <= lines
            assert str(problem).startswith("fuzz.yaml")


@settings(max_examples=150, deadline=None)
@given(documents | scenario_like)
def test_random_documents(document):
    check(yaml.safe_dump(document, allow_unicode=True))


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=200) | yaml_text)
def test_random_text(text):
    check(text)


@settings(max_examples=100, deadline=None)
@given(st.integers(0, APRIL_TEXT.count("\n")), yaml_text)
def test_random_text_spliced_into_the_shipped_scenario(line, text):
    lines = APRIL_TEXT.splitlines(keepends=True)
    check("".join([*lines[:line], text, *lines[line:]]))


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


mutation = st.tuples(
    st.sampled_from(ALL_PATHS),
    st.sampled_from(["delete", "replace", "rename"]),
    documents,
    keys,
)


def apply(document, path, action, value, new_key) -> bool:
    """Apply one mutation in place if ``path`` still exists; return whether it did."""
    try:
        parent, key = parent_of(document, path), path[-1]
        parent[key]
    except (KeyError, IndexError, TypeError):
        return False
    if action == "delete":
        del parent[key]
    elif action == "replace":
        parent[key] = value
    elif isinstance(parent, dict):
        parent[new_key if new_key not in parent else f"{key}_typo"] = parent.pop(key)
    else:
        parent[key] = {str(new_key): parent[key]}
    return True


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(mutation, min_size=1, max_size=3))
def test_mutations_of_the_shipped_scenario(mutations):
    document = copy.deepcopy(APRIL)
    for path, action, value, new_key in mutations:
        apply(document, path, action, value, new_key)
    check(yaml.safe_dump(document, sort_keys=False, allow_unicode=True))


# Variants: `extends: BASE` plus `set: {dotted.path: value}`, written beside a copy of the shipped
# scenario (in scenarios/, with the posterior in ../calibration/ as its parameters_from expects).
ROOT = Path(__file__).parents[1]
SHIPPED_SETS = [
    yaml.safe_load(path.read_text()).get("set") or {}
    for path in sorted((ROOT / "scenarios").glob("*.yaml"))
    if "extends" in yaml.safe_load(path.read_text())
]
REAL_DOTTED = sorted({".".join(map(str, path)) for path in ALL_PATHS} | {*SHIPPED_SETS[0]})
EXTENDS = [
    *[
        "april-2024.yaml",
        "./april-2024.yaml",
        "sub/../april-2024.yaml",
        "../scenarios/april-2024.yaml",
    ],
    *["missing.yaml", "variant.yaml", "./variant.yaml", "other.yaml", "", ".", "..", "/", "sub"],
    *["april-2024.yaml/x", "../calibration/posterior.parquet", "a\0b", "x" * 300, "é.yaml"],
]


def shifted(path, shift: int) -> str:
    """A real path with every list index moved by ``shift`` (past the end, or negative)."""
    return ".".join(str(k + shift) if isinstance(k, int) else str(k) for k in path)


dotted_paths = st.one_of(
    st.sampled_from(REAL_DOTTED),
    st.builds(
        shifted, st.sampled_from([p for p in ALL_PATHS if int in map(type, p)]), st.integers(-3, 60)
    ),
    st.builds(
        str.__add__,
        st.sampled_from(REAL_DOTTED),
        st.sampled_from(["", ".", ".x", ".0", "..", ".99", ".-1", " "]),
    ),
    st.text(max_size=12),
    keys,
)
bad_values = st.sampled_from(
    [
        *[-1, 0, -0.5, 1.5, 2, 10**9, -(10**9), 10**30, float("inf"), float("nan"), True],
        *["", "x", "a\0b", "x" * 300, "../calibration/posterior.parquet", "april-2024.yaml"],
        *[None, [], {}],
    ]
)
TOP_SCALARS = [key for key, value in APRIL.items() if not isinstance(value, dict | list)]
set_mappings = st.dictionaries(dotted_paths, bad_values | documents, max_size=5)
extends_targets = st.sampled_from(EXTENDS) | st.text(max_size=12) | documents


@st.composite
def variants(draw):
    """A variant document: mostly `version: 2`, maybe some top-level replacements (the version's
    too), an `extends`, maybe a `set`."""
    document = {"version": 2} if draw(st.integers(0, 9)) else {}
    document |= draw(st.dictionaries(st.sampled_from(list(APRIL)), documents, max_size=2))
    if draw(st.integers(0, 9)):
        document["extends"] = draw(extends_targets)
    choice = draw(st.integers(0, 4))
    if choice == 1:
        document["set"] = draw(documents)  # often not a mapping
    elif choice >= 2:
        shipped = draw(st.sampled_from(SHIPPED_SETS))
        document["set"] = {**shipped, **draw(set_mappings)} if choice == 2 else draw(set_mappings)
    return document


@pytest.fixture(scope="module")
def scenarios_folder(tmp_path_factory):
    root = tmp_path_factory.mktemp("variants")
    (root / "scenarios" / "sub").mkdir(parents=True)
    (root / "calibration").mkdir()
    shutil.copy(ROOT / "calibration" / "posterior.parquet", root / "calibration")
    (root / "scenarios" / "april-2024.yaml").write_text(APRIL_TEXT)
    return root / "scenarios"


def check_variant(folder: Path, variant: dict, other: dict) -> None:
    """Loading a variant (which may extend ``other``, itself, or a broken base) either succeeds
    or raises ScenarioError whose problems each name one of the files; nothing else escapes."""
    texts = {}
    for name, document in [("variant.yaml", variant), ("other.yaml", other)]:
        text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
        (folder / name).write_text(text, encoding="utf-8")
        texts[str(folder / name)] = texts[str((folder / name).resolve())] = text
    texts[str((folder / "april-2024.yaml").resolve())] = APRIL_TEXT
    try:
        assert isinstance(load_scenario(folder / "variant.yaml"), Scenario)
    except ScenarioError as exc:
        assert exc.problems
        assert "Traceback" not in str(exc)
        for problem in exc.problems:
            assert isinstance(problem, Problem) and problem.source in texts, problem
            assert problem.field or problem.message
            assert problem.message.strip()
            assert problem.line is None or 1 <= problem.line <= yaml_lines(texts[problem.source])
            assert str(problem).startswith(problem.source)


@settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(variants(), variants())
@example({"version": 2, "extends": "a\0b"}, {})
def test_random_variants(scenarios_folder, variant, other):
    check_variant(scenarios_folder, variant, other)


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    st.sampled_from(SHIPPED_SETS),
    st.lists(
        st.tuples(st.sampled_from(REAL_DOTTED) | st.sampled_from(TOP_SCALARS), bad_values),
        min_size=1,
        max_size=3,
    ),
)
def test_shipped_variants_with_wrong_values(scenarios_folder, shipped, changes):
    """Real paths of the scenario set to wrong-typed or out-of-range values, on a shipped `set`."""
    variant = {"version": 2, "extends": "april-2024.yaml", "set": {**shipped, **dict(changes)}}
    check_variant(scenarios_folder, variant, {})


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.sampled_from(EXTENDS) | st.text(max_size=12) | bad_values)
@example("a\0b")
@example("x" * 300)
def test_variant_setting_parameters_from(scenarios_folder, target):
    """`parameters_from` names a file too: set to any path or value, it is found or reported."""
    variant = {"version": 2, "extends": "april-2024.yaml", "set": {"parameters_from": target}}
    check_variant(scenarios_folder, variant, {})
