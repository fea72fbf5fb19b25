"""Questions files (sim/analysis/questions.py) and ``sim score`` end to end (sim/cli/score.py,
sim/analysis/forecasts.py): every class of mistake is one ``file:line: field: message`` with
exit 2 and nothing written; a valid file runs, scores and resumes."""

import datetime as dt
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sim.analysis.compare import outcome_indicator
from sim.analysis.forecasts import BASELINES, hypothetical_runs, rung_distribution
from sim.analysis.questions import load_questions
from sim.analysis.scores import brier_score, log_score, ranked_probability_score
from sim.cli.score import score_command
from sim.scenario.loading import load_scenario
from sim.study.results import Results

ROOT = Path(__file__).parents[1]
POINT = ROOT / "scenarios" / "april-2024-point.yaml"
SHIPPED = ROOT / "calibration" / "questions-april-2024.yaml"
SEED_TEXT = (ROOT / "seeds" / "000_09037ebbede9bcd6.txt").read_text(encoding="utf-8")
CUTOFF = dt.date(2024, 4, 14)

VALID = f"""name: test questions
questions:
  - id: iran_strikes
    text: Iran strikes Israel directly within 10 days
    scenario: {POINT}
    outcome: strike:iran>israel>=3
    horizon_days: 10
    forecast_date: 2024-04-01
    resolution: 0
    resolved_on: 2024-04-11
    resolution_source: the seed text
    base_rate: {{probability: 0.3, source: a count}}
"""
ORDINAL = f"""  - id: highest
    text: The highest rung within 13 days
    scenario: {POINT}
    outcome: max_rung
    horizon_days: 13
    forecast_date: 2024-04-01
    resolution: 3
    resolved_on: 2024-04-14
    resolution_source: the seed text
    base_rate: {{distribution: [0, 0, 0.7, 0.2, 0, 0, 0.1], source: a count}}
"""


def score_cli(*args):
    return CliRunner().invoke(score_command, [str(a) for a in args])


def changed(old: str, new: str, text: str = VALID) -> str:
    assert old in text, old
    return text.replace(old, new)


