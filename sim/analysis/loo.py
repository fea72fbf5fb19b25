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
Each forecast row names its fold (``left_out``). Run again, the command reuses every finished fit
and study; a fold fitted under other settings (another config or particle count) is refused.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd

from sim.analysis.forecasts import (
    ScoreResults,
    check_score_folder,
    forecast_questions,
    score_manifest,
    write_scores,
)
from sim.analysis.questions import LoadedQuestion, load_questions
from sim.analysis.scores import DEFAULT_RESAMPLES
from sim.calibration.config import Config
from sim.calibration.folds import QUESTION_POSTERIOR, fit_fold, prior_only_columns
from sim.calibration.loading import load_config
from sim.errors import ResultsError
from sim.study import DEFAULT_N
from sim.study.results import atomic_write_bytes, write_manifest

FOLDS = "folds"
"""The folder of the folds in a leave-one-episode-out scoring: ``OUT/folds/EPISODE``."""
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
    the config's for the bootstrap); the fits keep the config's seed. ``on_fold(episode)`` and
    ``on_study(name)`` are called before each fold and each study.
    """
    config = load_config(config_file)
    needs = {name: _scenario_paths(config, name) for name in config.episode_names}
    questions_path = Path(questions_file)
    _, loaded = load_questions(questions_path, episodes=needs)
    folder = Path(out)
    check_score_folder(folder, FOLDS)
    options = {"workers": workers, "executor": executor, "progress": progress}
    tables, folds, studies = [], {}, {}
    for name in config.episode_names:
        asked = [q for q in loaded if q.question.episode == name]
        if not asked:
            continue
        if on_fold:
            on_fold(name)
        fold_folder = folder / FOLDS / name
        settings = _fold_settings(config, name, particles)
        _claim_fold(fold_folder, settings)
        posterior = fit_fold(config, name, fold_folder, particles=particles, **options)
        table, fold_studies = forecast_questions(
            asked, fold_folder, n=n, seed=seed, on_study=on_study, parameters_from=posterior,
            **options,
        )  # fmt: skip
        tables.append(table.assign(left_out=name))
        folds[name] = settings | _fit_summary(fold_folder)
        studies |= {f"{FOLDS}/{name}/{study}": entry for study, entry in fold_studies.items()}
    forecasts = _in_question_order(pd.concat(tables, ignore_index=True), loaded)
    bootstrap_seed = seed if seed is not None else config.seed
    results = write_scores(forecasts, folder, bootstrap_seed, resamples)
    manifest = score_manifest(questions_path, studies, n, seed, bootstrap_seed, resamples)
    manifest |= {
        "kind": "score-loo",
        "calibration_config": str(config.source),
        "calibration_sha256": _sha256(config.source),
        "folds": folds,
    }
    write_manifest(folder, manifest)
    return results


def _scenario_paths(config: Config, name: str) -> list[str]:
    """The scenario paths the episode's runs take from the calibration."""
    priors = {prior.path: prior for prior in config.priors}
    return [priors[column].scenario_path for column in config.episode(name).columns]


def _fold_settings(config: Config, name: str, particles: int | None) -> dict[str, Any]:
    """What decides a fold's fit: the config file's content, the episode left out, the budget."""
    return {
        "left_out": name,
        "calibration_sha256": _sha256(config.source),
        "particles": int(particles or config.smc["particles"]),
        "fitted_episodes": [e for e in config.episode_names if e != name],
        "prior_only": prior_only_columns(config, name),
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


def _fit_summary(folder: Path) -> dict[str, Any]:
    """The fold fit's last generation (tolerance, acceptance, ESS) and its question posterior's
    SHA-256, for the manifest."""
    last = pd.read_csv(folder / "generations.csv").iloc[-1]
    return {
        "generations": int(last.generation) + 1,
        "final_epsilon": float(last.epsilon),
        "final_acceptance_rate": float(last.acceptance_rate),
        "final_ess": float(last.ess),
        "question_posterior_sha256": _sha256(folder / QUESTION_POSTERIOR),
    }


def _in_question_order(forecasts: pd.DataFrame, loaded: list[LoadedQuestion]) -> pd.DataFrame:
    """The forecast rows in the questions file's order, ``left_out`` beside ``id``."""
    order = {q.question.id: index for index, q in enumerate(loaded)}
    ranked = forecasts.assign(_order=forecasts.id.map(order)).sort_values("_order", kind="stable")
    columns = ["id", "left_out", *(c for c in forecasts.columns if c not in ("id", "left_out"))]
    return ranked[columns].reset_index(drop=True)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
