"""Layered interception, aggregated by time bins: cost grows with bins and layers, not projectiles.

The model it approximates (the per-projectile reference in ``tests/reference_model.py`` runs it
literally, one SimPy process per projectile): each projectile arrives at a continuous time; at each
layer, outer to inner, it waits up to the layer's engagement window for a free fire channel (first
come, first served); if it gets one and stock remains, the layer fires ``shots_per_target``
interceptors (fewer when the stock runs out), the channel is busy for the engagement time, and each
shot kills with the layer's per-shot probability. A projectile no layer kills is a leaker.

The aggregation: arrival counts per fine time bin are drawn per wave (a multinomial, or for a
wave with fewer projectiles than bins, the binned arrival times: the same distribution). Each
active layer then engages the arrivals still flying (``sim.model.engagement.LayerRun``: a walk over
coarse bins with a queue, channels and stock), and its survivors go on to the next layer.

Strikes that share defences (the scenario's ``shared_defences``) are flown through the layers one
after another, in the order their first projectiles arrive: each finds the stocks the strikes
before it left and the fire channels their engagements still hold (``LayerState.committed``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from sim.model.engagement import BINS_PER_ENGAGEMENT, LayerRun, LayerState
from sim.scenario.schema import DefenceLayer, FlightTime

MAX_FINE_BINS = 8192
"""Upper bound on fine bins per strike, so a long drone wave cannot make a strike expensive."""


def triangular_cdf(hours: np.ndarray, flight: FlightTime) -> np.ndarray:
    """CDF of the triangular flight-time distribution at ``hours`` (vectorised)."""
    a, c, b = flight.min_hours, flight.mode_hours, flight.max_hours
    x = np.clip(hours, a, b)
    if b == a:
        return (hours >= a).astype(float)
    left = (x - a) ** 2 / ((b - a) * (c - a)) if c > a else np.zeros_like(x)
    right = 1.0 - (b - x) ** 2 / ((b - a) * (b - c)) if b > c else np.ones_like(x)
    return np.where(x <= c, left, right)


@dataclass
class LayerOutcome:
    """What one layer did in one strike, by weapon (projectiles) and in interceptors fired."""

    layer: str
    operator: str
    entered: dict[str, int]
    engaged: dict[str, int]
    killed: dict[str, int]
    interceptors_fired: dict[str, int]
    stock_after: int
    active: bool


@dataclass
class Wave:
    """Projectiles of one weapon launched together at ``launch_hours`` (simulation clock)."""

    weapon: str
    count: int
    launch_hours: float
    flight: FlightTime
    failure_probability: float


@dataclass
class InterceptionOutcome:
    """The result of one strike's flight through the defences."""

    weapons: list[str]
    launched: dict[str, int]
    failed: dict[str, int]
    leaked: dict[str, int]
    layers: list[LayerOutcome] = field(default_factory=list)
    last_arrival_hours: float = 0.0
    """When the last projectile reaches the defences (simulation clock): the strike ends then."""


def layer_is_active(
    spec: DefenceLayer, weapons: list[str], *, telegraphed: bool, rung: int
) -> bool:
    """Whether a layer takes part in a strike: it engages one of its weapons, the strike is at or
    above its ``min_rung``, and it was telegraphed if the layer ``requires_warning``."""
    return (
        rung >= spec.min_rung
        and (telegraphed or not spec.requires_warning)
        and any(w in spec.kill_probability for w in weapons)
    )


def _arrival_grid(waves: list[Wave], layers: list[LayerState]) -> tuple[float, float, int]:
    """Start time, fine bin width (hours) and number of fine bins covering all arrivals."""
    start = min(w.launch_hours + w.flight.min_hours for w in waves)
    end = max(w.launch_hours + w.flight.max_hours for w in waves)
    span = max(end - start, 1e-9)
    widths = [s.spec.engagement_minutes / 60 / BINS_PER_ENGAGEMENT for s in layers] or [span]
    width = max(min(widths), span / MAX_FINE_BINS)
    return start, width, int(np.ceil(span / width)) + 1


