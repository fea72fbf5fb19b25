"""The tidy event tables: one per kind with only its own columns and dtypes, times in days, the
strike's attacker and target on every row about it, and the text mixes as long tables."""

import re
import tempfile
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.model.events import (
    EVENT_TYPES,
    HistoryStruck,
    Interception,
    ParametersDrawn,
    StrikeLaunched,
    StrikeOutcome,
    WaveLaunched,
    events_arrow,
)
from sim.model.world import run_replication
from sim.study.event_tables import (
    HOUR_COLUMNS,
    KIND_TABLES,
    TABLE_NAMES,
    event_table,
    record_columns,
)
from sim.study.montecarlo import run_study
from sim.study.results import ResultsError
from tests.test_dynamics_properties import dynamic_scenarios

TINY = """\
version: 2
name: tiny
seed: 1
horizon_days: 30
weapons:
  rocket: {flight_time: {min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}, unit_cost_usd: 10}
actors:
  a:
    name: A
    arsenal: {rocket: 100}
    policy:
      base_response_probability: 0
      delay: {median_days: 2, sigma: 0}
      packages: {3: {projectiles: {rocket: 5}}}
  b:
    name: B
    arsenal: {rocket: 100}
    defence:
      - {name: dome, operator: b, kill_probability: {rocket: 1.0}, stock: 100,
         fire_channels: 50, engagement_minutes: 1, engagement_window_minutes: 10,
         unit_cost_usd: 100}
    policy:
      base_response_probability: 1
      delay: {median_days: 3, sigma: 0}
      packages: {3: {projectiles: {rocket: 4}, casualties_mean: 0}}
relations:
  - {kind: adversaries, actors: [a, b]}
opening:
  - {day: 1, attacker: a, target: b, rung: 3, casualties: 2, projectiles: {rocket: 6}}
"""
"""a strikes b with 6 rockets on day 1; b's dome takes all 6; b answers 3 days after with 4
rockets, which a cannot stop; a never answers. Every replication is the same."""


def names(values, categories):
    return pd.Categorical(values, categories=pd.Index(categories, dtype=str))


def assert_table(actual: pd.DataFrame, wanted: pd.DataFrame) -> None:
    """Same columns, dtypes and values (floats to 1e-12: hours added on the run's clock)."""
    pd.testing.assert_frame_equal(actual, wanted, rtol=1e-12, atol=0)


def expected(columns: dict, dtypes: dict) -> pd.DataFrame:
    """A frame of ``columns`` (lists), cast to ``dtypes`` (categoricals given as such)."""
    return pd.DataFrame(columns).astype(dtypes)


@pytest.fixture(scope="module")
def tiny_results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("tiny")
    (folder / "tiny.yaml").write_text(TINY, encoding="utf-8")
    return run_study(folder / "tiny.yaml", n=2, out=folder / "out", executor="serial", chunk_size=1)


def tiny_hours(results) -> tuple[float, float, float]:
    """When the opening's outcome was logged (its last rocket's engagement ended, just after
    24.1 h), when b's answer was launched (72 h later) and when its outcome was logged (as its
    rockets arrived, 0.1 h after launch), as the raw table says, in hours."""
    raw = results.events
    first, second = raw.loc[raw["kind"] == "outcome", "time_hours"].iloc[:2]
    answer = raw.loc[(raw["kind"] == "strike") & (raw["strike_id"] == 2), "time_hours"].iloc[0]
    assert 24.1 < first < 24.11 and answer == pytest.approx(first + 72.0, abs=1e-9)
    assert second == pytest.approx(answer + 0.1, abs=1e-6)
    return first, answer, second


def test_the_tiny_study_strikes_and_projectiles_exactly(tiny_results):
    _, answer, _ = tiny_hours(tiny_results)
    ab = names(["a", "b", "a", "b"], ["a", "b"])
    ba = names(["b", "a", "b", "a"], ["a", "b"])
    strikes = expected(
        {
            "replication": [0, 0, 1, 1],
            "day": [1.0, answer / 24, 1.0, answer / 24],
            "strike_id": [1, 2, 1, 2],
            "attacker": ab,
            "target": ba,
            "rung": [3] * 4,
            "telegraphed": [False] * 4,
            "cause": ["opening", "struck"] * 2,
            "description": [""] * 4,
        },
        {"cause": "string", "description": "string"},
    )
    assert_table(tiny_results.table("strikes"), strikes)
    projectiles = expected(
        {
            "replication": [0, 0, 1, 1],
            "strike_id": [1, 2, 1, 2],
            "history": [False] * 4,
            "attacker": ab,
            "target": ba,
            "weapon": names(["rocket"] * 4, ["rocket"]),
            "count": [6, 4, 6, 4],
        },
        {},
    )
    assert_table(tiny_results.table("projectiles"), projectiles)


