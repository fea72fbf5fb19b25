"""An actor's state (its arsenal) and its SimPy decision process.

Each actor with a policy waits on an inbox of observations. For each one it decides, records the
decision with the numbers behind it, and, if it responds, waits the chosen delay and strikes. An
actor can have several responses pending at once: each strike it suffers is answered on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Generator
from dataclasses import dataclass

import numpy as np
import simpy

from sim.model.events import DecisionMade, Event, PackageChosen
from sim.model.policies import Decision, Observation, decide
from sim.model.strikes import StrikeOrder
from sim.scenario.schema import Actor


@dataclass(frozen=True)
class Notice:
    """An observation delivered to an actor, with the strike that caused it and why it matters."""

    seen: Observation
    strike_id: int
    reason: str


class ActorAgent:
    """One actor in one run: its arsenal, its inbox and its decision process.

    It knows nothing of the world that holds it: it is given the clock, its own random stream,
    a ``record`` callback for the event log, a ``launch`` callback that starts a strike and, if
    the world keeps accounts, a ``decided`` callback told of every decision it takes.
    """

    def __init__(
        self,
        env: simpy.Environment,
        actor_id: str,
        spec: Actor,
        rng: np.random.Generator,
        record: Callable[[Event], None],
        launch: Callable[[StrikeOrder], None],
        decided: Callable[[str, Decision, Notice], None] | None = None,
    ) -> None:
        self.env, self.actor_id, self.spec, self.rng = env, actor_id, spec, rng
        self._record, self._launch, self._decided = record, launch, decided
        self.arsenal: dict[str, int] = dict(spec.arsenal)
        self.inbox: simpy.Store = simpy.Store(env)
        if spec.policy is not None:
            env.process(self._decide_forever())

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
            if self._decided is not None:
                self._decided(self.actor_id, decision, notice)
            if decision.respond:
                self.env.process(self._respond_later(decision, notice.reason))

    def record(self, decision: Decision, notice: Notice) -> None:
        """Log a decision with every number that drove it (and the package option it chose)."""
        seen = notice.seen
        self._record(
            DecisionMade(
                time_hours=self.env.now,
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
        if decision.option:
            self._record(
                PackageChosen(
                    time_hours=self.env.now,
                    actor=self.actor_id,
                    trigger_strike_id=notice.strike_id,
                    rung=decision.rung,
                    package=decision.option,
                    probability=decision.option_probability,
                )
            )

    def _respond_later(self, decision: Decision, reason: str) -> Generator:
        yield self.env.timeout(decision.delay_hours)
        self.launch(decision, cause=reason)

    def launch(self, decision: Decision, cause: str) -> None:
        """Strike now with what the arsenal still holds; the arsenal is drawn down."""
        projectiles = {w: min(n, self.arsenal.get(w, 0)) for w, n in decision.projectiles.items()}
        for weapon, n in projectiles.items():
            self.arsenal[weapon] -= n
        package = decision.package
        self._launch(
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
                claimed=decision.claimed,
            )
        )
