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

BINS_PER_ENGAGEMENT = 2
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
            arrivals[row] = rng.multinomial(n, probabilities / probabilities.sum())
    return arrivals


@dataclass
class _Cohort:
    """Projectiles that reached a layer in one coarse bin and still wait for a channel."""

    bin: int
    deadline: int
    waiting: np.ndarray


class _LayerRun:
    """One layer's pass over one strike (kept small: the loop is the hot path)."""

    def __init__(
        self, state: LayerState, kill: np.ndarray, fine_width: float, rng: np.random.Generator
    ) -> None:
        spec = state.spec
        self.state, self.kill, self.rng = state, kill, rng
        self.shots = spec.shots_per_target
        fine_per_engagement = spec.engagement_minutes / 60 / fine_width
        self.factor = max(1, int(fine_per_engagement / BINS_PER_ENGAGEMENT))
        coarse_width = self.factor * fine_width
        self.release = spec.engagement_minutes / 60 / coarse_width
        self.window = round(spec.engagement_window_minutes / 60 / coarse_width)
        whole = max(1, int(self.release))
        frac = self.release - whole
        self.release_offsets = np.array([whole, whole + 1, whole + 2])
        self.release_probabilities = np.array([(1 - frac) / 2, 0.5, frac / 2])

    def run(self, fine: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Engage ``fine`` (weapons x fine bins) in place; return killed, engaged, fired by weapon."""
        types, bins = fine.shape
        coarse_bins = -(-bins // self.factor)
        padded = np.zeros((types, coarse_bins * self.factor), dtype=np.int64)
        padded[:, :bins] = fine
        coarse = padded.reshape(types, coarse_bins, self.factor).sum(axis=2)
        killed = np.zeros_like(coarse)
        engaged = np.zeros(types, dtype=np.int64)
        fired = np.zeros(types, dtype=np.int64)
        releases = np.zeros(coarse_bins + int(self.release) + 4, dtype=np.int64)
        self._releases = releases
        occupied = 0
        queue: deque[_Cohort] = deque()
        arrival_bins = np.flatnonzero(coarse.sum(axis=0))
        next_arrival = 0
        b = int(arrival_bins[0]) if len(arrival_bins) else coarse_bins
        while b < coarse_bins and self.state.stock > 0:
            occupied -= int(releases[b])
            if next_arrival < len(arrival_bins) and arrival_bins[next_arrival] == b:
                queue.append(_Cohort(b, b + self.window, coarse[:, b].copy()))
                next_arrival += 1
            while queue and queue[0].deadline < b:
                queue.popleft()
            free = self.state.spec.fire_channels - occupied
            while queue and free > 0 and self.state.stock > 0:
                cohort = queue[0]
                started = self._engage(cohort, free, killed, engaged, fired, b)
                free -= started
                occupied += started
                if cohort.waiting.sum() == 0:
                    queue.popleft()
            following = self._next_bin(b, queue, arrival_bins, next_arrival, coarse_bins)
            occupied -= int(releases[b + 1 : following].sum())
            b = following
        self._return_to_fine(fine, killed)
        return killed.sum(axis=1), engaged, fired

    def _engage(
        self,
        cohort: _Cohort,
        free: int,
        killed: np.ndarray,
        engaged: np.ndarray,
        fired_by_type: np.ndarray,
        b: int,
    ) -> int:
        """Start engagements on the oldest cohort; return the number of channels it took."""
        waiting = cohort.waiting
        affordable = -(-self.state.stock // self.shots)
        n = min(int(waiting.sum()), free, affordable)
        chosen = (
            waiting.copy()
            if n == waiting.sum()
            else self.rng.multivariate_hypergeometric(waiting, n)
        )
        waiting -= chosen
        fired = min(n * self.shots, self.state.stock)
        self.state.stock -= fired
        full = fired // self.shots
        shots_per = np.full(len(chosen), self.shots)
        if full < n:
            partial_type = self.rng.choice(len(chosen), p=chosen / chosen.sum())
            hits = self.rng.binomial(1, 1 - (1 - self.kill[partial_type]) ** (fired % self.shots))
            killed[partial_type, cohort.bin] += hits
            chosen = chosen.copy()
            chosen[partial_type] -= 1
            engaged[partial_type] += 1
            fired_by_type[partial_type] += fired % self.shots
        killed[:, cohort.bin] += self.rng.binomial(chosen, 1 - (1 - self.kill) ** shots_per)
        engaged += chosen
        fired_by_type += chosen * self.shots
        later = self.rng.multinomial(n, self.release_probabilities)
        releases = self._releases
        for offset, count in zip(self.release_offsets, later, strict=True):
            releases[b + offset] += count
        return n

    @staticmethod
    def _next_bin(
        b: int, queue: deque, arrival_bins: np.ndarray, next_arrival: int, coarse_bins: int
    ) -> int:
        """The next bin with work: the next one while cohorts wait, else the next arrival."""
        if queue:
            return b + 1
        return int(arrival_bins[next_arrival]) if next_arrival < len(arrival_bins) else coarse_bins

    def _return_to_fine(self, fine: np.ndarray, killed: np.ndarray) -> None:
        """Remove the killed from the fine bins they arrived in (hypergeometric within a bin)."""
        for t, b in zip(*np.nonzero(killed), strict=True):
            lo = b * self.factor
            cell = fine[t, lo : lo + self.factor]
            dead = int(killed[t, b])
            if dead == cell.sum():
                cell[:] = 0
            elif self.factor == 1:
                cell[0] -= dead
            else:
                cell -= self.rng.multivariate_hypergeometric(cell, dead)


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
        kill = np.array([state.spec.kill_probability[weapons[i]] for i in engages])
        sub = fine[engages]
        layer_killed, layer_engaged, layer_fired = _LayerRun(state, kill, width, rng).run(sub)
        fine[engages] = sub
        for j, i in enumerate(engages):
            engaged[weapons[i]] = int(layer_engaged[j])
            killed[weapons[i]] = int(layer_killed[j])
            fired[weapons[i]] = int(layer_fired[j])
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
