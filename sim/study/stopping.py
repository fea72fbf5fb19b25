"""When a study run with ``--until-ci`` has enough replications: its precision targets, and the
pure stopping rule that extends the study until they are met.

A target is ``[rung>=R:]WIDTH``. ``WIDTH`` is an absolute 95% CI half-width, as a probability
(``0.01``), or a relative one, as a percentage of the estimate (``10%``: the half-width at most a
tenth of the probability); with ``rung>=R`` it applies to the probability of reaching rung ``R``
(0-6) only, without it to every rung. Several targets must all be met.

The rule reads only the runs reaching each rung among the first ``n`` replications, which do not
depend on the worker count or on interruptions; and it plans whole chunks. So the same seed gives
the same study, resumed or not, on any number of workers.

A relative target cannot be met while no run has reached the rung: its estimate is 0 and any
interval is infinitely wide relative to it. Until one does, the rule of three (with no success in
``n`` runs, p < 3/n at 95%) gives the largest probability the runs allow, and the study is
extended to the replications that would meet the target at that probability: the fewest that
could suffice. A rung never reached thus extends the study to ``max_n``, which bounds it.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from sim.study.results import wilson_interval

RUNG_COUNT = 7
Z95 = NormalDist().inv_cdf(0.975)
TARGET_FORM = re.compile(
    r"^\s*(?:rung\s*>=\s*(?P<rung>\d+)\s*:\s*)?(?P<width>[^%\s]+)\s*(?P<percent>%?)\s*$",
    re.IGNORECASE,
)
MARGIN = 1.1
"""Extensions aim 10% past the replications the current estimates say are needed, so that a
study rarely needs one more round for an estimate that moved a little."""


class TargetError(ValueError):
    """A precision target that cannot be read; the message says what is expected."""


@dataclass(frozen=True)
class Target:
    """One precision target: the half-width of rung ``rung``'s probability (every rung when
    None), absolute (a probability) or ``relative`` (a fraction of the estimate)."""

    width: float
    relative: bool = False
    rung: int | None = None

    @property
    def text(self) -> str:
        """The target as it is written: ``rung>=5:10%``, ``0.005``."""
        width = f"{self.width * 100:g}%" if self.relative else f"{self.width:g}"
        return width if self.rung is None else f"rung>={self.rung}:{width}"


def parse_target(value: str | float) -> Target:
    """A target from its text (``0.01``, ``10%``, ``rung>=5:0.005``, ``rung>=5:10%``) or a
    number (an absolute half-width); ``TargetError`` says what is wrong."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = repr(float(value))
    expected = TargetError(
        f"{value!r}: expected a half-width (0.01) or a percentage of the estimate (10%), "
        "for every rung or after rung>=R: for one (rung>=5:0.005)"
    )
    match = TARGET_FORM.match(str(value))
    if match is None:
        raise expected
    try:
        width = float(match["width"])
    except ValueError:
        raise expected from None
    if not (math.isfinite(width) and width > 0):
        raise TargetError(f"{match['width']!r} is not a finite number above 0")
    relative = match["percent"] == "%"
    width /= 100 if relative else 1
    if not relative and width >= 1:
        raise TargetError(f"{value!r}: a half-width is a probability, below 1 (10% is relative)")
    rung = None if match["rung"] is None else int(match["rung"])
    if rung is not None and rung >= RUNG_COUNT:
        raise TargetError(f"{value!r}: there is no rung {rung} (rungs are 0-{RUNG_COUNT - 1})")
    return Target(width, relative, rung)


def parse_targets(values: str | float | Iterable[str | float] | None) -> list[Target]:
    """The targets of ``until_ci`` as ``sim.run`` takes it: None, one target or several."""
    if values is None:
        return []
    if isinstance(values, str | int | float):
        values = [values]
    return [parse_target(value) for value in values]


def half_widths(reached: np.ndarray, n: int) -> np.ndarray:
    """The Wilson 95% half-width of each rung's probability, from the runs reaching it."""
    low, high = wilson_interval(reached, np.full(len(reached), n))
    return (high - low) / 2


def unmet(reached: Sequence[int], n: int, targets: Sequence[Target]) -> list[tuple[Target, int]]:
    """Every (target, rung) not yet met by ``reached`` (runs reaching each rung) of ``n``."""
    reached = np.asarray(reached)
    widths = half_widths(reached, n)
    missed = []
    for target in targets:
        for rung in range(RUNG_COUNT) if target.rung is None else [target.rung]:
            allowed = target.width * (reached[rung] / n if target.relative else 1)
            if (target.relative and reached[rung] == 0) or widths[rung] > allowed:
                missed.append((target, rung))
    return missed


def _needed(target: Target, rung: int, reached: np.ndarray, n: int) -> float:
    """Replications that would meet ``target`` for ``rung`` at the current estimate (for a
    relative target with no run reaching the rung yet, at the rule-of-three bound 3/n)."""
    if target.relative and reached[rung] == 0:
        p = min(1.0, 3 / n)
        return Z95**2 * (1 - p) / (target.width**2 * p)
    allowed = target.width * (reached[rung] / n if target.relative else 1)
    return n * (half_widths(reached, n)[rung] / allowed) ** 2


def next_target(
    n: int, reached: Sequence[int], targets: Sequence[Target], cap: int, size: int
) -> int:
    """Replications the study should have, given ``reached`` (runs reaching each rung 0-6)
    among its first ``n``: 0 when every target is met or ``n`` reached ``cap``; else a whole
    number of chunks of ``size`` above ``n``, at most ``cap``."""
    missed = unmet(reached, n, targets)
    if not missed or n >= cap:
        return 0
    counts = np.asarray(reached)
    wanted = min(cap, MARGIN * max(_needed(target, rung, counts, n) for target, rung in missed))
    return min(cap, max((n // size + 1) * size, math.ceil(wanted / size) * size))
