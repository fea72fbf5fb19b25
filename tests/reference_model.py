"""Per-projectile reference for the interception engine: every projectile is its own SimPy process.

It runs the model documented at the top of ``sim.model.interception`` literally, with the same inputs and
the same activity rules, so the fast engine's distributions can be checked against it. Layers are
independent timelines met outer to inner: layer ``j`` sees each projectile at its arrival time plus
``j`` times a gap longer than any layer's window plus engagement, so a projectile has left layer
``j`` before it meets layer ``j + 1`` and the timing within each layer is that of the arrivals.

Shared defences: a layer whose ``committed`` record is kept (``LayerState.from_spec(...,
shared=True)``) is met by strikes one after another, as the engine meets them. Each engagement of
a strike is recorded at the moment it begins; a later strike's run starts one blocker per
recorded engagement that ends after the strike's first possible arrival, at the moment it began,
which takes a channel before any projectile (a priority request that never gives up) and holds it
for the engagement time.
"""

from __future__ import annotations

from collections.abc import Generator

import numpy as np
import simpy

from sim.model.interception import InterceptionOutcome, LayerOutcome, LayerState, Wave


def layer_gap_hours(layers: list[LayerState]) -> float:
    """Offset between layers' timelines: longer than any wait plus engagement at any layer."""
    longest = max(
        (s.spec.engagement_window_minutes + s.spec.engagement_minutes for s in layers), default=0
    )
    return 1.0 + longest / 60


class _Layer:
    """A layer in the reference: a FIFO resource of fire channels and a stock."""

    def __init__(
        self,
        env: simpy.Environment,
        state: LayerState,
        active: bool,
        weapons: list[str],
        offset: float,
    ):
        self.state, self.active, self.offset = state, active, offset
        """``offset``: hours from a projectile's arrival to its meeting this layer's timeline."""
        capacity = state.spec.fire_channels
        self.channels = (
            simpy.Resource(env, capacity=capacity)
            if state.committed is None
            else simpy.PriorityResource(env, capacity=capacity)
        )
        self.entered = dict.fromkeys(weapons, 0)
        self.engaged = dict.fromkeys(weapons, 0)
        self.killed = dict.fromkeys(weapons, 0)
        self.fired = dict.fromkeys(weapons, 0)


def _engage(
    env: simpy.Environment, layer: _Layer, weapon: str, rng: np.random.Generator
) -> Generator:
    """One projectile at one layer; the generator's return value is True if it was killed."""
    spec = layer.state.spec
    layer.entered[weapon] += 1
    if not layer.active or weapon not in spec.kill_probability or layer.state.stock <= 0:
        return False
    shared = layer.state.committed is not None
    request = layer.channels.request(priority=1) if shared else layer.channels.request()
    granted = yield request | env.timeout(spec.engagement_window_minutes / 60)
    if request not in granted:
        request.cancel()
        return False
    shots = min(spec.shots_per_target, layer.state.stock)
    if shots == 0:
        layer.channels.release(request)
        return False
    layer.state.stock -= shots
    if shared:
        layer.state.committed.append((env.now - layer.offset, 1))
    layer.engaged[weapon] += 1
    layer.fired[weapon] += shots
    yield env.timeout(spec.engagement_minutes / 60)
    layer.channels.release(request)
    killed = rng.random() < 1 - (1 - spec.kill_probability[weapon]) ** shots
    layer.killed[weapon] += killed
    return killed


def _blocker(env: simpy.Environment, layer: _Layer, began: float) -> Generator:
    """An engagement of an earlier strike: it takes a channel at the moment it began (or the
    first one to free after it), before any projectile, and holds it for the engagement time."""
    yield env.timeout(max(began + layer.offset - env.now, 0.0))
    with layer.channels.request(priority=0) as request:
        yield request
        yield env.timeout(layer.state.spec.engagement_minutes / 60)


def _projectile(
    env: simpy.Environment,
    wave: Wave,
    layers: list[_Layer],
    leaked: dict,
    rng: np.random.Generator,
) -> Generator:
    """Fly, then meet each layer in turn; count the projectile as leaked if none kills it."""
    flight = wave.flight
    arrival = wave.launch_hours + rng.triangular(
        flight.min_hours, flight.mode_hours, flight.max_hours
    )
    for layer in layers:
        yield env.timeout(max(arrival + layer.offset - env.now, 0.0))
        killed = yield env.process(_engage(env, layer, wave.weapon, rng))
        if killed:
            return
    leaked[wave.weapon] += 1


def reference_intercept(
    waves: list[Wave],
    layers: list[LayerState],
    *,
    telegraphed: bool,
    rung: int,
    rng: np.random.Generator,
) -> InterceptionOutcome:
    """The same question as ``sim.model.interception.intercept``, answered one projectile at a time."""
    env = simpy.Environment()
    weapons = sorted({w.weapon for w in waves})
    gap = layer_gap_hours(layers)
    runs = [
        _Layer(
            env,
            s,
            rung >= s.spec.min_rung
            and (telegraphed or not s.spec.requires_warning)
            and any(w in s.spec.kill_probability for w in weapons),
            weapons,
            depth * gap,
        )
        for depth, s in enumerate(layers)
    ]
    first = min((w.launch_hours + w.flight.min_hours for w in waves), default=0.0)
    for run in runs:
        run.state.forget_before(first)
        for began, n in run.state.committed or ():
            for _ in range(n):
                env.process(_blocker(env, run, began))
    launched, failed, leaked = (dict.fromkeys(weapons, 0) for _ in range(3))
    for wave in waves:
        launched[wave.weapon] += wave.count
        for _ in range(wave.count):
            if rng.random() < wave.failure_probability:
                failed[wave.weapon] += 1
            else:
                env.process(_projectile(env, wave, runs, leaked, rng))
    env.run()
    outcome = InterceptionOutcome(weapons=weapons, launched=launched, failed=failed, leaked=leaked)
    outcome.layers = [
        LayerOutcome(
            layer=r.state.spec.name,
            operator=r.state.spec.operator,
            entered=r.entered,
            engaged=r.engaged,
            killed=r.killed,
            interceptors_fired=r.fired,
            stock_after=r.state.stock,
            active=r.active,
        )
        for r in runs
    ]
    return outcome
