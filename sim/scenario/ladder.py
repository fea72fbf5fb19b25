"""The escalation ladder: seven rungs from shadow war to regional war.

Every strike in the simulator carries a rung. The highest rung a run reaches, when it first reaches
each rung, and the sequence of rungs (the path) are the simulator's main outputs.
"""

from enum import IntEnum


class Rung(IntEnum):
    """Rungs of the ladder, lowest to highest."""

    SHADOW_WAR = 0
    PROXY_EXCHANGES = 1
    THIRD_COUNTRY_STRIKES = 2
    LIMITED_DIRECT_STRIKE = 3
    MAJOR_DIRECT_STRIKE = 4
    STRATEGIC_STRIKES = 5
    REGIONAL_WAR = 6

    @property
    def label(self) -> str:
        """Short human-readable name, for tables and figures."""
        return _LABELS[self]

    @property
    def meaning(self) -> str:
        """One sentence a researcher can argue with."""
        return _MEANINGS[self]


_LABELS = {
    Rung.SHADOW_WAR: "shadow war",
    Rung.PROXY_EXCHANGES: "proxy exchanges",
    Rung.THIRD_COUNTRY_STRIKES: "third-country strikes",
    Rung.LIMITED_DIRECT_STRIKE: "limited direct strike",
    Rung.MAJOR_DIRECT_STRIKE: "major direct strike",
    Rung.STRATEGIC_STRIKES: "strategic strikes",
    Rung.REGIONAL_WAR: "regional war",
}

_MEANINGS = {
    Rung.SHADOW_WAR: "Cyber attacks, covert action and assassinations, never acknowledged.",
    Rung.PROXY_EXCHANGES: "Fire exchanged through or with proxies (rockets, drones, raids).",
    Rung.THIRD_COUNTRY_STRIKES: "Strikes on the adversary's people or assets in a third country.",
    Rung.LIMITED_DIRECT_STRIKE: "A limited, signalled direct strike on the adversary's homeland.",
    Rung.MAJOR_DIRECT_STRIKE: "A major direct strike on homeland military targets.",
    Rung.STRATEGIC_STRIKES: "Strikes on strategic targets: energy, nuclear sites, leadership.",
    Rung.REGIONAL_WAR: "A sustained multi-front campaign with allies in direct combat.",
}

LOWEST = int(min(Rung))
HIGHEST = int(max(Rung))
RUNGS: tuple[Rung, ...] = tuple(Rung)