def test_the_tiny_study_waves_interceptions_and_outcomes_exactly(tiny_results):
    first, answer, second = tiny_hours(tiny_results)
    ab = names(["a", "b", "a", "b"], ["a", "b"])
    ba = names(["b", "a", "b", "a"], ["a", "b"])
    rockets = names(["rocket"] * 4, ["rocket"])
    waves = expected(
        {
            "replication": [0, 0, 1, 1],
            "day": [1.0, answer / 24] * 2,
            "strike_id": [1, 2, 1, 2],
            "attacker": ab,
            "target": ba,
            "weapon": rockets,
            "count": [6, 4, 6, 4],
            "launch_day": [1.0, answer / 24] * 2,
            "first_arrival_day": [24.1 / 24, (answer + 0.1) / 24] * 2,
            "last_arrival_day": [24.1 / 24, (answer + 0.1) / 24] * 2,
        },
        {},
    )
    assert_table(tiny_results.table("waves"), waves)
    b = names(["b", "b"], ["a", "b"])  # the actor columns of a table share their categories
    interceptions = expected(
        {
            "replication": [0, 1],
            "day": [24.1 / 24] * 2,
            "strike_id": [1, 1],
            "attacker": names(["a", "a"], ["a", "b"]),
            "target": names(["b", "b"], ["a", "b"]),
            "layer": names(["dome"] * 2, ["dome"]),
            "operator": b,
            "defended": b,
            "weapon": names(["rocket"] * 2, ["rocket"]),
            "entered": [6, 6],
            "engaged": [6, 6],
            "intercepted": [6, 6],
            "interceptors_fired": [6, 6],
            "interceptor_cost_usd": [600.0, 600.0],
            "stock_after": [94, 94],
            "active": [True, True],
        },
        {},
    )
    assert_table(tiny_results.table("interceptions"), interceptions)
    outcomes = tiny_results.table("outcomes")
    assert outcomes["day"].tolist() == [first / 24, second / 24] * 2
    assert (
        outcomes[["launched", "intercepted", "leaked", "casualties"]].values.tolist()
        == [
            [6, 6, 0, 2],
            [4, 0, 4, 0],
        ]
        * 2
    )
    assert outcomes["attacker"].tolist() == ["a", "b"] * 2


def test_the_tiny_study_decisions_in_days(tiny_results):
    first, _, second = tiny_hours(tiny_results)
    decisions = tiny_results.table("decisions")
    assert decisions["day"].tolist() == [first / 24, second / 24] * 2
    assert decisions["delay_days"].tolist() == [3.0, 2.0] * 2  # delays of 72 h and 48 h
    assert decisions["respond"].tolist() == [True, False] * 2
    assert decisions["actor"].dtype == pd.CategoricalDtype(pd.Index(["a", "b"], dtype=str))
    mixes = tiny_results.table("decision_projectiles")
    assert (
        mixes[["actor", "trigger_strike_id", "weapon", "count"]]
        .astype({"actor": str, "weapon": str})
        .values.tolist()
        == [["b", 1, "rocket", 4], ["a", 2, "rocket", 5]] * 2
    )
    assert mixes["day"].tolist() == decisions["day"].tolist()


def test_a_table_not_there_is_refused_with_the_names(tiny_results):
    with pytest.raises(ResultsError, match="no event table 'strike'; the tables are: strikes"):
        tiny_results.table("strike")
    assert tiny_results.table("history").empty  # a table of a kind not logged has no rows


def test_every_kind_has_a_table_and_every_hour_a_day_column():
    assert set(KIND_TABLES.values()) | {ParametersDrawn} == set(EVENT_TYPES)
    hour_fields = {f.name for t in EVENT_TYPES for f in fields(t) if "hours" in f.name}
    assert hour_fields == set(HOUR_COLUMNS)
    table = events_arrow([])
    for name in TABLE_NAMES:
        columns = list(event_table(table, name))
        assert columns[0] == "replication" and not [c for c in columns if "hours" in c]


def test_the_text_mixes_as_long_tables():
    """Parameters round-trip exactly through their text; an empty mix has no rows, a zero count
    keeps its row; a history strike is in the projectiles table with its parties."""
    drawn = ParametersDrawn(0.0, (("actors.a.policy.x", 0.1), ("proxy[c>a].obey", 1e-05)))
    history = HistoryStruck(0.0, -36.0, -1, "c", "b", 4, False, (("rocket", 3),), 1, 1, 0, 0.0)
    strikes = [
        StrikeLaunched(2.0, 1, "a", "b", 2, False, "opening", ()),
        StrikeLaunched(30.0, 2, "b", "a", 3, True, "struck", (("rocket", 0), ("drone", 12))),
    ]
    table = events_arrow([(4, [drawn, history, *strikes]), (5, [drawn])])
    parameters = event_table(table, "parameters")
    assert parameters.astype({"parameter": str}).values.tolist() == [
        [4, "actors.a.policy.x", 0.1],
        [4, "proxy[c>a].obey", 1e-05],
        [5, "actors.a.policy.x", 0.1],
        [5, "proxy[c>a].obey", 1e-05],
    ]
    assert parameters["value"].dtype == "float64"
    projectiles = event_table(table, "projectiles")
    assert projectiles.astype({"attacker": str, "target": str, "weapon": str}).values.tolist() == [
        [4, -1, True, "c", "b", "rocket", 3],
        [4, 2, False, "b", "a", "rocket", 0],
        [4, 2, False, "b", "a", "drone", 12],
    ]
    assert list(projectiles["weapon"].cat.categories) == ["drone", "rocket"]
    assert list(projectiles["attacker"].cat.categories) == ["a", "b", "c"]
    assert event_table(table, "history")["launch_day"].tolist() == [-1.5]