MISTAKES = {
    "missing field": (
        changed("    horizon_days: 10\n", ""),
        "3: questions[0].horizon_days: required field is missing",
    ),
    "unknown key": (
        VALID + "    colour: red\n",
        "13: questions[0].colour: unknown key (check the spelling; see docs/scoring.md)",
    ),
    "wrong type": (
        changed("horizon_days: 10", "horizon_days: ten"),
        "7: questions[0].horizon_days: must be a valid number, got 'ten'",
    ),
    "horizon not positive": (
        changed("horizon_days: 10", "horizon_days: 0"),
        "7: questions[0].horizon_days: must be > 0.0, got 0",
    ),
    "not a date": (
        changed("forecast_date: 2024-04-01", "forecast_date: early April"),
        "8: questions[0].forecast_date: must be a valid date, got 'early April'",
    ),
    "impossible date": (
        changed("forecast_date: 2024-04-01", "forecast_date: 2024-13-01"),
        "8: questions[0].forecast_date: must be a valid date, got '2024-13-01' "
        "(month must be in 1..12)",
    ),
    "bad id": (
        changed("id: iran_strikes", "id: Iran Strikes"),
        "3: questions[0].id: must be a lowercase name (a-z, 0-9 and _, starting with a letter), "
        "got 'Iran Strikes'",
    ),
    "binary resolution not 0 or 1": (
        changed("resolution: 0", "resolution: 2"),
        "9: questions[0].resolution: must be 0 or 1 for a binary outcome, got 2",
    ),
    "ordinal resolution not a rung": (
        "name: test\nquestions:\n" + changed("resolution: 3", "resolution: 7", ORDINAL),
        "9: questions[0].resolution: must be a rung 0-6 for max_rung, got 7",
    ),
    "unknown outcome": (
        changed("outcome: strike:iran>israel>=3", "outcome: iran_attacks"),
        "6: questions[0].outcome: ",
    ),
    "outcome names an unknown actor": (
        changed("strike:iran>israel>=3", "strike:iran>israle>=3"),
        f"6: questions[0].outcome: outcome 'strike:iran>israle>=3': {POINT} has no actor israle",
    ),
    "numeric outcome": (
        changed("strike:iran>israel>=3", "casualties:israel"),
        "6: questions[0].outcome: 'casualties:israel' is a number, not 0/1; give it a threshold",
    ),
    "outcome that needs the event log": (
        changed("strike:iran>israel>=3", "exhausted:israel/arrow-3"),
        "6: questions[0].outcome: 'exhausted:israel/arrow-3' needs the event log",
    ),
    "no such scenario": (
        changed(f"scenario: {POINT}", "scenario: nowhere.yaml"),
        "5: questions[0].scenario: no such file: ",
    ),
    "base rate of the wrong kind": (
        changed(
            "{probability: 0.3, source: a count}",
            "{distribution: [1, 0, 0, 0, 0, 0, 0], source: c}",
        ),
        "12: questions[0].base_rate: a binary outcome needs probability (the share with the "
        "outcome), not distribution",
    ),
    "base rate not a probability": (
        changed("probability: 0.3", "probability: 1.3"),
        "12: questions[0].base_rate.probability: must be <= 1.0, got 1.3",
    ),
    "distribution not summing to 1": (
        "name: test\nquestions:\n" + changed("0.7, 0.2", "0.7, 0.3", ORDINAL),
        "12: questions[0].base_rate: distribution must sum to 1, got 1.1",
    ),
    "base rate without source": (
        changed("{probability: 0.3, source: a count}", "{probability: 0.3}"),
        "12: questions[0].base_rate.source: required field is missing",
    ),
    "resolved before the forecast": (
        changed("resolved_on: 2024-04-11", "resolved_on: 2024-03-30"),
        "10: questions[0].resolved_on: is before forecast_date 2024-04-01",
    ),
    "a 0 resolved before the horizon ends": (
        changed("resolved_on: 2024-04-11", "resolved_on: 2024-04-10"),
        "10: questions[0].resolved_on: the outcome is known only when the horizon ends "
        "(2024-04-11), got 2024-04-10",
    ),
    "a 1 that came after the horizon": (
        changed(
            "resolution: 0\n    resolved_on: 2024-04-11",
            "resolution: 1\n    resolved_on: 2024-04-12",
        ),
        "10: questions[0].resolved_on: an outcome that happened after the horizon (2024-04-11) "
        "resolves 0, not 1",
    ),
    "duplicate id": (
        VALID + VALID.split("questions:\n")[1],
        "13: questions[1].id: duplicate id 'iran_strikes'",
    ),
    "duplicate key": (
        changed("    horizon_days: 10\n", "    horizon_days: 10\n    horizon_days: 11\n"),
        "8: questions[0].horizon_days: duplicate key",
    ),
    "no questions": ("name: test\nquestions: []\n", "2: questions: must have at least 1 item(s)"),
    "malformed YAML": (
        changed("resolution: 0", "resolution: [0"),
        "10: malformed YAML: while parsing a flow sequence",
    ),
    "top level not a mapping": ("- a\n- b\n", "1: the top level must be a mapping of keys"),
}
WHOLE_FILE = {"malformed YAML", "top level not a mapping"}
"""Mistakes of the whole document, which no field names."""


@pytest.mark.parametrize("mistake", sorted(MISTAKES))
def test_each_mistake_is_one_line_with_file_line_and_field_and_exit_2(mistake, tmp_path):
    text, expected = MISTAKES[mistake]
    questions, out = tmp_path / "questions.yaml", tmp_path / "out"
    questions.write_text(text, encoding="utf-8")
    result = score_cli(questions, "-o", out, "-n", 2)
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    line = result.stderr.strip()
    assert "\n" not in line
    assert line.startswith(f"{questions}:{expected}"), line
    if mistake not in WHOLE_FILE:
        assert re.match(rf"^{re.escape(str(questions))}:\d+: \S+: .+", line), line
    assert not out.exists()


def test_a_numeric_outcome_with_a_threshold_is_a_binary_question(tmp_path):
    questions = tmp_path / "questions.yaml"
    questions.write_text(changed("strike:iran>israel>=3", "casualties:israel>=10"))
    _, loaded = load_questions(questions)
    assert [q.question.outcome for q in loaded] == ["casualties:israel>=10"]


def test_a_broken_scenario_is_reported_at_its_own_file_and_line(tmp_path):
    scenario = tmp_path / "broken.yaml"
    scenario.write_text(f"version: 2\nextends: {POINT}\nset:\n  horizon_days: 10\n  seed: -1\n")
    questions = tmp_path / "questions.yaml"
    questions.write_text(changed(f"scenario: {POINT}", "scenario: broken.yaml"))
    result = score_cli(questions, "-o", tmp_path / "out", "-n", 2)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{scenario}:5: seed: "), result.stderr


