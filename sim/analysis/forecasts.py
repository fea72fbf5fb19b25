"""Scoring the model as a forecaster: ``score(questions_file)`` behind ``sim score``.

Each question's scenario runs as an ordinary Monte Carlo study (``run_study``) with the
question's horizon; questions on the same scenario and horizon share one study. The model's
forecast is the share of replications with the outcome (binary, with a Wilson 95% interval) or
the share ending at each rung (ordinal, ``max_rung``; a run with no strike counts as rung 0).
Four baselines forecast the same questions:

- ``uniform``: 0.5, or 1/7 for each rung;
- ``base_rate``: the questions file's base rate (it names its source);
- ``persistence``: nothing happens after the forecast date, so the scenario's opening alone
  decides the outcome (the rung at the forecast date stays);
- ``one_rung_up``: the target of the last opening strike answers its attacker one rung higher
  (at most rung 6), and nothing else happens.

Persistence and one-rung-up are hypothetical event logs summarised by the model's own
``run_row`` and judged by the same outcome functions as the simulated runs, so they answer any
outcome ``sim run`` understands. The output folder holds ``forecasts``, ``skill`` and
``reliability`` tables (Parquet and CSV), a ``manifest.json``, and the studies under
``studies/``; running the same command again resumes unfinished studies.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.analysis.compare import outcome_indicator, write_table
from sim.analysis.questions import RUNG_COUNT, LoadedQuestion, load_questions
from sim.analysis.scores import (
    DEFAULT_RESAMPLES,
    LOG_CLIP,
    bootstrap_skill,
    brier_score,
    log_score,
    ranked_probability_score,
    reliability_table,
)
from sim.model.events import HOURS_PER_DAY, StrikeLaunched
from sim.model.outcomes import run_row
from sim.model.rng import Streams
from sim.scenario.schema import Scenario
from sim.study import DEFAULT_N, PACKAGE_VERSION
from sim.study.montecarlo import run_study
from sim.study.results import (
    ResultsError,
    file_sha256,
    git_commit,
    wilson_interval,
    write_manifest,
)

BASELINES = ("uniform", "base_rate", "persistence", "one_rung_up")
IN_SAMPLE = "model_in_sample"
"""Beside an out-of-sample model (``sim score --loo --in-sample``): the model fitted on every
episode, the question's own included; skill against it is what leaving the episode out costs."""
BINARY_SCORES = ("brier", "log_score")
ORDINAL_SCORES = ("rps",)
STUDIES = "studies"


@dataclass(frozen=True)
class ScoreResults:
    """What ``score`` computed, as written to ``folder``.

    ``forecasts``: one row per question and forecaster (``model`` and each baseline), with the
    forecast, its interval (model only) and the scores. ``skill``: per score and baseline, the
    mean scores of the model and the baseline over the questions and the model's skill with a
    paired bootstrap 95% interval. ``reliability``: the model's binary forecasts binned.
    """

    forecasts: pd.DataFrame
    skill: pd.DataFrame
    reliability: pd.DataFrame
    folder: Path


def score(
    questions_file: str | Path,
    *,
    out: str | Path,
    n: int = DEFAULT_N,
    seed: int | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    on_study: Callable[[str], Any] | None = None,
    **study_options: Any,
) -> ScoreResults:
    """Score the model's forecasts of every question in ``questions_file`` against the
    baselines; write the tables to ``out`` and return them.

    ``n`` replications per study; ``seed`` for every study and the bootstrap (default: each
    scenario's own seed for its study, and the first scenario's for the bootstrap);
    ``on_study(name)`` is called before each study runs; ``study_options`` go to ``run_study``
    (workers, executor, progress ...).
    """
    questions_path = Path(questions_file)
    _, loaded = load_questions(questions_path)
    folder = Path(out)
    check_score_folder(folder)
    forecasts, studies = forecast_questions(
        loaded, folder, n=n, seed=seed, on_study=on_study, **study_options
    )
    bootstrap_seed = seed if seed is not None else loaded[0].scenario.seed
    results = write_scores(forecasts, folder, bootstrap_seed, resamples)
    manifest = score_manifest(questions_path, studies, n, seed, bootstrap_seed, resamples)
    write_manifest(folder, manifest)
    return results


