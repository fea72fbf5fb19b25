"""Rounds that start mid-way: what a history strike spent and achieved, as the world takes it in.

A history strike is not flown: its projectiles leave the attacker's arsenal, the interceptors it
drew leave the layers it met (those of the target's assets abroad for a rung-2 strike on an actor
that states them, as for a flown strike), and its outcome is the one the scenario states.
"""

from __future__ import annotations

from collections.abc import Mapping

from sim.model.engagement import LayerState
from sim.model.events import HOURS_PER_DAY, HistoryStruck, StrikeOutcome
from sim.scenario.rounds import HistoryStrike
from sim.scenario.schema import Weapon


def spend(
    strike_id: int,
    strike: HistoryStrike,
    weapons: Mapping[str, Weapon],
    agents: Mapping,
    met: list[LayerState],
) -> StrikeOutcome:
    """Take a history strike's projectiles from the attacker's arsenal (``agents[a].arsenal``)
    and its interceptors from the stocks of the layers it ``met``; return its outcome as stated."""
    for weapon, n in strike.projectiles.items():
        agents[strike.attacker].arsenal[weapon] -= n
    defender_cost = 0.0
    for name, n in strike.interceptors_fired.items():
        state = next(s for s in met if s.spec.name == name)
        state.stock -= n
        defender_cost += n * state.spec.unit_cost_usd
    launched = sum(strike.projectiles.values())
    return StrikeOutcome(
        time_hours=0.0,
        strike_id=strike_id,
        attacker=strike.attacker,
        target=strike.target,
        rung=strike.rung,
        launched=launched,
        failed=strike.failed,
        intercepted=strike.intercepted,
        leaked=launched - strike.failed - strike.intercepted,
        casualties=strike.casualties,
        damage_usd=strike.damage_usd,
        attacker_cost_usd=sum(n * weapons[w].unit_cost_usd for w, n in strike.projectiles.items()),
        defender_cost_usd=defender_cost,
    )


def history_event(strike_id: int, strike: HistoryStrike) -> HistoryStruck:
    """The log entry of a history strike, taken in at the start of the clock."""
    return HistoryStruck(
        time_hours=0.0,
        launch_hours=strike.day * HOURS_PER_DAY,
        strike_id=strike_id,
        attacker=strike.attacker,
        target=strike.target,
        rung=strike.rung,
        telegraphed=strike.telegraphed,
        projectiles=tuple(sorted(strike.projectiles.items())),
        failed=strike.failed,
        intercepted=strike.intercepted,
        casualties=strike.casualties,
        damage_usd=strike.damage_usd,
        description=strike.description,
    )