def test_empty_and_missing_files_are_refused(tmp_path):
    empty = tmp_path / "empty.yaml"
    empty.write_text("\n")
    for file, message in ((empty, "file is empty"), (tmp_path / "none.yaml", "no such file")):
        result = score_cli(file, "-o", tmp_path / "out", "-n", 2)
        assert result.exit_code == 2 and result.stderr.startswith(f"{file}: {message}")


def test_every_problem_of_a_file_is_reported_at_once(tmp_path):
    text = changed("resolution: 0", "resolution: 2", changed("strike:iran>israel", "strike:iran>x"))
    questions = tmp_path / "questions.yaml"
    questions.write_text(text)
    lines = score_cli(questions, "-o", tmp_path / "out", "-n", 2).stderr.splitlines()
    assert [line.split(": ")[1] for line in lines] == [
        "questions[0].resolution",
        "questions[0].outcome",
    ]


def test_the_shipped_questions_are_valid_resolved_by_the_cutoff_and_quote_the_seed():
    parsed, loaded = load_questions(SHIPPED)
    assert len(loaded) == len(parsed.questions) >= 5
    assert {q.ordinal for q in loaded} == {True, False}
    for question in parsed.questions:
        assert question.forecast_date <= question.resolved_on <= CUTOFF
        quotes = re.findall(r'"([^"]+)"', question.resolution_source)
        assert quotes and all(quote in SEED_TEXT for quote in quotes), question.id
    assert "IN-SAMPLE" in SHIPPED.read_text()


def test_persistence_is_the_opening_alone_and_one_rung_up_answers_it():
    scenario = load_scenario(POINT)
    persistence = hypothetical_runs(scenario, "persistence")
    one_up = hypothetical_runs(scenario, "one_rung_up")
    assert persistence["path"].tolist() == ["israel>iran:2"]
    assert one_up["path"].tolist() == ["israel>iran:2 iran>israel:3"]
    assert rung_distribution(persistence).tolist() == np.eye(7)[2].tolist()
    assert outcome_indicator(one_up, "strike:iran>israel>=3").tolist() == [1.0]
    assert outcome_indicator(persistence, "strike:iran>israel>=3").tolist() == [0.0]


@pytest.mark.parametrize(
    ("scenario", "persistence_path", "one_up_path"),
    [
        ("calibration/episodes/soleimani-2020.yaml", "", "iran>us:3"),
        ("scenarios/april-2024-from-14-april.yaml", "", "israel>iran:4"),
        ("scenarios/april-2024-point.yaml", "israel>iran:2", "israel>iran:2 iran>israel:3"),
    ],
)
def test_a_round_taken_up_mid_way_persists_as_nothing_new_and_answers_its_last_history_strike(
    scenario, persistence_path, one_up_path
):
    loaded = load_scenario(ROOT / scenario)
    persistence = hypothetical_runs(loaded, "persistence")
    one_up = hypothetical_runs(loaded, "one_rung_up")
    assert persistence["path"].tolist() == [persistence_path]
    assert one_up["path"].tolist() == [one_up_path]
    if not persistence_path:
        assert rung_distribution(persistence).tolist() == np.eye(7)[0].tolist()


def test_a_history_question_loads_and_its_outcome_counts_only_what_follows_the_start(tmp_path):
    questions = tmp_path / "questions.yaml"
    questions.write_text(
        changed(
            "scenario: " + str(POINT), f"scenario: {ROOT}/scenarios/april-2024-from-14-april.yaml"
        )
    )
    _, loaded = load_questions(questions)
    assert loaded[0].scenario.history and not loaded[0].scenario.opening
    imagined = hypothetical_runs(loaded[0].scenario, "persistence")
    assert outcome_indicator(imagined, "strike:iran>israel>=3").tolist() == [0.0]


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    folder = tmp_path_factory.mktemp("score") / "out"
    questions = folder.parent / "questions.yaml"
    questions.write_text(VALID + ORDINAL)
    result = score_cli(questions, "-o", folder, "-n", 40, "--executor", "serial", "--seed", 5)
    return questions, folder, result


def test_score_end_to_end_writes_tables_figure_and_one_line_per_question(scored):
    _, folder, result = scored
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert result.stderr.splitlines() == [
        "study april-2024-point-10d",
        "study april-2024-point-13d",
    ]
    assert lines[0].startswith("iran_strikes: P=") and " resolved 0; brier " in lines[0]
    assert lines[1].startswith("highest: P(rung)=") and " resolved 3; rps " in lines[1]
    for stem in ("forecasts", "skill", "reliability"):
        assert (folder / f"{stem}.parquet").is_file() and (folder / f"{stem}.csv").is_file()
    for suffix in ("pdf", "png", "csv"):
        assert (folder / f"reliability-diagram.{suffix}").is_file()
    forecasts = pd.read_parquet(folder / "forecasts.parquet")
    assert forecasts.forecaster.tolist() == ["model", *BASELINES] * 2