def forecast_questions(
    loaded: Sequence[LoadedQuestion],
    folder: Path,
    *,
    n: int,
    seed: int | None,
    on_study: Callable[[str], Any] | None = None,
    parameters_from: Path | None = None,
    **study_options: Any,
) -> tuple[pd.DataFrame, dict[str, dict[str, Any]]]:
    """The forecast table of ``loaded`` (``forecast_table``), from one study per scenario and
    horizon under ``folder/studies``, and what each study ran (its manifest entry).

    ``parameters_from``: a posterior every study draws from instead of its scenario's own (a
    leave-one-episode-out fold's question posterior)."""
    folders = _study_folders(loaded)
    overrides = [f"parameters_from={parameters_from}"] if parameters_from else []
    runs = _run_studies(folder, folders, n, seed, on_study, overrides, study_options)
    by_question = {q.question.id: runs[name] for name, q in _study_of_each(loaded, folders)}
    studies = {
        name: {"scenario_file": str(q.scenario_file), "horizon_days": q.question.horizon_days}
        for name, q in folders.items()
    }
    return forecast_table(loaded, by_question), studies


def write_scores(
    forecasts: pd.DataFrame, folder: Path, bootstrap_seed: int, resamples: int
) -> ScoreResults:
    """The skill and reliability of ``forecasts``; all three tables written to ``folder``."""
    skill = skill_table(forecasts, bootstrap_seed, resamples)
    model = forecasts[(forecasts.forecaster == "model") & (forecasts.kind == "binary")]
    reliability = reliability_table(model.probability.to_numpy(), model.resolution.to_numpy())
    for table, stem in ((forecasts, "forecasts"), (skill, "skill"), (reliability, "reliability")):
        write_table(table, folder, stem)
    return ScoreResults(forecasts, skill, reliability, folder)


def _run_studies(
    folder: Path,
    folders: dict[str, LoadedQuestion],
    n: int,
    seed: int | None,
    on_study: Callable[[str], Any] | None,
    overrides: list[str],
    study_options: dict[str, Any],
) -> dict[str, pd.DataFrame]:
    """Each study's runs table: a study already begun in ``folder`` is resumed (a finished one
    is read back), so an interrupted scoring loses nothing it finished."""
    runs = {}
    for name, question in folders.items():
        if on_study:
            on_study(name)
        study = folder / STUDIES / name
        runs[name] = run_study(
            question.scenario_file,
            n=n,
            out=study,
            seed=seed,
            overrides=[f"horizon_days={question.question.horizon_days}", *overrides],
            resume=(study / "manifest.json").exists(),
            **study_options,
        ).runs
    return runs


def check_score_folder(folder: Path, marker: str = STUDIES) -> None:
    """Refuse a file, or a non-empty folder that is not an earlier run of the same kind of
    scoring (one holds ``marker``: ``studies/``, or ``folds/`` for ``--loo``)."""
    if folder.exists() and not folder.is_dir():
        raise ResultsError(f"{folder}: is a file, not a folder; choose another -o")
    if folder.is_dir() and any(folder.iterdir()) and not (folder / marker).is_dir():
        what = "scoring" if marker == STUDIES else "leave-one-episode-out scoring"
        raise ResultsError(
            f"{folder}: already exists and holds something other than a {what}; choose another -o"
        )


def _study_key(question: LoadedQuestion) -> tuple[Path, float]:
    return question.scenario_file, question.question.horizon_days


def _study_folders(loaded: Sequence[LoadedQuestion]) -> dict[str, LoadedQuestion]:
    """One study per scenario and horizon, named ``<scenario stem>-<horizon>d``: the first
    question that needs it, by folder name."""
    folders: dict[str, LoadedQuestion] = {}
    keys: dict[tuple[Path, float], str] = {}
    for question in loaded:
        key = _study_key(question)
        if key in keys:
            continue
        base = f"{question.scenario_file.stem}-{question.question.horizon_days:g}d"
        name, suffix = base, 2
        while name in folders:
            name, suffix = f"{base}-{suffix}", suffix + 1
        keys[key], folders[name] = name, question
    return folders


