"""Campaigns actors keep up on their own (issue 14 item 7): low-rung strikes at random times.

A campaign is a Poisson process on its own stream (``campaign``, the actor): the time to its next
strike is exponential with mean ``24 / rate`` hours. Its strikes answer nothing (cause ``own
campaign``), so nothing is pending for them; their targets may answer them as any strike.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Generator

import numpy as np
import simpy

from sim.model.actors import ActorAgent
from sim.model.events import Event, PackageChosen
from sim.model.policies import Decision, force, means_of, package_for
from sim.scenario.schema import ProxyOf, Scenario

CAUSE = "own campaign"


def campaign_rates(scenario: Scenario) -> dict[str, float]:
    """Strikes per day of each actor's campaign: its ``rate_per_day`` times the
    ``campaign_multiplier`` of every relation in which it is a proxy; campaigns at rate 0 left
    out (they never strike)."""
    rates = {}
    for actor_id, actor in scenario.actors.items():
        spec = actor.policy.campaign if actor.policy else None
        if spec is None:
            continue
        multipliers = [
            r.campaign_multiplier for r in scenario.relations_of(ProxyOf) if r.proxy == actor_id
        ]
        rate = spec.rate_per_day * math.prod(multipliers)
        if rate > 0:
            rates[actor_id] = rate
    return rates


def campaign(
    env: simpy.Environment,
    agent: ActorAgent,
    rate_per_day: float,
    rng: np.random.Generator,
    record: Callable[[Event], None],
) -> Generator:
    """Strike the campaign's target at its rung whenever the Poisson clock rings. Each strike
    draws its waiting time, then (only if the package has options) its option, then (only if
    the actor has signals) whether it is claimed; it is unannounced unless its option says so,
    at the campaign's rung with the package the actor has for it (``package_for``)."""
    policy = agent.spec.policy
    spec = policy.campaign
    while True:
        yield env.timeout(rng.exponential(24.0 / rate_per_day))
        _, package = package_for(policy, spec.rung)
        sent = means_of(package, 0.0, False, rng)
        if sent.option:
            record(PackageChosen(env.now, agent.actor_id, 0, spec.rung, sent.option, sent.chance))
        signals = policy.signals
        decision = Decision(
            respond=True,
            respond_probability=1.0,
            target=spec.target,
            rung=spec.rung,
            delay_hours=0.0,
            telegraphed=sent.telegraphed,
            projectiles=force(sent.means, agent.arsenal, 0.0),
            package=sent.means,
            claimed=signals is None or bool(rng.random() < signals.claim_probability),
        )
        agent.launch(decision, cause=CAUSE)
