"""Calibration: statistics of a log, ABC-SMC (recovery, reproducibility, resume), the shipped
posterior against its targets, and scenarios that draw from it."""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim.calibration.smc as abc
from sim.calibration.schema import TargetSpec
from sim.calibration.targets import (
    Config,
    Prior,
    Target,
    predictive_check,
    simulate_statistics,
    target_statistics,
)
from sim.model.events import (
    DecisionMade,
    Interception,
    ParametersDrawn,
    StrikeLaunched,
    StrikeOutcome,
)
from sim.model.outcomes import run_row
from sim.model.world import run_replication
from sim.scenario.loading import load_scenario
from sim.scenario.parameters import PosteriorSample, scenario_with, with_fixed

ROOT = Path(__file__).parents[1]
CONFIG = ROOT / "calibration" / "calibrate.yaml"
APRIL = ROOT / "scenarios" / "april-2024.yaml"
DELAY = "actors.iran.policy.delay.median_days"
TELEGRAPH = "actors.iran.policy.telegraph_probability"


def _strike(sid, hours, attacker, target, rung, projectiles=(), telegraphed=False):
    return StrikeLaunched(hours, sid, attacker, target, rung, telegraphed, "x", projectiles)


def _decision(hours, actor, trigger, pressure):
    return DecisionMade(hours, actor, trigger, "struck", "iran", 3, 0, 0.0, 0.9, pressure, 0.0,
                        0.5, True, "iran", 3, 24.0, False)  # fmt: skip


def _ballistic(layer, entered, intercepted):
    return Interception(300.5, 2, layer, "israel", "israel", "ballistic", entered, entered,
                        intercepted, 0, 0.0, 0, True)  # fmt: skip


def test_statistics_of_a_hand_made_log():
    mix = (("ballistic", 120), ("cruise", 30), ("drone", 170))
    events = [
        _strike(1, 0.0, "israel", "iran", 2),
        _strike(2, 300.0, "iran", "israel", 3, mix, telegraphed=True),
        _ballistic("SM-3", 60, 5),
        _ballistic("Arrow 3", 55, 40),
        StrikeOutcome(306.0, 2, "iran", "israel", 3, 320, 70, 241, 9, 0, 0.0, 0.0, 0.0),
        _decision(306.0, "israel", 2, 0.6),
        _strike(3, 320.0, "hezbollah", "israel", 4),
        _strike(4, 400.0, "iran", "israel", 3),
    ]
    stats = target_statistics(events)
    assert stats["response_delay_days"] == pytest.approx(12.5)
    assert (stats["iran_responds"], stats["response_rung"], stats["telegraphed"]) == (1, 3, 1)
    assert stats["response_projectiles"] == 320
    assert stats["drone_share"] == pytest.approx(170 / 320)
    assert stats["ballistic_intercepted_share"] == pytest.approx(45 / 60)
    assert stats["salvo_stopped_share"] == pytest.approx(1 - 9 / 320)
    assert stats["us_pressure_on_israel"] == 1
    assert stats["hezbollah_all_out"] == 1, "rung 4 within a day of Iran's strike"
    assert stats["iran_unprovoked_repeat"] == 1, "strike 4 had no strike on Iran before it"
    provoked = [*events[:-1], _strike(4, 390.0, "israel", "iran", 3), _strike(5, 400.0, "iran",
                "israel", 3)]  # fmt: skip
    assert target_statistics(provoked)["iran_unprovoked_repeat"] == 0
    late = [*events[:6], _strike(3, 340.0, "hezbollah", "israel", 4)]
    assert target_statistics(late)["hezbollah_all_out"] == 0, "after the text was written"


def test_no_answer_leaves_answer_statistics_undefined():
    stats = target_statistics([_strike(1, 0.0, "israel", "iran", 2)])
    assert stats["iran_responds"] == 0 and stats["us_pressure_on_israel"] == 0
    assert np.isnan(stats["response_delay_days"]) and np.isnan(stats["drone_share"])


def target(name: str, entry: dict) -> Target:
    return Target.of(name, TargetSpec.model_validate(entry))


def test_target_distances():
    delay = target("d", {"observed": 12, "interval": [7, 21], "reason": "r"})
    assert delay.distance(12) == 0 and delay.distance(21) == 1 and delay.distance(7) == 1
    assert delay.distance(16.5) == pytest.approx(0.5) and delay.distance(100) == 2
    assert delay.distance(float("nan")) == 3 and not delay.matches(6.9)
    rung = target("r", {"observed": 3, "match": "equal", "reason": "r"})
    assert rung.distance(3) == 0 and rung.distance(4) == 2
    with pytest.raises(ValueError, match="outside"):
        target("x", {"observed": 5, "interval": [0, 1], "reason": "r"})


