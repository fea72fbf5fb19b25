"""An actor's state (its arsenal) and its SimPy decision process.

Each actor with a policy waits on an inbox of observations. For each one it decides, records the
decision with the numbers behind it, and, if it responds, waits the chosen delay and strikes. An
actor can have several responses pending at once: each strike it suffers is answered on its own.
"""

from __future__ import annotations

from collections.abc import Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING

import simpy

from sim.events import DecisionMade
from sim.policies import Decision, Observation, decide
from sim.schema import Actor
from sim.strikes import StrikeOrder

if TYPE_CHECKING:
    from sim.world import World


@dataclass(frozen=True)
class Notice:
    """An observation delivered to an actor, with the strike that caused it and why it matters."""

    seen: Observation
    strike_id: int
    reason: str


class ActorAgent:
    """One actor in one run: its arsenal, its inbox and its decision process."""

    def __init__(self, world: World, actor_id: str, spec: Actor) -> None:
        self.world, self.actor_id, self.spec = world, actor_id, spec
        self.arsenal: dict[str, int] = dict(spec.arsenal)
        self.inbox: simpy.Store = simpy.Store(world.env)
        self.rng = world.streams.get("policy", actor_id)
        if spec.policy is not None:
            world.env.process(self._decide_forever())

    def _decide_forever(self) -> Generator:
        while True:
            notice: Notice = yield self.inbox.get()
            decision = decide(
                self.spec.policy,
                notice.seen,
                domestic_pressure=self.spec.policy.domestic_pressure,
                arsenal=self.arsenal,
                rng=self.rng,
            )
            self.record(decision, notice)
            if decision.respond:
                self.world.env.process(self._respond_later(decision, notice.reason))

    def record(self, decision: Decision, notice: Notice) -> None:
        """Log a decision with every number that drove it."""
        seen = notice.seen
        self.world.record(
            DecisionMade(
                time_hours=self.world.env.now,
                actor=self.actor_id,
                trigger_strike_id=notice.strike_id,
                reason=notice.reason,
                attacker=seen.attacker,
                observed_rung=seen.rung,
                casualties=seen.casualties,
                damage_usd=seen.damage_usd,
                intercepted_share=seen.intercepted_share,
                ally_pressure=seen.ally_pressure,
                domestic_pressure=self.spec.policy.domestic_pressure,
                respond_probability=decision.respond_probability,
                respond=decision.respond,
                target=decision.target,
                rung=decision.rung,
                delay_hours=decision.delay_hours,
                telegraphed=decision.telegraphed,
                projectiles=tuple(sorted(decision.projectiles.items())),
            )
        )

    def _respond_later(self, decision: Decision, reason: str) -> Generator:
        yield self.world.env.timeout(decision.delay_hours)
        self.launch(decision, cause=reason)

    def launch(self, decision: Decision, cause: str) -> None:
        """Strike now with what the arsenal still holds; the arsenal is drawn down."""
        projectiles = {w: min(n, self.arsenal.get(w, 0)) for w, n in decision.projectiles.items()}
        for weapon, n in projectiles.items():
            self.arsenal[weapon] -= n
        package = decision.package
        self.world.launch(
            StrikeOrder(
                attacker=self.actor_id,
                target=decision.target,
                rung=decision.rung,
                telegraphed=decision.telegraphed,
                cause=cause,
                projectiles=projectiles,
                casualties_mean=package.casualties_mean if package else 0.0,
                damage_usd_mean=package.damage_usd_mean if package else 0.0,
                cost_usd=package.cost_usd if package else 0.0,
            )
        )
