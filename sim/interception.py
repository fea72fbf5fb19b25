"""Layered interception, aggregated by time bins: cost grows with bins and layers, not projectiles.

The model it approximates (the per-projectile reference in ``tests/reference_model.py`` runs it
literally, one SimPy process per projectile): each projectile arrives at a continuous time; at each
layer, outer to inner, it waits up to the layer's engagement window for a free fire channel (first
come, first served); if it gets one and stock remains, the layer fires ``shots_per_target``
interceptors (fewer when the stock runs out), the channel is busy for the engagement time, and each
shot kills with the layer's per-shot probability. A projectile no layer kills is a leaker.

The aggregation: arrival counts per fine time bin are one multinomial draw per wave (exact for
independent flight times). Each layer then walks coarse bins of about half its engagement time,
keeping a first-in-first-out queue of arrival cohorts that expire after the window, integer fire
channels that free a whole number of bins later (randomised by a bin, so that on average they free
when the continuous model frees them), and the stock. Which projectiles of a cohort a layer engages
is a multivariate hypergeometric draw; the survivors of a coarse bin are returned to fine bins by
another, so an inner layer with faster channels sees the right timing.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sim.schema import DefenceLayer, FlightTime

BINS_PER_ENGAGEMENT = 16
"""Coarse bins per engagement time: a channel frees about two bins after it starts firing."""
MAX_FINE_BINS = 4096
"""Upper bound on fine bins per strike, so a long drone wave cannot make a strike expensive."""


def triangular_cdf(hours: np.ndarray, flight: FlightTime) -> np.ndarray:
    """CDF of the triangular flight-time distribution at ``hours`` (vectorised)."""
    a, c, b = flight.min_hours, flight.mode_hours, flight.max_hours
    x = np.clip(hours, a, b)
    if b == a:
        return (hours >= a).astype(float)
    left = (x - a) ** 2 / ((b - a) * (c - a)) if c > a else np.zeros_like(x)
    right = 1.0 - (b - x) ** 2 / ((b - a) * (b - c)) if b > c else np.ones_like(x)
    return np.where(x <= c, left, right)


@dataclass
class LayerState:
    """A defence layer during one run: its fixed specification and its depleting stock."""

    spec: DefenceLayer
    defended: str
    stock: int

    @classmethod
    def from_spec(cls, spec: DefenceLayer, defended: str) -> LayerState:
        return cls(spec=spec, defended=defended, stock=spec.stock)


@dataclass
class LayerOutcome:
    """What one layer did in one strike, by weapon (projectiles) and in interceptors fired."""

    layer: str
    operator: str
    entered: dict[str, int]
    engaged: dict[str, int]
    killed: dict[str, int]
    interceptors_fired: dict[str, int]
    stock_after: int
    active: bool


@dataclass
class Wave:
    """Projectiles of one weapon launched together at ``launch_hours`` (simulation clock)."""

    weapon: str
    count: int
    launch_hours: float
    flight: FlightTime
    failure_probability: float


@dataclass
class InterceptionOutcome:
    """The result of one strike's flight through the defences."""

    weapons: list[str]
    launched: dict[str, int]
    failed: dict[str, int]
    leaked: dict[str, int]
    layers: list[LayerOutcome] = field(default_factory=list)
    first_arrival_hours: float = 0.0
    last_arrival_hours: float = 0.0


def _arrival_grid(waves: list[Wave], layers: list[LayerState]) -> tuple[float, float, int]:
    """Start time, fine bin width (hours) and number of fine bins covering all arrivals."""
    start = min(w.launch_hours + w.flight.min_hours for w in waves)
    end = max(w.launch_hours + w.flight.max_hours for w in waves)
    span = max(end - start, 1e-9)
    widths = [s.spec.engagement_minutes / 60 / BINS_PER_ENGAGEMENT for s in layers] or [span]
    width = max(min(widths), span / MAX_FINE_BINS)
    return start, width, int(np.ceil(span / width)) + 1