def test_scenario_with_equals_validated_overrides():
    values = {DELAY: 7.5, "proxy[hezbollah>iran].obey_probability": 0.25, "actors.israel.policy.restraint_weight": 1.0}  # fmt: skip
    validated = load_scenario(APRIL, values)
    assert validated.parameters_fixed == list(values)  # overrides are never replaced by draws
    assert with_fixed(scenario_with(load_scenario(APRIL), values), values) == validated


def test_posterior_sample_draws_by_weight():
    values = pd.DataFrame({DELAY: [5.0, 10.0, 20.0]})
    sample = PosteriorSample.from_columns(values, np.array([0.0, 0.75, 0.25]))
    rng = np.random.default_rng(1)
    drawn = [sample.draw(rng)[DELAY] for _ in range(2000)]
    assert 5.0 not in drawn
    assert np.mean(np.array(drawn) == 10.0) == pytest.approx(0.75, abs=0.03)


def test_next_epsilon_leaves_a_plateau_and_stops_at_the_final_tolerance():
    distances = np.array([2.0, 2.0, 2.0, 1.7, 0.4])
    assert abc.next_epsilon(distances, 2.0, 1.0, 0.5) == 1.7
    assert abc.next_epsilon(np.array([0.2, 0.3, 3.0]), 1.7, 1.0, 0.5) == 1.0


SMALL_FIXED = {
    "actors.iran.policy.delay.sigma": 0.05,
    "actors.iran.policy.red_line_weight": 5.0,
    "actors.iran.policy.base_response_probability": 0.6,
}
"""Values the small calibrations hold fixed: a nearly deterministic delay and a sure answer, so
that one simulated episode says much about the two parameters fitted."""


def _small(config: Config, observed: dict, particles: int) -> Config:
    """Two parameters (Iran's delay and telegraphing), three targets, a tiny SMC budget."""
    targets = (
        Target("iran_responds", 1.0, 1.0, 1.0, "t", binary=True),
        Target("response_delay_days", observed["response_delay_days"],
               observed["response_delay_days"] - 1.5, observed["response_delay_days"] + 1.5, "t"),
        Target("telegraphed", observed["telegraphed"], 0, 1, "t", binary=True),
    )  # fmt: skip
    return replace(
        config,
        scenario=scenario_with(config.scenario, SMALL_FIXED),
        priors=(Prior(DELAY, 2.0, 30.0, "t"), Prior(TELEGRAPH, 0.0, 1.0, "t")),
        targets=targets,
        smc={**config.smc, "particles": particles, "chunk": 50, "max_generations": 8},
    )


def _truth_observed(config: Config, truth: dict) -> dict:
    scenario = scenario_with(config.scenario, SMALL_FIXED | truth)
    return target_statistics(run_replication(scenario, 0, 7))


@pytest.mark.parametrize("delay", [8.0, 20.0])
def test_recovers_known_parameters(tmp_path, delay):
    """Data simulated with known values; ABC-SMC's 5-95% posterior covers them and narrows the
    delay (the one parameter a single episode measures) to well under a third of its prior."""
    config = Config.load(CONFIG)
    truth = {DELAY: delay, TELEGRAPH: 0.9}
    small = _small(config, _truth_observed(config, truth), 150)
    tables = abc.run_calibration(small, tmp_path, executor="serial", checks=False)
    summary = tables["summary"].set_index("parameter")
    for path, value in truth.items():
        assert summary.loc[path, "posterior_q05"] <= value <= summary.loc[path, "posterior_q95"]
    assert summary.loc[DELAY, "width_ratio"] < 0.3
    # The final tolerance accepts delays within 1.5 days of the observed one, which lies close to
    # the truth (sigma 0.05): the median may stray by that, plus the noise of 150 particles.
    assert abs(summary.loc[DELAY, "posterior_median"] - delay) < 2.0
    assert tables["generations"].epsilon.iloc[-1] == 1.0


