"""Bad input that the schema alone lets through (issue 15, items 3, 4, 8 and 10).

Relations that make no sense, paths that name nothing, files too large to read, posterior files
that are not what a run needs, and an ``extends:`` base that is not a scenario: each ends in
``file:line: field: message`` and exit 2, with no traceback and no results folder.
"""

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.cli.main import main
from sim.scenario.loading import MAX_FILE_BYTES, ScenarioError, load_scenario, parse_scenario

ROOT = Path(__file__).parents[1]
POSTERIOR = ROOT / "calibration" / "posterior.parquet"
APRIL_TEXT = (ROOT / "scenarios" / "april-2024.yaml").read_text(encoding="utf-8")
ACTORS = ["a", "b", "c", "d"]
BASE = """\
version: 2
name: base
seed: 1
horizon_days: 10
weapons:
  rocket: {flight_time: {min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}, unit_cost_usd: 1}
actors:
  a: {name: A, arsenal: {rocket: 5}}
  b: {name: B}
  c: {name: C}
  d: {name: D}
opening:
  - {day: 0, attacker: a, target: b, rung: 1, projectiles: {rocket: 5}}
"""
PROXY_BC = "{kind: proxy, proxy: b, patron: c, obey_probability: 0.7}"


def with_relations(*relations: str) -> str:
    """The base scenario with these relations (flow mappings), one a line from line 15."""
    return BASE + "relations:\n" + "".join(f"  - {r}\n" for r in relations)


def validate(path: Path) -> tuple[int, str]:
    """``sim validate PATH``: its exit status and everything it printed."""
    result = CliRunner().invoke(main, ["validate", str(path)])
    assert "Traceback" not in result.output, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.output


def run_leaves_nothing(path: Path, tmp_path: Path) -> str:
    """``sim run PATH -o OUT``: exits 2 with no traceback and no OUT; returns its output."""
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(path), "-n", "4", "-o", str(out), "-w", "1"])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert not out.exists(), "a refused scenario left a results folder"
    return result.output


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# Item 3: relations that make no sense.

SELF_RELATIONS = [
    ("{kind: adversaries, actors: [a, a]}", "'a' cannot be its own adversary"),
    ("{kind: defends, ally: b, protects: b}", "'b' cannot defend itself"),
    ("{kind: restrains, ally: c, restrained: c, pressure: 0.5}", "'c' cannot restrain itself"),
    ("{kind: proxy, proxy: d, patron: d, obey_probability: 0.5}", "'d' cannot be its own proxy"),
]


@pytest.mark.parametrize(("relation", "message"), SELF_RELATIONS)
def test_an_actor_related_to_itself_is_refused_at_its_line(tmp_path, relation, message):
    path = write(
        tmp_path, "s.yaml", with_relations("{kind: adversaries, actors: [a, b]}", relation)
    )
    status, output = validate(path)
    assert status == 2
    assert f"{path}:16: relations[1]: {message}" in output
    assert message in run_leaves_nothing(path, tmp_path)


@pytest.mark.parametrize(
    ("first", "again"),
    [
        ("{kind: adversaries, actors: [a, b]}", "{kind: adversaries, actors: [b, a]}"),
        (PROXY_BC, "{kind: proxy, proxy: b, patron: c, obey_probability: 0.2}"),
        (
            "{kind: restrains, ally: a, restrained: b, pressure: 0.5}",
            "{kind: restrains, ally: a, restrained: b, pressure: 0.9}",
        ),
    ],
)
def test_the_same_relation_twice_is_refused_naming_the_first(tmp_path, first, again):
    path = write(tmp_path, "s.yaml", with_relations(first, PROXY_BC.replace("b,", "a,"), again))
    status, output = validate(path)
    assert status == 2
    assert f"{path}:17: relations[2]: states " in output and "again (relations[0])" in output


