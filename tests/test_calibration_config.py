"""``sim calibrate`` end to end on a tiny budget, and every config mistake as a clear message."""

import re
from pathlib import Path

import pandas as pd
import pytest
import yaml
from click.testing import CliRunner

from sim.calibration.targets import STATISTICS, Config
from sim.cli.main import main

ROOT = Path(__file__).parents[1]
SHIPPED = (ROOT / "calibration" / "calibrate.yaml").read_text(encoding="utf-8")
APRIL = ROOT / "scenarios" / "april-2024.yaml"
HERE = SHIPPED.replace("scenario: ../scenarios/april-2024.yaml", f"scenario: {APRIL}")


def tiny(tmp_path: Path, **smc) -> Path:
    """The shipped config on a budget of seconds: 20 particles, small checks."""
    raw = yaml.safe_load(HERE)
    raw["smc"] |= {"particles": 20, "chunk": 20, "max_generations": 3, "final_epsilon": 1.5}
    raw["smc"] |= smc
    raw["checks"] |= {"predictive_runs": 40, "variance": {"parameter_sets": 3, "replications": 2}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def calibrate(*args: str):
    return CliRunner().invoke(main, ["calibrate", *args])


def test_calibrate_writes_the_posterior_checks_and_report(tmp_path):
    out = tmp_path / "out"
    result = calibrate("--config", str(tiny(tmp_path)), "-o", str(out), "--executor", "serial")
    assert result.exit_code == 0, result.output
    config = Config.load(tiny(tmp_path))
    posterior = pd.read_parquet(out / "posterior.parquet")
    assert list(posterior.columns[: len(config.paths)]) == config.paths and len(posterior) == 20
    generations = pd.read_csv(out / "generations.csv")
    assert generations.epsilon.iloc[-1] <= 1.5 < generations.epsilon.iloc[-2]
    predictive = pd.read_csv(out / "predictive.csv")
    assert predictive.target.tolist() == [t.name for t in config.targets] + ["all targets at once"]
    verdicts = re.findall(r"^(PASS|FAIL)  (\w+):", result.output, flags=re.MULTILINE)
    assert [name for _, name in verdicts] == [t.name for t in config.targets]
    report = (out / "report.md").read_text(encoding="utf-8")
    for section in ("## Generations", "Posterior predictive check", "law of total variance"):
        assert section in report


@pytest.mark.parametrize(
    ("small", "raised", "message"),
    [
        (
            {"max_generations": 1, "final_epsilon": 0.5},
            {"max_generations": 8, "final_epsilon": 0.5},
            "smc.max_generations: all 1 generations ran and the tolerance (2.000) is still above "
            "final_epsilon (0.5); raise max_generations and run again",
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
    ends with the particles of a fresh run."""
    config, out = tiny(tmp_path, **small), tmp_path / "out"
    result = calibrate("--config", str(config), "-o", str(out), "--no-checks")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert result.output.startswith(f"error: {config}: {message}")
    [kept] = list((out / "draws").iterdir())
    assert any(kept.rglob("*.parquet"))
    higher = tiny(tmp_path, **raised)
    assert calibrate("--config", str(higher), "-o", str(out), "--no-checks").exit_code == 0
    assert list((out / "draws").iterdir()) == [kept]
    fresh = tmp_path / "fresh"
    assert calibrate("--config", str(higher), "-o", str(fresh), "--no-checks").exit_code == 0
    pd.testing.assert_frame_equal(
        pd.read_parquet(out / "particles.parquet"),
        pd.read_parquet(fresh / "particles.parquet"),
        check_exact=True,
    )


BAD = {
    "misspelt key": ("seed: 20240414", "sed: 20240414", ":9: sed: unknown key"),
    "low above high": (
        "    low: 0.02\n",
        "    low: 0.9\n",
        ":27: priors.actors.iran.policy.base_response_probability: need low < high, got 0.9, 0.6",
    ),
    "no such statistic": (
        "  iran_responds:\n",
        "  iran_respond:\n",
        ":69: targets.iran_respond: not a statistic of a run; known: " + ", ".join(STATISTICS),
    ),
    "no such scenario value": (
        "  actors.iran.policy.red_line_weight:\n",
        "  actors.iran.policy.red_line_wieght:\n",
        ":31: priors.actors.iran.policy.red_line_wieght: low 0.0 in ",
    ),
    "prior the scenario refuses": (
        "    low: 0.02\n",
        "    low: -0.5\n",
        ":27: priors.actors.iran.policy.base_response_probability: low -0.5 in ",
    ),
    "budget out of range": (
        "  particles: 1000 ",
        "  particles: 5 ",
        ":12: smc.particles: must be >= 20",
    ),
    "two rules for one target": (
        "    match: equal\n",
        "    match: equal\n    tolerance: 1\n",
        ":69: targets.iran_responds: give exactly one of match: equal, tolerance, interval",
    ),
    "quoted number": (
        "horizon_days: 30 ",
        'horizon_days: "30" ',
        ":8: horizon_days: must be a valid number",
    ),
    "missing scenario": (
        f"scenario: {APRIL}",
        "scenario: nowhere.yaml",
        ":7: scenario: no such file",
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
    assert f"{path}{expected}" in result.output.splitlines()[-1], result.output
    assert not (tmp_path / "out").exists()


def test_an_empty_config_says_what_a_config_needs(tmp_path):
    path = tmp_path / "empty.yaml"
    path.write_text("\n", encoding="utf-8")
    result = calibrate("--config", str(path))
    assert result.exit_code == 2
    assert result.output == (
        f"{path}: file is empty; a config needs scenario, horizon_days, seed, smc, checks, "
        "priors, targets\n"
    )


def test_the_calibration_schema_is_printed_for_editors():
    result = CliRunner().invoke(main, ["schema", "--calibration"])
    schema = yaml.safe_load(result.output)
    assert result.exit_code == 0 and schema["additionalProperties"] is False
    assert set(schema["required"]) == {
        "scenario",
        "horizon_days",
        "seed",
        "smc",
        "checks",
        "priors",
        "targets",
    }
