"""The statistics a calibration target may name, parsed from its name and computed from one run's
event log: pure functions of a list of events (no simulator).

A name is a statistic's kind with its arguments in brackets: ``answered[iran>israel]``,
``answer_weapon_share[iran>israel:drone]``, ``answer_layer_share[iran>israel:ballistic:Arrow 3]``,
``restrained[israel]``, ``ended[settled]``, ``ended_day``. A and B are actor keys, W a weapon key
or ``all``, LAYER a defence layer's name as the scenario spells it.

"In the run" means the strikes the simulation launched (``StrikeLaunched``, not its ``opening:``
strikes and not ``history:`` strikes), up to the episode's horizon; "the first answer of A on B"
is A's first such strike on B. A statistic a run does not define (the share of a weapon in an
answer that never came) is NaN.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sim.model.events import (
    HOURS_PER_DAY,
    DecisionMade,
    Event,
    HistoryStruck,
    Interception,
    RoundEnded,
    StrikeLaunched,
    StrikeOutcome,
    Unclaimed,
)
from sim.scenario.schema import Scenario

ALL = "all"
"""The weapon argument that stands for every weapon of a strike."""
ENDINGS = ("settled", "ceasefire")
"""How a round may end before its horizon (``RoundEnded.how``)."""

PAIR = "A>B"
PAIR_WEAPON = "A>B:W"
PAIR_WEAPON_LAYER = "A>B:W:LAYER"
ACTOR = "A"
HOW = "HOW"
NONE = ""

KINDS: dict[str, str] = {
    "answered": PAIR,
    "answer_delay_days": PAIR,
    "answer_rung": PAIR,
    "answer_telegraphed": PAIR,
    "answer_claimed": PAIR,
    "answer_projectiles": PAIR,
    "answer_weapon_share": PAIR_WEAPON,
    "answer_intercepted_share": PAIR_WEAPON,
    "answer_stopped_share": PAIR,
    "answer_layer_share": PAIR_WEAPON_LAYER,
    "strikes": PAIR,
    "unprovoked_repeats": PAIR,
    "restrained": ACTOR,
    "max_rung_by": ACTOR,
    "ended": HOW,
    "ended_day": NONE,
}
"""Every statistic's kind and the arguments its name takes."""

NAME = re.compile(r"^(?P<kind>[a-z_]+)(?:\[(?P<args>[^\]]*)\])?$")


def vocabulary() -> str:
    """Every valid name pattern, for an error message: ``answered[A>B], ..., ended_day``."""
    return ", ".join(f"{kind}[{args}]" if args else kind for kind, args in KINDS.items())


@dataclass(frozen=True)
class Statistic:
    """A parsed statistic name: its kind and arguments (empty strings where it has none)."""

    name: str
    kind: str
    attacker: str = ""
    target: str = ""
    weapon: str = ""
    layer: str = ""

    @classmethod
    def parse(cls, name: str) -> Statistic:
        """The statistic ``name`` names; ``ValueError`` says what is wrong with the name."""
        found = NAME.match(name)
        if not found or found["kind"] not in KINDS:
            raise ValueError(f"not a statistic of a run; valid names: {vocabulary()}")
        kind, args = found["kind"], found["args"]
        shape = KINDS[kind]
        if not shape:
            if args is not None:
                raise ValueError(f"{kind} takes no arguments: write {kind}")
            return cls(name, kind)
        wanted = f"{kind}[{shape}]"
        if args is None:
            raise ValueError(f"{kind} needs arguments: write {wanted}")
        if shape in (ACTOR, HOW):
            if not args or ">" in args or ":" in args:
                raise ValueError(f"write {wanted}, got {name}")
            return cls(name, kind, attacker=args) if shape == ACTOR else cls(name, kind, layer=args)
        parts = args.split(":", shape.count(":"))
        pair = parts[0].split(">")
        if len(parts) != shape.count(":") + 1 or len(pair) != 2 or not all(pair + parts):
            raise ValueError(f"write {wanted}, got {name}")
        weapon = parts[1] if len(parts) > 1 else ""
        layer = parts[2] if len(parts) > 2 else ""
        return cls(name, kind, pair[0], pair[1], weapon, layer)

    def problems(self, scenario: Scenario) -> list[str]:
        """What the statistic names that ``scenario`` lacks (actors, weapons, layers, endings)."""
        actors, weapons = list(scenario.actors), [*scenario.weapons, ALL]
        layers = layer_names(scenario)
        said = []
        if KINDS[self.kind] == HOW and self.layer not in ENDINGS:
            said.append(f"{self.layer!r} is not an ending; known: {', '.join(ENDINGS)}")
        for actor in filter(None, (self.attacker, self.target)):
            if actor not in actors:
                said.append(f"no actor {actor!r} in the scenario; known: {', '.join(actors)}")
        if self.weapon and self.weapon not in weapons:
            said.append(f"no weapon {self.weapon!r} in the scenario; known: {', '.join(weapons)}")
        if KINDS[self.kind] == PAIR_WEAPON_LAYER and self.layer not in layers:
            said.append(f"no layer {self.layer!r} in the scenario; known: {', '.join(layers)}")
        return said

    def of(self, events: Sequence[Event]) -> float:
        """The statistic's value in one run's log (NaN where the run does not define it)."""
        return float(COMPUTE[self.kind](self, events))


