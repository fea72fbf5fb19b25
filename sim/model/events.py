"""Flat, frozen event records: what happened in one run, in order; and a run's log -> a table.

Every record has a simulation time in hours since the scenario started. Records are plain data
(no simulation objects), so a log can be pickled, tabled, traced and compared byte for byte.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

import pyarrow as pa

HOURS_PER_DAY = 24.0
"""Event times are in hours; tables and timelines report days."""


@dataclass(frozen=True, slots=True)
class StrikeLaunched:
    """An actor launched a strike (projectiles and/or other means) at a rung of the ladder."""

    kind: ClassVar[str] = "strike"
    time_hours: float
    strike_id: int
    attacker: str
    target: str
    rung: int
    telegraphed: bool
    cause: str
    projectiles: tuple[tuple[str, int], ...] = ()
    description: str = ""


@dataclass(frozen=True, slots=True)
class WaveLaunched:
    """One wave of a strike: the projectiles of one weapon, launched so that the modal arrival
    times of a strike's waves coincide (hours on the run's clock; recorded with the strike)."""

    kind: ClassVar[str] = "wave"
    time_hours: float
    strike_id: int
    weapon: str
    count: int
    launch_hours: float
    first_arrival_hours: float
    last_arrival_hours: float


@dataclass(frozen=True, slots=True)
class Interception:
    """What one defence layer did against one weapon type in one strike (projectiles)."""

    kind: ClassVar[str] = "interception"
    time_hours: float
    strike_id: int
    layer: str
    operator: str
    defended: str
    weapon: str
    entered: int
    engaged: int
    intercepted: int
    interceptors_fired: int
    interceptor_cost_usd: float
    stock_after: int
    active: bool


@dataclass(frozen=True, slots=True)
class StrikeOutcome:
    """A strike's totals once its last projectile arrived (projectiles, casualties, US dollars)."""

    kind: ClassVar[str] = "outcome"
    time_hours: float
    strike_id: int
    attacker: str
    target: str
    rung: int
    launched: int
    failed: int
    intercepted: int
    leaked: int
    casualties: int
    damage_usd: float
    attacker_cost_usd: float
    defender_cost_usd: float

    @property
    def intercepted_share(self) -> float:
        """Share of the projectiles that flew (launched less failed) that were intercepted."""
        flying = self.launched - self.failed
        return self.intercepted / flying if flying else 0.0


@dataclass(frozen=True, slots=True)
class DecisionMade:
    """An actor decided whether to answer a strike, with the numbers that drove the decision."""

    kind: ClassVar[str] = "decision"
    time_hours: float
    actor: str
    trigger_strike_id: int
    reason: str
    attacker: str
    observed_rung: int
    casualties: int
    damage_usd: float
    intercepted_share: float
    ally_pressure: float
    domestic_pressure: float
    respond_probability: float
    respond: bool
    target: str
    rung: int
    delay_hours: float
    telegraphed: bool
    projectiles: tuple[tuple[str, int], ...] = field(default=())


@dataclass(frozen=True, slots=True)
class ParametersDrawn:
    """The replication drew this parameter set from the scenario's posterior sample."""

    kind: ClassVar[str] = "parameters"
    time_hours: float
    values: tuple[tuple[str, float], ...]


@dataclass(frozen=True, slots=True)
class StrikeCapReached:
    """The run hit the scenario's ``max_strikes`` bound; later strikes were not launched."""

    kind: ClassVar[str] = "strike_cap"
    time_hours: float
    max_strikes: int


@dataclass(frozen=True, slots=True)
class AccountChanged:
    """An actor's account with an adversary changed (rung-equivalents of severity); logged only
    for actors whose policy keeps a memory. ``closed`` marks the change that settled an account
    that was unsettled: the actor declares the matter closed."""

    kind: ClassVar[str] = "account"
    time_hours: float
    actor: str
    adversary: str
    suffered: float
    inflicted: float
    pending: float
    unsettled: float
    settled: bool
    closed: bool


