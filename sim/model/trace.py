"""One replication as a timeline a person can follow: strikes and their waves, interceptions,
decisions, outcomes.

The text depends only on the event log, which depends only on (scenario, seed, replication): the
same inputs give the same trace, byte for byte.
"""

from __future__ import annotations

from sim.model.events import (
    HOURS_PER_DAY,
    AccountChanged,
    DecisionMade,
    Event,
    HistoryStruck,
    Interception,
    PackageChosen,
    ParametersDrawn,
    RoundEnded,
    StrikeCapReached,
    StrikeLaunched,
    StrikeOutcome,
    Unclaimed,
    WaveLaunched,
)
from sim.scenario.ladder import Rung


def _money(usd: float) -> str:
    for unit, size in (("bn", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(usd) >= size:
            return f"${usd / size:.2f}{unit}"
    return f"${usd:.0f}"


def _mix(projectiles: tuple[tuple[str, int], ...]) -> str:
    return ", ".join(f"{n} {w}" for w, n in projectiles if n) or "no projectiles"


def _line(event: Event) -> str | None:
    day = f"day {event.time_hours / HOURS_PER_DAY:7.2f}"
    if isinstance(event, StrikeLaunched):
        note = f" - {event.description}" if event.description else ""
        signal = ", telegraphed" if event.telegraphed else ""
        return (
            f"{day}  STRIKE #{event.strike_id} {event.attacker} -> {event.target} at rung "
            f"{event.rung} ({Rung(event.rung).label}), {event.cause}{signal}: "
            f"{_mix(event.projectiles)}{note}"
        )
    if isinstance(event, HistoryStruck):
        note = f" - {event.description}" if event.description else ""
        flown = _mix(event.projectiles)
        if event.projectiles:
            flown += f", {event.failed} failed, {event.intercepted} intercepted"
        return (
            f"{day}  HISTORY #{event.strike_id} (day {event.launch_hours / HOURS_PER_DAY:.2f}) "
            f"{event.attacker} -> {event.target} at rung {event.rung} ({Rung(event.rung).label}):"
            f" {flown}; {event.casualties} casualties, damage {_money(event.damage_usd)}{note}"
        )
    if isinstance(event, WaveLaunched):
        start = event.time_hours
        return (
            f"{day}    wave of #{event.strike_id}: {event.count} {event.weapon}, leaves at "
            f"+{event.launch_hours - start:.2f} h, arrives +{event.first_arrival_hours - start:.2f}"
            f" to +{event.last_arrival_hours - start:.2f} h"
        )
    if isinstance(event, Interception):
        if not event.entered:
            return None
        status = "" if event.active else " (not engaged: inactive for this strike)"
        return (
            f"{day}      #{event.strike_id} {event.layer} [{event.operator}] vs {event.weapon}: "
            f"{event.entered} in, {event.engaged} engaged, {event.intercepted} intercepted, "
            f"{event.interceptors_fired} interceptors ({_money(event.interceptor_cost_usd)}), "
            f"stock left {event.stock_after}{status}"
        )
    if isinstance(event, StrikeOutcome):
        return (
            f"{day}    outcome of #{event.strike_id}: {event.launched} launched, "
            f"{event.failed} failed, {event.intercepted} intercepted, {event.leaked} leaked; "
            f"{event.casualties} casualties, damage {_money(event.damage_usd)}; cost to "
            f"attacker {_money(event.attacker_cost_usd)}, to defenders "
            f"{_money(event.defender_cost_usd)}"
        )
    if isinstance(event, DecisionMade):
        drivers = (
            f"saw rung {event.observed_rung} from {event.attacker}, {event.casualties} "
            f"casualties, damage {_money(event.damage_usd)}, "
            f"{event.intercepted_share:.0%} intercepted, ally pressure "
            f"{event.ally_pressure:.2f}, domestic pressure {event.domestic_pressure:.2f}"
        )
        if not event.respond:
            verdict = "holds back"
        else:
            signal = ", telegraphed" if event.telegraphed else ""
            verdict = (
                f"RESPONDS against {event.target} at rung {event.rung} in "
                f"{event.delay_hours / HOURS_PER_DAY:.1f} days{signal}: "
                f"{_mix(event.projectiles)}"
            )
        return (
            f"{day}  DECISION {event.actor} on #{event.trigger_strike_id} ({event.reason}): "
            f"p(respond)={event.respond_probability:.3f} -> {verdict} [{drivers}]"
        )
    if isinstance(event, ParametersDrawn):
        values = ", ".join(f"{path} = {value:.3g}" for path, value in event.values)
        return f"{day}  PARAMETERS drawn from the posterior: {values}"
    if isinstance(event, AccountChanged):
        state = (
            "CLOSED: the matter is settled"
            if event.closed
            else ("settled" if event.settled else f"owes {event.unsettled:.2f}")
        )
        return (
            f"{day}    account of {event.actor} with {event.adversary}: suffered "
            f"{event.suffered:.2f}, inflicted {event.inflicted:.2f}, pending {event.pending:.2f}"
            f" -> {state}"
        )
    if isinstance(event, RoundEnded):
        if event.how == "horizon":
            return f"{day}  THE ROUND DID NOT END before the horizon"
        how = f"by a ceasefire brokered by {event.mediator} (hazard {event.hazard_per_day:.3g}/day)"
        return (
            f"{day}  THE ROUND ENDED "
            f"{how if event.how == 'ceasefire' else 'settled: nothing owed, no answer pending'}"
            f"; highest rung {event.highest_rung}, costs so far {_money(event.costs_usd)}"
        )
    if isinstance(event, PackageChosen):
        return (
            f"{day}    {event.actor} sends package {event.package} (chance "
            f"{event.probability:.2f}) at rung {event.rung}"
        )
    if isinstance(event, Unclaimed):
        return (
            f"{day}    #{event.strike_id} is NOT CLAIMED by {event.attacker}: {event.target} "
            f"weighs it by its attribution"
        )
    if isinstance(event, StrikeCapReached):
        return f"{day}  STRIKE CAP of {event.max_strikes} reached; no further strikes launched"
    return None


def format_trace(events: list[Event], title: str) -> str:
    """The whole timeline as text, one event a line, ending with a newline."""
    lines = [title, "=" * len(title)]
    lines += [text for text in map(_line, events) if text is not None]
    return "\n".join(lines) + "\n"