def _study_of_each(
    loaded: Sequence[LoadedQuestion], folders: dict[str, LoadedQuestion]
) -> list[tuple[str, LoadedQuestion]]:
    """Each question with the name of the study that answers it."""
    names = {_study_key(q): name for name, q in folders.items()}
    return [(names[_study_key(q)], q) for q in loaded]


def hypothetical_runs(scenario: Scenario, baseline: str) -> pd.DataFrame:
    """The one-row runs table of a baseline's imagined round: ``persistence``, the opening
    strikes alone (nothing happens after the forecast date); ``one_rung_up``, the opening and
    then the target of the last strike known at the start answering its attacker one rung
    higher (at most 6), an hour after the later of that strike and the start.

    The last strike known is the last opening strike or, in a round taken up mid-way with no
    opening, the last history strike. History is the state the forecast starts from, not part of
    the forecast: outcomes count only strikes after the start, as in the model's runs. A round
    with neither (a campaign alone) has nothing to answer: one-rung-up is persistence."""
    if baseline not in ("persistence", "one_rung_up"):
        raise ValueError(f"no hypothetical round for baseline {baseline!r}")
    strikes = [
        StrikeLaunched(
            time_hours=event.day * HOURS_PER_DAY,
            strike_id=index,
            attacker=event.attacker,
            target=event.target,
            rung=event.rung,
            telegraphed=event.telegraphed,
            cause="opening",
        )
        for index, event in enumerate(scenario.opening)
    ]
    known = scenario.opening or scenario.history
    if baseline == "one_rung_up" and known:
        last = sorted(known, key=lambda strike: strike.day)[-1]
        strikes.append(
            StrikeLaunched(
                time_hours=max(last.day, 0.0) * HOURS_PER_DAY + 1,
                strike_id=len(strikes),
                attacker=last.target,
                target=last.attacker,
                rung=min(last.rung + 1, RUNG_COUNT - 1),
                telegraphed=False,
                cause="one_rung_up baseline",
            )
        )
    return pd.DataFrame([run_row(strikes, 0, list(scenario.actors))])


def rung_distribution(runs: pd.DataFrame) -> np.ndarray:
    """Share of runs whose highest rung is each of 0-6 (a run with no strike counts as 0)."""
    highest = np.clip(runs["max_rung"].to_numpy(dtype=int), 0, RUNG_COUNT - 1)
    return np.bincount(highest, minlength=RUNG_COUNT) / len(highest)


def _forecasts(question: LoadedQuestion, runs: pd.DataFrame) -> dict[str, Any]:
    """Every forecaster's forecast of one question: a probability (binary) or a distribution
    over the rungs (ordinal)."""
    q = question.question
    if question.ordinal:
        distributions = {
            "model": rung_distribution(runs),
            "uniform": np.full(RUNG_COUNT, 1 / RUNG_COUNT),
            "base_rate": np.array(q.base_rate.distribution),
        }
        for name in ("persistence", "one_rung_up"):
            imagined = hypothetical_runs(question.scenario, name)
            distributions[name] = rung_distribution(imagined)
        return distributions
    probabilities = {
        "model": float(outcome_indicator(runs, q.outcome).mean()),
        "uniform": 0.5,
        "base_rate": float(q.base_rate.probability),
    }
    for name in ("persistence", "one_rung_up"):
        imagined = hypothetical_runs(question.scenario, name)
        probabilities[name] = float(outcome_indicator(imagined, q.outcome)[0])
    return probabilities