@dataclass(frozen=True, slots=True)
class HistoryStruck:
    """A strike of the scenario's history, taken in when the clock starts (``time_hours`` 0) and
    launched ``launch_hours`` before it (negative hours), with what it achieved as stated; it is
    not flown nor re-decided. Its id is negative (-1, -2, ... in the order of the history), so
    answers to it name it as their trigger."""

    kind: ClassVar[str] = "history"
    time_hours: float
    launch_hours: float
    strike_id: int
    attacker: str
    target: str
    rung: int
    telegraphed: bool
    projectiles: tuple[tuple[str, int], ...]
    failed: int
    intercepted: int
    casualties: int
    damage_usd: float
    description: str = ""


@dataclass(frozen=True, slots=True)
class RoundEnded:
    """How and when the round ended: ``ceasefire`` (brokered by ``mediator``), ``settled`` (every
    account settled, no answer pending, nothing in the air) or ``horizon`` (it did not end);
    logged only when the scenario has an ending. Nothing after it is simulated."""

    kind: ClassVar[str] = "ending"
    time_hours: float
    how: str
    mediator: str
    highest_rung: int
    costs_usd: float
    hazard_per_day: float


@dataclass(frozen=True, slots=True)
class Unclaimed:
    """Strike ``strike_id`` was not claimed by its attacker (issue 14 item 4): whoever it concerns
    weighs it at its policy's ``signals.attribution``. Logged when the strike is launched (a
    history strike: when it is taken in); a claimed strike has no such record."""

    kind: ClassVar[str] = "unclaimed"
    time_hours: float
    strike_id: int
    attacker: str
    target: str


@dataclass(frozen=True, slots=True)
class PackageChosen:
    """An actor chose package ``package`` among the options of its package for ``rung``, with
    chance ``probability`` (issue 14 item 8); logged after the decision (or the order) it
    belongs to, only when the package has options."""

    kind: ClassVar[str] = "package"
    time_hours: float
    actor: str
    trigger_strike_id: int
    rung: int
    package: str
    probability: float


Event = (
    StrikeLaunched
    | WaveLaunched
    | Interception
    | StrikeOutcome
    | DecisionMade
    | StrikeCapReached
    | ParametersDrawn
    | AccountChanged
    | RoundEnded
    | HistoryStruck
    | Unclaimed
    | PackageChosen
)
EVENT_TYPES = (
    StrikeLaunched,
    Interception,
    StrikeOutcome,
    DecisionMade,
    StrikeCapReached,
    ParametersDrawn,
    WaveLaunched,
    AccountChanged,
    RoundEnded,
    HistoryStruck,
    Unclaimed,
    PackageChosen,
)
_ARROW_TYPES = {"float": pa.float64(), "int": pa.int64(), "bool": pa.bool_(), "str": pa.string()}


def _event_schema() -> pa.Schema:
    """One column per field of any event type (first type wins), after replication and kind."""
    columns = {"replication": pa.int64(), "kind": pa.string()}
    for event_type in EVENT_TYPES:
        for f in fields(event_type):
            columns.setdefault(f.name, _ARROW_TYPES.get(f.type, pa.string()))
    return pa.schema(list(columns.items()))


EVENT_SCHEMA = _event_schema()
"""The fixed schema of every events table, so that chunks written apart concatenate exactly."""


_FIELD_NAMES = {t: tuple(f.name for f in fields(t)) for t in EVENT_TYPES}


def event_row(event: Event) -> dict:
    """One flat row: the record's fields, its kind, and projectile mixes as ``weapon:n`` text."""
    row = {"kind": event.kind}
    row.update((name, getattr(event, name)) for name in _FIELD_NAMES[type(event)])
    if "projectiles" in row:
        row["projectiles"] = " ".join(f"{w}:{n}" for w, n in row["projectiles"])
    if "values" in row:
        row["values"] = " ".join(f"{p}={v!r}" for p, v in row["values"])
    return row


def events_arrow(logs: list[tuple[int, list[Event]]]) -> pa.Table:
    """The logs of several replications as one Arrow table with ``EVENT_SCHEMA``."""
    rows = [{"replication": r, **event_row(e)} for r, events in logs for e in events]
    return pa.Table.from_pylist(rows, schema=EVENT_SCHEMA)