@pytest.mark.parametrize(
    ("relations", "cycle"),
    [
        (
            [PROXY_BC, "{kind: proxy, proxy: c, patron: b, obey_probability: 0.5}"],
            "b the proxy of c, c the proxy of b",
        ),
        (
            [
                "{kind: adversaries, actors: [a, d]}",
                PROXY_BC,
                "{kind: proxy, proxy: c, patron: d, obey_probability: 0.5}",
                "{kind: proxy, proxy: d, patron: b, obey_probability: 0.5}",
            ],
            "b the proxy of c, c the proxy of d, d the proxy of b",
        ),
    ],
)
def test_a_proxy_cycle_is_refused_once_at_its_first_relation(tmp_path, relations, cycle):
    path = write(tmp_path, "s.yaml", with_relations(*relations))
    status, output = validate(path)
    first = 15 if relations[0] == PROXY_BC else 16
    assert status == 2
    assert output.count("proxy cycle") == 1
    assert f"{path}:{first}: relations[{first - 15}]: proxy cycle: {cycle}" in output


KINDS = st.sampled_from(["adversaries", "defends", "restrains", "proxy"])
relation_lists = st.lists(
    st.tuples(KINDS, st.sampled_from(ACTORS), st.sampled_from(ACTORS)), max_size=7
)


def flow(kind: str, a: str, b: str) -> str:
    return {
        "adversaries": f"{{kind: adversaries, actors: [{a}, {b}]}}",
        "defends": f"{{kind: defends, ally: {a}, protects: {b}}}",
        "restrains": f"{{kind: restrains, ally: {a}, restrained: {b}, pressure: 0.5}}",
        "proxy": f"{{kind: proxy, proxy: {a}, patron: {b}, obey_probability: 0.5}}",
    }[kind]


def senseless(relations: list[tuple[str, str, str]]) -> bool:
    """The oracle: a self-relation, a relation stated twice, or proxies that reach themselves."""
    same = [(k, frozenset((a, b)) if k == "adversaries" else (a, b)) for k, a, b in relations]
    patrons: dict[str, set[str]] = {x: set() for x in ACTORS}
    for kind, a, b in relations:
        if kind == "proxy":
            patrons[a].add(b)
    reach = {x: set(patrons[x]) for x in ACTORS}
    for _ in ACTORS:  # transitive closure by repetition: four actors need at most four rounds
        reach = {x: reach[x].union(*(reach[y] for y in reach[x])) for x in ACTORS}
    return (
        any(a == b for _, a, b in relations)
        or len(set(same)) < len(same)
        or any(x in reach[x] for x in ACTORS)
    )


@settings(max_examples=150, deadline=None)
@given(relation_lists)
def test_any_relation_list_is_refused_exactly_when_it_makes_no_sense(relations):
    text = with_relations(*(flow(*r) for r in relations)) if relations else BASE
    try:
        parse_scenario(text, "r.yaml")
    except ScenarioError as exc:
        assert senseless(relations), str(exc)
        for problem in exc.problems:
            assert problem.field.startswith("relations[") and problem.line >= 15, str(exc)
    else:
        assert not senseless(relations)


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("restrains[us>israel].pressur", "restrains[us>israel] has no field 'pressur'"),
        ("relations.4.pressure", "relations.4 is restrains[us>israel]: write restrains[us>israel]"),
        ("relations.99.pressure", "relations.99: name a relation by its kind and actors"),
        ("actors.mars.policy.self_restraint", "actors has no key 'mars'"),
        ("actors.iran.policy", "names a Policy, not a number"),
        ("__class__.__name__", "the scenario has no field '__class__'"),
        ("restrains[us>iran].pressure", "no restrains relation us>iran"),
    ],
)
def test_a_lever_whose_path_names_no_number_is_refused(tmp_path, path, message):
    text = APRIL_TEXT.replace("path: restrains[us>israel].pressure", f"path: {path}")
    scenario = write(
        posterior_scenario(tmp_path, table=POSTERIOR.read_bytes()).parent, "x.yaml", text
    )
    line = text.splitlines().index(f"    path: {path}") + 1
    status, output = validate(scenario)
    assert status == 2
    assert f"{scenario}:{line}: levers.us_pressure.path: " in output and message in output


def test_parameters_fixed_naming_an_unknown_path_is_refused():
    text = BASE + "parameters_fixed: [actors.a.name, actors.zz.policy]\n"
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "f.yaml")
    (problem,) = caught.value.problems
    assert (problem.line, problem.field) == (14, "parameters_fixed[1]")
    assert "actors has no key 'zz'" in problem.message


