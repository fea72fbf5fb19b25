"""Strike processes: a strike's waves fly, meet the defences, and their leakers do damage.

A strike is one SimPy process. Waves of each weapon are launched so that their modal arrival times
coincide (the usual way to saturate defences: slow drones leave first). The interception engine
runs when the first projectile arrives, so stocks are drawn down in the order strikes arrive, and
the outcome is reported when the last one lands.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Mapping
from dataclasses import dataclass, field

import numpy as np
import simpy

from sim.model.engagement import LayerState
from sim.model.events import Event, Interception, StrikeLaunched, StrikeOutcome, WaveLaunched
from sim.model.interception import InterceptionOutcome, Wave, intercept
from sim.scenario.ladder import Rung
from sim.scenario.schema import DefenceLayer, Weapon

MAX_POISSON_MEAN = 1e15
"""The largest mean casualties of one strike drawn as a Poisson count; numpy refuses means above
about 9e18 and the schema's ranges allow up to about 1e13, so the cap only guards the draw."""


@dataclass(frozen=True)
class StrikeOrder:
    """Everything needed to carry out one strike (counts in projectiles, money in US dollars)."""

    attacker: str
    target: str
    rung: int
    telegraphed: bool
    cause: str
    projectiles: dict[str, int] = field(default_factory=dict)
    casualties_mean: float = 0.0
    damage_usd_mean: float = 0.0
    cost_usd: float = 0.0
    casualties_fixed: int = 0
    damage_usd_fixed: float = 0.0
    description: str = ""
    claimed: bool = True


@dataclass(frozen=True)
class Theatre:
    """What a strike needs of the run it flies in, and nothing more: the clock, the weapons, every
    actor's defence layers (their stocks deplete across strikes), the strikes' random stream, a
    ``record`` callback for the event log, ``landed``, told what each strike achieved, and the
    layers of actors' assets abroad (``abroad``, by actor) that rung-2 strikes meet instead."""

    env: simpy.Environment
    weapons: Mapping[str, Weapon]
    layers: Mapping[str, list[LayerState]]
    rng: np.random.Generator
    record: Callable[[Event], None]
    landed: Callable[[StrikeOutcome], None]
    abroad: Mapping[str, list[LayerState]] = field(default_factory=dict)

    def layers_for(self, target: str, rung: int) -> list[LayerState]:
        """The layers a strike meets: those of the target's assets abroad for a strike at rung 2
        if the target states them (possibly none), else the target's homeland layers."""
        if rung == Rung.THIRD_COUNTRY_STRIKES and target in self.abroad:
            return self.abroad[target]
        return self.layers[target]


def coordinated_waves(
    projectiles: dict[str, int], weapons: dict[str, Weapon], start_hours: float
) -> list[Wave]:
    """One wave per weapon, launched so that all waves' modal arrival times coincide."""
    used = {w: n for w, n in sorted(projectiles.items()) if n > 0}
    if not used:
        return []
    latest_mode = max(weapons[w].flight_time.mode_hours for w in used)
    return [
        Wave(
            weapon=w,
            count=n,
            # The head start is computed first, so the slowest weapon's is exactly 0.0 and no
            # wave can leave before the strike does: (start + a) - a may round above start.
            launch_hours=start_hours + (latest_mode - weapons[w].flight_time.mode_hours),
            flight=weapons[w].flight_time,
            failure_probability=weapons[w].failure_probability,
        )
        for w, n in used.items()
    ]


def _layer_spec(layers: list[LayerState], name: str) -> DefenceLayer:
    return next(state.spec for state in layers if state.spec.name == name)


