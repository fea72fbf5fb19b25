"""Outcomes of the user's choosing: a small language, parsed once and checked before anything runs.

An outcome turns one run (its row of the runs table, and its events when the row lacks what is
asked) into a number: binary ones (0/1) give a probability with a Wilson 95% interval, numeric
ones a mean with a Student-t 95% interval.

    rung>=R                      the run reached rung R (0-6)                        binary
    strike:ATTACKER>TARGET>=R    ATTACKER struck TARGET at rung R or higher          binary
    days_to_rung>=R              days until rung R was first reached                 numeric
    casualties:ACTOR             casualties ACTOR suffered (people)                  numeric
    damage:ACTOR                 damage ACTOR suffered (US dollars)                  numeric
    cost:ACTOR                   what ACTOR spent on strikes and interceptors (US$)  numeric
    interceptors:ACTOR           interceptors fired by layers ACTOR operates         numeric
    leakers:ACTOR                projectiles that leaked through onto ACTOR          numeric
    exchange:ATTACKER>DEFENDER   US$ of interceptors fired (allies' too) at ATTACKER's
                                 strikes on DEFENDER per US$ they cost ATTACKER      numeric
    exhausted:ACTOR/LAYER        a layer defending ACTOR fired its last interceptor  binary
    ended:HOW                    the round ended by ceasefire, settled, or any       binary
    days_to_end                  days until the round ended                          numeric

A numeric form with a threshold (``>=``, ``>``, ``<=``, ``<``) is binary: ``casualties:israel>=10``,
``days_to_rung>=4<=14`` (rung 4 within 14 days). A layer is its defended actor (layers are listed
under it) and its name in lower case, other characters as ``-``: ``exhausted:israel/arrow-3``.

Censoring: ``days_to_rung`` of a run that never reached the rung (``days_to_end`` of one that did
not end) is the horizon: the estimate is a mean restricted to the horizon, and the tables give the
share of such runs in a ``censored`` column. A cost-exchange ratio is undefined (NaN, left out of
its mean; ``n`` counts the rest) in a run where the attacker spent nothing on the defender.
Anything else: ``custom_outcome(function)`` of a run's row (a dict) and its events (a DataFrame).
A new form is one pattern in ``_FORMS`` and one value function in ``_VALUES``.
"""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ResultsError
from sim.model.outcomes import first_day_column
from sim.scenario.schema import Scenario
from sim.study.summary import t_half_width, wilson_interval


class OutcomeError(ResultsError):
    """An outcome expression that is malformed or names what the scenario does not have."""


_ID = r"([a-z][a-z0-9_]*)"
_NUMBER = r"(-?(?:\d+\.?\d*|\.\d+)(?:e[+-]?\d+)?)"
_THRESHOLD = rf"(?:(>=|<=|>|<){_NUMBER})?"
_TOTALS = {
    "casualties": "casualties suffered by {} (people)",
    "damage": "damage to {} (US dollars)",
    "cost": "cost to {} of strikes and interceptors (US dollars)",
    "interceptors": "interceptors fired by {}",
    "leakers": "projectiles leaking onto {}",
}
_FORMS = {
    "rung": re.compile(r"^rung>=([0-6])$"),
    "strike": re.compile(rf"^strike:{_ID}>{_ID}>=([0-6])$"),
    "days_to_rung": re.compile(rf"^days_to_rung>=([0-6]){_THRESHOLD}$"),
    "total": re.compile(rf"^({'|'.join(_TOTALS)}):{_ID}{_THRESHOLD}$"),
    "exchange": re.compile(rf"^exchange:{_ID}>{_ID}{_THRESHOLD}$"),
    "exhausted": re.compile(rf"^exhausted:{_ID}/([a-z0-9][a-z0-9-]*)$"),
    "ended": re.compile(r"^ended:(ceasefire|settled|any)$"),
    "days_to_end": re.compile(rf"^days_to_end{_THRESHOLD}$"),
}
_SYNTAX = {
    "rung": "rung>=R",
    "strike": "strike:ATTACKER>TARGET>=R",
    "days_to_rung": "days_to_rung>=R[<=DAYS]",
    **{name: f"{name}:ACTOR[>=X]" for name in _TOTALS},
    "exchange": "exchange:ATTACKER>DEFENDER[>=X]",
    "exhausted": "exhausted:ACTOR/LAYER",
    "ended": "ended:ceasefire|settled|any",
    "days_to_end": "days_to_end[<=DAYS]",
}
OUTCOME_SYNTAX = ", ".join(_SYNTAX.values())
"""The valid forms, for help texts and error messages (R a rung 0-6, X a number)."""

