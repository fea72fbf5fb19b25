"""The events table as typed, tidy tables: one per kind of event, with only that kind's columns,
and long tables of what the flat table keeps as text (projectile mixes, drawn parameters).

The flat table (``events.parquet``, ``Results.events``) has one column per field of any record
in ``sim.model.events``, mostly empty on any row, with mixes as ``"ballistic:8 drone:30"`` and
hours for times; resume and the manifest's hashes depend on it, so it stays as it is. The tables
here are read from it a row group at a time, only the columns a table needs, so memory holds one
row group's few columns beside the table being built. ``TIME_UNIT`` says how times are given;
``docs/tables.md`` lists every table with its columns, dtypes and units.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from sim.model.events import (
    EVENT_SCHEMA,
    HOURS_PER_DAY,
    AccountChanged,
    DecisionMade,
    HistoryStruck,
    Interception,
    PackageChosen,
    ParametersDrawn,
    RoundEnded,
    StrikeCapReached,
    StrikeLaunched,
    StrikeOutcome,
    Unclaimed,
    WaveLaunched,
)

TIME_UNIT = (
    "Times are days since the scenario started, as floats (1.5 is noon of the second day), as "
    "in the runs table: `day` is when the event was logged, a column ending in `_day` is "
    "another instant on that clock (negative before the start), one ending in `_days` is a "
    "duration. The raw events table keeps the simulation's hours (`time_hours`, ...)."
)
"""The one time unit of every tidy table; each table's description points here."""

HOUR_COLUMNS = {
    "time_hours": "day",
    "launch_hours": "launch_day",
    "first_arrival_hours": "first_arrival_day",
    "last_arrival_hours": "last_arrival_day",
    "delay_hours": "delay_days",
}
"""Each field of a record in hours -> its column in days in the tidy tables."""

ACTOR_COLUMNS = ("attacker", "target", "actor", "operator", "defended", "adversary", "mediator")
"""Columns holding actor keys: categoricals sharing one set of categories within a table, so
that two of them compare (``strikes.attacker == strikes.target``); an empty name is missing."""
NAME_COLUMNS = ("weapon", "layer", "how", "package", "parameter")
"""Other columns of names from a small set: categoricals of the names present."""
TEXT_COLUMNS = ("cause", "reason", "description")
"""Free text: pandas ``string``."""

KIND_TABLES = {
    "strikes": StrikeLaunched,
    "waves": WaveLaunched,
    "interceptions": Interception,
    "outcomes": StrikeOutcome,
    "decisions": DecisionMade,
    "accounts": AccountChanged,
    "history": HistoryStruck,
    "endings": RoundEnded,
    "packages": PackageChosen,
    "unclaimed": Unclaimed,
    "strike_caps": StrikeCapReached,
}
"""One table per kind of record, named for it; ``ParametersDrawn`` is the long ``parameters``."""
JOINED_STRIKE_TABLES = ("waves", "interceptions")
"""Tables whose records name only the strike: its attacker and target are joined onto them."""
LONG_TABLES = ("projectiles", "decision_projectiles", "parameters")
TABLE_NAMES = (*KIND_TABLES, *LONG_TABLES)
"""Every tidy table, by name (``event_table(source, name)``, ``Results.table(name)``)."""


class EventSource:
    """An events table to read by kind: a Parquet file, a row group and only the asked columns
    at a time (page checksums verified), or an Arrow table with ``EVENT_SCHEMA`` in memory."""

    def __init__(self, events: str | Path | pa.Table) -> None:
        self.events = events

    def _pieces(self, columns: list[str]) -> Iterator[pa.Table]:
        if isinstance(self.events, pa.Table):
            yield self.events.select(columns)
            return
        source = pq.ParquetFile(self.events, page_checksum_verification=True)
        for group in range(source.metadata.num_row_groups):
            yield source.read_row_group(group, columns=columns, use_threads=False)

    def read(self, kinds: Sequence[str], columns: list[str]) -> pa.Table:
        """The rows of the given kinds, with ``columns`` (in that order)."""
        wanted = pa.array(list(kinds), pa.string())
        pieces = [
            piece.filter(pc.is_in(piece["kind"], value_set=wanted)).select(columns)
            for piece in self._pieces(list(dict.fromkeys(["kind", *columns])))
        ]
        empty = EVENT_SCHEMA.empty_table().select(columns)
        return pa.concat_tables([empty, *pieces])


def event_table(events: str | Path | pa.Table | EventSource, name: str) -> pd.DataFrame:
    """The tidy table ``name`` (one of ``TABLE_NAMES``) of an events table: a Parquet file's
    path or an Arrow table with ``EVENT_SCHEMA``. Times in days (``TIME_UNIT``)."""
    source = events if isinstance(events, EventSource) else EventSource(events)
    if name in KIND_TABLES:
        return kind_table(source, name)
    if name == "parameters":
        return parameters_table(source)
    if name == "decision_projectiles":
        return decision_projectiles_table(source)
    if name == "projectiles":
        return projectiles_table(source)
    raise KeyError(f"no event table {name!r}; the tables are: {', '.join(TABLE_NAMES)}")


def record_columns(event_type: type) -> list[str]:
    """The fields of a record kept as columns of its table (not its text mixes), as recorded."""
    return [f.name for f in fields(event_type) if f.type in ("int", "float", "bool", "str")]


def kind_table(source: EventSource, name: str) -> pd.DataFrame:
    """The table of one kind of record (``KIND_TABLES``): ``replication``, then the record's
    fields in order, hours as days (``TIME_UNIT``, ``HOUR_COLUMNS``), typed; waves and
    interceptions carry their strike's ``attacker`` and ``target`` after ``strike_id``."""
    event_type = KIND_TABLES[name]
    table = source.read([event_type.kind], ["replication", *record_columns(event_type)])
    if name in JOINED_STRIKE_TABLES:
        table = _with_strike_parties(source, table)
    return typed(table)


