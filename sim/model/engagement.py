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

When strikes share defences (``shared_defences``), a layer keeps the engagements of the strikes it
met (``LayerState.committed``, one entry per coarse bin, not per projectile): a later strike's walk
finds the channels they hold busy, and their engagements still to begin take a free channel before
any of its projectiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sim.model.cohorts import Cohort, Queue
from sim.scenario.schema import DefenceLayer

BINS_PER_ENGAGEMENT = 32
"""Coarse bins per engagement time: how finely a layer's walk resolves its channels' timing."""


@dataclass
class LayerState:
    """A defence layer during one run: its fixed specification, its depleting stock and, when
    strikes share defences, the engagements of the strikes it has already met."""

    spec: DefenceLayer
    defended: str
    stock: int
    committed: list[tuple[float, int]] | None = None
    """(start, hours on the run's clock; engagements begun then) of every strike this layer met,
    if strikes share its channels (``shared_defences``); None if each strike has them all."""

    @classmethod
    def from_spec(cls, spec: DefenceLayer, defended: str, *, shared: bool = False) -> LayerState:
        return cls(spec=spec, defended=defended, stock=spec.stock, committed=[] if shared else None)

    def forget_before(self, hours: float) -> None:
        """Drop the engagements that ended before ``hours`` (they hold no channel then or later)."""
        if self.committed:
            ends = self.spec.engagement_minutes / 60
            self.committed = [(t, n) for t, n in self.committed if t + ends > hours]