_COMPARE = {">=": operator.ge, ">": operator.gt, "<=": operator.le, "<": operator.lt}
_RUNG_MEANING = {
    3: "direct strike on a homeland",
    4: "major direct strike",
    5: "strategic strikes",
    6: "regional war",
}


def layer_slug(name: str) -> str:
    """A layer's name as outcomes spell it: ``"David's Sling"`` -> ``david-s-sling``."""
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")


@dataclass(frozen=True)
class Outcome:
    """One parsed outcome: its form, what it names, a threshold, the horizon that censors the
    ``days_*`` forms, a layer's name as the event log writes it, or a custom function."""

    text: str
    form: str
    names: tuple[str, ...] = ()
    rung: int = -1
    threshold: tuple[str, float] | None = None
    horizon_days: float = math.nan
    layer: str = ""
    function: Callable[[Mapping[str, Any], pd.DataFrame], Any] | None = None
    binary_function: bool = False

    @property
    def kind(self) -> str:
        """``binary`` (a probability) or ``numeric`` (a mean)."""
        binary = self.form in ("rung", "strike", "exhausted", "ended") or self.threshold is not None
        return "binary" if binary or (self.form == "custom" and self.binary_function) else "numeric"

    @property
    def needs_events(self) -> bool:
        """Whether its values need the events table (the runs table does not hold them)."""
        return self.form in ("exchange", "exhausted", "custom") or (
            self.form == "total" and self.names[0] in ("interceptors", "leakers")
        )

    @property
    def label(self) -> str:
        """Words for tables and figures: ``P(regional war)``, ``mean damage to israel (US dollars)``."""
        return _label(self)

    def values(self, runs: pd.DataFrame, events: pd.DataFrame | None = None) -> np.ndarray:
        """One value per run of ``runs``, in replication order (binary ones 0.0 or 1.0).

        ``events`` holds the events of those runs; it is needed when ``needs_events``.
        """
        runs = runs.sort_values("replication")
        if self.needs_events and events is None:
            raise OutcomeError(f"outcome {self.text!r}: needs the events of its runs")
        raw = np.asarray(_VALUES[self.form](self, runs, events), dtype=float)
        if self.threshold is not None:
            op, limit = self.threshold
            with np.errstate(invalid="ignore"):
                return _COMPARE[op](raw, limit).astype(float)
        if self.form in CENSORED_FORMS:
            return np.where(np.isnan(raw), self.horizon_days, raw)
        return raw

    @property
    def censorable(self) -> bool:
        """Whether runs can be censored at the horizon: a ``days_*`` form with no threshold."""
        return self.form in CENSORED_FORMS and self.threshold is None

    def censored(self, values: np.ndarray) -> float:
        """Share of ``values`` at the horizon: runs that never reached the rung (never ended)."""
        if not self.censorable or len(values) == 0:
            return 0.0
        return float(np.mean(np.asarray(values) >= self.horizon_days))