def layer_names(scenario: Scenario) -> list[str]:
    """Every defence layer's name in the scenario (homeland and abroad), in file order, once."""
    names: list[str] = []
    for actor in scenario.actors.values():
        for layer in [*actor.defence, *(actor.abroad or [])]:
            if layer.name not in names:
                names.append(layer.name)
    return names


def run_strikes(events: Iterable[Event]) -> list[StrikeLaunched]:
    """The strikes the simulation launched (not the opening's), in launch order."""
    return [e for e in events if isinstance(e, StrikeLaunched) and e.cause != "opening"]


def first_answer(s: Statistic, events: Sequence[Event]) -> StrikeLaunched | None:
    """A's first strike on B in the run, or None."""
    return next(
        (e for e in run_strikes(events) if (e.attacker, e.target) == (s.attacker, s.target)), None
    )


def _answered(s: Statistic, events: Sequence[Event]) -> float:
    return float(first_answer(s, events) is not None)


def _delay(s: Statistic, events: Sequence[Event]) -> float:
    """Days from B's latest strike on A (history, opening or run) before the answer, to it."""
    answer = first_answer(s, events)
    if answer is None:
        return math.nan
    times = [e.launch_hours for e in events if isinstance(e, HistoryStruck)
             and (e.attacker, e.target) == (s.target, s.attacker)]  # fmt: skip
    times += [e.time_hours for e in events if isinstance(e, StrikeLaunched)
              and (e.attacker, e.target) == (s.target, s.attacker)
              and e.strike_id < answer.strike_id]  # fmt: skip
    if not times:
        return math.nan
    return (answer.time_hours - max(times)) / HOURS_PER_DAY


def _answer_field(read: Callable[[StrikeLaunched], float]) -> Callable:
    def statistic(s: Statistic, events: Sequence[Event]) -> float:
        answer = first_answer(s, events)
        return math.nan if answer is None else float(read(answer))

    return statistic


def _claimed(s: Statistic, events: Sequence[Event]) -> float:
    answer = first_answer(s, events)
    if answer is None:
        return math.nan
    return float(
        not any(isinstance(e, Unclaimed) and e.strike_id == answer.strike_id for e in events)
    )


def _launched(answer: StrikeLaunched, weapon: str) -> int:
    """Projectiles of ``weapon`` (or all) the strike launched."""
    return sum(n for w, n in answer.projectiles if weapon in (ALL, w))


def _weapon_share(s: Statistic, events: Sequence[Event]) -> float:
    answer = first_answer(s, events)
    total = _launched(answer, ALL) if answer else 0
    return _launched(answer, s.weapon) / total if total else math.nan


def _interceptions(
    answer: StrikeLaunched, events: Sequence[Event], weapon: str
) -> list[Interception]:
    return [e for e in events if isinstance(e, Interception) and e.strike_id == answer.strike_id
            and weapon in (ALL, e.weapon)]  # fmt: skip