def test_sensible_levers_and_fixed_paths_still_load():
    text = BASE + (
        "relations:\n  - {kind: restrains, ally: a, restrained: b, pressure: 0.5}\n"
        "levers:\n  p: {path: 'restrains[a>b].pressure', low: 0, high: 1, meaning: m}\n"
        "parameters_fixed: ['restrains[a>b]', actors.a.arsenal.rocket]\n"
    )
    assert parse_scenario(text, "ok.yaml").levers["p"].path == "restrains[a>b].pressure"


# Item 4: size.


def test_a_file_over_the_limit_is_refused_before_parsing(tmp_path):
    big = tmp_path / "big.yaml"
    big.write_bytes(BASE.encode() + b"#" * MAX_FILE_BYTES)
    status, output = validate(big)
    assert status == 2
    assert f"{big}: cannot read: file is larger than 262,144 bytes (256 KiB)" in output
    run_leaves_nothing(big, tmp_path)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(-200, 200))
def test_any_file_over_the_limit_is_refused_and_any_other_is_read(excess):
    padded = BASE + "#" * (MAX_FILE_BYTES + excess - len(BASE.encode()) - 1) + "\n"
    assert len(padded.encode()) == MAX_FILE_BYTES + excess
    try:
        parse_scenario(padded, "p.yaml")
    except ScenarioError as exc:
        assert excess > 0 and "larger than 262,144 bytes" in str(exc), str(exc)
    else:
        assert excess <= 0


@pytest.mark.parametrize("where", ["scenario", "extends", "lever file"])
def test_dev_zero_is_refused_without_reading_it_whole(tmp_path, where):
    from sim.scenario.levers import load_lever_file

    if where == "scenario":
        load = lambda: load_scenario("/dev/zero")  # noqa: E731
    elif where == "extends":
        variant = write(tmp_path, "v.yaml", "version: 2\nextends: /dev/zero\n")
        load = lambda: load_scenario(variant)  # noqa: E731
    else:
        load = lambda: load_lever_file("/dev/zero")  # noqa: E731
    with pytest.raises(ScenarioError, match="larger than 262,144 bytes"):
        load()


def test_a_file_with_thousands_of_problems_lists_a_hundred_and_counts_the_rest():
    text = BASE + "".join(f"k{i}: 1\n" for i in range(2000))
    with pytest.raises(ScenarioError) as caught:
        parse_scenario(text, "many.yaml")
    lines = str(caught.value).splitlines()
    assert len(caught.value.problems) == 2000
    assert len(lines) == 101 and lines[-1] == "... and 1,900 more problems"
    assert lines[0] == "many.yaml:14: k0: unknown key (check the spelling; see `sim schema`)"


def test_an_extends_target_over_the_limit_is_refused_at_the_extends_line(tmp_path):
    (tmp_path / "big.yaml").write_bytes(BASE.encode() + b"#" * MAX_FILE_BYTES)
    variant = write(tmp_path, "v.yaml", "version: 2\nname: v\nextends: big.yaml\n")
    status, output = validate(variant)
    assert status == 2 and f"{variant}:3: extends: cannot read big.yaml: file is larger" in output


# Item 8: a posterior file is checked like a scenario.


def posterior_scenario(tmp_path: Path, columns: dict | None = None, table=None) -> Path:
    """A copy of the April scenario beside a posterior file built from ``columns``."""
    folder = tmp_path / "case"
    (folder / "scenarios").mkdir(parents=True, exist_ok=True)
    (folder / "calibration").mkdir(exist_ok=True)
    target = folder / "calibration" / "posterior.parquet"
    if table is None:
        table = pa.table(columns)
    if isinstance(table, bytes):
        target.write_bytes(table)
    else:
        pq.write_table(table, target)
    return write(folder / "scenarios", "april.yaml", APRIL_TEXT)


