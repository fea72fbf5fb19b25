"""Calibration: parameters set by path, recovery of known parameters, the shipped posterior."""

from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest

from sim.calibration import Config, predictive_check, run_calibration, target_statistics
from sim.events import ParametersDrawn
from sim.outcomes import run_row
from sim.parameters import PosteriorSample, scenario_with
from sim.scenario import load_scenario
from sim.world import run_replication

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "calibration" / "calibrate.yaml"
APRIL = ROOT / "scenarios" / "april-2024.yaml"


def test_scenario_with_equals_validated_overrides():
    values = {
        "actors.iran.policy.delay.median_days": 7.5,
        "relations.5.obey_probability": 0.25,
        "actors.israel.policy.restraint_weight": 1.0,
    }
    assert scenario_with(load_scenario(APRIL), values) == load_scenario(APRIL, values)


def test_recovers_known_parameters(tmp_path):
    """Observations simulated with known values; the 5-95% posterior range covers them."""
    known = {
        "actors.iran.policy.delay.median_days": 8.0,
        "actors.iran.policy.telegraph_probability": 0.85,
    }
    config = Config.load(CONFIG)
    truth = scenario_with(config.scenario, known | {"actors.iran.policy.delay.sigma": 0.05})
    observed = target_statistics(run_replication(truth, 0, 123))
    targets = [
        replace(t, observed=observed[t.name])
        for t in config.targets
        if t.name in {"iran_responds", "response_delay_days", "telegraphed"}
    ]
    priors = {
        "actors.iran.policy.delay.median_days": (2.0, 30.0, "test"),
        "actors.iran.policy.telegraph_probability": (0.0, 1.0, "test"),
    }
    small = replace(
        config,
        priors=priors,
        targets=targets,
        draws=1500,
        accept=0.03,
        scenario=scenario_with(
            config.scenario,
            {
                "actors.iran.policy.delay.sigma": 0.05,
                "actors.iran.policy.base_response_probability": 0.6,
                "actors.iran.policy.red_line_weight": 4.0,
            },
        ),
    )
    run_calibration(small, tmp_path, executor="serial")
    summary = pd.read_csv(tmp_path / "summary.csv").set_index("parameter")
    for path, value in known.items():
        assert summary.loc[path, "posterior_q05"] <= value <= summary.loc[path, "posterior_q95"]
    delay = summary.loc["actors.iran.policy.delay.median_days"]
    assert delay.width_ratio < 0.5, "the delay is observed: its posterior must narrow"


def test_shipped_posterior_passes_its_predictive_check():
    config = Config.load(CONFIG)
    posterior = PosteriorSample.load(ROOT / "calibration" / "posterior.parquet")
    assert set(posterior.values.columns) == set(config.priors)
    for path, (low, high, _) in config.priors.items():
        assert posterior.values[path].between(low, high).all()
    check = predictive_check(config, config.scenario, 400, seed=99, posterior=posterior)
    failed = check[~check.passes]
    assert failed.empty, failed.to_string()
    report = (ROOT / "calibration" / "report.md").read_text()
    assert "Posterior predictive check" in report and "law of total variance" in report


def test_calibrated_variant_draws_parameters_per_replication():
    scenario = load_scenario(ROOT / "scenarios" / "april-2024-calibrated.yaml")
    first, again, other = (run_replication(scenario, r) for r in (0, 0, 1))
    drawn = [e for e in first if isinstance(e, ParametersDrawn)]
    assert len(drawn) == 1 and first == again
    assert drawn[0].values != next(e for e in other if isinstance(e, ParametersDrawn)).values
    row = run_row(first, 0, list(scenario.actors))
    assert (
        row["parameter:actors.iran.policy.delay.median_days"]
        == dict(drawn[0].values)["actors.iran.policy.delay.median_days"]
    )


def test_missing_posterior_file_is_a_clear_error(tmp_path):
    from sim.scenario import ScenarioError

    variant = tmp_path / "v.yaml"
    variant.write_text(f"extends: {APRIL}\nparameters_from: nowhere.parquet\n")
    with pytest.raises(ScenarioError, match=r"v.yaml:2: parameters_from: no such file"):
        load_scenario(variant)


def test_interrupted_calibration_resumes_to_the_same_posterior(tmp_path, monkeypatch):
    import sim.calibration as calibration

    config = replace(Config.load(CONFIG), draws=300)
    run_calibration(config, tmp_path / "whole", executor="serial", chunk_size=100)
    real = calibration.simulate_draws

    def interrupted(cfg, start, stop):
        if start >= 200:
            raise KeyboardInterrupt
        return real(cfg, start, stop)

    monkeypatch.setattr(calibration, "simulate_draws", interrupted)
    with pytest.raises(KeyboardInterrupt):
        run_calibration(config, tmp_path / "resumed", executor="serial", chunk_size=100)
    monkeypatch.setattr(calibration, "simulate_draws", real)
    run_calibration(config, tmp_path / "resumed", executor="serial", chunk_size=100)
    pd.testing.assert_frame_equal(
        pd.read_parquet(tmp_path / "whole" / "posterior.parquet"),
        pd.read_parquet(tmp_path / "resumed" / "posterior.parquet"),
    )