def test_a_wave_of_a_strike_not_in_the_log_is_refused():
    wave = WaveLaunched(1.0, 7, "rocket", 2, 1.0, 2.0, 2.0)
    with pytest.raises(ValueError, match="names a strike not in the log"):
        event_table(events_arrow([(0, [wave])]), "waves")


def documented_columns() -> dict[str, list[tuple[str, str]]]:
    """docs/tables.md's tables: section name -> (column, dtype) rows, in order."""
    text = (Path(__file__).parents[1] / "docs" / "tables.md").read_text(encoding="utf-8")
    documented: dict[str, list[tuple[str, str]]] = {}
    for section in text.split("\n### ")[1:]:
        rows = re.findall(r"^\| `(\w+)` \| (\w+) \|", section, flags=re.MULTILINE)
        documented[section.split("\n", 1)[0].strip()] = rows
    return documented


def test_the_documentation_lists_every_table_with_its_columns_and_dtypes():
    empty = events_arrow([])
    actual = {
        name: [(c, str(t)) for c, t in event_table(empty, name).dtypes.items()]
        for name in TABLE_NAMES
    }
    assert documented_columns() == actual


def plain(value):
    """A table's cell as the record holds it: a missing name is empty, numbers as Python's."""
    return "" if value is pd.NA or (isinstance(value, float) and value != value) else value


def assert_tables_hold_the_records(logs, tables) -> None:
    """Each kind's table has one row per record of that kind, in log order, with its fields
    (hours as days)."""
    for name, event_type in KIND_TABLES.items():
        records = [(r, e) for r, events in logs for e in events if type(e) is event_type]
        table = tables[name]
        assert len(table) == len(records)
        for column in record_columns(event_type):
            values = [getattr(e, column) for _, e in records]
            if column in HOUR_COLUMNS:
                values = [v / 24 for v in values]
            cells = [plain(v) for v in table[HOUR_COLUMNS.get(column, column)].tolist()]
            assert cells == values, (name, column)
        assert table["replication"].tolist() == [r for r, _ in records]
        assert not [c for c, t in table.dtypes.items() if pd.api.types.is_object_dtype(t)], name


@settings(max_examples=8, deadline=None)
@given(
    scenario=dynamic_scenarios(),
    replication=st.integers(0, 10**6),
    row_group=st.integers(5, 60),
)
def test_drawn_runs_have_tidy_tables(scenario, replication, row_group):
    logs = [(r, run_replication(scenario, r)) for r in (replication, replication + 1)]
    table = events_arrow(logs)
    tables = {name: event_table(table, name) for name in TABLE_NAMES}
    assert_tables_hold_the_records(logs, tables)
    keys = ["replication", "strike_id"]
    launched = tables["projectiles"].groupby(keys)["count"].sum()
    for outcome in tables["outcomes"].itertuples():
        assert launched.get((outcome.replication, outcome.strike_id), 0) == outcome.launched
    ordered = {
        (r, e.strike_id): sum(n for _, n in e.projectiles)
        for r, events in logs
        for e in events
        if isinstance(e, StrikeLaunched | HistoryStruck) and e.projectiles
    }
    assert dict(launched.items()) == ordered  # a strike without a mix has no rows
    parties = {
        (r, e.strike_id): (e.attacker, e.target)
        for r, events in logs
        for e in events
        if isinstance(e, StrikeLaunched)
    }
    for about_a_strike in ("interceptions", "waves", "outcomes"):
        rows = tables[about_a_strike][[*keys, "attacker", "target"]].astype(str)
        for r, strike, attacker, target in rows.itertuples(index=False):
            assert (attacker, target) == parties[(int(r), int(strike))]
    flown = sum(isinstance(e, Interception) for _, events in logs for e in events)
    assert len(tables["interceptions"]) == flown
    assert len(tables["outcomes"]) == sum(
        isinstance(e, StrikeOutcome) for _, events in logs for e in events
    )
    with tempfile.TemporaryDirectory() as folder:  # a strike's rows apart, in row groups
        path = Path(folder) / "events.parquet"
        pq.write_table(table, path, row_group_size=row_group)
        for name in ("waves", "interceptions", "projectiles"):
            pd.testing.assert_frame_equal(event_table(path, name), tables[name])


def test_a_row_group_at_a_time_gives_the_same_tables(tiny_results, tmp_path):
    table = pq.read_table(tiny_results.folder / "events.parquet")
    path = tmp_path / "events.parquet"
    pq.write_table(table, path, row_group_size=1)
    assert pq.ParquetFile(path).metadata.num_row_groups == len(table) == 18
    for name in TABLE_NAMES:
        pd.testing.assert_frame_equal(event_table(path, name), event_table(table, name))
        pd.testing.assert_frame_equal(event_table(path, name), tiny_results.table(name))
