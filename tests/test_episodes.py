"""Multi-episode ABC-SMC on a toy model with a known posterior (conjugate beta-binomial), and the
same posterior for any worker count and after an interruption (``sim.calibration.sampler``)."""

from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

import sim.calibration.sampler as sampler
from sim.calibration.checks import weighted_quantile
from sim.calibration.evidence import accepted_rows
from sim.study.executors import make_executor
from tests.toy_abc import BinomialEpisodes, ToyEpisode

SMC = {"particles": 300, "quantile": 0.5, "final_epsilon": 1.0, "max_generations": 6,
       "chunk": 2000, "max_proposals": 400_000}  # fmt: skip
TOY = BinomialEpisodes(
    (ToyEpisode("a", 2, 1), ToyEpisode("b", 2, 2), ToyEpisode("c", 2, 0, own=True)),
    seed=11,
    smc=SMC,
)
"""Episodes a and b share p (1 and 2 successes of 2: p ~ Beta(4, 2)); c has its own q
(0 of 2: q ~ Beta(1, 3))."""


def fit(problem, folder, pool=None):
    if pool is not None:
        return sampler.run_smc(problem, folder, pool=pool)
    with make_executor("serial", 1) as serial:
        return sampler.run_smc(problem, folder, pool=serial)


def assert_recovers(particles: pd.DataFrame, column: str, a: float, b: float) -> None:
    """The weighted particles of ``column`` match Beta(a, b) within Monte Carlo error.

    The tolerance is 4 standard errors of each estimate at the population's effective sample
    size (Kish): for the mean sd / sqrt(ESS); for the quantile x_q, sqrt(q (1 - q) / ESS) /
    f(x_q) with f the exact density. Importance-weighted particles are not independent draws, so
    ESS stands in for the sample size; 4 standard errors fail by chance about once in 16,000.
    """
    values, weights = particles[column].to_numpy(), particles.weight.to_numpy()
    ess = sampler.effective_sample_size(weights)
    exact = stats.beta(a, b)
    assert abs(np.average(values, weights=weights) - exact.mean()) < 4 * exact.std() / ess**0.5
    for q in (0.1, 0.5, 0.9):
        error = (q * (1 - q) / ess) ** 0.5 / exact.pdf(exact.ppf(q))
        assert abs(weighted_quantile(values, weights, q) - exact.ppf(q)) < 4 * error, (column, q)


def test_multi_episode_abc_recovers_the_conjugate_posterior(tmp_path):
    populations = fit(TOY, tmp_path)
    particles = populations[-1]
    assert populations[-1].epsilon.iloc[0] == 1.0 and len(particles) == 300
    assert sampler.effective_sample_size(particles.weight.to_numpy()) > 200
    assert TOY.exact("p") == (4, 2) and TOY.exact("c:q") == (1, 3)
    assert_recovers(particles, "p", 4, 2)
    assert_recovers(particles, "c:q", 1, 3)
    # Episode a alone would give Beta(2, 2), mean 0.5: the shared parameter learns from both.
    assert np.average(particles.p, weights=particles.weight) > 0.6


def test_an_episode_weighted_one_half_no_longer_constrains_its_own_parameter(tmp_path):
    """Weight 0.5 halves c's distance: its missed binary target (2) counts 1, within the final
    tolerance, so any run passes c and q keeps its uniform prior, Beta(1, 1)."""
    episodes = (*TOY.episodes[:2], replace(TOY.episodes[2], weight=0.5))
    loose = replace(TOY, episodes=episodes, smc={**SMC, "particles": 200})
    particles = fit(loose, tmp_path)[-1]
    assert_recovers(particles, "c:q", 1, 1)
    assert_recovers(particles, "p", 4, 2)


def test_same_posterior_for_any_workers_and_after_an_interruption(tmp_path, monkeypatch):
    small = replace(TOY, smc={**SMC, "particles": 60, "chunk": 100})
    serial = fit(small, tmp_path / "serial")[-1]
    with make_executor("process", 2) as pool:
        two = fit(small, tmp_path / "two", pool)[-1]
        other = sampler.reference_table(small, 150, tmp_path / "ref-2", pool=pool)
    real, calls = sampler.simulate_proposals, {"n": 0}

    def interrupted(*args):
        calls["n"] += 1
        if calls["n"] > 3:
            raise KeyboardInterrupt
        return real(*args)

    monkeypatch.setattr(sampler, "simulate_proposals", interrupted)
    with pytest.raises(KeyboardInterrupt):
        fit(small, tmp_path / "resumed")
    monkeypatch.setattr(sampler, "simulate_proposals", real)
    resumed = fit(small, tmp_path / "resumed")[-1]
    assert len(serial) == 60 and serial.weight.sum() == pytest.approx(1.0)
    pd.testing.assert_frame_equal(serial, two, check_exact=True)
    pd.testing.assert_frame_equal(serial, resumed, check_exact=True)
    with make_executor("serial", 1) as pool:
        one = sampler.reference_table(small, 150, tmp_path / "ref-1", pool=pool)
    pd.testing.assert_frame_equal(one, other, check_exact=True)
    assert len(one) == 150 and {"distance:a", "distance:c", "c:successes"} <= set(one.columns)


def test_rejection_takes_the_rows_within_tolerance_or_the_nearest():
    distance = np.array([0.5, 3.0, 1.0, 0.2, 2.0])
    rows, tolerance = accepted_rows(distance, 1.0, 2)
    assert rows.tolist() == [3, 0, 2] and tolerance == 1.0
    rows, tolerance = accepted_rows(distance, 0.1, 2)
    assert rows.tolist() == [3, 0] and tolerance == 0.5
