"""Forecast questions: a YAML file of questions about scenarios, validated like a scenario.

Each question names a scenario file (relative to the questions file), an outcome over a horizon
in days, the date the forecast is made, what happened (its resolution), when that became known,
and a base rate with its source. Two kinds of question:

- binary: any outcome ``sim run`` understands (``rung>=R``, ``strike:A>B>=R``, checked by
  ``sim.analysis.compare.check_outcomes``); the resolution is 0 or 1;
- ordinal: the outcome ``max_rung``, the highest rung (0-6) the round reaches within the horizon;
  the resolution is that rung.

The scenario starts at the forecast date: its opening is the state the forecast is made in.
Every mistake is one ``file:line: field: message`` in a ``ScenarioError`` (the scenario loader's
machinery: ``read_document`` keeps the lines, ``validate_model`` words pydantic's errors).
A question's scenario may start mid-way (a ``history:``): the forecast is made in the state the
history leaves, and outcomes count only strikes after the start.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from pydantic import Field

from sim.analysis.compare import check_outcomes
from sim.analysis.outcomes import Outcome
from sim.errors import ResultsError
from sim.scenario.coherence import number_at
from sim.scenario.levers import load_with_overrides
from sim.scenario.loading import Where, read_document, read_source, validate_model
from sim.scenario.problems import Path_, Problem, ScenarioError, dotted_field
from sim.scenario.schema import (
    Identifier,
    Positive,
    Probability,
    Scenario,
    StrictModel,
)

ORDINAL_OUTCOME = "max_rung"
"""The outcome of an ordinal question: the highest rung reached within the horizon."""
RUNG_COUNT = 7
Report = Callable[[str, str], None]
"""Records one problem with a field of the question being checked: (field, message)."""
DISTRIBUTION_TOLERANCE = 1e-6
"""How far a base-rate distribution over the rungs may sum from 1."""


class BaseRate(StrictModel):
    """A reference-class forecast: how often such an outcome happened before, and where from."""

    probability: Probability | None = Field(
        None, description="Binary questions: the share of comparable cases with the outcome."
    )
    distribution: list[Probability] | None = Field(
        None,
        min_length=RUNG_COUNT,
        max_length=RUNG_COUNT,
        description="Ordinal questions: the share of comparable cases ending at each rung 0-6.",
    )
    source: str = Field(min_length=1, description="Where the base rate comes from, and how.")


class Question(StrictModel):
    """One forecast question about a scenario."""

    id: Identifier = Field(description="A short unique name (a-z, 0-9 and _).")
    text: str = Field(min_length=1, description="The question in words.")
    scenario: str = Field(min_length=1, description="Scenario file, relative to this file.")
    outcome: str = Field(min_length=1, description="An outcome of `sim run`, or max_rung.")
    horizon_days: Positive = Field(description="Days after the forecast date the question covers.")
    forecast_date: dt.date = Field(description="When the forecast is made (the scenario's day 0).")
    resolution: Annotated[int, Field(ge=0)] = Field(
        description="What happened: 0 or 1 (binary), the highest rung 0-6 (max_rung)."
    )
    resolved_on: dt.date = Field(description="When the resolution became known.")
    resolution_source: str = Field(min_length=1, description="What shows the resolution.")
    base_rate: BaseRate
    episode: str | None = Field(
        None,
        description="The calibration episode the question is about (an episode name of the "
        "calibration config); `sim score --loo` scores it with a posterior fitted without it.",
    )


class QuestionsFile(StrictModel):
    """A questions file: a name, what it is for, and its questions."""

    name: str = Field(min_length=1)
    description: str = ""
    questions: list[Question] = Field(min_length=1)


@dataclass(frozen=True)
class LoadedQuestion:
    """A validated question with its scenario resolved and loaded (horizon set)."""

    question: Question
    scenario_file: Path
    scenario: Scenario

    @property
    def ordinal(self) -> bool:
        return self.question.outcome == ORDINAL_OUTCOME


def load_questions(
    path: str | Path, episodes: Mapping[str, Sequence[str]] | None = None
) -> tuple[QuestionsFile, list[LoadedQuestion]]:
    """Read and validate a questions file and every scenario and outcome it names.

    ``episodes`` (for ``sim score --loo``): the calibration's episodes, each with the scenario
    paths its runs take from the calibration; then every question must name one as its
    ``episode``, and its scenario must have each of that episode's paths.

    Raises ``ScenarioError`` listing every mistake as ``file:line: field: message``.
    """
    source = str(path)
    text = read_source(path)
    if not text.strip():
        message = "file is empty; a questions file needs name and questions"
        raise ScenarioError([Problem(source, None, "", message)])
    data, lines = read_document(text, source)
    where: dict[Path_, Where] = {p: (source, line) for p, line in lines.items()}
    try:
        parsed = validate_model(QuestionsFile, data, where, source)
    except ScenarioError as exc:
        raise ScenarioError([_reworded(p) for p in exc.problems]) from None
    problems: list[Problem] = []
    loaded = []
    for index, question in enumerate(parsed.questions):

        def problem(field: str, message: str, index: int = index) -> None:
            key = ("questions", index, field)
            line = lines.get(key, lines.get(key[:2]))
            problems.append(Problem(source, line, dotted_field(key), message))

        _check_question(question, problem)
        loaded_question = _load_scenario(question, Path(source).parent, problem, problems)
        if loaded_question is not None:
            loaded.append(loaded_question)
            if episodes is not None:
                _check_episode(loaded_question, episodes, problem)
    _check_unique_ids(parsed.questions, lines, source, problems)
    if problems:
        raise ScenarioError(problems)
    return parsed, loaded


def _reworded(problem: Problem) -> Problem:
    """A schema problem pointing to this file's documentation instead of the scenario schema's."""
    message = problem.message.replace("see `sim schema`", "see docs/scoring.md")
    return Problem(problem.source, problem.line, problem.field, message)


def _check_question(question: Question, problem: Report) -> None:
    """What the schema alone cannot check: resolution, base rate and dates fit the question."""
    ordinal = question.outcome == ORDINAL_OUTCOME
    if ordinal and question.resolution >= RUNG_COUNT:
        problem("resolution", f"must be a rung 0-6 for max_rung, got {question.resolution}")
    if not ordinal and question.resolution > 1:
        problem("resolution", f"must be 0 or 1 for a binary outcome, got {question.resolution}")
    _check_base_rate(question.base_rate, ordinal, problem)
    _check_dates(question, ordinal, problem)


def _check_base_rate(rate: BaseRate, ordinal: bool, problem: Report) -> None:
    """A binary question's base rate is a probability; an ordinal one's a distribution."""
    wanted, other = ("distribution", "probability") if ordinal else ("probability", "distribution")
    what = "max_rung" if ordinal else "a binary outcome"
    meaning = "seven shares, rungs 0-6, summing to 1" if ordinal else "the share with the outcome"
    if getattr(rate, wanted) is None:
        unwanted = f", not {other}" if getattr(rate, other) is not None else ""
        problem("base_rate", f"{what} needs {wanted} ({meaning}){unwanted}")
    elif getattr(rate, other) is not None:
        problem("base_rate", f"{what} takes {wanted} only, not {other}")
    if rate.distribution is not None and abs(sum(rate.distribution) - 1) > DISTRIBUTION_TOLERANCE:
        problem("base_rate", f"distribution must sum to 1, got {sum(rate.distribution):g}")


def _check_dates(question: Question, ordinal: bool, problem: Report) -> None:
    """A resolution cannot be known before the forecast; that something did not happen (or the
    highest rung) only once the horizon has passed; that it happened only if within the horizon."""
    window_end = question.forecast_date + dt.timedelta(days=question.horizon_days)
    if question.resolved_on < question.forecast_date:
        problem("resolved_on", f"is before forecast_date {question.forecast_date}")
    elif (ordinal or question.resolution == 0) and question.resolved_on < window_end:
        problem(
            "resolved_on",
            f"the outcome is known only when the horizon ends ({window_end}), "
            f"got {question.resolved_on}",
        )
    elif not ordinal and question.resolution == 1 and question.resolved_on > window_end:
        problem(
            "resolved_on",
            f"an outcome that happened after the horizon ({window_end}) resolves 0, not 1",
        )


def _load_scenario(
    question: Question, folder: Path, problem: Report, problems: list[Problem]
) -> LoadedQuestion | None:
    """The question's scenario with its horizon set, and its outcome checked against it."""
    file = (folder / question.scenario).resolve()
    if not file.is_file():
        problem("scenario", f"no such file: {file}")
        return None
    try:
        scenario = load_with_overrides(file, {"horizon_days": question.horizon_days})
    except ScenarioError as exc:
        problems.extend(exc.problems)
        return None
    if question.outcome != ORDINAL_OUTCOME:
        try:
            parsed = check_outcomes([question.outcome], scenario, file)
        except ResultsError as exc:
            problem("outcome", f"{exc} (or max_rung for an ordinal question)")
            return None
        if not _scorable(parsed, question.outcome, problem):
            return None
    return LoadedQuestion(question, file, scenario)