def _with_strike_parties(source: EventSource, table: pa.Table) -> pa.Table:
    """``table`` with the attacker and target of each row's strike (by replication and strike
    id) after ``strike_id``, rows in their order; every row's strike must be in the log."""
    keys = ["replication", "strike_id"]
    parties = source.read([StrikeLaunched.kind, HistoryStruck.kind], [*keys, "attacker", "target"])
    if len(parties.group_by(keys).aggregate([])) != len(parties):
        raise ValueError("events table: two strikes of a replication have one id")
    ordered = table.append_column("_order", pa.array(range(len(table)), pa.int64()))
    joined = ordered.join(parties, keys, join_type="left outer").sort_by("_order")
    if joined["attacker"].null_count:
        raise ValueError("events table: a wave or interception names a strike not in the log")
    at = table.column_names.index("strike_id") + 1
    names = table.column_names
    return joined.select([*names[:at], "attacker", "target", *names[at:]])


def typed(table: pa.Table) -> pd.DataFrame:
    """``table`` as pandas, hours as days under their day names (``HOUR_COLUMNS``); ints,
    floats and bools as such, names as categoricals (``ACTOR_COLUMNS`` sharing one set of
    categories, an empty name missing; ``NAME_COLUMNS``), free text as ``string``."""
    for hours, days in HOUR_COLUMNS.items():
        if hours in table.column_names:
            at = table.column_names.index(hours)
            table = table.set_column(at, days, pc.divide(table[hours], HOURS_PER_DAY))
    actors = [c for c in ACTOR_COLUMNS if c in table.column_names]
    groups = [actors, *([c] for c in NAME_COLUMNS if c in table.column_names)]
    for columns in groups:
        categories = _names(table, columns)
        for column in columns:
            at = table.column_names.index(column)
            table = table.set_column(at, column, _categorical(table[column], categories))
    frame = table.to_pandas(types_mapper={pa.string(): pd.StringDtype()}.get)
    for column in (c for c in ACTOR_COLUMNS + NAME_COLUMNS if c in frame.columns):
        frame[column] = frame[column].cat.set_categories(frame[column].cat.categories.astype(str))
    return frame


def _names(table: pa.Table, columns: list[str]) -> pa.Array:
    """The distinct non-empty names in ``columns``, sorted."""
    values = set().union(*(pc.unique(table[c]).to_pylist() for c in columns))
    return pa.array(sorted(v for v in values if v), pa.string())


def _categorical(column: pa.ChunkedArray, categories: pa.Array) -> pa.DictionaryArray:
    """``column`` encoded by ``categories`` (an empty name, not among them, is null)."""
    codes = pc.index_in(column.combine_chunks(), value_set=categories)
    return pa.DictionaryArray.from_arrays(codes, categories)


def projectiles_table(source: EventSource) -> pd.DataFrame:
    """One row per weapon of each strike's mix, as launched (``replication``, ``strike_id``,
    ``history``, ``attacker``, ``target``, ``weapon``, ``count`` projectiles), in log order;
    a strike without projectiles has no row. Its counts sum to the strike's ``launched``. No
    times: join ``strikes`` or ``history`` on the strike for them (days, ``TIME_UNIT``)."""
    keys = ["replication", "kind", "strike_id", "attacker", "target"]
    table = source.read([StrikeLaunched.kind, HistoryStruck.kind], [*keys, "projectiles"])
    long = _long(table, "projectiles", ":", keys, ("weapon", "count"))
    history = pc.equal(long["kind"], HistoryStruck.kind)
    return typed(long.remove_column(1).add_column(2, "history", history))


def decision_projectiles_table(source: EventSource) -> pd.DataFrame:
    """One row per weapon of the mix each decision chose for its answer (``replication``,
    ``day``, ``actor``, ``trigger_strike_id``, ``weapon``, ``count`` projectiles), in log order;
    a decision without projectiles has no row. ``day`` as ``TIME_UNIT`` says."""
    keys = ["replication", "time_hours", "actor", "trigger_strike_id"]
    table = source.read([DecisionMade.kind], [*keys, "projectiles"])
    return typed(_long(table, "projectiles", ":", keys, ("weapon", "count")))


def parameters_table(source: EventSource) -> pd.DataFrame:
    """One row per parameter each replication drew from the scenario's posterior
    (``replication``, ``parameter``, its path as a lever names it, ``value`` as drawn); drawn
    before the clock starts, so no time (``TIME_UNIT`` for the other tables)."""
    table = source.read([ParametersDrawn.kind], ["replication", "values"])
    return typed(_long(table, "values", "=", ["replication"], ("parameter", "value")))


def _long(
    table: pa.Table, column: str, separator: str, keys: list[str], names: tuple[str, str]
) -> pa.Table:
    """``table``'s ``column`` of space-separated ``name<separator>number`` pairs as one row per
    pair: the ``keys`` of its row, then the pair's name and number under ``names`` (the number
    an int for ``:``, a float for ``=``)."""
    tokens = pc.split_pattern(table[column].combine_chunks(), " ")
    rows, flat = pc.list_parent_indices(tokens), pc.list_flatten(tokens)
    present = pc.not_equal(flat, "")
    rows, flat = rows.filter(present), flat.filter(present)
    pairs = pc.split_pattern(flat, separator, max_splits=1, reverse=True)
    number = pa.float64() if separator == "=" else pa.int64()
    long = table.select(keys).take(rows)
    long = long.append_column(names[0], pc.list_element(pairs, 0))
    return long.append_column(names[1], pc.cast(pc.list_element(pairs, 1), number))
