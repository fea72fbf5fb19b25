"""Layered interception, aggregated by time bins: cost grows with bins and layers, not projectiles.

The model it approximates (the per-projectile reference in ``tests/reference_model.py`` runs it
literally, one SimPy process per projectile): each projectile arrives at a continuous time; at each
layer, outer to inner, it waits up to the layer's engagement window for a free fire channel (first
come, first served); if it gets one and stock remains, the layer fires ``shots_per_target``
interceptors (fewer when the stock runs out), the channel is busy for the engagement time, and each
shot kills with the layer's per-shot probability. A projectile no layer kills is a leaker.

The aggregation: arrival counts per fine time bin are drawn per wave (a multinomial, or for a
wave with fewer projectiles than bins, the binned arrival times: the same distribution). Each
layer then walks coarse bins of a thirty-second to a sixteenth of its engagement time, over the span its
arrivals occupy, keeping a first-in-first-out queue of arrival cohorts, integer fire channels that
free a whole number of bins later (randomised by a bin, so that on average they free when the
continuous model frees them), and the stock. Arrival and release times are taken as uniform within
their bins, so a channel freed in a cohort's last bins of waiting catches it with the probability
that it frees before the cohort's window closes: a fractional window is never rounded. Which
projectiles of a cohort a layer engages is a multivariate hypergeometric draw; the survivors of a
coarse bin are returned to fine bins by another, so an inner layer with faster channels sees the
right timing. A layer that can never be short of channels or stock skips the walk: every arrival
gets a full salvo, one binomial draw per fine bin.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import numpy as np

from sim.schema import DefenceLayer, FlightTime

BINS_PER_ENGAGEMENT = 32
"""Coarse bins per engagement time: how finely a layer's walk resolves its channels' timing."""
MAX_FINE_BINS = 8192
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


def layer_is_active(
    spec: DefenceLayer, weapons: list[str], *, telegraphed: bool, rung: int
) -> bool:
    """Whether a layer takes part in a strike: it engages one of its weapons, the strike is at or
    above its ``min_rung``, and it was telegraphed if the layer ``requires_warning``."""
    return (
        rung >= spec.min_rung
        and (telegraphed or not spec.requires_warning)
        and any(w in spec.kill_probability for w in weapons)
    )


def _arrival_grid(waves: list[Wave], layers: list[LayerState]) -> tuple[float, float, int]:
    """Start time, fine bin width (hours) and number of fine bins covering all arrivals."""
    start = min(w.launch_hours + w.flight.min_hours for w in waves)
    end = max(w.launch_hours + w.flight.max_hours for w in waves)
    span = max(end - start, 1e-9)
    widths = [s.spec.engagement_minutes / 60 / BINS_PER_ENGAGEMENT for s in layers] or [span]
    width = max(min(widths), span / MAX_FINE_BINS)
    return start, width, int(np.ceil(span / width)) + 1


def _wave_arrivals(
    wave: Wave, n: int, start: float, width: float, bins: int, rng: np.random.Generator
) -> np.ndarray:
    """Arrival counts of ``n`` projectiles of one wave per fine bin.

    Few projectiles: their flight times, binned. Many: one multinomial over the bins' probabilities.
    Both are the distribution of ``n`` independent triangular arrival times, counted per bin.
    """
    flight = wave.flight
    if n <= bins:
        if flight.max_hours > flight.min_hours:
            hours = rng.triangular(flight.min_hours, flight.mode_hours, flight.max_hours, size=n)
        else:
            hours = np.full(n, flight.min_hours)
        index = ((wave.launch_hours - start + hours) / width).astype(np.int64)
        return np.bincount(np.clip(index, 0, bins - 1), minlength=bins)
    cdf = triangular_cdf(start + width * np.arange(bins + 1) - wave.launch_hours, flight)
    probabilities = np.diff(cdf)
    probabilities[0] += cdf[0]
    probabilities[-1] += 1.0 - cdf[-1]
    return rng.multinomial(n, probabilities / probabilities.sum())


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


class _LayerRun:
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
        self.releases = [0] * (last + self.release_bins + 3)
        queue = _Queue(coarse, self.reach)
        occupied, b = 0, queue.order[0]
        while b < last and self.state.stock > 0:
            occupied -= self.releases[b]
            queue.arrive(b)
            if queue and occupied < self.channels:
                occupied += self._serve(queue, b, self.channels - occupied)
            if not queue:
                following = queue.next_arrival(last)
                occupied -= sum(self.releases[b + 1 : following])
            else:
                following = b + 1
                while occupied == self.channels and following < last:
                    if self.releases[following]:
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
        stale, taken, kept = free - fresh, 0, []
        while queue and free > taken and self.state.stock > 0:
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
        elif sum(1 for w in waiting if w) > 1:
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
    active = [layer_is_active(s.spec, weapons, telegraphed=telegraphed, rung=rung) for s in layers]
    start, width, bins = _arrival_grid(waves, [s for s, a in zip(layers, active, strict=True) if a])
    fine = np.zeros((len(weapons), bins), dtype=np.int64)
    for wave, n in zip(waves, flying, strict=True):
        if n:
            fine[row[wave.weapon]] += _wave_arrivals(wave, n, start, width, bins, rng)
    occupied = np.flatnonzero(fine.any(axis=0))
    outcome = InterceptionOutcome(
        weapons=weapons,
        launched=launched,
        failed=failed,
        leaked={},
        first_arrival_hours=start + width * (occupied[0] if len(occupied) else 0),
        last_arrival_hours=start + width * ((occupied[-1] + 1) if len(occupied) else 0),
    )
    for state, is_active in zip(layers, active, strict=True):
        outcome.layers.append(_run_layer(state, is_active, fine, weapons, width, rng))
    outcome.leaked = dict(zip(weapons, fine.sum(axis=1).tolist(), strict=True))
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
    entered = fine.sum(axis=1).tolist()
    engages = [i for i, w in enumerate(weapons) if w in state.spec.kill_probability]
    done = [[0] * len(weapons) for _ in range(3)]
    """Killed, engaged and interceptors fired, by weapon."""
    if active and state.stock > 0 and any(entered[i] for i in engages):
        kill = [state.spec.kill_probability[weapons[i]] for i in engages]
        sub = fine[engages]
        for by_weapon, result in zip(
            done, _LayerRun(state, kill, width, rng).run(sub), strict=True
        ):
            for j, i in enumerate(engages):
                by_weapon[i] = result[j]
        fine[engages] = sub
    killed, engaged, fired = (dict(zip(weapons, d, strict=True)) for d in done)
    return LayerOutcome(
        layer=state.spec.name,
        operator=state.spec.operator,
        entered=dict(zip(weapons, entered, strict=True)),
        engaged=engaged,
        killed=killed,
        interceptors_fired=fired,
        stock_after=state.stock,
        active=active,
    )