def _label(outcome: Outcome) -> str:
    form, names = outcome.form, outcome.names
    if form == "rung":
        return f"P({_RUNG_MEANING.get(outcome.rung, f'rung >= {outcome.rung}')})"
    if form == "strike":
        return f"P({names[0]} strikes {names[1]} at rung >= {outcome.rung})"
    if form == "exhausted":
        return f"P({names[0]}'s {outcome.layer or names[1]} exhausted)"
    if form in ("ended", "custom"):
        return f"P(round ended: {names[0]})" if form == "ended" else outcome.text
    if form in CENSORED_FORMS:
        what = f"days to rung >= {outcome.rung}" if form == "days_to_rung" else "days to the end"
    elif form == "exchange":
        what = f"cost-exchange ratio: US$ intercepting {names[0]} over {names[1]} per US$ it spent"
    else:
        what = _TOTALS[names[0]].format(names[1])
    if outcome.threshold is None:
        return f"mean {what}" + (" (censored at the horizon)" if form in CENSORED_FORMS else "")
    op, limit = outcome.threshold
    if form == "days_to_rung" and op == "<=":
        return f"P(rung >= {outcome.rung} within {limit:g} days)"
    return f"P({what} {op} {limit:g})"


def _by_replication(runs: pd.DataFrame, series: pd.Series) -> np.ndarray:
    """A per-replication sum (indexed by replication) aligned with ``runs``, 0 where absent."""
    return series.reindex(runs["replication"].to_numpy(), fill_value=0).to_numpy(dtype=float)


def _rung_values(outcome: Outcome, runs: pd.DataFrame, _: Any) -> np.ndarray:
    return runs["max_rung"].to_numpy() >= outcome.rung


def _strike_values(outcome: Outcome, runs: pd.DataFrame, _: Any) -> np.ndarray:
    attacker, target = (re.escape(name) for name in outcome.names)
    pattern = re.compile(rf"(?:^| ){attacker}>{target}:([0-6])")
    return np.array(
        [any(int(r) >= outcome.rung for r in pattern.findall(path)) for path in runs["path"]]
    )


def _days_values(outcome: Outcome, runs: pd.DataFrame, _: Any) -> np.ndarray:
    """Days to a rung, or to the round's end (no column: the scenario cannot end; NaN: never)."""
    if math.isnan(outcome.horizon_days):
        raise OutcomeError(f"outcome {outcome.text!r}: parse it with its scenario (the horizon)")
    column = first_day_column(outcome.rung) if outcome.form == "days_to_rung" else "ended_day"
    return runs.get(column, pd.Series(math.nan, index=runs.index)).to_numpy(dtype=float)


_RUN_COLUMNS = {"casualties": "casualties_{}", "damage": "damage_usd_{}", "cost": "cost_usd_{}"}


def _total_values(outcome: Outcome, runs: pd.DataFrame, events: pd.DataFrame | None) -> np.ndarray:
    what, actor = outcome.names
    if what in _RUN_COLUMNS:
        return runs[_RUN_COLUMNS[what].format(actor)].to_numpy(dtype=float)
    if what == "interceptors":
        fired = events[events["kind"] == "interception"]
        fired = fired[fired["operator"] == actor]
        return _by_replication(runs, fired.groupby("replication")["interceptors_fired"].sum())
    struck = events[events["kind"] == "outcome"]
    struck = struck[struck["target"] == actor]
    return _by_replication(runs, struck.groupby("replication")["leaked"].sum())


