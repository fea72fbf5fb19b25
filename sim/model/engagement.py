"""One layer's engagement of one strike's arrivals: the per-bin walk and its two fast paths.

``sim.model.interception`` bins a strike's arrivals and hands each layer, outer to inner, the arrivals
that are still flying; ``LayerRun`` decides which of them the layer engages and kills. It walks
coarse bins of a thirty-second to a sixteenth of the layer's engagement time, over the span its
arrivals occupy, keeping a first-in-first-out queue of arrival cohorts, integer fire channels that
free a whole number of bins later (randomised by a bin, so that on average they free when the
continuous model frees them), and the stock. Arrival and release times are taken as uniform within
their bins, so a channel freed in a cohort's last bins of waiting catches it with the probability
that it frees before the cohort's window closes: a fractional window is never rounded. Which
projectiles of a cohort a layer engages is a multivariate hypergeometric draw; the survivors of a
coarse bin are returned to fine bins by another, so an inner layer with faster channels sees the
right timing.

Two cases need no walk: a layer never short of channels or stock gives every arrival a full salvo
(one binomial per fine bin); a layer short of stock but never of channels does the same until its
stock runs out, in one pass.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

import numpy as np

from sim.scenario.schema import DefenceLayer

BINS_PER_ENGAGEMENT = 32
"""Coarse bins per engagement time: how finely a layer's walk resolves its channels' timing."""


@dataclass
class LayerState:
    """A defence layer during one run: its fixed specification and its depleting stock."""

    spec: DefenceLayer
    defended: str
    stock: int

    @classmethod
    def from_spec(cls, spec: DefenceLayer, defended: str) -> LayerState:
        return cls(spec=spec, defended=defended, stock=spec.stock)


class _Cohort:
    """Projectiles that reached a layer in one coarse bin and may still get a channel."""

    __slots__ = ("bin", "partial", "salvos", "total", "waiting")

    def __init__(self, b: int, waiting: list[int]) -> None:
        self.bin, self.waiting = b, waiting
        self.total = sum(waiting)
        self.salvos = [0] * len(waiting)
        """Engagements with a full salvo, by weapon; their kills are drawn after the walk."""
        self.partial: tuple[int, int] | None = None
        """(weapon, shots) of the one engagement the last of the stock could not fill."""


class _Queue:
    """The cohorts waiting at a layer, first in first out. Arrivals join as bin numbers and become
    cohorts only when channels reach them, so a saturated layer builds no cohorts that expire
    unserved."""

    def __init__(self, coarse: np.ndarray, reach: int) -> None:
        self.columns, self.reach = coarse.T, reach
        self.order = np.flatnonzero(coarse.any(axis=0)).tolist()
        self.held: deque[_Cohort] = deque()
        """Cohorts already built that still wait (older than every pending arrival)."""
        self.pending = self.arrived = 0
        """``order[pending:arrived]``: arrival bins that have arrived but are not yet cohorts."""
        self.cohorts: list[_Cohort] = []

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

    def pop(self) -> _Cohort:
        """The oldest waiting cohort (built now if it was pending)."""
        if self.held:
            return self.held.popleft()
        b = self.order[self.pending]
        self.pending += 1
        self.cohorts.append(_Cohort(b, self.columns[b].tolist()))
        return self.cohorts[-1]


class LayerRun:
    """One layer's pass over one strike. The per-bin walk is the hot path of the whole simulator,
    so it works on plain Python integers; kills do not change channels or stock, so they are drawn
    for the whole layer at once after the walk."""

    def __init__(
        self, state: LayerState, kill: list[float], fine_width: float, rng: np.random.Generator
    ) -> None:
        spec = state.spec
        self.state, self.rng = state, rng
        self.shots = spec.shots_per_target
        self.channels = spec.fire_channels
        self.kill_once = np.array(kill)
        self.kill_salvo = 1 - (1 - self.kill_once) ** self.shots
        fine_per_engagement = spec.engagement_minutes / 60 / fine_width
        self.factor = max(1, int(fine_per_engagement / BINS_PER_ENGAGEMENT))
        coarse_width = self.factor * fine_width
        release = spec.engagement_minutes / 60 / coarse_width
        self.release_bins = max(1, int(release))
        self.release_frac = max(0.0, release - self.release_bins)
        window = spec.engagement_window_minutes / 60 / coarse_width
        whole, frac = int(window), window - int(window)
        self.whole_window = whole
        self.reach = whole + (frac > 0)
        """The last bin, counted from its arrival bin, in which a cohort may still be engaged."""
        self.edge_catch = 1 - (1 - frac) ** 2 / 2
        self.tail_catch = frac**2 / 2
        """Chances that a channel freed in bin ``whole`` (``whole + 1``) after a cohort's arrival
        bin frees before the cohort's window closes, arrival and release uniform in their bins."""

    def run(self, fine: np.ndarray) -> tuple[list[int], list[int], list[int]]:
        """Engage ``fine`` (weapons x fine bins) in place; return killed, engaged, fired by weapon."""
        types = fine.shape[0]
        occupied = np.flatnonzero(fine.any(axis=0))
        if not len(occupied):
            return [0] * types, [0] * types, [0] * types
        lo = int(occupied[0]) // self.factor * self.factor
        span = fine[:, lo : int(occupied[-1]) + 1]
        coarse = self._coarse(span)
        if self._never_short(coarse):
            engaged = span.sum(axis=1).tolist()
            self.state.stock -= sum(engaged) * self.shots
            killed = self._kill_every_arrival(span)
            return killed, engaged, [n * self.shots for n in engaged]
        dry = self._stock_runs_out_unhurried(coarse)
        if dry is not None:
            killed, engaged, fired = self._engage_until_dry(coarse, dry)
        else:
            self.engaged, self.fired = [0] * types, [0] * types
            cohorts = self._walk(coarse)
            killed, engaged, fired = self._kill_salvos(cohorts, coarse), self.engaged, self.fired
        self._return_to_fine(span, killed, coarse)
        return killed.sum(axis=1).tolist(), engaged, fired

    def _coarse(self, span: np.ndarray) -> np.ndarray:
        """Arrivals per coarse bin (``factor`` fine bins each)."""
        if self.factor == 1:
            return span
        types, bins = span.shape
        padded = np.zeros((types, -(-bins // self.factor) * self.factor), dtype=np.int64)
        padded[:, :bins] = span
        return padded.reshape(types, -1, self.factor).sum(axis=2)

    def _never_short(self, coarse: np.ndarray) -> bool:
        """Whether every projectile finds a free channel and a full salvo on arrival: the stock
        covers every salvo and channels always suffice; then the walk would engage each
        projectile as it arrives."""
        arrivals = coarse.sum(axis=0)
        if int(arrivals.sum()) * self.shots > self.state.stock:
            return False
        return self._channels_suffice(arrivals)

    def _channels_suffice(self, arrivals: np.ndarray) -> bool:
        """Whether no span of bins as long as an engagement (plus the bin a release may slip
        into) holds more of ``arrivals`` than there are channels."""
        cumulative = np.cumsum(arrivals)
        span = self.release_bins + 2
        if len(arrivals) <= span:
            return int(cumulative[-1]) <= self.channels
        busiest = max(
            int(cumulative[span - 1]), int((cumulative[span:] - cumulative[:-span]).max())
        )
        return busiest <= self.channels

    def _stock_runs_out_unhurried(self, coarse: np.ndarray) -> int | None:
        """The coarse bin in which the stock runs out, if channels suffice for every arrival up
        to it (a layer short of interceptors, never of channels); else None.

        Then the walk would engage each arrival as it comes until that bin and nothing after it,
        which ``_engage_until_dry`` does without stepping through the bins.
        """
        arrivals = coarse.sum(axis=0)
        cumulative = np.cumsum(arrivals)
        salvos = -(-self.state.stock // self.shots)
        dry = int(np.searchsorted(cumulative, salvos))
        if dry >= len(arrivals) or not self._channels_suffice(arrivals[: dry + 1]):
            return None
        return dry

    def _engage_until_dry(
        self, coarse: np.ndarray, dry: int
    ) -> tuple[np.ndarray, list[int], list[int]]:
        """Engage every arrival before bin ``dry`` and as many in it as the stock allows, as the
        walk would (the last engagement may be a partial salvo); return killed per weapon and
        coarse bin, and engaged and fired per weapon."""
        stock, shots = self.state.stock, self.shots
        salvos = coarse[:, : dry + 1].copy()
        remaining = -(-stock // shots) - int(salvos[:, :dry].sum())
        last = salvos[:, dry]
        if remaining < last.sum():
            if np.count_nonzero(last) > 1:
                salvos[:, dry] = self.rng.multivariate_hypergeometric(last, remaining)
            else:
                salvos[:, dry] = np.minimum(last, remaining)
        engaged = salvos.sum(axis=1)
        fired = engaged * shots
        partial = stock % shots
        if partial:
            t = int(
                np.searchsorted(np.cumsum(salvos[:, dry]), self.rng.integers(remaining), "right")
            )
            salvos[t, dry] -= 1
            fired[t] -= shots - partial
        self.state.stock = 0
        killed = np.zeros_like(coarse)
        killed[:, : dry + 1] = self.rng.binomial(salvos, self.kill_salvo[:, None])
        if partial:
            killed[t, dry] += self.rng.random() < 1 - (1 - self.kill_once[t]) ** partial
        return killed, engaged.tolist(), fired.tolist()

    def _kill_every_arrival(self, span: np.ndarray) -> list[int]:
        """Kills when every arrival gets a full salvo: a binomial per occupied fine bin."""
        cells = np.nonzero(span)
        killed = self.rng.binomial(span[cells], self.kill_salvo[cells[0]])
        span[cells] -= killed
        return np.bincount(cells[0], weights=killed, minlength=span.shape[0]).astype(int).tolist()

    def _catch(self, age: int) -> float:
        """Chance that a channel freed ``age`` bins after a cohort's arrival bin can take it."""
        if age < self.whole_window:
            return 1.0
        return self.edge_catch if age == self.whole_window else self.tail_catch

    def _walk(self, coarse: np.ndarray) -> list[_Cohort]:
        """Step through the bins with work; return every cohort that met a channel.

        While cohorts wait and every channel is busy, nothing can happen until a channel frees:
        the walk jumps there.
        """
        last = coarse.shape[1] + self.reach + 1
        releases = self.releases = [0] * (last + self.release_bins + 3)
        queue, state, channels = _Queue(coarse, self.reach), self.state, self.channels
        occupied, b = 0, queue.order[0]
        while b < last and state.stock > 0:
            occupied -= releases[b]
            queue.arrive(b)
            waiting = bool(queue)
            if waiting and occupied < channels:
                occupied += self._serve(queue, b, channels - occupied)
                waiting = bool(queue)
            if not waiting:
                following = queue.next_arrival(last)
                occupied -= sum(releases[b + 1 : following])
            else:
                following = b + 1
                while occupied == channels and following < last:
                    if releases[following]:
                        break
                    following += 1
            b = following
        return queue.cohorts

    def _serve(self, queue: _Queue, b: int, free: int) -> int:
        """Give the ``free`` channels of bin ``b`` to waiting cohorts, oldest first.

        Channels free since an earlier bin take anyone; those freed in this bin take an old cohort
        only if they free before its window closes. Return the number of channels taken.
        """
        fresh = min(self.releases[b], free)
        stale, taken, kept, state = free - fresh, 0, [], self.state
        while free > taken and state.stock > 0 and queue:
            cohort = queue.pop()
            catch = self._catch(b - cohort.bin)
            usable = stale + (fresh if catch == 1.0 else int(self.rng.binomial(fresh, catch)))
            started = self._engage(cohort, usable, b)
            from_stale = min(started, stale)
            stale, fresh, taken = (
                stale - from_stale,
                fresh - (started - from_stale),
                taken + started,
            )
            if cohort.total and cohort.bin + self.reach > b:
                kept.append(cohort)
        queue.held.extendleft(reversed(kept))
        return taken

    def _engage(self, cohort: _Cohort, free: int, b: int) -> int:
        """Start engagements on ``cohort``; return the number of channels it took."""
        stock = self.state.stock
        n = min(cohort.total, free, -(-stock // self.shots))
        if n <= 0:
            return 0
        waiting = cohort.waiting
        if n == cohort.total:
            chosen = list(waiting)
        elif len(waiting) - waiting.count(0) > 1:
            chosen = self.rng.multivariate_hypergeometric(waiting, n).tolist()
        else:
            chosen = [n if w else 0 for w in waiting]
        fired = min(n * self.shots, stock)
        self.state.stock = stock - fired
        if fired < n * self.shots:
            t = int(np.searchsorted(np.cumsum(chosen), self.rng.integers(n), side="right"))
            chosen[t] -= 1
            waiting[t] -= 1
            cohort.partial = (t, fired % self.shots)
            self.engaged[t] += 1
            self.fired[t] += fired % self.shots
        for t, c in enumerate(chosen):
            if c:
                waiting[t] -= c
                cohort.salvos[t] += c
                self.engaged[t] += c
                self.fired[t] += c * self.shots
        cohort.total -= n
        later = int(self.rng.binomial(n, self.release_frac)) if self.release_frac else 0
        self.releases[b + self.release_bins] += n - later
        self.releases[b + self.release_bins + 1] += later
        return n

    def _kill_salvos(self, cohorts: list[_Cohort], coarse: np.ndarray) -> np.ndarray:
        """Kills per weapon and coarse bin from the walk's engagements."""
        killed = np.zeros_like(coarse)
        if not cohorts:
            return killed
        salvos = np.array([c.salvos for c in cohorts], dtype=np.int64)
        bins = [c.bin for c in cohorts]
        killed[:, bins] = self.rng.binomial(salvos, self.kill_salvo).T
        for cohort in cohorts:
            if cohort.partial:
                t, shots = cohort.partial
                killed[t, cohort.bin] += self.rng.random() < 1 - (1 - self.kill_once[t]) ** shots
        return killed

    def _return_to_fine(self, span: np.ndarray, killed: np.ndarray, coarse: np.ndarray) -> None:
        """Remove the killed from the fine bins they arrived in (hypergeometric within a bin)."""
        if self.factor == 1:
            span -= killed
            return
        for t, b in zip(*np.nonzero(killed), strict=True):
            cell = span[t, b * self.factor : (b + 1) * self.factor]
            if killed[t, b] == coarse[t, b]:
                cell[:] = 0
            else:
                cell -= self.rng.multivariate_hypergeometric(cell, int(killed[t, b]))
