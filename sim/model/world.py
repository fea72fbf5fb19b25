"""One SimPy world built from a ``Scenario``: the only module that wires the pieces together.

``run_replication(scenario, replication)`` is the whole of one run: it builds the actors, their
defence layers and the relations between them, schedules the opening strikes, runs SimPy to the
horizon and returns the event log. Every random draw comes from the replication's named streams.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Generator

import simpy
from simpy.core import StopSimulation

from sim.model.actors import ActorAgent, Notice
from sim.model.campaigns import campaign, campaign_rates
from sim.model.endings import ceasefire_chance, ceasefire_hazard_per_day
from sim.model.engagement import LayerState
from sim.model.events import (
    HOURS_PER_DAY,
    Event,
    ParametersDrawn,
    RoundEnded,
    StrikeCapReached,
    StrikeOutcome,
    Unclaimed,
)
from sim.model.history import history_event, spend
from sim.model.memory import Accounts, severity
from sim.model.policies import Decision, Observation, force, means_of, package_for
from sim.model.rng import Streams
from sim.model.strikes import (
    StrikeOrder,
    Theatre,
    coordinated_waves,
    launched_event,
    strike_process,
    wave_events,
)
from sim.scenario.ladder import Rung
from sim.scenario.parameters import PosteriorSample, draw_parameters
from sim.scenario.schema import Defends, ProxyOf, Restrains, Scenario

NOT_ANSWERS = frozenset({"opening", "ordered by patron", "own campaign"})
"""Causes of strikes that answer no strike the attacker suffered (nothing was pending for them)."""


class World:
    """The actors, defences and relations of one replication, on one SimPy clock (hours)."""

    def __init__(self, scenario: Scenario, streams: Streams) -> None:
        self.scenario, self.streams = scenario, streams
        self.env = simpy.Environment()
        self.events: list[Event] = []
        self.strikes_launched = 0
        self.strike_cap_recorded = False
        shared = scenario.shared_defences
        self.layers = {
            actor_id: [
                LayerState.from_spec(spec, actor_id, shared=shared) for spec in actor.defence
            ]
            for actor_id, actor in scenario.actors.items()
        }
        self.abroad = {
            actor_id: [LayerState.from_spec(spec, actor_id, shared=shared) for spec in actor.abroad]
            for actor_id, actor in scenario.actors.items()
            if actor.abroad is not None
        }
        self.pressure: dict[str, float] = defaultdict(float)
        for relation in scenario.relations_of(Restrains):
            self.pressure[relation.restrained] = min(
                1.0, self.pressure[relation.restrained] + relation.pressure
            )
        self.patron_of = {r.proxy: r.patron for r in scenario.relations_of(ProxyOf)}
        self.proxies_of: dict[str, list[ProxyOf]] = defaultdict(list)
        for relation in scenario.relations_of(ProxyOf):
            self.proxies_of[relation.patron].append(relation)
        self.defenders: dict[str, list[Defends]] = defaultdict(list)
        for relation in scenario.relations_of(Defends):
            self.defenders[relation.protects].append(relation)
        self.remembers = {
            a: spec.policy.memory
            for a, spec in scenario.actors.items()
            if spec.policy is not None and spec.policy.memory is not None
        }
        self.accounts = Accounts(self.remembers, self.record, lambda: self.env.now)
        self.ends = scenario.ceasefire is not None or scenario.end_when_settled
        self.ended = False
        self.in_flight = self.pending_answers = self.undecided = 0
        self.highest_rung = -1
        self.opening_done = False
        self.unclaimed: set[int] = set()
        self.campaign_rates = campaign_rates(scenario)
        decided = self.decided if self.remembers or self.ends else None
        self.agents = {
            a: ActorAgent(
                self.env, a, spec, streams.get("policy", a), self.record, self.launch, decided
            )
            for a, spec in scenario.actors.items()
        }
        self._order_rng = streams.get("proxy-orders")
        self.theatre = Theatre(
            env=self.env,
            weapons=scenario.weapons,
            layers=self.layers,
            rng=streams.get("strikes"),
            record=self.record,
            landed=self.strike_landed,
            abroad=self.abroad,
        )

    def record(self, event: Event) -> None:
        """Append an event to the run's log (nothing is logged after the round ended)."""
        if not self.ended:
            self.events.append(event)

    def launch(self, order: StrikeOrder) -> None:
        """Start a strike now, unless the scenario's strike bound is reached.

        A refused launch costs the same however long the log is (a flag, not a scan of the log),
        so a run stays linear in its strikes.
        """
        answer = (order.attacker, order.target, order.rung)
        is_answer = order.cause not in NOT_ANSWERS
        self.pending_answers -= is_answer
        if self.strikes_launched >= self.scenario.max_strikes:
            if not self.strike_cap_recorded:
                self.strike_cap_recorded = True
                self.record(StrikeCapReached(self.env.now, self.scenario.max_strikes))
            if is_answer:
                self.accounts.refused(*answer)
            return
        self.strikes_launched += 1
        self.in_flight += 1
        self.highest_rung = max(self.highest_rung, order.rung)
        strike_id, now = self.strikes_launched, self.env.now
        if is_answer:
            self.accounts.launched(strike_id, *answer)
        waves = coordinated_waves(order.projectiles, self.scenario.weapons, now)
        self.record(launched_event(order, strike_id, now))
        if not order.claimed:
            self._not_claimed(strike_id, order.attacker, order.target)
        for wave in wave_events(waves, strike_id, now):
            self.record(wave)
        self.env.process(strike_process(self.theatre, order, strike_id, waves))
        if order.cause != "ordered by patron" and order.rung >= Rung.LIMITED_DIRECT_STRIKE:
            self._order_proxies(order)

    def _order_proxies(self, order: StrikeOrder) -> None:
        """A patron striking directly may order its proxies in; each proxy may obey or not. An
        order is telegraphed with the relation's ``telegraph_probability`` (a third draw, only if
        it is set) or as the option chosen says (a draw, only for a package with options)."""
        patron = self.scenario.actors[order.attacker].policy
        for relation in self.proxies_of[order.attacker]:
            ordered, obeys = self._order_rng.random(2)
            proxy = self.agents[relation.proxy]
            if (
                patron is None
                or proxy.spec.policy is None
                or ordered >= patron.proxy_order_probability
            ):
                continue
            rung = min(relation.ordered_rung, proxy.spec.policy.max_rung)
            _, package = package_for(proxy.spec.policy, rung)
            warned = relation.telegraph_probability
            telegraphed = warned is not None and bool(self._order_rng.random() < warned)
            sent = means_of(package, 0.0, telegraphed, self._order_rng)
            decision = Decision(
                respond=bool(obeys < relation.obey_probability),
                respond_probability=relation.obey_probability,
                target=order.target,
                rung=rung,
                delay_hours=0.0,
                telegraphed=sent.telegraphed,
                package=sent.means,
                projectiles=force(sent.means, proxy.arsenal, 0.0),
                option=sent.option,
                option_probability=sent.chance,
            )
            seen = Observation(actor=relation.proxy, attacker=order.attacker, rung=order.rung)
            proxy.record(decision, Notice(seen, self.strikes_launched, "ordered by patron"))
            if decision.respond:
                proxy.launch(decision, cause="ordered by patron")

    def _not_claimed(self, strike_id: int, attacker: str, target: str) -> None:
        """Log that a strike was not claimed; those it concerns weigh it by their attribution."""
        self.unclaimed.add(strike_id)
        self.record(Unclaimed(self.env.now, strike_id, attacker, target))

    def weight(self, actor: str, strike_id: int) -> float:
        """How much strike ``strike_id`` counts for ``actor``: its ``signals.attribution`` if the
        strike was not claimed (1 for an actor without signals), else 1."""
        policy = self.scenario.actors[actor].policy
        if strike_id not in self.unclaimed or policy is None or policy.signals is None:
            return 1.0
        return policy.signals.attribution

    def decided(self, actor: str, decision: Decision, notice: Notice) -> None:
        """An actor decided on a strike it suffered: an answer is pending (and what it means to
        inflict, if the actor keeps accounts); a round may be settled once the last one lets be."""
        self.undecided -= 1
        if decision.respond:
            self.pending_answers += 1
            self.accounts.decided(actor, decision.target, decision.rung)
        self._end_if_settled()

    def _end_if_settled(self) -> None:
        """End the round if it ends when settled and nothing is owed, pending, undecided or in the
        air (the opening done), and no actor keeps a campaign going."""
        if (
            self.scenario.end_when_settled
            and not self.campaign_rates
            and self.opening_done
            and self.in_flight == 0
            and self.pending_answers == 0
            and self.undecided == 0
            and self.accounts.settled()
        ):
            self._end("settled", "", 0.0)

    def _end(self, how: str, mediator: str, hazard_per_day: float) -> None:
        """Record how the round ended and stop the run at this moment."""
        self.record(
            RoundEnded(
                time_hours=self.env.now,
                how=how,
                mediator=mediator,
                highest_rung=self.highest_rung,
                costs_usd=sum(self.accounts.ledger.costs_usd.values()),
                hazard_per_day=hazard_per_day,
            )
        )
        self.ended = True
        if how != "horizon":
            stop = self.env.event()
            stop.callbacks.append(StopSimulation.callback)
            stop.succeed()

    def _ceasefire(self) -> Generator:
        """Draw a ceasefire every interval at the hazard of the round so far."""
        spec, rng = self.scenario.ceasefire, self.streams.get("ceasefire")
        pressure = max(
            (r.pressure for r in self.scenario.relations_of(Restrains) if r.ally == spec.mediator),
            default=0.0,
        )
        while True:
            yield self.env.timeout(spec.check_every_hours)
            costs = sum(self.accounts.ledger.costs_usd.values())
            hazard = ceasefire_hazard_per_day(spec, self.highest_rung, costs, pressure)
            if rng.random() < ceasefire_chance(hazard, spec.check_every_hours):
                self._end("ceasefire", spec.mediator, hazard)

    def strike_landed(self, outcome: StrikeOutcome) -> None:
        """Book what a strike did, tell those it concerns, and end the round if it is settled."""
        strike_severity = severity(
            self.scenario.severity, outcome.rung, outcome.casualties, outcome.damage_usd
        )
        self.in_flight -= 1
        self._book(outcome, strike_severity)
        self._tell(outcome, strike_severity, "")
        self._end_if_settled()

    def _book(self, outcome: StrikeOutcome, strike_severity: float) -> None:
        """Enter a strike in the accounts, if any mechanism keeps them."""
        if self.remembers or self.ends:
            costs = (outcome.attacker_cost_usd, outcome.defender_cost_usd + outcome.damage_usd)
            weight = self.weight(outcome.target, outcome.strike_id)
            self.accounts.landed(
                outcome.strike_id, outcome.attacker, outcome.target, strike_severity, costs, weight
            )

    def _tell(self, outcome: StrikeOutcome, strike_severity: float, prefix: str) -> None:
        """Tell the target what the strike did, and those who count it as suffered too: allies
        who fight for it at this rung, and its patron if it weighs strikes on its proxies (at its
        ``proxy_weight``); each of those books it in its account first."""

        def notify(actor: str, reason: str, share: float = 1.0) -> None:
            weight = share * self.weight(actor, outcome.strike_id)
            seen = Observation(
                actor=actor,
                attacker=outcome.attacker,
                rung=outcome.rung,
                casualties=outcome.casualties,
                damage_usd=outcome.damage_usd,
                intercepted_share=outcome.intercepted_share,
                ally_pressure=self.pressure[actor],
                attacker_patron=self.patron_of.get(outcome.attacker),
                severity=weight * strike_severity,
                unsettled=self.accounts.unsettled(actor, outcome.attacker),
                costs_usd=self.accounts.ledger.costs_usd[actor],
                weight=weight,
            )
            agent = self.agents[actor]
            self.undecided += agent.spec.policy is not None
            agent.inbox.put(Notice(seen, outcome.strike_id, prefix + reason))

        def stand_in(actor: str, reason: str, share: float = 1.0) -> None:
            weight = share * self.weight(actor, outcome.strike_id)
            self.accounts.suffered_as_ally(actor, outcome.attacker, weight * strike_severity)
            notify(actor, reason, share)

        notify(outcome.target, "struck")
        told = {outcome.target, outcome.attacker}
        for relation in self.defenders[outcome.target]:
            if outcome.rung >= relation.joins_combat_at_rung and relation.ally not in told:
                told.add(relation.ally)
                stand_in(relation.ally, f"ally {outcome.target} struck")
        patron = self.patron_of.get(outcome.target)
        policy = self.scenario.actors[patron].policy if patron else None
        if patron not in told and policy is not None and policy.proxy_weight is not None:
            stand_in(patron, f"proxy {outcome.target} struck", policy.proxy_weight)

    def _take_in_history(self) -> None:
        """The history as stated: logged, its projectiles and interceptors spent, booked in the
        accounts; its latest strike of each attacker on each target, unless the target struck
        back later in the history, is decided on now (``"history: "`` before its reason)."""
        history = sorted(enumerate(self.scenario.history), key=lambda item: item[1].day)
        taken = []
        for index, strike in history:
            self.record(history_event(-(index + 1), strike))
            if not strike.claimed:
                self._not_claimed(-(index + 1), strike.attacker, strike.target)
            weight = severity(
                self.scenario.severity, strike.rung, strike.casualties, strike.damage_usd
            )
            met = self.theatre.layers_for(strike.target, strike.rung)
            outcome = spend(-(index + 1), strike, self.scenario.weapons, self.agents, met)
            taken.append((strike, outcome, weight))
        for strike, outcome, weight in taken:
            self.highest_rung = max(self.highest_rung, strike.rung)
            self._book(outcome, weight)
        for at, (strike, outcome, weight) in enumerate(taken):
            pair = {strike.attacker, strike.target}
            if all({s.attacker, s.target} != pair for s, _, _ in taken[at + 1 :]):
                self._tell(outcome, weight, "history: ")

    def _opening(self) -> Generator:
        for event in sorted(self.scenario.opening, key=lambda e: e.day):
            yield self.env.timeout(event.day * HOURS_PER_DAY - self.env.now)
            self.launch(
                StrikeOrder(
                    attacker=event.attacker,
                    target=event.target,
                    rung=event.rung,
                    telegraphed=event.telegraphed,
                    cause="opening",
                    projectiles=dict(event.projectiles),
                    casualties_fixed=event.casualties,
                    damage_usd_fixed=event.damage_usd,
                    description=event.description,
                    claimed=event.claimed,
                )
            )
        self.opening_done = True

    def _resupply(self, state: LayerState) -> Generator:
        supply = state.spec.resupply
        while True:
            yield self.env.timeout(supply.every_days * HOURS_PER_DAY)
            state.stock += supply.interceptors

    def run(self) -> list[Event]:
        """Take in the history, run to the horizon (or the round's end) and return the log."""
        self._take_in_history()
        self.env.process(self._opening())
        for states in [*self.layers.values(), *self.abroad.values()]:
            for state in states:
                if state.spec.resupply:
                    self.env.process(self._resupply(state))
        if self.scenario.ceasefire is not None:
            self.env.process(self._ceasefire())
        for actor, rate in self.campaign_rates.items():
            rng = self.streams.get("campaign", actor)
            self.env.process(campaign(self.env, self.agents[actor], rate, rng, self.record))
        self.env.run(until=self.scenario.horizon_days * HOURS_PER_DAY)
        if self.ends and not self.ended:
            self._end("horizon", "", 0.0)
        return self.events


def run_replication(
    scenario: Scenario,
    replication: int,
    seed: int | None = None,
    posterior: PosteriorSample | None = None,
) -> list[Event]:
    """Run replication ``replication`` of ``scenario`` (seed from the scenario unless given).

    ``posterior`` is the scenario's posterior sample, if the caller holds it (``posterior_of``);
    otherwise it is read from the scenario's ``parameters_from`` file.
    """
    streams = Streams(scenario.seed if seed is None else seed, replication)
    scenario, drawn = draw_parameters(scenario, streams.get("parameters"), posterior)
    world = World(scenario, streams)
    if drawn:
        world.record(ParametersDrawn(0.0, tuple(drawn.items())))
    return world.run()