def _exchange_values(outcome: Outcome, runs: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    attacker, defender = outcome.names
    struck = events[events["kind"] == "outcome"]
    struck = struck[(struck["attacker"] == attacker) & (struck["target"] == defender)]
    sums = struck.groupby("replication")[["defender_cost_usd", "attacker_cost_usd"]].sum()
    spent = _by_replication(runs, sums["attacker_cost_usd"])
    defended = _by_replication(runs, sums["defender_cost_usd"])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(spent > 0, defended / spent, np.nan)


def _exhausted_values(outcome: Outcome, runs: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    fired = events[events["kind"] == "interception"]
    fired = fired[(fired["defended"] == outcome.names[0]) & (fired["layer"] == outcome.layer)]
    return runs["replication"].isin(set(fired[fired["stock_after"] == 0]["replication"])).to_numpy()


def _ended_values(outcome: Outcome, runs: pd.DataFrame, _: Any) -> np.ndarray:
    how = runs.get("ended_how", pd.Series("horizon", index=runs.index))
    wanted = {"any": ("ceasefire", "settled")}.get(outcome.names[0], outcome.names)
    return how.isin(wanted).to_numpy()


def _custom_values(outcome: Outcome, runs: pd.DataFrame, events: pd.DataFrame) -> np.ndarray:
    by_replication = dict(tuple(events.groupby("replication")))
    empty = events.iloc[:0]
    values = []
    for row in runs.to_dict("records"):
        value = outcome.function(row, by_replication.get(row["replication"], empty))
        try:
            values.append(float(value))
            valid = not outcome.binary_function or values[-1] in (0.0, 1.0)
        except (TypeError, ValueError):
            valid = False
        if not valid:
            expected = "True/False or 0/1" if outcome.binary_function else "a number"
            raise OutcomeError(
                f"outcome {outcome.text!r}: returned {value!r} for replication "
                f"{row['replication']}; expected {expected}"
            )
    return np.array(values, dtype=float)


_VALUES = {
    "rung": _rung_values,
    "strike": _strike_values,
    "days_to_rung": _days_values,
    "total": _total_values,
    "exchange": _exchange_values,
    "exhausted": _exhausted_values,
    "custom": _custom_values,
    "ended": _ended_values,
    "days_to_end": _days_values,
}
CENSORED_FORMS = ("days_to_rung", "days_to_end")


def custom_outcome(
    function: Callable[[Mapping[str, Any], pd.DataFrame], Any],
    name: str | None = None,
    *,
    binary: bool = False,
) -> Outcome:
    """An outcome computed by ``function(row, events)`` for each run: ``row`` is the run's row
    of the runs table (a dict), ``events`` its events. ``binary``: it returns True/False (a
    probability is estimated), else a number (a mean). Define ``function`` at module level so
    that worker processes can receive it."""
    if not callable(function):
        raise OutcomeError(f"custom outcome {function!r}: not a function")
    name = name or getattr(function, "__name__", "custom")
    return Outcome(name, "custom", function=function, binary_function=binary)


def _unknown(text: str) -> OutcomeError:
    """A malformed expression: the expected syntax of its form if the form is known, else all."""
    head = re.split(r"[:>=<]", text, maxsplit=1)[0]
    if head in _SYNTAX:
        return OutcomeError(
            f"outcome {text!r}: malformed; expected {_SYNTAX[head]} "
            "(R a rung 0-6, X a number, ACTOR an actor key)"
        )
    return OutcomeError(f"outcome {text!r}: unknown outcome; valid forms: {OUTCOME_SYNTAX}")


def parse_outcome(
    text: str | Outcome, scenario: Scenario | None = None, source: str | Path = ""
) -> Outcome:
    """Parse one outcome; with ``scenario``, refuse actors and layers it does not have (a
    misspelt name would be an outcome that never happens) and bind its horizon."""
    outcome = text if isinstance(text, Outcome) else _parse_text("".join(str(text).split()))
    if scenario is None or outcome.form == "custom":
        return outcome
    _check_actors(outcome, scenario, source)
    _check_ending(outcome, scenario, source)
    if outcome.form == "exhausted":
        outcome = _bind_layer(outcome, scenario, source)
    return replace(outcome, horizon_days=float(scenario.horizon_days))


def _parse_text(text: str) -> Outcome:
    for form, pattern in _FORMS.items():
        if match := pattern.match(text):
            return _from_match(text, form, match.groups())
    raise _unknown(text)


def _from_match(text: str, form: str, groups: tuple) -> Outcome:
    """An Outcome from the groups of its form's pattern."""
    if form == "rung":
        return Outcome(text, form, rung=int(groups[0]))
    if form == "strike":
        return Outcome(text, form, names=groups[:2], rung=int(groups[2]))
    if form in ("exhausted", "ended"):
        return Outcome(text, form, names=groups)
    named = {"days_to_rung": 0, "total": 2, "exchange": 2, "days_to_end": 0}[form]
    op, limit = groups[-2:]
    threshold = None if op is None else (op, float(limit))
    if threshold is not None and not math.isfinite(threshold[1]):
        raise OutcomeError(f"outcome {text!r}: the threshold must be a finite number")
    rung = int(groups[0]) if form == "days_to_rung" else -1
    return Outcome(text, form, names=groups[:named], rung=rung, threshold=threshold)


def _check_actors(outcome: Outcome, scenario: Scenario, source: str | Path) -> None:
    names = outcome.names
    named = {"strike": names, "exchange": names, "exhausted": names[:1], "total": names[1:]}
    unknown = [name for name in named.get(outcome.form, ()) if name not in scenario.actors]
    if unknown:
        raise OutcomeError(
            f"outcome {outcome.text!r}: {source or 'the scenario'} has no actor "
            f"{' or '.join(unknown)} (actors: {', '.join(scenario.actors)})"
        )


def _check_ending(outcome: Outcome, scenario: Scenario, source: str | Path) -> None:
    """Refuse an ending the scenario cannot have (it would be an outcome that never happens)."""
    if outcome.form not in ("ended", "days_to_end"):
        return
    can = {"ceasefire": scenario.ceasefire is not None, "settled": scenario.end_when_settled}
    how = outcome.names[0] if outcome.form == "ended" else "any"
    if not (can[how] if how in can else any(can.values())):
        raise OutcomeError(
            f"outcome {outcome.text!r}: {source or 'the scenario'} cannot end that way before "
            f"the horizon (ceasefire: {'set' if can['ceasefire'] else 'not set'}, "
            f"end_when_settled: {str(can['settled']).lower()})"
        )


def _bind_layer(outcome: Outcome, scenario: Scenario, source: str | Path) -> Outcome:
    """The outcome with its layer's name as the event log writes it."""
    actor, slug = outcome.names
    layers = {layer_slug(layer.name): layer.name for layer in scenario.actors[actor].defence}
    if slug not in layers:
        raise OutcomeError(
            f"outcome {outcome.text!r}: {source or 'the scenario'}: {actor} has no defence layer "
            f"{slug} (layers: {', '.join(layers) or 'none'})"
        )
    return replace(outcome, layer=layers[slug])


def parse_outcomes(
    outcomes: Sequence[str | Outcome], scenario: Scenario | None = None, source: str | Path = ""
) -> list[Outcome]:
    """Parse every outcome (see ``parse_outcome``); refuse none at all and repeated names."""
    parsed = [parse_outcome(o, scenario, source) for o in outcomes]
    if not parsed:
        raise OutcomeError(f"no outcome given; valid forms: {OUTCOME_SYNTAX}")
    names = [o.text for o in parsed]
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise OutcomeError(f"outcome {repeated[0]!r} given twice")
    return parsed


def estimate(values: np.ndarray, kind: str, confidence: float = 0.95) -> dict[str, float]:
    """A probability (binary: Wilson interval) or a mean (numeric: Student-t interval) of one
    outcome's per-run values, with ``n`` the runs it is over (NaN values are left out)."""
    finite = np.asarray(values, dtype=float)
    finite = finite[np.isfinite(finite)]
    n = len(finite)
    if kind == "binary":
        low, high = wilson_interval(np.array([finite.sum()]), np.array([n]), confidence)
        centre = float(finite.mean()) if n else math.nan
        return {"estimate": centre, "ci_low": float(low[0]), "ci_high": float(high[0]), "n": n}
    mean = float(finite.mean()) if n else math.nan
    half = t_half_width(float(finite.std(ddof=1)) if n > 1 else math.nan, n, confidence)
    return {"estimate": mean, "ci_low": mean - half, "ci_high": mean + half, "n": n}