def _interception_events(
    layers: list[LayerState],
    strike_id: int,
    result: InterceptionOutcome,
    time_hours: float,
    defended: str,
) -> list[Interception]:
    events = []
    for layer in result.layers:
        spec = _layer_spec(layers, layer.layer)
        for weapon in (w for w in result.weapons if w in spec.kill_probability):
            events.append(
                Interception(
                    time_hours=time_hours,
                    strike_id=strike_id,
                    layer=layer.layer,
                    operator=layer.operator,
                    defended=defended,
                    weapon=weapon,
                    entered=layer.entered[weapon],
                    engaged=layer.engaged[weapon],
                    intercepted=layer.killed[weapon],
                    interceptors_fired=layer.interceptors_fired[weapon],
                    interceptor_cost_usd=layer.interceptors_fired[weapon] * spec.unit_cost_usd,
                    stock_after=layer.stock_after,
                    active=layer.active,
                )
            )
    return events


def wave_events(waves: list[Wave], strike_id: int, now_hours: float) -> list[WaveLaunched]:
    """The log entries for a strike's waves, recorded with the strike: when each leaves and the
    window in which its projectiles arrive (its flight-time range after its launch)."""
    return [
        WaveLaunched(
            time_hours=now_hours,
            strike_id=strike_id,
            weapon=wave.weapon,
            count=wave.count,
            launch_hours=wave.launch_hours,
            first_arrival_hours=wave.launch_hours + wave.flight.min_hours,
            last_arrival_hours=wave.launch_hours + wave.flight.max_hours,
        )
        for wave in waves
    ]


def launched_event(order: StrikeOrder, strike_id: int, now_hours: float) -> StrikeLaunched:
    """The log entry for a strike leaving now; recorded before anything the strike sets off."""
    return StrikeLaunched(
        time_hours=now_hours,
        strike_id=strike_id,
        attacker=order.attacker,
        target=order.target,
        rung=order.rung,
        telegraphed=order.telegraphed,
        cause=order.cause,
        projectiles=tuple(sorted(order.projectiles.items())),
        description=order.description,
    )


def strike_process(
    theatre: Theatre, order: StrikeOrder, strike_id: int, waves: list[Wave]
) -> Generator:
    """Fly, intercept and land one launched strike (its ``coordinated_waves``, launched now);
    then record what it achieved and tell the theatre it has landed."""
    env, weapons, rng = theatre.env, theatre.weapons, theatre.rng
    launched = failed = intercepted = leaked = 0
    interceptor_cost = 0.0
    expected_casualties = order.casualties_mean
    damage = order.damage_usd_mean + order.damage_usd_fixed
    attacker_cost = order.cost_usd
    if waves:
        first = min(w.launch_hours + w.flight.min_hours for w in waves)
        yield env.timeout(float(first - env.now))
        layers = theatre.layers_for(order.target, order.rung)
        result = intercept(
            waves,
            layers,
            telegraphed=order.telegraphed,
            rung=order.rung,
            rng=rng,
        )
        events = _interception_events(layers, strike_id, result, env.now, order.target)
        for event in events:
            theatre.record(event)
        interceptor_cost = sum(e.interceptor_cost_usd for e in events)
        launched, failed = sum(result.launched.values()), sum(result.failed.values())
        leaked = sum(result.leaked.values())
        intercepted = launched - failed - leaked
        for weapon, n in result.leaked.items():
            expected_casualties += n * weapons[weapon].casualties_per_hit
            damage += n * weapons[weapon].damage_usd_per_hit
        for weapon, n in result.launched.items():
            attacker_cost += n * weapons[weapon].unit_cost_usd
        yield env.timeout(float(max(result.last_arrival_hours - env.now, 0.0)))
    casualties = order.casualties_fixed + int(
        rng.poisson(min(expected_casualties, MAX_POISSON_MEAN))
    )
    outcome = StrikeOutcome(
        time_hours=env.now,
        strike_id=strike_id,
        attacker=order.attacker,
        target=order.target,
        rung=order.rung,
        launched=launched,
        failed=failed,
        intercepted=intercepted,
        leaked=leaked,
        casualties=casualties,
        damage_usd=damage,
        attacker_cost_usd=attacker_cost,
        defender_cost_usd=interceptor_cost,
    )
    theatre.record(outcome)
    theatre.landed(outcome)