PARAMETERS_FROM_LINE = next(
    i for i, line in enumerate(APRIL_TEXT.splitlines(), 1) if line.startswith("parameters_from:")
)
GOOD = {"actors.iran.policy.self_restraint": [0.1, 0.2, 0.3]}
OBEY = "proxy[hezbollah>iran].obey_probability"
BAD_POSTERIORS = [
    ({OBEY: [0.5, 1.5]}, f"column {OBEY}, row 1: must be <= 1.0, got 1.5"),
    ({OBEY: [0.5, np.nan]}, f"column {OBEY}, row 1: nan is not a finite number"),
    ({"actors.iran.policy.delay.median_days": [3.0, -1.0, -2.0]},
     "column actors.iran.policy.delay.median_days, row 1: must be > 0.0, got -1.0 (2 rows like it)"),
    ({"actors.iran.policy.escalate_probability": [0.5, 0.99]},
     "column actors.iran.policy.escalate_probability, row 1: escalate_probability + "
     "deescalate_probability must be <= 1"),
    ({"actors.mars.policy.self_restraint": [0.1]}, "column actors.mars.policy.self_restraint: "
     "actors has no key 'mars'"),
    ({"relations.99.pressure": [0.1]}, "column relations.99.pressure: relations.99: name a "
     "relation by its kind and actors"),
    ({"__class__.__name__": [1.0]}, "column __class__.__name__: the scenario has no field "
     "'__class__'"),
    ({"actors.iran.policy": [1.0]}, "column actors.iran.policy: names a Policy, not a number"),
    ({"relations.5.obey_probability": [0.5]}, "column relations.5.obey_probability: relations.5 "
     f"is proxy[hezbollah>iran]: write {OBEY}"),
    ({"proxy[iran>hezbollah].obey_probability": [0.5]}, "column "
     "proxy[iran>hezbollah].obey_probability: no proxy relation iran>hezbollah (known: "
     "proxy[hezbollah>iran])"),
    ({"actors.iran.name": ["Persia"]}, "column actors.iran.name holds string, not numbers"),
    ({**GOOD, "weight": [1.0, -1.0, 1.0]}, "column weight, row 1: must be >= 0, got -1"),
    ({**GOOD, "weight": [0.0, 0.0, 0.0]}, "column weight: every weight is 0"),
    ({**GOOD, "weight": [1.0, np.inf, 1.0]}, "column weight, row 1: inf is not a finite number"),
    ({"actors.iran.policy.self_restraint": pa.array([], pa.float64())}, "has no rows"),
    ({"distance": [1.0]}, "has no parameter columns"),
]  # fmt: skip


@pytest.mark.parametrize(("columns", "message"), BAD_POSTERIORS)
def test_a_bad_posterior_is_refused_at_validate_and_run(tmp_path, columns, message):
    scenario = posterior_scenario(tmp_path, columns)
    posterior = (scenario.parent.parent / "calibration" / "posterior.parquet").resolve()
    status, output = validate(scenario)
    assert status == 2
    expected = f"{scenario}:{PARAMETERS_FROM_LINE}: parameters_from: {posterior}: {message}"
    assert expected in output, output
    assert message in run_leaves_nothing(scenario, tmp_path)


@pytest.mark.parametrize("content", [b"root:x:0:0:root:/root:/bin/bash\n", b"", b"PAR1"])
def test_a_file_that_is_not_parquet_is_refused(tmp_path, content):
    scenario = posterior_scenario(tmp_path, table=content)
    status, output = validate(scenario)
    assert status == 2 and "cannot read as a posterior (Parquet)" in output
    run_leaves_nothing(scenario, tmp_path)


def test_parameters_from_etc_passwd_is_refused(tmp_path):
    text = APRIL_TEXT.replace("../calibration/posterior.parquet", "/etc/passwd")
    scenario = write(tmp_path, "p.yaml", text)
    status, output = validate(scenario)
    assert status == 2
    assert f"{scenario}:{PARAMETERS_FROM_LINE}: parameters_from: /etc/passwd: cannot read" in output


def test_a_posterior_that_breaks_a_value_set_on_the_command_line_is_refused(tmp_path):
    """Checked as a run uses it: each row with the scenario's other values, after --set, and a
    column the scenario fixes is not drawn (Iran writes escalate 0.9 and deescalate 0.05)."""
    scenario = posterior_scenario(tmp_path, {"actors.iran.policy.escalate_probability": [0.95]})
    down = "actors.iran.policy.deescalate_probability=0.08"
    assert load_scenario(scenario).parameters_from
    with pytest.raises(ScenarioError, match="escalate_probability, row 0: escalate_probability"):
        load_scenario(scenario, [down])
    assert load_scenario(scenario, [down, "actors.iran.policy.escalate_probability=0.9"])


