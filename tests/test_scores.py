"""Proper scores, skill and reliability (sim/analysis/scores.py): hand-computed values, scipy
references, and the properties that make them proper scores."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.special import xlogy

from sim.analysis.scores import (
    LOG_CLIP,
    bootstrap_skill,
    brier_score,
    log_score,
    ranked_probability_score,
    reliability_table,
    skill_score,
)
from sim.model.rng import Streams
from sim.study.results import wilson_interval

probabilities = st.floats(0, 1, allow_nan=False)
inside_clip = st.floats(LOG_CLIP, 1 - LOG_CLIP, allow_nan=False)
distributions = st.lists(st.floats(0, 1, allow_nan=False), min_size=7, max_size=7).filter(
    lambda shares: sum(shares) > 1e-3
)


def as_distribution(shares):
    shares = np.asarray(shares, dtype=float)
    return shares / shares.sum()


def test_brier_equals_hand_computed_values():
    assert brier_score([0.8, 0.3, 1.0, 0.0], [1, 0, 0, 0]) == pytest.approx([0.04, 0.09, 1, 0])


def test_brier_equals_the_mean_squared_error_written_out():
    p, y = [0.1, 0.45, 0.9, 0.65], [0, 1, 1, 0]
    by_hand = [(0.1 - 0) ** 2, (0.45 - 1) ** 2, (0.9 - 1) ** 2, (0.65 - 0) ** 2]
    assert brier_score(p, y) == pytest.approx(by_hand)
    assert brier_score(p, y).mean() == pytest.approx(sum(by_hand) / 4)


def test_log_score_equals_hand_computed_values():
    assert log_score([0.8, 0.3], [1, 0]) == pytest.approx([-math.log(0.8), -math.log(0.7)])


def test_log_score_equals_scipy_xlogy_reference():
    p = np.array([0.05, 0.4, 0.77, 0.99, 0.5])
    y = np.array([0, 1, 1, 0, 1])
    reference = -(xlogy(y, p) + xlogy(1 - y, 1 - p))
    assert log_score(p, y) == pytest.approx(reference, rel=1e-12)


def test_log_score_clips_certain_forecasts_to_the_documented_bound():
    wrong, right = log_score([0.0, 1.0], [1, 1])
    assert wrong == pytest.approx(-math.log(LOG_CLIP))
    assert wrong == pytest.approx(math.log(1000))
    assert right == pytest.approx(-math.log(1 - LOG_CLIP))


def test_rps_equals_a_hand_computed_value():
    # cumulative forecast 0.2, 0.7 (then 1); observed category 1: cumulative 0, 1
    # -> ((0.2 - 0)^2 + (0.7 - 1)^2) / 2 = 0.065
    assert ranked_probability_score([[0.2, 0.5, 0.3]], [1]) == pytest.approx([0.065])


def test_rps_over_rungs_equals_a_hand_computed_value():
    forecast = [0.0, 0.0, 0.6, 0.3, 0.1, 0.0, 0.0]
    # P(rung >= r) for r = 1..6: 1, 1, 0.4, 0.1, 0, 0; rung 3 observed: 1, 1, 1, 0, 0, 0
    by_hand = ((1 - 1) ** 2 + (1 - 1) ** 2 + (0.4 - 1) ** 2 + 0.1**2 + 0 + 0) / 6
    assert ranked_probability_score([forecast], [3]) == pytest.approx([by_hand])
    assert by_hand == pytest.approx(0.37 / 6)


@given(distributions, st.integers(0, 6))
def test_rps_is_the_mean_brier_score_of_the_six_thresholds(shares, observed):
    forecast = as_distribution(shares)
    thresholds = [
        brier_score(forecast[r:].sum().clip(0, 1), int(observed >= r))[0] for r in range(1, 7)
    ]
    assert ranked_probability_score([forecast], [observed])[0] == pytest.approx(
        np.mean(thresholds), abs=1e-12
    )


@given(st.integers(0, 6))
def test_rps_of_a_perfect_forecast_is_zero(observed):
    certain = np.eye(7)[observed]
    assert ranked_probability_score([certain], [observed])[0] == 0


def test_rps_punishes_a_miss_by_more_rungs_more():
    scores = [ranked_probability_score([np.eye(7)[r]], [0])[0] for r in range(7)]
    assert scores == sorted(scores) and scores[0] == 0 and scores[6] == 1


def expected_binary(score, p, q):
    """E[score(p, Y)] for Y ~ Bernoulli(q)."""
    return q * score(p, 1)[0] + (1 - q) * score(p, 0)[0]


@given(probabilities, probabilities)
def test_brier_is_proper(p, q):
    assert expected_binary(brier_score, p, q) >= expected_binary(brier_score, q, q) - 1e-12


@given(probabilities, inside_clip)
def test_log_score_is_proper_for_true_probabilities_inside_the_clip(p, q):
    assert expected_binary(log_score, p, q) >= expected_binary(log_score, q, q) - 1e-12


@given(distributions, distributions)
def test_rps_is_proper(forecast_shares, truth_shares):
    forecast, truth = as_distribution(forecast_shares), as_distribution(truth_shares)
    rungs = np.arange(7)

    def expected(f):
        return float(truth @ ranked_probability_score(np.tile(f, (7, 1)), rungs))

    assert expected(forecast) >= expected(truth) - 1e-12


@given(st.lists(st.floats(1e-6, 10, allow_nan=False), min_size=1, max_size=30))
def test_skill_against_itself_is_zero(scores):
    assert skill_score(scores, scores) == pytest.approx(0, abs=1e-12)
    rng = Streams(1, 0).get("test")
    result = bootstrap_skill(np.array(scores), np.array(scores), rng, resamples=200)
    assert result["skill"] == pytest.approx(0, abs=1e-12)
    assert result["ci_low"] == pytest.approx(0, abs=1e-12)
    assert result["ci_high"] == pytest.approx(0, abs=1e-12)


def test_skill_is_one_minus_the_ratio_of_mean_scores():
    assert skill_score([0.1, 0.3], [0.4, 0.4]) == pytest.approx(1 - 0.2 / 0.4)
    assert skill_score([0.5, 0.7], [0.4, 0.4]) == pytest.approx(1 - 0.6 / 0.4)


def test_skill_against_a_perfect_reference_is_undefined():
    assert math.isnan(skill_score([0.1, 0.2], [0.0, 0.0]))
    result = bootstrap_skill(np.array([0.1, 0.2]), np.zeros(2), Streams(1, 0).get("t"), 300)
    assert math.isnan(result["skill"]) and math.isnan(result["ci_low"])
    assert result["undefined_resamples"] == 300


def test_bootstrap_is_reproducible_by_seed_and_differs_between_seeds():
    rng = Streams(3, 0).get("data")
    model, reference = rng.uniform(0, 0.3, 40), rng.uniform(0, 0.5, 40)

    def run(seed):
        return bootstrap_skill(model, reference, Streams(seed, 0).get("bootstrap"), 500)

    assert run(11) == run(11)
    assert run(11)["ci_low"] != run(12)["ci_low"]
    assert run(11)["skill"] == run(12)["skill"] == pytest.approx(skill_score(model, reference))


def test_bootstrap_interval_covers_the_true_skill_about_95_percent_of_the_time():
    # q ~ U(0, 1) per question; the model forecasts q, the reference hedges: 0.25 + q / 2.
    # E[model Brier] = E[q(1 - q)] = 1/6; E[reference] = 1/6 + E[(q/2 - 1/4)^2] = 1/6 + 1/48.
    true_skill = 1 - (1 / 6) / (1 / 6 + 1 / 48)
    datasets, questions = 400, 100
    covered = 0
    for k in range(datasets):
        rng = Streams(2024, k).get("simulated questions")
        q = rng.uniform(0, 1, questions)
        y = (rng.uniform(0, 1, questions) < q).astype(float)
        interval = bootstrap_skill(
            brier_score(q, y), brier_score(0.25 + q / 2, y), Streams(2024, k).get("boot"), 1000
        )
        covered += interval["ci_low"] <= true_skill <= interval["ci_high"]
    # 95% nominal; a percentile bootstrap covers a little less with few questions (measured:
    # 0.93-0.95 with 100 questions over four seeds, 0.905 with 20). With 400 data sets the
    # binomial standard error is 1.1 points.
    assert 0.91 <= covered / datasets <= 0.98


def test_scores_refuse_probabilities_outside_0_1_and_outcomes_other_than_0_1():
    with pytest.raises(ValueError, match="probabilities"):
        brier_score([1.2], [1])
    with pytest.raises(ValueError, match="outcomes"):
        log_score([0.5], [2])
    with pytest.raises(ValueError, match="distribution"):
        ranked_probability_score([[0.5, 0.6]], [0])
    with pytest.raises(ValueError, match="categories"):
        ranked_probability_score([[0.5, 0.5]], [2])


def test_reliability_table_bins_forecasts_and_gives_wilson_intervals():
    p = [0.05, 0.15, 0.12, 0.18, 1.0, 0.95]
    y = [0, 1, 0, 1, 1, 0]
    table = reliability_table(p, y)
    assert table["bin_low"].tolist() == pytest.approx([0.0, 0.1, 0.9])
    assert table["n"].tolist() == [1, 3, 2]
    assert table["happened"].tolist() == [0, 2, 1]
    assert table["mean_forecast"].tolist() == pytest.approx([0.05, 0.15, 0.975])
    assert table["observed_frequency"].tolist() == pytest.approx([0, 2 / 3, 0.5])
    low, high = wilson_interval(np.array([0, 2, 1]), np.array([1, 3, 2]))
    assert table["ci_low"].tolist() == pytest.approx(low.tolist())
    assert table["ci_high"].tolist() == pytest.approx(high.tolist())


@given(st.lists(st.tuples(probabilities, st.integers(0, 1)), min_size=1, max_size=50))
def test_reliability_table_counts_every_forecast_once(pairs):
    p, y = zip(*pairs, strict=True)
    table = reliability_table(list(p), list(y))
    assert table["n"].sum() == len(pairs)
    assert table["happened"].sum() == sum(y)
    assert ((table["mean_forecast"] >= table["bin_low"] - 1e-12)
            & (table["mean_forecast"] <= table["bin_high"] + 1e-12)).all()  # fmt: skip


def test_reliability_diagram_carries_the_numbers_it_draws_and_a_caption():
    from sim.figures.scores import reliability_diagram

    table = reliability_table([0.05, 0.15, 0.12, 0.18, 1.0, 0.95], [0, 1, 0, 1, 1, 0])
    figure = reliability_diagram(table)
    assert figure.data["observed_frequency"].tolist() == table["observed_frequency"].tolist()
    assert figure.data["ci_high"].tolist() == table["ci_high"].tolist()
    assert figure.caption.startswith("Reliability of 6 binary forecasts in 3 bins")
    # gaps: 0.05, |2/3 - 0.15| = 0.52, |0.5 - 0.975| = 0.475
    assert "[0.1, 0.2]: forecast 0.15, observed 0.67 of 3" in figure.caption
    points = figure.axes[0].lines[1].get_xydata()
    assert points.tolist() == table[["mean_forecast", "observed_frequency"]].to_numpy().tolist()
    with pytest.raises(ValueError, match="happened"):
        reliability_diagram(table.drop(columns="happened"))
