"""What actors remember: the severity of strikes and the account each actor keeps per adversary.

Pure bookkeeping, no SimPy: the world tells a ``Ledger`` what landed and what was decided, and reads
back each actor's unsettled account and its costs so far. Severity is in rung-equivalents
(``sim.scenario.dynamics.SeverityScale``), costs in US dollars.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from sim.scenario.dynamics import SeverityScale


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
    ) -> None:
        """A strike landed: the target suffered its severity and the attacker inflicted it; each
        pays its costs (the attacker its means, the target its defence and its damage)."""
        self.accounts[target, attacker].suffered += strike_severity
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