def _draw_arrivals(
    waves: list[Wave],
    flying: list[int],
    start: float,
    width: float,
    bins: int,
    rng: np.random.Generator,
) -> np.ndarray:
    """Arrival counts, one row per wave, one column per fine bin (a multinomial per wave)."""
    arrivals = np.zeros((len(waves), bins), dtype=np.int64)
    edges = start + width * np.arange(bins + 1)
    for row, (wave, n) in enumerate(zip(waves, flying, strict=True)):
        if n:
            cdf = triangular_cdf(edges - wave.launch_hours, wave.flight)
            probabilities = np.diff(cdf)
            probabilities[0] += cdf[0]
            probabilities[-1] += 1.0 - cdf[-1]
            arrivals[row] = rng.multinomial(n, probabilities / probabilities.sum())
    return arrivals


class _Cohort:
    """Projectiles that reached a layer in one coarse bin and may still get a channel."""

    __slots__ = ("bin", "deadline", "salvos", "total", "waiting")

    def __init__(self, b: int, deadline: int, waiting: list[int]) -> None:
        self.bin, self.deadline, self.waiting = b, deadline, waiting
        self.total = sum(waiting)
        self.salvos = [0] * len(waiting)
        """Engagements with a full salvo, by weapon; their kills are drawn after the walk."""


