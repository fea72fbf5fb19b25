"""How a round ends before its horizon: a mediated ceasefire, or every account settled.

Pure functions, no SimPy: the hazard of a ceasefire and its chance within an interval. Whether
nothing is owed is ``sim.model.memory.Accounts.settled``; the world (``sim/model/world.py``) draws
and records the ending and stops the run there.
"""

from __future__ import annotations

import math

from sim.scenario.dynamics import Ceasefire


def ceasefire_hazard_per_day(
    spec: Ceasefire, highest_rung: int, costs_usd: float, pressure: float
) -> float:
    """Hazard of a ceasefire, per day, as documented on ``Ceasefire`` (bounded for any input:
    every weight and the pressure are bounded, and the costs enter through their logarithm)."""
    return spec.base_hazard_per_day * math.exp(
        spec.rung_weight * max(0, highest_rung)
        + spec.cost_weight * math.log1p(costs_usd / 1e9)
        + spec.pressure_weight * pressure
    )


def ceasefire_chance(hazard_per_day: float, hours: float) -> float:
    """Chance that a ceasefire comes within ``hours`` at a constant hazard per day."""
    return -math.expm1(-hazard_per_day * hours / 24.0)