def test_the_model_forecast_and_scores_are_those_of_its_study(scored):
    _, folder, _ = scored
    forecasts = pd.read_parquet(folder / "forecasts.parquet").set_index(["id", "forecaster"])
    short = Results(folder / "studies" / "april-2024-point-10d")
    assert short.manifest["seed"] == 5 and len(short.runs) == 40
    p = outcome_indicator(short.runs, "strike:iran>israel>=3").mean()
    model = forecasts.loc[("iran_strikes", "model")]
    assert model.probability == p
    assert model.ci_low <= p <= model.ci_high
    assert model.brier == pytest.approx(brier_score(p, 0)[0])
    assert model.log_score == pytest.approx(log_score(p, 0)[0])
    assert forecasts.loc[("iran_strikes", "base_rate")].brier == pytest.approx(0.09)
    assert forecasts.loc[("iran_strikes", "one_rung_up")].brier == 1
    longer = Results(folder / "studies" / "april-2024-point-13d")
    distribution = rung_distribution(longer.runs)
    ordinal = forecasts.loc[("highest", "model")]
    assert ordinal.probability == distribution[3]
    assert ordinal.rps == pytest.approx(ranked_probability_score([distribution], [3])[0])
    assert forecasts.loc[("highest", "one_rung_up")].rps == 0


def test_skill_rows_agree_with_the_forecasts(scored):
    _, folder, _ = scored
    forecasts = pd.read_parquet(folder / "forecasts.parquet")
    skill = pd.read_parquet(folder / "skill.parquet").set_index(["score", "baseline"])
    assert set(skill.index) == {(s, b) for s in ("brier", "log_score", "rps") for b in BASELINES}
    base = forecasts[forecasts.forecaster == "base_rate"].brier.dropna().mean()
    model = forecasts[forecasts.forecaster == "model"].brier.dropna().mean()
    assert skill.loc[("brier", "base_rate")].skill == pytest.approx(1 - model / base)


def test_running_again_resumes_and_gives_the_same_tables(scored):
    questions, folder, _ = scored
    before = pd.read_parquet(folder / "forecasts.parquet")
    again = score_cli(questions, "-o", folder, "-n", 40, "--executor", "serial", "--seed", 5)
    assert again.exit_code == 0, again.output
    pd.testing.assert_frame_equal(pd.read_parquet(folder / "forecasts.parquet"), before)
    other_n = score_cli(questions, "-o", folder, "-n", 50, "--executor", "serial", "--seed", 5)
    assert other_n.exit_code == 2 and "not 50" in other_n.stderr


def test_an_unrelated_folder_is_refused(tmp_path):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "notes.txt").write_text("mine")
    questions = tmp_path / "questions.yaml"
    questions.write_text(VALID)
    result = score_cli(questions, "-o", tmp_path / "out", "-n", 2)
    assert result.exit_code == 2 and "holds something other than a scoring" in result.stderr


def test_the_shipped_file_parses_as_plain_yaml_with_dates():
    data = yaml.safe_load(SHIPPED.read_text())
    assert all(isinstance(q["forecast_date"], dt.date) for q in data["questions"])


def test_an_interrupted_scoring_keeps_its_finished_studies_and_continues(tmp_path, monkeypatch):
    import sim.analysis.forecasts as forecasts

    questions, out = tmp_path / "questions.yaml", tmp_path / "out"
    questions.write_text(VALID + ORDINAL)
    real_run_study, calls = forecasts.run_study, []

    def interrupted_second(*args, **kwargs):
        calls.append(kwargs["out"])
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real_run_study(*args, **kwargs)

    monkeypatch.setattr(forecasts, "run_study", interrupted_second)
    first = score_cli(questions, "-o", out, "-n", 20, "--executor", "serial")
    assert first.exit_code == 130 and "run the same command again" in first.stderr
    assert not (out / "forecasts.parquet").exists()
    done = Results(calls[0]).manifest
    monkeypatch.setattr(forecasts, "run_study", real_run_study)
    second = score_cli(questions, "-o", out, "-n", 20, "--executor", "serial")
    assert second.exit_code == 0, second.output
    assert Results(calls[0]).manifest["started_utc"] == done["started_utc"]
    assert (out / "forecasts.parquet").is_file()