class LayerRun:
    """One layer's pass over one strike. The per-bin walk is the hot path of the whole simulator,
    so it works on plain Python integers; kills do not change channels or stock, so they are drawn
    for the whole layer at once after the walk."""

    def __init__(
        self,
        state: LayerState,
        kill: list[float],
        fine_width: float,
        rng: np.random.Generator,
        origin_hours: float = 0.0,
    ) -> None:
        spec = state.spec
        self.state, self.rng = state, rng
        self.fine_width, self.origin_hours = fine_width, origin_hours
        """Fine bins' width (hours) and where the first begins (hours on the run's clock)."""
        self.shots = spec.shots_per_target
        self.channels = spec.fire_channels
        self.kill_once = np.array(kill)
        self.kill_salvo = 1 - (1 - self.kill_once) ** self.shots
        fine_per_engagement = spec.engagement_minutes / 60 / fine_width
        self.factor = max(1, int(fine_per_engagement / BINS_PER_ENGAGEMENT))
        coarse_width = self.coarse_width = self.factor * fine_width
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
        self.lo_hours = self.origin_hours + lo * self.fine_width
        self.earlier = self._earlier(coarse.shape[1])
        if self._never_short(coarse):
            engaged = span.sum(axis=1).tolist()
            self.state.stock -= sum(engaged) * self.shots
            self._commit(coarse.sum(axis=0).tolist())
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

    def _earlier(self, bins: int) -> list[tuple[int, int]]:
        """Engagements of strikes this layer met before, that hold a channel after the first
        coarse bin begins: (coarse bin they began in, negative if before it; engagements), in
        the order they began. Those begun after this strike's last bin cannot block it."""
        if not self.state.committed:
            return []
        hours, lo, width = self.state.spec.engagement_minutes / 60, self.lo_hours, self.coarse_width
        last, earlier = bins + self.reach + 1, []
        for began, n in self.state.committed:
            b = math.floor((began - lo) / width)
            if began + hours > lo and b < last:
                earlier.append((b, n))
        return sorted(earlier)

    def _blocked(self, bins: int) -> np.ndarray:
        """Earlier strikes' engagements by coarse bin, those begun before the first in it: each
        takes a channel as an arrival would, so the fast paths count them with the arrivals."""
        blocked = np.zeros(bins, dtype=np.int64)
        for b, n in self.earlier:
            if b < bins:
                blocked[max(b, 0)] += n
        return blocked

    def _commit(self, begun: list[int]) -> None:
        """Add this strike's engagements, by coarse bin begun (at its middle), to the layer's
        record, if strikes share its channels."""
        if self.state.committed is not None:
            counts = np.asarray(begun)
            bins = np.flatnonzero(counts)
            began = self.lo_hours + (bins + 0.5) * self.coarse_width
            self.state.committed += zip(began.tolist(), counts[bins].tolist(), strict=True)

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
        return self._channels_suffice(arrivals + self._blocked(len(arrivals)))

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
        if dry >= len(arrivals):
            return None
        if not self._channels_suffice((arrivals + self._blocked(len(arrivals)))[: dry + 1]):
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
        self._commit(salvos.sum(axis=0).tolist())
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

    def _walk(self, coarse: np.ndarray) -> list[Cohort]:
        """Step through the bins with work; return every cohort that met a channel.

        While cohorts wait and every channel is busy, nothing can happen until a channel frees:
        the walk jumps there. Earlier strikes' engagements take a channel before any of this
        strike's projectiles: those begun before the walk hold theirs, later ones take the first
        free channel (waiting, without a window, while none is free).
        """
        last = coarse.shape[1] + self.reach + 1
        releases = self.releases = [0] * (last + self.release_bins + 3)
        self.begun = [0] * last
        queue, state, channels = Queue(coarse, self.reach), self.state, self.channels
        b = queue.order[0]
        occupied, pending = self._running_at(b)
        backlog = 0
        while b < last and state.stock > 0:
            occupied -= releases[b]
            while pending and pending[-1][0] <= b:
                backlog += pending.pop()[1]
            fresh = min(releases[b], channels - occupied)
            if backlog and occupied < channels:
                held = min(backlog, channels - occupied)
                fresh -= max(0, held - (channels - occupied - fresh))
                backlog, occupied = backlog - held, occupied + held
                self._hold(b, held)
            queue.arrive(b)
            waiting = bool(queue)
            if waiting and occupied < channels:
                occupied += self._serve(queue, b, channels - occupied, fresh)
                waiting = bool(queue)
            if not (waiting or backlog):
                following = min(queue.next_arrival(last), pending[-1][0] if pending else last)
                occupied -= sum(releases[b + 1 : following])
            else:
                following = b + 1
                while occupied >= channels and following < last:
                    if releases[following]:
                        break
                    following += 1
            b = following
        self._commit(self.begun)
        return queue.cohorts

    def _running_at(self, first: int) -> tuple[int, list[tuple[int, int]]]:
        """Channels held in bin ``first`` by earlier strikes' engagements begun before it (their
        releases scheduled), and those begun later, latest first."""
        occupied, pending = 0, []
        for b, n in self.earlier:
            if b >= first:
                pending.append((b, n))
                continue
            later = int(self.rng.binomial(n, self.release_frac)) if self.release_frac else 0
            for free, k in ((b + self.release_bins, n - later), (b + self.release_bins + 1, later)):
                if free > first and k:
                    occupied += k
                    self.releases[free] += k
        return occupied, pending[::-1]

    def _hold(self, b: int, n: int) -> None:
        """Busy ``n`` channels from bin ``b`` for the engagement time (a fraction of a bin
        longer with its probability)."""
        later = int(self.rng.binomial(n, self.release_frac)) if self.release_frac else 0
        self.releases[b + self.release_bins] += n - later
        self.releases[b + self.release_bins + 1] += later

    def _serve(self, queue: Queue, b: int, free: int, fresh: int) -> int:
        """Give the ``free`` channels of bin ``b`` to waiting cohorts, oldest first.

        Channels free since an earlier bin take anyone; the ``fresh`` ones, freed in this bin,
        take an old cohort only if they free before its window closes. Return the number of
        channels taken.
        """
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

    def _engage(self, cohort: Cohort, free: int, b: int) -> int:
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
        self.begun[b] += n
        self._hold(b, n)
        return n

    def _kill_salvos(self, cohorts: list[Cohort], coarse: np.ndarray) -> np.ndarray:
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