def _row(question: LoadedQuestion, forecaster: str, forecast: Any, n_runs: int) -> dict:
    """One question and forecaster: the forecast, the model's Monte Carlo interval, the scores."""
    q = question.question
    row: dict[str, Any] = {
        "id": q.id,
        "kind": "ordinal" if question.ordinal else "binary",
        "outcome": q.outcome,
        "horizon_days": q.horizon_days,
        "forecast_date": q.forecast_date.isoformat(),
        "resolution": q.resolution,
        "forecaster": forecaster,
    }
    if question.ordinal:
        row["probability"] = float(forecast[q.resolution])
        row.update({f"p_rung_{r}": float(p) for r, p in enumerate(forecast)})
    else:
        row["probability"] = forecast
    row["ci_low"] = row["ci_high"] = np.nan
    if forecaster == "model":
        happened = round(row["probability"] * n_runs)
        low, high = wilson_interval(np.array([happened]), np.array([n_runs]))
        row["ci_low"], row["ci_high"], row["n"] = float(low[0]), float(high[0]), n_runs
    if question.ordinal:
        row["rps"] = float(ranked_probability_score(forecast[None, :], [q.resolution])[0])
    else:
        row["brier"] = float(brier_score(forecast, q.resolution)[0])
        row["log_score"] = float(log_score(forecast, q.resolution)[0])
    return row


def forecast_table(
    loaded: Sequence[LoadedQuestion], runs_by_question: dict[str, pd.DataFrame]
) -> pd.DataFrame:
    """One row per question and forecaster (model first, then the baselines in order);
    ``probability`` is P(outcome) for a binary question and P(the resolved rung) for an ordinal
    one, whose whole forecast is in ``p_rung_0`` .. ``p_rung_6``."""
    rows = []
    for question in loaded:
        runs = runs_by_question[question.question.id]
        forecasts = _forecasts(question, runs)
        rows += [_row(question, name, forecasts[name], len(runs)) for name in ("model", *BASELINES)]
    columns = ["id", "kind", "outcome", "horizon_days", "forecast_date", "resolution"]
    columns += ["forecaster", "probability", "ci_low", "ci_high", "n"]
    columns += [f"p_rung_{r}" for r in range(RUNG_COUNT)] + [*BINARY_SCORES, *ORDINAL_SCORES]
    return pd.DataFrame(rows).reindex(columns=columns)


def skill_table(forecasts: pd.DataFrame, seed: int, resamples: int) -> pd.DataFrame:
    """Per score and baseline (and ``model_in_sample`` if the table has it): mean scores over
    the questions it applies to, and the model's skill with a paired bootstrap 95% interval.
    Every baseline of a score is resampled with the same draws
    (``Streams(seed, 0).get("score", "bootstrap", SCORE)``)."""
    rows = []
    for name in (*BINARY_SCORES, *ORDINAL_SCORES):
        scored = forecasts.dropna(subset=[name])
        if scored.empty:
            continue
        by_forecaster = scored.pivot(index="id", columns="forecaster", values=name)
        model = by_forecaster["model"].to_numpy()
        for baseline in (b for b in (*BASELINES, IN_SAMPLE) if b in by_forecaster):
            reference = by_forecaster[baseline].to_numpy()
            rng = Streams(seed, 0).get("score", "bootstrap", name)
            rows.append(
                {
                    "score": name,
                    "baseline": baseline,
                    "questions": len(model),
                    "model_mean": float(model.mean()),
                    "baseline_mean": float(reference.mean()),
                    **bootstrap_skill(model, reference, rng, resamples),
                }
            )
    return pd.DataFrame(rows)


def score_manifest(
    questions_file: Path,
    studies: dict[str, dict[str, Any]],
    n: int,
    seed: int | None,
    bootstrap_seed: int,
    resamples: int,
) -> dict[str, Any]:
    """What was scored, how, with which versions (each study's own manifest says more)."""
    return {
        "kind": "score",
        "status": "complete",
        "questions_file": str(questions_file),
        "questions_sha256": file_sha256(questions_file),
        "n_per_study": n,
        "seed": seed,
        "bootstrap_seed": bootstrap_seed,
        "bootstrap_resamples": resamples,
        "log_score_clip": LOG_CLIP,
        "baselines": list(BASELINES),
        "studies": studies,
        "package_version": PACKAGE_VERSION,
        "git_commit": git_commit(),
        "finished_utc": datetime.now(UTC).isoformat(),
    }
