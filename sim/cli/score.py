"""``sim score``: the model's forecasts of resolved questions, scored against baselines."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
import pandas as pd
from click.core import ParameterSource

from sim.analysis.forecasts import BASELINES, IN_SAMPLE, ScoreResults, score
from sim.analysis.scores import DEFAULT_RESAMPLES
from sim.cli.support import (
    EXECUTOR_OPTION,
    EXIT_INTERRUPTED,
    WORKERS_OPTION,
    OptionError,
    calibration_config_option,
    progress_bar,
    user_errors,
)
from sim.study import DEFAULT_N
from sim.study.results import read_manifest

FIGURE_STEM = "reliability-diagram"


@click.command("score")
@click.argument("questions", type=click.Path(path_type=Path))
@click.option(
    "--out", "-o", type=click.Path(path_type=Path), required=True, help="Folder for the scores."
)
@click.option(
    "-n",
    "--replications",
    "n",
    type=click.IntRange(min=2),
    default=DEFAULT_N,
    show_default=True,
    help="Replications per study (one study per scenario and horizon).",
)
@click.option(
    "--seed",
    type=click.IntRange(min=0),
    help="Root seed of every study and of the bootstrap (default: each scenario's own).",
)
@click.option(
    "--resamples",
    type=click.IntRange(min=100),
    default=DEFAULT_RESAMPLES,
    show_default=True,
    help="Bootstrap resamples of the questions for the skill intervals.",
)
@click.option(
    "--loo",
    is_flag=True,
    help="Leave one episode out: fit the calibration without each question's episode, and "
    "forecast the question from that fit (every question names its episode:).",
)
@calibration_config_option(
    "With --loo: the calibration config whose episodes are left out in turn."
)
@click.option(
    "--in-sample",
    is_flag=True,
    help="With --loo: also fit on every episode and forecast each question from that fit "
    "(forecaster model_in_sample), to show what leaving the episode out costs.",
)
@click.option(
    "--particles",
    type=click.IntRange(min=20),
    help="With --loo: particles per generation of each fold's fit (default: the config's).",
)
@WORKERS_OPTION
@EXECUTOR_OPTION
@user_errors
def score_command(
    questions: Path,
    out: Path,
    n: int,
    seed: int | None,
    resamples: int,
    loo: bool,
    config_path: Path,
    particles: int | None,
    in_sample: bool,
    workers: int,
    executor: str,
) -> None:
    """Score the model's forecasts of the resolved questions in QUESTIONS (a YAML file).

    Each question names a scenario, an outcome (rung>=R, strike:ATTACKER>TARGET>=R, or
    max_rung for the highest rung 0-6), a horizon in days, the forecast date, its resolution
    and a base rate (see docs/scoring.md). Each scenario runs as a Monte Carlo study with the
    question's horizon. The model's probability (Wilson 95% CI) is scored by the Brier and log
    scores (binary) or the ranked probability score (max_rung), beside four baselines: uniform,
    the base rate, persistence (nothing happens after the opening) and one-rung-up. Skill
    against each baseline has a paired bootstrap 95% CI over the questions.

    Writes forecasts, skill and reliability tables (Parquet and CSV), the reliability diagram
    (PDF, PNG and its CSV) and a manifest to OUT; prints one line per question. Interrupted,
    the same command continues the unfinished studies.

    With --loo, out of sample: for each episode of the calibration config that a question
    names (episode:), the calibration is fitted without it (OUT/folds/EPISODE, as sim calibrate
    fits, resumable) and that episode's questions are forecast from the fit; the values only the
    left-out episode informs are drawn from their priors.

    \b
    Examples:
      sim score calibration/questions-april-2024.yaml -o results/scores -n 2000
      sim score calibration/questions-episodes.yaml --loo -o results/loo -n 1000
    """
    config_given = click.get_current_context().get_parameter_source("config_path")
    if not loo and (particles or in_sample or config_given is not ParameterSource.DEFAULT):
        raise OptionError(
            "--config, --particles and --in-sample choose the fits of --loo; add --loo"
        )
    options = {
        "out": out,
        "n": n,
        "seed": seed,
        "resamples": resamples,
        "workers": workers,
        "executor": executor,
        "on_study": lambda name: click.echo(f"study {name}", err=True),
    }
    with _continues(out), progress_bar("replications") as progress:
        if loo:
            from sim.calibration.loo import score_loo  # fits: numpy and scipy at their heaviest

            results = score_loo(
                questions, config_path, particles=particles, in_sample=in_sample,
                progress=progress, on_fold=_announce_fold, **options,
            )  # fmt: skip
        else:
            results = score(questions, progress=progress, **options)
    _write_figure(results)
    for line in question_lines(results.forecasts):
        click.echo(line)
    click.echo(f"{_skill_line(results.skill)}\nwritten to {results.folder}")


def _announce_fold(left_out: str | None) -> None:
    said = f"fit without {left_out}" if left_out else "fit on every episode (in-sample)"
    click.echo(said, err=True)


@contextmanager
def _continues(folder: Path) -> Iterator[None]:
    """On Ctrl-C, say that the same command continues the unfinished studies (exit 130)."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo(
            f"\ninterrupted: finished chunks are kept in {folder}; run the same command again "
            "to continue",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)


def _write_figure(results: ScoreResults) -> None:
    """The reliability diagram beside the tables (its CSV holds the numbers drawn); the files'
    metadata name the questions file, seed, replications, version and commit. (matplotlib is
    imported here, not with the command line, which it would slow by a third of a second.)"""
    from sim.figures.scores import reliability_diagram
    from sim.figures.style import save_figure

    manifest = read_manifest(results.folder)
    trace = {
        "scenario_file": manifest["questions_file"],
        "seed": manifest["seed"] if manifest["seed"] is not None else "each scenario's",
        "n": manifest["n_per_study"],
        "package_version": manifest["package_version"],
        "git_commit": manifest["git_commit"],
    }
    figure = reliability_diagram(results.reliability)
    save_figure(figure, results.folder / FIGURE_STEM, manifest=trace)


def question_lines(forecasts: pd.DataFrame) -> list[str]:
    """One line per question: the model's forecast with its interval, what happened, and the
    model's score beside the best baseline's."""
    lines = []
    for question_id, rows in forecasts.groupby("id", sort=False):
        model = rows[rows.forecaster == "model"].iloc[0]
        name = "rps" if model.kind == "ordinal" else "brier"
        baselines = rows[rows.forecaster.isin(BASELINES)]
        best = baselines.loc[baselines[name].idxmin()]
        said = "P(rung)" if model.kind == "ordinal" else "P"
        fold = f" (fit without {model.left_out})" if "left_out" in rows else ""
        in_sample = rows[rows.forecaster == IN_SAMPLE]
        fitted_on_all = (
            f"; in-sample {in_sample.probability.iloc[0]:.3f}" if not in_sample.empty else ""
        )
        lines.append(
            f"{question_id}{fold}: {said}={model.probability:.3f} "
            f"[{model.ci_low:.3f}, {model.ci_high:.3f}] resolved {model.resolution}; "
            f"{name} {model[name]:.3f} (best baseline {best.forecaster} {best[name]:.3f})"
            f"{fitted_on_all}"
        )
    return lines


def _skill_line(skill: pd.DataFrame) -> str:
    """Brier skill against every baseline, one line."""
    brier = skill[skill.score == "brier"]
    parts = [
        f"{row.baseline} {row.skill:+.2f} [{row.ci_low:+.2f}, {row.ci_high:+.2f}]"
        for row in brier.itertuples()
    ]
    return "Brier skill: " + ", ".join(parts) if parts else "no binary questions"
