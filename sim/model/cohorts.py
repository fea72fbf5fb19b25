"""The queue of arrival cohorts at one layer during ``sim.model.engagement.LayerRun``'s walk.

A cohort is the projectiles that reached the layer in one coarse bin; it waits, first in first
out, until a fire channel takes some of them or its engagement window closes.
"""

from __future__ import annotations

from collections import deque

import numpy as np


class Cohort:
    """Projectiles that reached a layer in one coarse bin and may still get a channel."""

    __slots__ = ("bin", "partial", "salvos", "total", "waiting")

    def __init__(self, b: int, waiting: list[int]) -> None:
        self.bin, self.waiting = b, waiting
        self.total = sum(waiting)
        self.salvos = [0] * len(waiting)
        """Engagements with a full salvo, by weapon; their kills are drawn after the walk."""
        self.partial: tuple[int, int] | None = None
        """(weapon, shots) of the one engagement the last of the stock could not fill."""


class Queue:
    """The cohorts waiting at a layer, first in first out. Arrivals join as bin numbers and become
    cohorts only when channels reach them, so a saturated layer builds no cohorts that expire
    unserved."""

    def __init__(self, coarse: np.ndarray, reach: int) -> None:
        self.columns, self.reach = coarse.T, reach
        self.order = np.flatnonzero(coarse.any(axis=0)).tolist()
        self.held: deque[Cohort] = deque()
        """Cohorts already built that still wait (older than every pending arrival)."""
        self.pending = self.arrived = 0
        """``order[pending:arrived]``: arrival bins that have arrived but are not yet cohorts."""
        self.cohorts: list[Cohort] = []

    def arrive(self, b: int) -> None:
        """Move the clock to bin ``b``: take its arrivals, drop whoever's window has closed."""
        order, reach = self.order, self.reach
        while self.arrived < len(order) and order[self.arrived] <= b:
            self.arrived += 1
        while self.held and self.held[0].bin + reach < b:
            self.held.popleft()
        if not self.held:
            while self.pending < self.arrived and order[self.pending] + reach < b:
                self.pending += 1

    def __bool__(self) -> bool:
        return bool(self.held) or self.pending < self.arrived

    def next_arrival(self, default: int) -> int:
        return self.order[self.arrived] if self.arrived < len(self.order) else default

    def pop(self) -> Cohort:
        """The oldest waiting cohort (built now if it was pending)."""
        if self.held:
            return self.held.popleft()
        b = self.order[self.pending]
        self.pending += 1
        self.cohorts.append(Cohort(b, self.columns[b].tolist()))
        return self.cohorts[-1]