def test_same_posterior_for_any_workers_and_after_an_interruption(tmp_path, monkeypatch):
    config = Config.load(CONFIG)
    small = _small(config, _truth_observed(config, {DELAY: 10.0, TELEGRAPH: 0.9}), 40)
    abc.run_calibration(small, tmp_path / "serial", executor="serial", checks=False)
    abc.run_calibration(small, tmp_path / "two", executor="process", workers=2, checks=False)
    real, calls = abc.simulate_proposals, {"n": 0}

    def interrupted(*args):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(abc, "simulate_proposals", interrupted)
    with pytest.raises(KeyboardInterrupt):
        abc.run_calibration(small, tmp_path / "resumed", executor="serial", checks=False)
    monkeypatch.setattr(abc, "simulate_proposals", real)
    abc.run_calibration(small, tmp_path / "resumed", executor="serial", checks=False)
    whole = pd.read_parquet(tmp_path / "serial" / "particles.parquet")
    assert len(whole) == 40 and whole.weight.sum() == pytest.approx(1.0)
    for other in ("two", "resumed"):
        pd.testing.assert_frame_equal(
            whole, pd.read_parquet(tmp_path / other / "particles.parquet"), check_exact=True
        )


def test_shipped_posterior_passes_its_predictive_check():
    """The shipped posterior reproduces every target within its tolerance (fixed seed), and does
    so more often than the priors: the joint share of runs matching every target rises."""
    config = Config.load(CONFIG)
    posterior = PosteriorSample.load(ROOT / "calibration" / "posterior.parquet")
    assert list(posterior.paths) == config.paths
    for prior in config.priors:
        values = posterior.column(prior.path)
        assert ((prior.low <= values) & (values <= prior.high)).all()
    check = predictive_check(config, simulate_statistics(config, 400, 99, "posterior", posterior))
    targets = check.iloc[:-1]
    assert targets.passes.all(), targets[~targets.passes].to_string()
    prior = predictive_check(config, simulate_statistics(config, 400, 99, "prior"))
    # calibration/report.md: 10% of 1,000 posterior runs match every target against 2.1% under the
    # priors; a factor of 1.5 leaves room for the noise of 400 runs.
    assert check.share_matching.iloc[-1] > 1.5 * prior.share_matching.iloc[-1]
    shipped = pd.read_csv(ROOT / "calibration" / "predictive.csv").dropna(subset=["passes"])
    assert set(shipped.target) == {t.name for t in config.targets} and shipped.passes.all()
    report = (ROOT / "calibration" / "report.md").read_text()
    for section in ("## Generations", "Posterior predictive check", "law of total variance"):
        assert section in report


def test_shipped_scenario_draws_parameters_per_replication():
    scenario = load_scenario(APRIL)
    first, again, other = (run_replication(scenario, r) for r in (0, 0, 1))
    drawn = [e for e in first if isinstance(e, ParametersDrawn)]
    assert len(drawn) == 1 and first == again
    assert drawn[0].values != next(e for e in other if isinstance(e, ParametersDrawn)).values
    assert {p for p, _ in drawn[0].values} == set(Config.load(CONFIG).paths)
    row = run_row(first, 0, list(scenario.actors))
    assert row[f"parameter:{DELAY}"] == dict(drawn[0].values)[DELAY]
    point = load_scenario(ROOT / "scenarios" / "april-2024-point.yaml")
    assert not any(isinstance(e, ParametersDrawn) for e in run_replication(point, 0))


@pytest.mark.parametrize("how", ["override", "variant", "study"])
def test_a_value_set_explicitly_is_never_replaced_by_a_draw(tmp_path, how):
    restraint = "actors.iran.policy.self_restraint"
    if how == "override":
        scenario = load_scenario(APRIL, [f"{restraint}=0.123"])
    elif how == "variant":
        variant = tmp_path / "v.yaml"
        variant.write_text(f"extends: {APRIL}\nset:\n  {restraint}: 0.123\n")
        scenario = load_scenario(variant)
    else:
        scenario = with_fixed(scenario_with(load_scenario(APRIL), {restraint: 0.123}), [restraint])
    assert restraint in scenario.parameters_fixed
    for replication in range(5):
        events = run_replication(scenario, replication)
        drawn = dict(next(e for e in events if isinstance(e, ParametersDrawn)).values)
        assert restraint not in drawn and DELAY in drawn
        row = run_row(events, replication, list(scenario.actors))
        assert f"parameter:{restraint}" not in row
    unfixed = scenario.model_copy(update={"parameters_fixed": []})
    drawn = dict(
        next(e for e in run_replication(unfixed, 0) if isinstance(e, ParametersDrawn)).values
    )
    assert drawn[restraint] != 0.123


def test_missing_posterior_file_is_a_clear_error(tmp_path):
    from sim.scenario.loading import ScenarioError

    variant = tmp_path / "v.yaml"
    variant.write_text(f"extends: {APRIL}\nparameters_from: nowhere.parquet\n")
    with pytest.raises(ScenarioError, match=r"v.yaml:2: parameters_from: no such file"):
        load_scenario(variant)
