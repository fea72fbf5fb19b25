"""Leave-one-episode-out scoring (``sim score --loo``; sim/calibration/folds.py,
sim/calibration/loo.py): a fold never sees the episode it leaves out, the left-out episode's
values come from the fold's posterior or their prior, and the scoring resumes and refuses
mixed fits."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import sim.calibration.folds as folds
from sim.analysis.compare import outcome_indicator
from sim.calibration.config import Config, Episode
from sim.calibration.folds import QUESTION_POSTERIOR, prior_only_columns, question_posterior
from sim.calibration.loading import load_config
from sim.calibration.loo import _scenario_paths, _verdict, score_loo
from sim.calibration.smc import _append_section
from sim.calibration.targets import Prior
from sim.cli.score import score_command
from sim.model.rng import Streams
from sim.study.montecarlo import run_study
from tests.interrupts import interrupted_after

DATA = Path(__file__).parent / "data"
CONFIG = DATA / "calibrate-two-episodes.yaml"
QUESTIONS = DATA / "questions-two-episodes.yaml"
N = 30


def score_cli(*args):
    return CliRunner().invoke(score_command, [str(a) for a in args])


def loo_cli(out, *args):
    return score_cli(
        QUESTIONS, "--loo", "--config", CONFIG, "-o", out, "-n", N, "--executor", "serial", *args
    )


def _episode(name: str, columns: tuple[str, ...]) -> Episode:
    return Episode(name, None, None, 1.0, "", (), columns)


def _config(episodes: dict[str, tuple[str, ...]], priors: list[Prior]) -> Config:
    return Config(
        priors=tuple(priors),
        episodes=tuple(_episode(name, columns) for name, columns in episodes.items()),
        seed=1,
        smc={"particles": 20},
        checks={},
        check={},
        source=CONFIG,
    )


SHARED = Prior("a.x", 0.0, 1.0, "shared by both")
ONLY_B = Prior("b.y", 2.0, 3.0, "shared, but only episode b's scenario has it")
OWN_A = Prior("a-ep:c.z", 5.0, 6.0, "a's own", episode="a-ep")
TOY = _config({"a-ep": ("a.x", "a-ep:c.z"), "b-ep": ("a.x", "b.y")}, [SHARED, ONLY_B, OWN_A])


@pytest.mark.parametrize(
    ("left_out", "kept_episodes", "kept_priors", "prior_only"),
    [
        ("a-ep", ["b-ep"], ["a.x", "b.y"], ["c.z"]),
        ("b-ep", ["a-ep"], ["a.x", "a-ep:c.z"], ["b.y"]),
    ],
)
def test_a_fold_drops_the_episode_its_own_priors_and_priors_only_it_uses(
    left_out, kept_episodes, kept_priors, prior_only
):
    fold = TOY.without(left_out)
    assert fold.episode_names == kept_episodes
    assert fold.paths == kept_priors
    assert prior_only_columns(TOY, left_out) == prior_only
    assert (fold.seed, fold.smc) == (TOY.seed, TOY.smc)


def test_a_fold_of_an_unknown_or_the_only_episode_is_refused():
    with pytest.raises(KeyError, match="no episode 'c-ep'; episodes: a-ep, b-ep"):
        TOY.without("c-ep")
    with pytest.raises(ValueError, match="only episode"):
        TOY.without("a-ep").without("b-ep")


def test_the_question_posterior_keeps_fitted_rows_and_draws_the_rest_from_the_prior():
    fitted = pd.DataFrame({"a.x": [0.1, 0.2, 0.3], "b.y": [2.5, 2.6, 2.7]})
    table = question_posterior(TOY, "a-ep", fitted, np.random.default_rng(7))
    assert list(table.columns) == ["a.x", "c.z"]
    assert table["a.x"].tolist() == [0.1, 0.2, 0.3]
    assert table["c.z"].tolist() == np.random.default_rng(7).uniform(5.0, 6.0, 3).tolist()
    other = question_posterior(TOY, "b-ep", fitted[["a.x"]], np.random.default_rng(7))
    assert list(other.columns) == ["a.x", "b.y"]
    assert other["b.y"].between(2.0, 3.0).all()


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    out = tmp_path_factory.mktemp("loo") / "out"
    result = loo_cli(out)
    assert result.exit_code == 0, result.output
    return out, result


def test_each_fold_fits_without_its_episode_and_its_questions_name_it(scored):
    out, result = scored
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["kind"] == "score-loo"
    assert set(manifest["folds"]) == {"april-2024", "strong-pressure"}
    for name, fold in manifest["folds"].items():
        particles = pd.read_parquet(out / "folds" / name / "particles.parquet")
        assert not [c for c in particles.columns if c.startswith(f"{name}:")], name
        assert f"distance:{name}" not in particles.columns
        assert fold["fitted_episodes"] == [
            e for e in ("april-2024", "strong-pressure") if e != name
        ]
    forecasts = pd.read_parquet(out / "forecasts.parquet")
    assert forecasts.groupby("id").left_out.first().to_dict() == {
        "iran_answers_april": "april-2024",
        "highest_rung_april": "april-2024",
        "iran_answers_pressure": "strong-pressure",
    }
    assert "iran_answers_pressure (fit without strong-pressure): P=" in result.output


def test_the_left_out_episode_draws_its_own_prior_and_the_fitted_shared_values(scored):
    out, _ = scored
    config = load_config(CONFIG)
    fitted = pd.read_parquet(out / "folds" / "april-2024" / "posterior.parquet")
    drawn = pd.read_parquet(out / "folds" / "april-2024" / QUESTION_POSTERIOR)
    rng = Streams(config.seed, 0).get("loo", "april-2024", "prior")
    assert drawn.equals(
        question_posterior(config, "april-2024", fitted[config.without("april-2024").paths], rng)
    )
    pressure = pd.read_parquet(out / "folds" / "strong-pressure" / QUESTION_POSTERIOR)
    assert pressure["restrains[us>israel].pressure"].between(0, 1).all()
    assert pressure["restrains[us>israel].pressure"].nunique() > 1


def test_the_model_forecast_is_a_run_of_the_scenario_on_the_fold_posterior(scored, tmp_path):
    out, _ = scored
    posterior = out / "folds" / "strong-pressure" / QUESTION_POSTERIOR
    runs = run_study(
        DATA.parents[1] / "scenarios" / "april-2024-strong-us-restraint.yaml",
        n=N,
        out=tmp_path / "again",
        executor="serial",
        overrides=["horizon_days=20", f"parameters_from={posterior}"],
    ).runs
    forecasts = pd.read_parquet(out / "forecasts.parquet")
    model = forecasts[(forecasts.id == "iran_answers_pressure") & (forecasts.forecaster == "model")]
    expected = outcome_indicator(runs, "strike:iran>israel>=3").mean()
    assert model.probability.iloc[0] == pytest.approx(expected, abs=1e-12)


def test_an_interrupted_loo_continues_to_the_same_tables(scored, tmp_path):
    out, _ = scored
    again = tmp_path / "again"
    interrupted_after(
        folds,
        "run_calibration",
        1,
        lambda: score_loo(QUESTIONS, CONFIG, out=again, n=N, executor="serial"),
    )
    assert (again / "folds" / "april-2024" / QUESTION_POSTERIOR).is_file()
    assert not (again / "forecasts.parquet").exists()
    finished = loo_cli(again)
    assert finished.exit_code == 0, finished.output
    assert pd.read_parquet(again / "forecasts.parquet").equals(
        pd.read_parquet(out / "forecasts.parquet")
    )


def test_a_fold_fitted_under_other_settings_is_refused(tmp_path):
    again = tmp_path / "again"
    assert loo_cli(again, "--particles", 21).exit_code == 0
    refused = loo_cli(again)
    assert refused.exit_code == 2
    assert "this fold was fitted with other particles (particles=21); choose another -o" in (
        refused.stderr
    )


def test_a_fold_of_another_calibration_is_refused(tmp_path):
    again = tmp_path / "again"
    assert loo_cli(again).exit_code == 0
    edited = tmp_path / "calibrate.yaml"
    text = CONFIG.read_text().replace("../../", f"{DATA.parents[1]}/")
    edited.write_text(text.replace("seed: 20240414", "seed: 7", 1))
    refused = score_cli(QUESTIONS, "--loo", "--config", edited, "-o", again, "-n", N)
    assert refused.exit_code == 2
    assert "this fold was fitted with other calibration_sha256, fit_hash" in refused.stderr


THIRD = "    scenario: ../../scenarios/april-2024-strong-us-restraint.yaml\n    episode: strong-pressure"
SOLEIMANI = "../../calibration/episodes/soleimani-2020.yaml"


@pytest.mark.parametrize(
    ("replacements", "message"),
    [
        ([("    episode: strong-pressure\n", "")], "questions[2].episode: needs an episode"),
        ([("episode: strong-pressure", "episode: pressure")], "no episode 'pressure' of the"),
        (
            [
                (
                    THIRD,
                    THIRD.replace("../../scenarios/april-2024-strong-us-restraint.yaml", SOLEIMANI),
                ),
                (
                    "outcome: strike:iran>israel>=3\n    horizon_days: 20\n    forecast_date: 2024-04-01\n    resolution: 1\n    resolved_on: 2024-04-14\n    resolution_source: test value",
                    "outcome: strike:iran>us>=2\n    horizon_days: 20\n    forecast_date: 2024-04-01\n    resolution: 1\n    resolved_on: 2024-04-14\n    resolution_source: test value",
                ),
            ],
            "'strong-pressure' sets restrains[us>israel].pressure, but",
        ),
    ],
)
def test_a_question_not_fit_for_its_fold_is_one_line_and_exit_2(replacements, message, tmp_path):
    text = QUESTIONS.read_text()
    for old, new in replacements:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    broken = tmp_path / "questions.yaml"
    broken.write_text(text.replace("../../", f"{DATA.parents[1]}/"))
    out = tmp_path / "out"
    result = score_cli(broken, "--loo", "--config", CONFIG, "-o", out, "-n", N)
    assert result.exit_code == 2 and message in result.stderr, result.output
    assert f"{broken}:" in result.stderr and "Traceback" not in result.output
    assert not out.exists()


@pytest.mark.parametrize(
    "option",
    [
        ["--particles", 30],
        ["--in-sample"],
        ["--config", DATA.parents[1] / "calibration" / "calibrate.yaml"],
    ],
)
def test_fit_options_without_loo_are_refused(tmp_path, option):
    result = score_cli(QUESTIONS, "-o", tmp_path / "out", *option)
    assert result.exit_code == 2 and "add --loo" in result.stderr


def test_a_plain_scoring_folder_is_not_taken_for_a_loo_one(tmp_path):
    (tmp_path / "out" / "studies").mkdir(parents=True)
    result = loo_cli(tmp_path / "out")
    assert result.exit_code == 2
    assert "holds something other than a leave-one-episode-out scoring" in result.stderr


def test_the_scores_are_the_same_for_any_number_of_workers(scored, tmp_path):
    out, _ = scored
    pooled = score_loo(QUESTIONS, CONFIG, out=tmp_path / "pooled", n=N, workers=2)
    assert pooled.forecasts.equals(pd.read_parquet(out / "forecasts.parquet"))
    assert pooled.skill.equals(pd.read_parquet(out / "skill.parquet"))


def test_in_sample_forecasts_come_from_a_fit_on_every_episode_and_are_a_reference(tmp_path):
    out = tmp_path / "out"
    result = loo_cli(out, "--in-sample")
    assert result.exit_code == 0, result.output
    every = out / "folds" / "all-episodes"
    particles = pd.read_parquet(every / "particles.parquet")
    assert {"distance:april-2024", "distance:strong-pressure"} <= set(particles.columns)
    forecasts = pd.read_parquet(out / "forecasts.parquet")
    in_sample = forecasts[forecasts.forecaster == "model_in_sample"].set_index("id")
    assert sorted(in_sample.index) == sorted(forecasts.id.unique())
    config = load_config(CONFIG)
    fitted = pd.read_parquet(every / "posterior.parquet", columns=config.paths)
    rng = Streams(config.seed, 0).get("loo", "april-2024", "prior")
    expected = question_posterior(config, "april-2024", fitted, rng)
    assert pd.read_parquet(every / "april-2024" / QUESTION_POSTERIOR).equals(expected)
    skill = pd.read_parquet(out / "skill.parquet").set_index(["score", "baseline"])
    brier = in_sample.brier.dropna()
    assert skill.loc[("brier", "model_in_sample"), "baseline_mean"] == pytest.approx(brier.mean())
    assert "; in-sample 0." in result.output


@pytest.mark.parametrize(
    ("skill", "low", "high", "verdict"),
    [
        (0.5, 0.1, 0.8, "the model is better"),
        (-0.5, -0.8, -0.1, "the model is worse"),
        (0.2, -0.3, 0.6, "cannot be told apart (the model's mean is better)"),
        (-0.2, -0.6, 0.3, "cannot be told apart (the model's mean is worse)"),
        (np.nan, np.nan, np.nan, "undefined (the reference scores 0)"),
    ],
)
def test_a_verdict_says_what_the_interval_says(skill, low, high, verdict):
    row = pd.Series({"skill": skill, "ci_low": low, "ci_high": high})
    assert _verdict(row) == verdict


def test_the_report_section_gives_every_reference_its_verdict(scored):
    out, _ = scored
    text = (out / "report.md").read_text()
    skill = pd.read_parquet(out / "skill.parquet")
    assert text.startswith("## Leave-one-episode-out forecasts")
    for row in skill.itertuples():
        assert f"| {row.baseline} | {row.baseline_mean:.3f} | {row.skill:+.2f} " in text
        assert _verdict(row) in text
    assert "| april-2024 | 1 |" in text and "| strong-pressure | 1 |" in text


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("## SBC\nnew\n", "# R\n\n## A\na\n\n## SBC\nnew\n\n## LOO\nl\n"),
        ("## LOO\nl2\n", "# R\n\n## A\na\n\n## SBC\nold\n\n## LOO\nl2\n"),
        ("## X\nx\n", "# R\n\n## A\na\n\n## SBC\nold\n\n## LOO\nl\n\n## X\nx\n"),
    ],
)
def test_a_section_replaces_its_namesake_and_keeps_the_sections_after_it(
    section, expected, tmp_path
):
    report = tmp_path / "report.md"
    report.write_text("# R\n\n## A\na\n\n## SBC\nold\n\n## LOO\nl\n")
    _append_section(report, section)
    assert report.read_text() == expected


EPISODE_QUESTIONS = DATA.parents[1] / "calibration" / "questions-episodes.yaml"
SHIPPED_CONFIG = DATA.parents[1] / "calibration" / "calibrate.yaml"


def test_the_shipped_episode_questions_fit_their_folds_cite_sources_and_end_by_the_cutoff():
    import datetime as dt
    import re

    from sim.analysis.questions import load_questions

    config = load_config(SHIPPED_CONFIG)
    needs = {name: _scenario_paths(config, name) for name in config.episode_names}
    parsed, loaded = load_questions(EPISODE_QUESTIONS, episodes=needs)
    sources = (DATA.parents[1] / "calibration" / "sources.md").read_text()
    rows = set(re.findall(r"^\| ([ES]\d+) \|", sources, flags=re.MULTILINE))
    for question in parsed.questions:
        assert question.forecast_date <= question.resolved_on <= dt.date(2024, 4, 14), question.id
        cited = re.findall(r"\[([ES]\d+)\]", question.resolution_source + question.base_rate.source)
        assert set(cited) <= rows, (question.id, set(cited) - rows)
    for name in config.episode_names:
        asked = [q for q in loaded if q.question.episode == name]
        assert len(asked) >= 4 and any(q.ordinal for q in asked), name
    april, _ = load_questions(DATA.parents[1] / "calibration" / "questions-april-2024.yaml")
    same = {q.id: q.resolution for q in parsed.questions if q.episode == "april-2024"}
    assert same == {q.id: q.resolution for q in april.questions}


def test_the_default_config_named_without_loo_is_refused_too(tmp_path, monkeypatch):
    monkeypatch.chdir(DATA.parents[1])
    result = score_cli(QUESTIONS, "-o", tmp_path / "out", "--config", "calibration/calibrate.yaml")
    assert result.exit_code == 2 and "add --loo" in result.stderr
