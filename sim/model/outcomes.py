"""One run's event log -> one row of the runs table: how high, how fast, along which path, at what cost.

Reaching a rung means launching a strike at or above it. Times are days since the scenario started.
The path lists the strikes in launch order as ``attacker>target:rung``; ``rung_path`` keeps only the
rungs, which groups runs that escalated the same way whoever struck.
"""

from __future__ import annotations

import math
from collections import defaultdict

from sim.model.events import (
    HOURS_PER_DAY,
    Event,
    Interception,
    ParametersDrawn,
    RoundEnded,
    StrikeCapReached,
    StrikeLaunched,
    StrikeOutcome,
)
from sim.scenario.ladder import RUNGS


def first_day_column(rung: int) -> str:
    """Column of the runs table holding the first day a run reached ``rung`` (NaN if never)."""
    return f"first_day_rung_{rung}"


def run_row(events: list[Event], replication: int, actors: list[str]) -> dict:
    """Summarise one replication's log as a flat row (projectiles, casualties, US dollars, days)."""
    strikes = [e for e in events if isinstance(e, StrikeLaunched)]
    outcomes = [e for e in events if isinstance(e, StrikeOutcome)]
    row: dict = {"replication": replication}
    row["max_rung"] = max((s.rung for s in strikes), default=-1)
    for rung in RUNGS:
        days = [s.time_hours / HOURS_PER_DAY for s in strikes if s.rung >= rung]
        row[first_day_column(rung)] = min(days) if days else math.nan
    row["path"] = " ".join(f"{s.attacker}>{s.target}:{s.rung}" for s in strikes)
    row["rung_path"] = "-".join(str(s.rung) for s in strikes)
    row["strikes"] = len(strikes)
    for field in ("launched", "failed", "intercepted", "leaked", "casualties"):
        row[field] = sum(getattr(o, field) for o in outcomes)
    row["strike_cap_reached"] = any(isinstance(e, StrikeCapReached) for e in events)
    for drawn in (e for e in events if isinstance(e, ParametersDrawn)):
        row.update({f"parameter:{path}": value for path, value in drawn.values})
    row.update(_by_actor(events, actors))
    row.update(_ending(events))
    return row


def _ending(events: list[Event]) -> dict:
    """How and on which day the round ended (NaN if at the horizon); no columns if the scenario
    has no ending, so runs tables of scenarios without one are unchanged."""
    ending = next((e for e in reversed(events) if isinstance(e, RoundEnded)), None)
    if ending is None:
        return {}
    ended = ending.how != "horizon"
    return {
        "ended_how": ending.how,
        "ended_day": ending.time_hours / HOURS_PER_DAY if ended else math.nan,
    }


def _by_actor(events: list[Event], actors: list[str]) -> dict:
    """Casualties and damage suffered, and money spent (strikes and interceptors), per actor."""
    suffered = defaultdict(int)
    damage = defaultdict(float)
    spent = defaultdict(float)
    for event in events:
        if isinstance(event, StrikeOutcome):
            suffered[event.target] += event.casualties
            damage[event.target] += event.damage_usd
            spent[event.attacker] += event.attacker_cost_usd
        elif isinstance(event, Interception):
            spent[event.operator] += event.interceptor_cost_usd
    row: dict = {}
    for actor in actors:
        row[f"casualties_{actor}"] = suffered[actor]
        row[f"damage_usd_{actor}"] = damage[actor]
        row[f"cost_usd_{actor}"] = spent[actor]
    return row
