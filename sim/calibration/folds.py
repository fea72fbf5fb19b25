"""Leave-one-episode-out folds of a calibration, for ``sim score --loo``.

A forecast of episode E is out of sample only if the model never saw E. Its fold fits the
calibration without E (``Config.without``: E's targets, its own priors and the shared priors only
E's scenario has are gone) by the same ABC-SMC as ``sim calibrate``, into its own folder, where an
interrupted fit continues. E's runs then draw every value the calibration sets in E's scenario:

- a value the fold fitted, from the fold's posterior, one posterior row per parameter set;
- a value only E informs (its own priors, and shared ones no other episode's scenario has) from
  its uniform prior, since nothing the fold saw says anything about it.

That is the *question posterior* (``question-posterior.parquet``), one row per fold posterior
row, its columns named by E's scenario paths, so E's scenario reads it with a plain
``parameters_from: FILE``. Values outside the calibration keep the scenario's own, as with the
shipped posterior.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.config import Config
from sim.calibration.smc import run_calibration
from sim.model.rng import Streams
from sim.study.results import atomic_write_bytes

QUESTION_POSTERIOR = "question-posterior.parquet"
"""The file in a fold's folder that the left-out episode's questions draw from."""


def fit(
    config: Config,
    out: Path,
    *,
    particles: int | None = None,
    workers: int = 1,
    executor: str = "process",
    progress: Any = None,
) -> pd.DataFrame:
    """Fit ``config`` into ``out`` as ``sim calibrate --no-checks`` does (``particles`` per
    generation if given, else the config's; saved generations are reused) and return its
    posterior's parameter columns. Same seed, same posterior, for any number of workers."""
    if particles:
        config = replace(config, smc={**config.smc, "particles": particles})
    run_calibration(
        config, out, workers=workers, executor=executor, progress=progress, checks=False
    )
    return pd.read_parquet(out / "posterior.parquet", columns=config.paths)


def fit_fold(config: Config, left_out: str, out: Path, **options: Any) -> Path:
    """Fit ``config`` without episode ``left_out`` into ``out`` (``options`` as ``fit`` takes
    them) and write the question posterior there; return its path."""
    fitted = fit(config.without(left_out), out, **options)
    return write_question_posterior(config, left_out, fitted, out / QUESTION_POSTERIOR)


def write_question_posterior(
    config: Config, episode: str, fitted: pd.DataFrame, path: Path
) -> Path:
    """The question posterior of ``episode`` from the posterior ``fitted`` (its values not
    fitted drawn on the stream ``("loo", episode, "prior")`` of the config's seed), at ``path``."""
    rng = Streams(config.seed, 0).get("loo", episode, "prior")
    path.parent.mkdir(parents=True, exist_ok=True)
    table = question_posterior(config, episode, fitted, rng)
    atomic_write_bytes(path, table.to_parquet(index=False))
    return path


def question_posterior(
    config: Config, left_out: str, fitted: pd.DataFrame, rng: np.random.Generator
) -> pd.DataFrame:
    """One row per row of ``fitted`` (the fold's posterior): every value the calibration sets in
    episode ``left_out``'s scenario, by scenario path; a column the fold fitted from ``fitted``,
    any other uniform on its prior, drawn from ``rng`` in the episode's column order."""
    columns = {}
    for prior in config.episode_priors(left_out):
        if prior.path in fitted.columns:
            values = fitted[prior.path].to_numpy(dtype=float)
        else:
            values = rng.uniform(prior.low, prior.high, len(fitted))
        columns[prior.scenario_path] = values
    return pd.DataFrame(columns)


def prior_only_columns(config: Config, left_out: str) -> list[str]:
    """The scenario paths of episode ``left_out`` that its fold cannot fit (drawn from the
    prior in its question posterior)."""
    fitted = set(config.without(left_out).paths)
    return [p.scenario_path for p in config.episode_priors(left_out) if p.path not in fitted]