def test_the_shipped_posterior_and_a_weighted_one_load(tmp_path):
    assert load_scenario(ROOT / "scenarios" / "april-2024.yaml").parameters_from
    scenario = posterior_scenario(
        tmp_path, {**GOOD, "weight": [0.0, 2.0, 1.0], "distance": [1] * 3}
    )
    located = load_scenario(scenario).parameters_from  # FILE#EPISODE, the file made absolute
    assert located.partition("#")[0] == str(
        scenario.parents[1].resolve() / "calibration" / "posterior.parquet"
    )


def test_a_study_of_a_scenario_built_in_python_checks_its_posterior(tmp_path):
    """A ``Scenario`` object never passes the loader: the study start checks its posterior."""
    from sim.errors import ResultsError
    from sim.scenario.parameters import posterior_of
    from sim.study.montecarlo import run_study

    good = posterior_scenario(tmp_path, {OBEY: [0.5, 0.6]})
    scenario = load_scenario(good)
    bad = tmp_path / "bad.parquet"
    pq.write_table(pa.table({OBEY: [0.5, 1.5]}), bad)
    crafted = scenario.model_copy(update={"parameters_from": str(bad)})
    assert posterior_of(scenario).paths == (OBEY,)
    with pytest.raises(ResultsError, match=re.escape(f"bad.parquet: column {OBEY}, ")):
        posterior_of(crafted)
    with pytest.raises(ResultsError, match=r"row 1: must be <= 1.0, got 1.5"):
        run_study(crafted, n=4, out=tmp_path / "out", executor="serial")
    assert not (tmp_path / "out").exists()


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(st.floats(-2, 3, allow_nan=False), min_size=1, max_size=6))
def test_a_probability_column_is_refused_exactly_when_a_value_is_outside_0_1(tmp_path, values):
    scenario = posterior_scenario(tmp_path, {OBEY: values})
    try:
        load_scenario(scenario)
    except ScenarioError as exc:
        assert any(not 0 <= v <= 1 for v in values), str(exc)
        assert f"column {OBEY}, row " in str(exc)
    else:
        assert all(0 <= v <= 1 for v in values)


# Item 10: an extends: base that is not a scenario is never echoed.

SECRETS = "password: hunter2-pass\naws_secret_access_key: wJalrXUtnFEMI/K7MDENG\n"


def test_an_extends_base_that_is_not_a_scenario_names_keys_and_lines_only(tmp_path):
    write(tmp_path, "secrets.yaml", SECRETS)
    variant = write(tmp_path, "v.yaml", "version: 2\nextends: secrets.yaml\nname: v\n")
    status, output = validate(variant)
    secrets = (tmp_path / "secrets.yaml").resolve()
    assert status == 2
    assert f"{secrets}:1: password: not a scenario key" in output
    assert f"{secrets}:2: aws_secret_access_key: not a scenario key" in output
    assert "hunter2" not in output and "wJalrXUtnFEMI" not in output
    run_leaves_nothing(variant, tmp_path)


SECRET = st.text("abcdefghijklmnopqrstuvwxyz0123456789/+", min_size=6, max_size=20).map(
    lambda s: "SeCrEt" + s
)
secret_values = st.recursive(
    SECRET | st.integers(-(10**13), -(10**12)),
    lambda inner: (
        st.lists(inner, min_size=1, max_size=3)
        | st.dictionaries(st.sampled_from(["name", "x", "kind", "day"]), inner, min_size=1)
    ),
    max_leaves=6,
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.dictionaries(st.sampled_from(["name", "seed", "actors", "weapons", "opening",
                                        "relations", "horizon_days", "description"]),
                       secret_values, min_size=1))  # fmt: skip
def test_no_value_of_a_base_file_is_ever_echoed(tmp_path, base):
    write(tmp_path, "base.yaml", yaml.safe_dump(base))
    variant = write(tmp_path, "v.yaml", "version: 2\nextends: base.yaml\n")
    with pytest.raises(ScenarioError) as caught:
        load_scenario(variant)
    text = str(caught.value)
    assert text.strip() and not [v for v in leaves(base) if str(v) in text], text


def leaves(node):
    """Every scalar value of a nested document."""
    if isinstance(node, dict):
        return [leaf for value in node.values() for leaf in leaves(value)]
    if isinstance(node, list):
        return [leaf for value in node for leaf in leaves(value)]
    return [node]