def _wave_arrivals(
    wave: Wave, n: int, start: float, width: float, bins: int, rng: np.random.Generator
) -> np.ndarray:
    """Arrival counts of ``n`` projectiles of one wave per fine bin.

    Few projectiles: their flight times, binned. Many: one multinomial over the bins' probabilities.
    Both are the distribution of ``n`` independent triangular arrival times, counted per bin.
    """
    flight = wave.flight
    if n <= bins:
        if flight.max_hours > flight.min_hours:
            hours = rng.triangular(flight.min_hours, flight.mode_hours, flight.max_hours, size=n)
        else:
            hours = np.full(n, flight.min_hours)
        index = ((wave.launch_hours - start + hours) / width).astype(np.int64)
        return np.bincount(np.clip(index, 0, bins - 1), minlength=bins)
    cdf = triangular_cdf(start + width * np.arange(bins + 1) - wave.launch_hours, flight)
    probabilities = np.diff(cdf)
    probabilities[0] += cdf[0]
    probabilities[-1] += 1.0 - cdf[-1]
    return rng.multinomial(n, probabilities / probabilities.sum())


def intercept(
    waves: list[Wave],
    layers: list[LayerState],
    *,
    telegraphed: bool,
    rung: int,
    rng: np.random.Generator,
) -> InterceptionOutcome:
    """Fly ``waves`` through ``layers`` (outer to inner); stocks in ``layers`` are drawn down.

    A layer takes part if it engages at least one weapon in the strike, the strike's rung is at or
    above its ``min_rung``, and the strike was telegraphed when the layer ``requires_warning``.
    """
    weapons = sorted({w.weapon for w in waves})
    row = {name: i for i, name in enumerate(weapons)}
    launched = dict.fromkeys(weapons, 0)
    failed = dict.fromkeys(weapons, 0)
    flying = []
    for wave in waves:
        lost = int(rng.binomial(wave.count, wave.failure_probability))
        launched[wave.weapon] += wave.count
        failed[wave.weapon] += lost
        flying.append(wave.count - lost)
    active = [layer_is_active(s.spec, weapons, telegraphed=telegraphed, rung=rung) for s in layers]
    start, width, bins = _arrival_grid(waves, [s for s, a in zip(layers, active, strict=True) if a])
    fine = np.zeros((len(weapons), bins), dtype=np.int64)
    for wave, n in zip(waves, flying, strict=True):
        if n:
            fine[row[wave.weapon]] += _wave_arrivals(wave, n, start, width, bins, rng)
    occupied = np.flatnonzero(fine.any(axis=0))
    outcome = InterceptionOutcome(
        weapons=weapons,
        launched=launched,
        failed=failed,
        leaked={},
        last_arrival_hours=start + width * ((occupied[-1] + 1) if len(occupied) else 0),
    )
    for state, is_active in zip(layers, active, strict=True):
        state.forget_before(start)
        outcome.layers.append(_run_layer(state, is_active, fine, weapons, (start, width), rng))
    outcome.leaked = dict(zip(weapons, fine.sum(axis=1).tolist(), strict=True))
    return outcome


def _run_layer(
    state: LayerState,
    active: bool,
    fine: np.ndarray,
    weapons: list[str],
    grid: tuple[float, float],
    rng: np.random.Generator,
) -> LayerOutcome:
    """Run one layer over the fine arrivals in place (``grid``: where the first fine bin begins
    on the run's clock and the bins' width, hours); report what it did."""
    entered = fine.sum(axis=1).tolist()
    engages = [i for i, w in enumerate(weapons) if w in state.spec.kill_probability]
    done = [[0] * len(weapons) for _ in range(3)]
    """Killed, engaged and interceptors fired, by weapon."""
    if active and state.stock > 0 and any(entered[i] for i in engages):
        kill = [state.spec.kill_probability[weapons[i]] for i in engages]
        sub = fine[engages]
        run = LayerRun(state, kill, grid[1], rng, origin_hours=grid[0])
        for by_weapon, result in zip(done, run.run(sub), strict=True):
            for j, i in enumerate(engages):
                by_weapon[i] = result[j]
        fine[engages] = sub
    killed, engaged, fired = (dict(zip(weapons, d, strict=True)) for d in done)
    return LayerOutcome(
        layer=state.spec.name,
        operator=state.spec.operator,
        entered=dict(zip(weapons, entered, strict=True)),
        engaged=engaged,
        killed=killed,
        interceptors_fired=fired,
        stock_after=state.stock,
        active=active,
    )