def _intercepted_share(s: Statistic, events: Sequence[Event]) -> float:
    """Of the weapon's projectiles that flew into the defences, the share intercepted: per weapon
    the first layer met saw every one that flew (the most entered), later layers fewer."""
    answer = first_answer(s, events)
    if answer is None:
        return math.nan
    met = _interceptions(answer, events, s.weapon)
    flying: dict[str, int] = {}
    for e in met:
        flying[e.weapon] = max(flying.get(e.weapon, 0), e.entered)
    total = sum(flying.values())
    return sum(e.intercepted for e in met) / total if total else math.nan


def _stopped_share(s: Statistic, events: Sequence[Event]) -> float:
    answer = first_answer(s, events)
    outcome = answer and next(
        (e for e in events if isinstance(e, StrikeOutcome) and e.strike_id == answer.strike_id),
        None,
    )
    if not outcome or not outcome.launched:
        return math.nan
    return 1.0 - outcome.leaked / outcome.launched


def _layer_share(s: Statistic, events: Sequence[Event]) -> float:
    answer = first_answer(s, events)
    launched = _launched(answer, s.weapon) if answer else 0
    if not launched:
        return math.nan
    by_layer = [e for e in _interceptions(answer, events, s.weapon) if e.layer == s.layer]
    return sum(e.intercepted for e in by_layer) / launched


def _strikes(s: Statistic, events: Sequence[Event]) -> float:
    return float(sum((e.attacker, e.target) == (s.attacker, s.target) for e in run_strikes(events)))


def _unprovoked_repeats(s: Statistic, events: Sequence[Event]) -> float:
    """A's strikes on B after its first answer with no strike of B on A (any cause) between."""
    answer = first_answer(s, events)
    if answer is None:
        return 0.0
    provoked, repeats = False, 0
    later = [e for e in events if isinstance(e, StrikeLaunched) and e.strike_id > answer.strike_id]
    for strike in sorted(later, key=lambda e: e.strike_id):
        if (strike.attacker, strike.target) == (s.target, s.attacker):
            provoked = True
        elif (strike.attacker, strike.target) == (
            s.attacker,
            s.target,
        ) and strike.cause != "opening":
            repeats, provoked = repeats + (not provoked), False
    return float(repeats)


def _restrained(s: Statistic, events: Sequence[Event]) -> float:
    return float(any(isinstance(e, DecisionMade) and e.actor == s.attacker and e.ally_pressure > 0
                     for e in events))  # fmt: skip


def _max_rung_by(s: Statistic, events: Sequence[Event]) -> float:
    """The highest rung of A's strikes in the run; -1 when A launched none."""
    return float(max((e.rung for e in run_strikes(events) if e.attacker == s.attacker), default=-1))


def _ending(events: Sequence[Event]) -> RoundEnded | None:
    return next((e for e in events if isinstance(e, RoundEnded) and e.how != "horizon"), None)


def _ended(s: Statistic, events: Sequence[Event]) -> float:
    ending = _ending(events)
    return float(ending is not None and ending.how == s.layer)


def _ended_day(s: Statistic, events: Sequence[Event]) -> float:
    ending = _ending(events)
    return math.nan if ending is None else ending.time_hours / HOURS_PER_DAY


COMPUTE: dict[str, Callable[[Statistic, Sequence[Event]], float]] = {
    "answered": _answered,
    "answer_delay_days": _delay,
    "answer_rung": _answer_field(lambda a: a.rung),
    "answer_telegraphed": _answer_field(lambda a: a.telegraphed),
    "answer_claimed": _claimed,
    "answer_projectiles": _answer_field(lambda a: _launched(a, ALL)),
    "answer_weapon_share": _weapon_share,
    "answer_intercepted_share": _intercepted_share,
    "answer_stopped_share": _stopped_share,
    "answer_layer_share": _layer_share,
    "strikes": _strikes,
    "unprovoked_repeats": _unprovoked_repeats,
    "restrained": _restrained,
    "max_rung_by": _max_rung_by,
    "ended": _ended,
    "ended_day": _ended_day,
}


def statistics_of(statistics: Sequence[Statistic], events: Sequence[Event]) -> dict[str, float]:
    """Every named statistic of one run's log, by name."""
    return {s.name: s.of(events) for s in statistics}
