"""What actors remember: the severity of strikes and the account each actor keeps per adversary.

Bookkeeping, no SimPy: the world tells ``Accounts`` (a ``Ledger`` that logs its changes) what
landed and what was decided, and reads back each actor's unsettled account and its costs so far. Severity is in rung-equivalents
(``sim.scenario.dynamics.SeverityScale``), costs in US dollars.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass

from sim.model.events import AccountChanged, Event
from sim.scenario.dynamics import Memory, SeverityScale


def severity(scale: SeverityScale, rung: int, casualties: int, damage_usd: float) -> float:
    """How bad a strike was, rung-equivalents: its rung plus the scale's weight on its harm."""
    return rung + scale.harm_weight * math.log1p(casualties + damage_usd / 1e6)


@dataclass
class Account:
    """One actor's account with one adversary, rung-equivalents of severity."""

    suffered: float = 0.0
    inflicted: float = 0.0
    pending: float = 0.0

    @property
    def unsettled(self) -> float:
        """What is still owed: suffered less inflicted less what pending answers will inflict."""
        return max(0.0, self.suffered - self.inflicted - self.pending)


class Ledger:
    """Every actor's accounts with its adversaries, and what the round has cost each actor."""

    def __init__(self) -> None:
        self.accounts: dict[tuple[str, str], Account] = defaultdict(Account)
        self.costs_usd: dict[str, float] = defaultdict(float)

    def account(self, actor: str, adversary: str) -> Account:
        """The account ``actor`` keeps with ``adversary`` (empty until something happens)."""
        return self.accounts[actor, adversary]

    def landed(
        self,
        attacker: str,
        target: str,
        strike_severity: float,
        attacker_usd: float,
        target_usd: float,
        weight: float = 1.0,
    ) -> None:
        """A strike landed: the target suffered its severity (times ``weight``, its attribution
        of an unclaimed strike) and the attacker inflicted it in full; each pays its costs (the
        attacker its means, the target its defence and its damage)."""
        self.accounts[target, attacker].suffered += weight * strike_severity
        self.accounts[attacker, target].inflicted += strike_severity
        self.costs_usd[attacker] += attacker_usd
        self.costs_usd[target] += target_usd

    def suffer(self, actor: str, adversary: str, strike_severity: float) -> None:
        """``actor`` counts a strike by ``adversary`` on an ally it fights for as suffered."""
        self.accounts[actor, adversary].suffered += strike_severity

    def commit(self, actor: str, adversary: str, rung: int) -> None:
        """``actor`` decided to answer ``adversary`` at ``rung``: that much is pending."""
        self.accounts[actor, adversary].pending += rung

    def release(self, actor: str, adversary: str, rung: int) -> None:
        """A pending answer left (it is counted as inflicted when it lands) or was refused."""
        account = self.accounts[actor, adversary]
        account.pending = max(0.0, account.pending - rung)


class Accounts:
    """The run's ledger as the world keeps it: what each answer leaves pending, what each strike
    books when it lands, and an ``AccountChanged`` record for every change of an account kept by
    an actor with a memory. ``clock`` gives the run's time (hours), ``record`` logs a record."""

    def __init__(
        self,
        memories: dict[str, Memory],
        record: Callable[[Event], None],
        clock: Callable[[], float],
    ) -> None:
        self.ledger, self.memories = Ledger(), memories
        self._record, self._clock = record, clock
        self._answer_of: dict[int, tuple[str, str, int]] = {}

    def unsettled(self, actor: str, adversary: str) -> float | None:
        """What ``actor`` is owed by ``adversary`` (None if it keeps no memory)."""
        if actor not in self.memories:
            return None
        return self.ledger.account(actor, adversary).unsettled

    def settled(self) -> bool:
        """No actor that keeps a memory is owed more than its tolerance."""
        return all(
            account.unsettled <= self.memories[actor].settle_tolerance
            for (actor, _), account in self.ledger.accounts.items()
            if actor in self.memories
        )

    def log(self, actor: str, adversary: str, closed: bool = False) -> None:
        """Record ``actor``'s account with ``adversary`` as it now stands (if it keeps one)."""
        memory = self.memories.get(actor)
        if memory is None:
            return
        account = self.ledger.account(actor, adversary)
        self._record(
            AccountChanged(
                time_hours=self._clock(),
                actor=actor,
                adversary=adversary,
                suffered=account.suffered,
                inflicted=account.inflicted,
                pending=account.pending,
                unsettled=account.unsettled,
                settled=account.unsettled <= memory.settle_tolerance,
                closed=closed,
            )
        )

    def decided(self, actor: str, target: str, rung: int) -> None:
        """``actor`` decided to answer ``target`` at ``rung``: that much is pending."""
        if actor in self.memories:
            self.ledger.commit(actor, target, rung)
            self.log(actor, target)

    def launched(self, strike_id: int, attacker: str, target: str, rung: int) -> None:
        """An answer left: what it is pending for stays so until it lands."""
        if attacker in self.memories:
            self._answer_of[strike_id] = (attacker, target, rung)

    def refused(self, attacker: str, target: str, rung: int) -> None:
        """An answer was not launched (the strike cap): nothing is pending for it any more."""
        if attacker in self.memories:
            self.ledger.release(attacker, target, rung)
            self.log(attacker, target)

    def suffered_as_ally(self, ally: str, attacker: str, strike_severity: float) -> None:
        """An ally that fights for the target (or a patron for its proxy) counts the strike as
        suffered (``strike_severity`` already weighed by its attribution or proxy weight)."""
        if ally in self.memories:
            self.ledger.suffer(ally, attacker, strike_severity)
            self.log(ally, attacker)

    def landed(
        self,
        strike_id: int,
        attacker: str,
        target: str,
        strike_severity: float,
        costs_usd: tuple[float, float],
        weight: float = 1.0,
    ) -> None:
        """A strike landed: the target suffered it (times ``weight``, its attribution of an
        unclaimed strike), the attacker inflicted it (its pending answer, if this was one, is now
        inflicted), and each paid its costs (attacker's, target's). An answer that brings what
        the attacker is owed within its tolerance closes the matter."""
        answer = self._answer_of.pop(strike_id, None)
        if answer is not None:
            self.ledger.release(*answer)
        account = self.ledger.account(attacker, target)
        owed_before = account.suffered - account.inflicted
        self.ledger.landed(attacker, target, strike_severity, *costs_usd, weight)
        memory = self.memories.get(attacker)
        owed_after = account.suffered - account.inflicted
        closed = memory is not None and owed_after <= memory.settle_tolerance < owed_before
        self.log(target, attacker)
        self.log(attacker, target, closed)
