"""``sim calibrate`` end to end on a tiny two-episode budget (``tests/data``), ``--check``, and
every config mistake as a clear message."""

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sim.calibration.loading import load_config
from sim.calibration.statistics import vocabulary
from sim.cli.main import main

ROOT = Path(__file__).parents[1]
EXAMPLE = Path(__file__).parent / "data" / "calibrate-two-episodes.yaml"
SCENARIOS = ROOT / "scenarios"
HERE = EXAMPLE.read_text(encoding="utf-8").replace("../../scenarios", str(SCENARIOS))
"""The example config with absolute scenario paths, so that a copy works from any folder."""


def tiny(tmp_path: Path, **smc) -> Path:
    """The example config (20 particles, small checks) with ``smc`` fields changed."""
    raw = yaml.safe_load(HERE)
    raw["smc"] |= smc
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def calibrate(*args: str):
    return CliRunner().invoke(main, ["calibrate", *args])


def test_calibrate_writes_the_posterior_checks_report_and_check(tmp_path):
    out, path = tmp_path / "out", tiny(tmp_path)
    result = calibrate("--config", str(path), "-o", str(out), "--executor", "serial")
    assert result.exit_code == 0, result.output
    config = load_config(path)
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert list(posterior.columns[: len(config.paths)]) == config.paths and len(posterior) == 20
    assert config.paths[-1] == "strong-pressure:restrains[us>israel].pressure"
    generations = pd.read_csv(out / "generations.csv")
    assert generations.epsilon.iloc[-1] <= 1.5 < generations.epsilon.iloc[-2]
    predictive = pd.read_csv(out / "predictive.csv")
    expected = [
        (e.name, t.name if t else None) for e in config.episodes for t in (*e.targets, None)
    ]
    rows = [(e, t or "all targets at once") for e, t in expected]
    assert list(zip(predictive.episode.fillna(""), predictive.target, strict=True)) == [
        *rows,
        ("", "every episode at once"),
    ]
    verdicts = re.findall(r"^(PASS|FAIL)  ([\w-]+): (\S+):", result.output, flags=re.MULTILINE)
    assert [(e, n) for _, e, n in verdicts] == [(e, t) for e, t in expected if t]
    narrowing = pd.read_csv(out / "narrowing.csv")
    assert narrowing.added.unique().tolist() == ["april-2024", "strong-pressure"]
    assert set(narrowing.parameter) == set(config.paths)
    report = (out / "report.md").read_text(encoding="utf-8")
    for section in ("## Generations", "### strong-pressure", "narrows each parameter",
                    "law of total variance", "+strong-pressure"):  # fmt: skip
        assert section in report
    checked = calibrate("--config", str(path), "-o", str(out), "--executor", "serial", "--check")
    assert checked.exit_code == 0, checked.output
    assert (
        re.findall(r"^(?:PASS|FAIL)  (\S+): rank uniformity", checked.output, re.M) == config.paths
    )
    ranks = pd.read_csv(out / "sbc_ranks.csv")
    assert len(ranks) == 20 and ranks.draws.eq(8).all()
    assert {"sbc_coverage.csv", "sbc_uniformity.csv"} <= {p.name for p in out.iterdir()}
    assert any((out / "figures").glob("*.png")) and any((out / "figures").glob("*.csv"))
    report = (out / "report.md").read_text(encoding="utf-8")
    assert report.count("## Simulation-based calibration") == 1 and "## Generations" in report


@pytest.mark.parametrize(
    ("small", "raised", "message"),
    [
        (
            {"max_generations": 1},
            {"max_generations": 6},
            r"smc.max_generations: all 1 generations ran and the tolerance \(\d\.\d{3}\) is still "
            r"above final_epsilon \(1.5\); raise max_generations and run again",
        ),
        (
            {"max_proposals": 10},
            {"max_proposals": 300_000},
            "smc.max_proposals: generation 0 accepted fewer than 20 particles in 10 proposals; "
            "raise max_proposals",
        ),
    ],
    ids=["max_generations", "max_proposals"],
)
def test_a_budget_too_small_is_a_clear_error_and_raising_it_reuses_the_work(
    tmp_path, small, raised, message
):
    """The error names the field to raise and keeps the work; with the cap raised the same
    command continues in the same draws folder (the cap is not part of the config's hash) and
    ends with the particles of a fresh run on two worker processes."""
    config, out = tiny(tmp_path, **small), tmp_path / "out"
    result = calibrate("--config", str(config), "-o", str(out), "--no-checks")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert re.match(f"error: {re.escape(str(config))}: {message}", result.output), result.output
    [kept] = list((out / "draws").iterdir())
    assert any(kept.rglob("*.parquet"))
    higher = tiny(tmp_path, **raised)
    assert calibrate("--config", str(higher), "-o", str(out), "--no-checks").exit_code == 0
    assert list((out / "draws").iterdir()) == [kept]
    fresh = tmp_path / "fresh"
    two = ["--no-checks", "--executor", "process", "-w", "2"]
    assert calibrate("--config", str(higher), "-o", str(fresh), *two).exit_code == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "particles.parquet"),
        pd.read_parquet(fresh / "particles.parquet"),
        check_exact=True,
    )