def _check_episode(
    loaded: LoadedQuestion, episodes: Mapping[str, Sequence[str]], problem: Report
) -> None:
    """A question scored leave-one-episode-out names an episode of the calibration, and its
    scenario has every value that episode's fold posterior sets."""
    episode = loaded.question.episode
    if episode is None or episode not in episodes:
        said = "needs an episode" if episode is None else f"no episode {episode!r}"
        problem("episode", f"{said} of the calibration config ({', '.join(episodes)})")
        return
    for path in episodes[episode]:
        if why := number_at(loaded.scenario, path):
            problem("episode", f"{episode!r} sets {path}, but {loaded.scenario_file}: {why}")


def _scorable(parsed: list[Outcome], outcome: str, problem: Report) -> bool:
    """Whether a question can score the outcome: a 0/1 outcome that a runs table decides (the
    persistence and one-rung-up baselines are runs-table rows, with no event log)."""
    for checked in parsed:
        if checked.kind != "binary":
            problem("outcome", f"{outcome!r} is a number, not 0/1; give it a threshold (>=, <)")
            return False
        if checked.needs_events:
            problem("outcome", f"{outcome!r} needs the event log, which sim score does not read")
            return False
    return True


def _check_unique_ids(
    questions: list[Question], lines: Mapping[Path_, int], source: str, problems: list[Problem]
) -> None:
    """Each question's id names its row in every table: two questions may not share one."""
    seen: set[str] = set()
    for index, question in enumerate(questions):
        if question.id in seen:
            key = ("questions", index, "id")
            problems.append(
                Problem(source, lines.get(key), dotted_field(key), f"duplicate id {question.id!r}")
            )
        seen.add(question.id)