class _LayerRun:
    """One layer's pass over one strike. The per-bin loop is the hot path of the whole simulator,
    so it works on plain Python integers; kills do not change channels or stock, so they are drawn
    for the whole layer at once after the walk."""

    def __init__(
        self, state: LayerState, kill: list[float], fine_width: float, rng: np.random.Generator
    ) -> None:
        spec = state.spec
        self.state, self.rng = state, rng
        self.shots = spec.shots_per_target
        self.channels = spec.fire_channels
        self.kill_once = kill
        self.kill_salvo = np.array([1 - (1 - p) ** self.shots for p in kill])[:, None]
        fine_per_engagement = spec.engagement_minutes / 60 / fine_width
        self.factor = max(1, int(fine_per_engagement / BINS_PER_ENGAGEMENT))
        coarse_width = self.factor * fine_width
        release = spec.engagement_minutes / 60 / coarse_width
        self.release_bins = max(1, int(release))
        self.release_frac = max(0.0, release - self.release_bins)
        window = spec.engagement_window_minutes / 60 / coarse_width
        self.window = round(window)
        self.catch_probability = 1.0 if window >= 1 else 0.5 + window - window**2 / 2
        """Chance that a channel freed during a bin can take a projectile arriving in that bin:
        it frees before the arrival, or after it but within the arrival's engagement window."""

    def run(self, fine: np.ndarray) -> tuple[list[int], list[int], list[int]]:
        """Engage ``fine`` (weapons x fine bins) in place; return killed, engaged, fired by weapon."""
        types, bins = fine.shape
        coarse_bins = -(-bins // self.factor)
        if self.factor == 1:
            coarse = fine.copy()
        else:
            padded = np.zeros((types, coarse_bins * self.factor), dtype=np.int64)
            padded[:, :bins] = fine
            coarse = padded.reshape(types, coarse_bins, self.factor).sum(axis=2)
        self.engaged, self.fired = [0] * types, [0] * types
        self.partial_salvos: list[tuple[int, int, int]] = []
        if self._never_short(coarse):
            salvos = coarse
            self.engaged = coarse.sum(axis=1).tolist()
            self.fired = [n * self.shots for n in self.engaged]
            self.state.stock -= sum(self.fired)
        else:
            salvos = np.zeros_like(coarse)
            for cohort in self._walk(coarse, coarse_bins + self.window + 1):
                salvos[:, cohort.bin] = cohort.salvos
        killed = self.rng.binomial(salvos, self.kill_salvo)
        for t, b, shots in self.partial_salvos:
            killed[t, b] += self.rng.random() < 1 - (1 - self.kill_once[t]) ** shots
        self._return_to_fine(fine, killed, coarse)
        return killed.sum(axis=1).tolist(), self.engaged, self.fired

    def _never_short(self, coarse: np.ndarray) -> bool:
        """Whether every projectile finds a free channel and a full salvo on arrival.

        True when no span of bins as long as an engagement (plus the bin a release may slip into)
        holds more arrivals than there are channels, and the stock covers every salvo: then the walk
        would engage each projectile as it arrives, and the whole layer is one vectorised draw.
        """
        arrivals = coarse.sum(axis=0)
        if int(arrivals.sum()) * self.shots > self.state.stock:
            return False
        span = np.ones(self.release_bins + 2, dtype=np.int64)
        return int(np.convolve(arrivals, span)[: len(arrivals)].max()) <= self.channels

    def _walk(self, coarse: np.ndarray, last: int) -> list[_Cohort]:
        """Step through the bins with work; return every cohort that met the layer.

        While cohorts wait and every channel is busy, nothing can happen until a channel frees:
        the walk jumps there, queuing only the arrivals that will still be waiting.
        """
        self.releases = [0] * (last + self.release_bins + 3)
        order = np.flatnonzero(coarse.any(axis=0)).tolist()
        cohorts: list[_Cohort] = []
        queue: deque[_Cohort] = deque()
        occupied, next_arrival = 0, 0

        def arrive(b: int) -> _Cohort:
            cohort = _Cohort(b, b + self.window, coarse[:, b].tolist())
            cohorts.append(cohort)
            return cohort

        b = order[0] if order else last
        while b < last and self.state.stock > 0:
            fresh = self.releases[b]
            occupied -= fresh
            while queue and queue[0].deadline < b:
                queue.popleft()
            free = self.channels - occupied
            while queue and free > 0 and self.state.stock > 0:
                head = queue[0]
                usable = free
                if head.deadline == b:
                    late = min(fresh, free)
                    usable = free - late + int(self.rng.binomial(late, 0.5))
                started = self._engage(head, usable, b) if usable else 0
                free, occupied, fresh = free - started, occupied + started, max(0, fresh - started)
                if head.deadline == b or head.total == 0:
                    queue.popleft()
            if next_arrival < len(order) and order[next_arrival] == b:
                cohort = arrive(b)
                next_arrival += 1
                late = min(fresh, free)
                usable = free - late
                if late:
                    usable += int(self.rng.binomial(late, self.catch_probability))
                if usable > 0:
                    occupied += self._engage(cohort, usable, b)
                if cohort.total:
                    queue.append(cohort)
            if not queue:
                following = order[next_arrival] if next_arrival < len(order) else last
                occupied -= sum(self.releases[b + 1 : following])
            elif occupied < self.channels:
                following = b + 1
            else:
                following = b + 1
                while following < last and not self.releases[following]:
                    following += 1
                while next_arrival < len(order) and order[next_arrival] < following:
                    if order[next_arrival] + self.window >= following:
                        queue.append(arrive(order[next_arrival]))
                    next_arrival += 1
            b = following
        return cohorts

    def _choose(self, waiting: list[int], n: int) -> list[int]:
        """Which ``n`` (fewer than all) of the waiting projectiles are engaged: a draw by type."""
        mixed = sum(1 for w in waiting if w) > 1
        if not mixed:
            return [n if w else 0 for w in waiting]
        return self.rng.multivariate_hypergeometric(waiting, n).tolist()

    def _engage(self, cohort: _Cohort, free: int, b: int) -> int:
        """Start engagements on ``cohort``; return the number of channels it took."""
        stock = self.state.stock
        n = min(cohort.total, free, -(-stock // self.shots))
        if n <= 0:
            return 0
        chosen = list(cohort.waiting) if n == cohort.total else self._choose(cohort.waiting, n)
        fired = min(n * self.shots, stock)
        self.state.stock = stock - fired
        partial = fired % self.shots if fired < n * self.shots else 0
        if partial:
            t = int(self.rng.choice(len(chosen), p=[c / n for c in chosen]))
            chosen[t] -= 1
            cohort.waiting[t] -= 1
            self.partial_salvos.append((t, cohort.bin, partial))
            self.engaged[t] += 1
            self.fired[t] += partial
        for t, c in enumerate(chosen):
            if c:
                cohort.waiting[t] -= c
                cohort.salvos[t] += c
                self.engaged[t] += c
                self.fired[t] += c * self.shots
        cohort.total -= n
        later = int(self.rng.binomial(n, self.release_frac)) if self.release_frac else 0
        self.releases[b + self.release_bins] += n - later
        self.releases[b + self.release_bins + 1] += later
        return n

    def _return_to_fine(self, fine: np.ndarray, killed: np.ndarray, coarse: np.ndarray) -> None:
        """Remove the killed from the fine bins they arrived in (hypergeometric within a bin)."""
        if self.factor == 1:
            fine -= killed[:, : fine.shape[1]]
            return
        wiped = np.repeat((killed == coarse) & (killed > 0), self.factor, axis=1)
        fine[wiped[:, : fine.shape[1]]] = 0
        for t, b in zip(*np.nonzero((killed > 0) & (killed < coarse)), strict=True):
            lo = b * self.factor
            cell = fine[t, lo : lo + self.factor]
            cell -= self.rng.multivariate_hypergeometric(cell, int(killed[t, b]))


def intercept(
    waves: list[Wave],
    layers: list[LayerState],
    *,
    telegraphed: bool,
    rung: int,
    rng: np.random.Generator,
) -> InterceptionOutcome:
    """Fly ``waves`` through ``layers`` (outer to inner); stocks in ``layers`` are drawn down.

    A layer takes part if it engages at least one weapon in the strike, the strike's rung is at or
    above its ``min_rung``, and the strike was telegraphed when the layer ``requires_warning``.
    """
    weapons = sorted({w.weapon for w in waves})
    row = {name: i for i, name in enumerate(weapons)}
    launched = dict.fromkeys(weapons, 0)
    failed = dict.fromkeys(weapons, 0)
    flying = []
    for wave in waves:
        lost = int(rng.binomial(wave.count, wave.failure_probability))
        launched[wave.weapon] += wave.count
        failed[wave.weapon] += lost
        flying.append(wave.count - lost)
    active = [
        s
        for s in layers
        if rung >= s.spec.min_rung
        and (telegraphed or not s.spec.requires_warning)
        and any(w in s.spec.kill_probability for w in weapons)
    ]
    start, width, bins = _arrival_grid(waves, active)
    by_wave = _draw_arrivals(waves, flying, start, width, bins, rng)
    fine = np.zeros((len(weapons), bins), dtype=np.int64)
    for wave, counts in zip(waves, by_wave, strict=True):
        fine[row[wave.weapon]] += counts
    occupied = np.flatnonzero(fine.sum(axis=0))
    outcome = InterceptionOutcome(
        weapons=weapons,
        launched=launched,
        failed=failed,
        leaked={},
        first_arrival_hours=start + width * (occupied[0] if len(occupied) else 0),
        last_arrival_hours=start + width * ((occupied[-1] + 1) if len(occupied) else 0),
    )
    for state in layers:
        outcome.layers.append(_run_layer(state, state in active, fine, weapons, width, rng))
    outcome.leaked = {w: int(fine[row[w]].sum()) for w in weapons}
    return outcome


def _run_layer(
    state: LayerState,
    active: bool,
    fine: np.ndarray,
    weapons: list[str],
    width: float,
    rng: np.random.Generator,
) -> LayerOutcome:
    """Run one layer over the fine arrivals in place; report what it did."""
    engages = [i for i, w in enumerate(weapons) if w in state.spec.kill_probability]
    entered = {w: int(fine[i].sum()) for i, w in enumerate(weapons)}
    engaged = dict.fromkeys(weapons, 0)
    killed = dict.fromkeys(weapons, 0)
    fired = dict.fromkeys(weapons, 0)
    if active and engages and state.stock > 0:
        kill = [state.spec.kill_probability[weapons[i]] for i in engages]
        sub = fine[engages]
        layer_killed, layer_engaged, layer_fired = _LayerRun(state, kill, width, rng).run(sub)
        fine[engages] = sub
        for j, i in enumerate(engages):
            engaged[weapons[i]] = layer_engaged[j]
            killed[weapons[i]] = layer_killed[j]
            fired[weapons[i]] = layer_fired[j]
    return LayerOutcome(
        layer=state.spec.name,
        operator=state.spec.operator,
        entered=entered,
        engaged=engaged,
        killed=killed,
        interceptors_fired=fired,
        stock_after=state.stock,
        active=active,
    )