DELAY = "actors.iran.policy.delay.median_days"
BAD = {
    "misspelt key": ("seed: 20240414", "sed: 20240414", ":5: sed: unknown key"),
    "low above high": (
        "    low: 2.0\n",
        "    low: 40.0\n",
        f":27: priors.{DELAY}: need low < high, got 40.0, 30.0",
    ),
    "no such statistic": (
        '      "answered[iran>israel]":\n        observed: 1\n        match: equal\n'
        "        reason: '[seed]",
        '      "answerd[iran>israel]":\n        observed: 1\n        match: equal\n'
        "        reason: '[seed]",
        ":42: episodes.april-2024.targets.answerd[iran>israel]: not a statistic of a run; "
        f"valid names: {vocabulary()}",
    ),
    "no such actor": (
        '"restrained[israel]"',
        '"restrained[isreal]"',
        ":72: episodes.strong-pressure.targets.restrained[isreal]: no actor 'isreal' in the "
        "scenario; known: israel, iran, us, hezbollah",
    ),
    "no such weapon": (
        "iran>israel:drone]",
        "iran>israel:drones]",
        ":54: episodes.april-2024.targets.answer_weapon_share[iran>israel:drones]: no weapon "
        "'drones' in the scenario; known: drone, cruise, ballistic",
    ),
    "no such scenario value": (
        "  actors.iran.policy.telegraph_probability:\n",
        "  actors.iran.policy.telegraph_probabilty:\n",
        ":31: priors.actors.iran.policy.telegraph_probabilty: no episode's scenario has this "
        "value (",
    ),
    "no such value in the episode's scenario": (
        "      restrains[us>israel].pressure:\n",
        "      restrains[us>iran].pressure:\n",
        ":63: episodes.strong-pressure.priors.restrains[us>iran].pressure: ",
    ),
    "episode prior repeating a shared one": (
        "      restrains[us>israel].pressure:\n",
        f"      {DELAY}:\n",
        f":63: episodes.strong-pressure.priors.{DELAY}: also a shared prior (priors:); give it "
        "in one place",
    ),
    "prior the scenario refuses": (
        "    low: 0.0\n    high: 1.0\n    reason: flat",
        "    low: -0.5\n    high: 1.0\n    reason: flat",
        ":31: priors.actors.iran.policy.telegraph_probability: low -0.5 in ",
    ),
    "episode prior the scenario refuses": (
        "        high: 1.0\n        reason: this episode",
        "        high: 1.5\n        reason: this episode",
        ":63: episodes.strong-pressure.priors.restrains[us>israel].pressure: high 1.5 in ",
    ),
    "budget out of range": (
        "  particles: 20\n",
        "  particles: 5\n",
        ":8: smc.particles: must be >= 20",
    ),
    "check larger than the table": (
        "  accept: 8\n",
        "  accept: 40\n",
        ":21: check: need accept < reference_runs, got 40, 40",
    ),
    "two rules for one target": (
        "        match: equal\n        reason: '[seed] \"plenti",
        "        match: equal\n        tolerance: 1\n        reason: '[seed] \"plenti",
        ":50: episodes.april-2024.targets.answer_telegraphed[iran>israel]: give exactly one of "
        "match: equal, tolerance, interval",
    ),
    "quoted number": (
        "    horizon_days: 30\n    description",
        '    horizon_days: "30"\n    description',
        ":39: episodes.april-2024.horizon_days: must be a valid number",
    ),
    "bad episode name": ("  april-2024:\n", "  April:\n", ":37: episodes.April: "),
    "missing scenario": (
        f"scenario: {SCENARIOS}/april-2024.yaml",
        "scenario: nowhere.yaml",
        ":38: episodes.april-2024.scenario: no such file",
    ),
}


@pytest.mark.parametrize("mistake", BAD, ids=list(BAD))
def test_config_mistakes_name_file_line_and_field(tmp_path, mistake):
    before, after, expected = BAD[mistake]
    assert before in HERE
    path = tmp_path / "bad.yaml"
    path.write_text(HERE.replace(before, after, 1), encoding="utf-8")
    result = calibrate("--config", str(path), "-o", str(tmp_path / "out"))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{path}{expected}" in result.output, result.output
    assert not (tmp_path / "out").exists()


def test_a_config_in_the_old_single_scenario_format_is_told_how_to_become_one_episode(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text(f"scenario: {SCENARIOS}/april-2024.yaml\nhorizon_days: 30\n", "utf-8")
    result = calibrate("--config", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith(
        f"{path}:1: scenario: a config now lists episodes; write this one as a single episode: "
        "move scenario, horizon_days and targets under episodes: NAME:"
    )


def test_a_version_1_scenario_is_no_episode(tmp_path):
    old = tmp_path / "old.yaml"
    text = (SCENARIOS / "april-2024.yaml").read_text(encoding="utf-8")
    old.write_text(text.replace("version: 2\n", "", 1), encoding="utf-8")
    path = tmp_path / "c.yaml"
    path.write_text(HERE.replace(f"{SCENARIOS}/april-2024.yaml", str(old), 1), "utf-8")
    result = calibrate("--config", str(path))
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith(f"{old}:1: version: this is a version-1 scenario file")


def test_an_empty_config_says_what_a_config_needs(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("\n", encoding="utf-8")
    result = calibrate("--config", str(path))
    assert result.exit_code == 2
    assert result.output == (
        f"{path}: file is empty; a config needs seed, smc, checks, check, priors, episodes\n"
    )


def test_the_calibration_schema_is_printed_for_editors():
    result = CliRunner().invoke(main, ["schema", "--calibration"])
    schema = yaml.safe_load(result.output)
    assert result.exit_code == 0 and schema["additionalProperties"] is False
    assert set(schema["required"]) == {"seed", "smc", "checks", "check", "episodes"}
