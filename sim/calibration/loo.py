"""Leave-one-episode-out scoring, behind ``sim score --loo``: each calibration episode in turn
is left out of the fit, and the questions about it are scored with what the rest taught.

For each episode E that a question names (``episode:``), in the config's order:

1. its fold fits the calibration without E into ``OUT/folds/E`` (``sim.calibration.folds``:
   E's runs then draw the fitted values from the fold's posterior and the values only E informs
   from their priors); an interrupted fit continues from its saved generations;
2. E's questions run as ordinary studies under ``OUT/folds/E/studies``, drawing from that fold's
   question posterior instead of their scenario's own ``parameters_from``.

The forecasts of every fold are then scored together, as ``sim score`` scores one file: the same
baselines, skill with paired bootstrap intervals over all questions, and the reliability table.
Each forecast row names its fold (``left_out``). With ``in_sample``, a fit on every episode
forecasts each question too (forecaster ``model_in_sample``), and the skill table scores the
out-of-sample model against it: what leaving the episode out costs. Run again, the command
reuses every finished fit and study; a fold fitted under other settings (another config file,
another fit of its episodes, another particle count) is refused.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.forecasts import (
    BASELINES,
    IN_SAMPLE,
    ScoreResults,
    check_score_folder,
    forecast_questions,
    score_manifest,
    write_scores,
)
from sim.analysis.questions import LoadedQuestion, load_questions
from sim.analysis.scores import DEFAULT_RESAMPLES
from sim.calibration.config import Config
from sim.calibration.folds import (
    QUESTION_POSTERIOR,
    fit,
    fit_fold,
    prior_only_columns,
    write_question_posterior,
)
from sim.calibration.loading import load_config
from sim.calibration.sampler import config_hash
from sim.errors import ResultsError
from sim.study import DEFAULT_N
from sim.study.results import atomic_write_bytes, file_sha256, write_manifest

FOLDS = "folds"
"""The folder of the folds in a leave-one-episode-out scoring: ``OUT/folds/EPISODE``."""
EVERY_EPISODE = "all-episodes"
"""The folder, under ``folds/``, of the fit on every episode (``in_sample``)."""
FOLD_SETTINGS = "fold.json"
"""What a fold was fitted under, kept beside its posterior so a rerun cannot mix two fits."""


def score_loo(
    questions_file: str | Path,
    config_file: str | Path,
    *,
    out: str | Path,
    n: int = DEFAULT_N,
    seed: int | None = None,
    resamples: int = DEFAULT_RESAMPLES,
    particles: int | None = None,
    in_sample: bool = False,
    on_fold: Callable[[str], Any] | None = None,
    on_study: Callable[[str], Any] | None = None,
    workers: int = 1,
    executor: str = "process",
    progress: Any = None,
) -> ScoreResults:
    """Score every question of ``questions_file`` out of sample: fit ``config_file`` without
    the question's episode (``particles`` per generation if given, else the config's), then
    forecast it from that fold's posterior with ``n`` replications; write the tables to ``out``.

    ``seed`` seeds every study and the bootstrap (default: each scenario's own for its study,
    the config's for the bootstrap); the fits keep the config's seed. With ``in_sample``, the
    config is also fitted on every episode (``OUT/folds/all-episodes``) and each question is
    forecast from that fit too, as the forecaster ``model_in_sample``: what leaving the episode
    out costs. ``on_fold(episode)`` and ``on_study(name)`` are called before each fold (None for
    the fit on every episode) and each study.
    """
    config = load_config(config_file)
    needs = {name: _scenario_paths(config, name) for name in config.episode_names}
    questions_path = Path(questions_file)
    _, loaded = load_questions(questions_path, episodes=needs)
    folder = Path(out)
    check_score_folder(folder, FOLDS)
    forecast = {"n": n, "seed": seed, "on_study": on_study, "workers": workers,
                "executor": executor, "progress": progress}  # fmt: skip
    asked = {
        name: [q for q in loaded if q.question.episode == name] for name in config.episode_names
    }
    asked = {name: questions for name, questions in asked.items() if questions}
    tables, folds, studies = [], {}, {}
    for name, questions in asked.items():
        if on_fold:
            on_fold(name)
        table, folds[name], more = _out_of_sample(
            config, name, questions, folder, particles, forecast
        )
        tables.append(table)
        studies |= more
    if in_sample:
        if on_fold:
            on_fold(None)
        table, folds[EVERY_EPISODE], more = _in_sample(config, asked, folder, particles, forecast)
        tables.append(table)
        studies |= more
    forecasts = _in_question_order(pd.concat(tables, ignore_index=True), loaded)
    bootstrap_seed = seed if seed is not None else config.seed
    results = write_scores(forecasts, folder, bootstrap_seed, resamples)
    manifest = score_manifest(questions_path, studies, n, seed, bootstrap_seed, resamples)
    manifest |= {
        "kind": "score-loo",
        "calibration_config": str(config.source),
        "calibration_sha256": file_sha256(config.source),
        "folds": folds,
    }
    write_manifest(folder, manifest)
    atomic_write_bytes(folder / REPORT, loo_report(results, manifest).encode("utf-8"))
    return results


def _out_of_sample(
    config: Config,
    name: str,
    questions: list[LoadedQuestion],
    folder: Path,
    particles: int | None,
    forecast: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Episode ``name``'s questions forecast from the fit without it: the forecast rows (with
    ``left_out``), the fold's manifest entry, its studies."""
    fold_folder = folder / FOLDS / name
    settings = _fold_settings(config, name, particles)
    _claim_fold(fold_folder, settings)
    posterior = fit_fold(config, name, fold_folder, particles=particles, **_fit_options(forecast))
    table, studies = forecast_questions(
        questions, fold_folder, parameters_from=posterior, **forecast
    )
    summary = settings | _fit_summary(fold_folder, {name: posterior})
    named = {f"{FOLDS}/{name}/{study}": entry for study, entry in studies.items()}
    return table.assign(left_out=name), summary, named


def _in_sample(
    config: Config,
    asked: dict[str, list[LoadedQuestion]],
    folder: Path,
    particles: int | None,
    forecast: dict[str, Any],
) -> tuple[pd.DataFrame, dict[str, Any], dict[str, Any]]:
    """Every question forecast from one fit on every episode: the model rows, renamed
    ``model_in_sample``; the fit's manifest entry; its studies."""
    every = folder / FOLDS / EVERY_EPISODE
    settings = _fold_settings(config, None, particles)
    _claim_fold(every, settings)
    fitted = fit(config, every, particles=particles, **_fit_options(forecast))
    tables, studies, posteriors = [], {}, {}
    for name, questions in asked.items():
        posterior = write_question_posterior(
            config, name, fitted, every / name / QUESTION_POSTERIOR
        )
        posteriors[name] = posterior
        table, episode_studies = forecast_questions(
            questions, every / name, parameters_from=posterior, **forecast
        )
        model = table[table.forecaster == "model"].assign(forecaster=IN_SAMPLE, left_out=name)
        tables.append(model)
        studies |= {f"{FOLDS}/{EVERY_EPISODE}/{name}/{s}": e for s, e in episode_studies.items()}
    summary = settings | _fit_summary(every, posteriors)
    return pd.concat(tables, ignore_index=True), summary, studies


def _fit_options(forecast: dict[str, Any]) -> dict[str, Any]:
    """Of the forecasting options, those a fit takes as well: where and how it runs."""
    return {key: forecast[key] for key in ("workers", "executor", "progress")}


def _scenario_paths(config: Config, name: str) -> list[str]:
    """The scenario paths the episode's runs take from the calibration."""
    return [prior.scenario_path for prior in config.episode_priors(name)]


def _fold_settings(config: Config, name: str | None, particles: int | None) -> dict[str, Any]:
    """What decides a fold's fit: the episode left out (None: the fit on every episode), the
    config file, the identity of what it fits (``config_hash``: the episodes' scenarios, priors,
    targets, seed and SMC settings, so an edited episode file is a different fold too) and the
    budget."""
    fitted = config.without(name) if name else config
    return {
        "left_out": name,
        "calibration_sha256": file_sha256(config.source),
        "fit_hash": config_hash(fitted),
        "particles": int(particles or config.smc["particles"]),
        "fitted_episodes": [e for e in config.episode_names if e != name],
        "prior_only": prior_only_columns(config, name) if name else [],
    }


def _claim_fold(folder: Path, settings: dict[str, Any]) -> None:
    """Record the fold's settings, or refuse a folder fitted under others (its posterior and
    studies would be mixed with a new fit's)."""
    path = folder / FOLD_SETTINGS
    if path.exists():
        before = json.loads(path.read_text(encoding="utf-8"))
        changed = [key for key in settings if before.get(key) != settings[key]]
        if changed:
            raise ResultsError(
                f"{folder}: this fold was fitted with other {', '.join(changed)} "
                f"({', '.join(f'{k}={before.get(k)}' for k in changed)}); choose another -o"
            )
        return
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(path, json.dumps(settings, indent=2).encode("utf-8"))


def _fit_summary(folder: Path, posteriors: dict[str, Path]) -> dict[str, Any]:
    """The fit's last generation (tolerance, acceptance, ESS) and the SHA-256 of the question
    posterior of each episode it forecast, for the manifest."""
    last = pd.read_csv(folder / "generations.csv").iloc[-1]
    return {
        "generations": int(last.generation) + 1,
        "final_epsilon": float(last.epsilon),
        "final_acceptance_rate": float(last.acceptance_rate),
        "final_ess": float(last.ess),
        "question_posteriors_sha256": {name: file_sha256(p) for name, p in posteriors.items()},
    }


def _in_question_order(forecasts: pd.DataFrame, loaded: list[LoadedQuestion]) -> pd.DataFrame:
    """The forecast rows in the questions file's order, ``left_out`` beside ``id``."""
    order = {q.question.id: index for index, q in enumerate(loaded)}
    ranked = forecasts.assign(_order=forecasts.id.map(order)).sort_values("_order", kind="stable")
    columns = ["id", "left_out", *(c for c in forecasts.columns if c not in ("id", "left_out"))]
    return ranked[columns].reset_index(drop=True)


REPORT = "report.md"
"""The leave-one-episode-out scoring's report section, in its output folder."""
SKILL_HEADER = ("| reference | its mean | model's skill [95% CI] | verdict |", "|---|---|---|---|")
SCORE_NAMES = {"brier": "Brier score", "log_score": "log score (nats)", "rps": "RPS"}


def loo_report(results: ScoreResults, manifest: dict[str, Any]) -> str:
    """The scoring as a report section (Markdown): mean scores by forecaster, the model's skill
    against each reference with its interval and a verdict, and the mean Brier score per
    episode; where it comes from (questions, config, replications, commit)."""
    lines = [
        "## Leave-one-episode-out forecasts",
        "",
        f"`sim score {manifest['questions_file']} --loo`: each episode's questions forecast from "
        f"a fit of the other episodes of `{manifest['calibration_config']}` (SHA-256 "
        f"{manifest['calibration_sha256'][:12]}), {manifest['n_per_study']:,} replications a "
        f"study, commit {str(manifest['git_commit'])[:7]}. Scores are losses (lower is better); "
        "skill is 1 - model / reference, with a paired bootstrap 95% interval over the questions.",
        "",
    ]
    for name, label in SCORE_NAMES.items():
        skill = results.skill[results.skill.score == name]
        if skill.empty:
            continue
        questions, mean = int(skill.questions.iloc[0]), skill.model_mean.iloc[0]
        lines += [f"**{label}**, {questions} questions: the model {mean:.3f}.", "", *SKILL_HEADER]
        lines += [
            f"| {row.baseline} | {row.baseline_mean:.3f} | {row.skill:+.2f} "
            f"[{row.ci_low:+.2f}, {row.ci_high:+.2f}] | {_verdict(row)} |"
            for row in skill.itertuples()
        ]
        lines.append("")
    return "\n".join([*lines, *_by_episode(results.forecasts)])


def _verdict(row: Any) -> str:
    """Whether the interval says the model beats the reference, loses to it, or cannot tell."""
    if pd.isna(row.skill):
        return "undefined (the reference scores 0)"
    if row.ci_low > 0:
        return "the model is better"
    if row.ci_high < 0:
        return "the model is worse"
    leaning = "better" if row.skill > 0 else "worse"
    return f"cannot be told apart (the model's mean is {leaning})"


def _by_episode(forecasts: pd.DataFrame) -> list[str]:
    """Mean Brier score per left-out episode and forecaster, as Markdown table lines."""
    binary = forecasts.dropna(subset=["brier"])
    if binary.empty:
        return []
    table = binary.pivot_table(index="left_out", columns="forecaster", values="brier")
    counts = binary.groupby("left_out").id.nunique()
    names = [name for name in ("model", IN_SAMPLE, *BASELINES) if name in table]
    lines = ["**Mean Brier score by episode left out**", ""]
    lines += [
        "| episode | questions | " + " | ".join(names) + " |",
        "|---" * (len(names) + 2) + "|",
    ]
    lines += [
        f"| {episode} | {counts[episode]} | "
        + " | ".join(f"{table.loc[episode, name]:.3f}" for name in names)
        + " |"
        for episode in table.index
    ]
    return [*lines, ""]
