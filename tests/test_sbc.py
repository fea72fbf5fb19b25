"""Simulation-based calibration (sim/calibration/sbc.py) on toy models whose posterior is known.

The detection rule is fixed before looking: a parameter is flagged when its chi-square test of
uniform ranks (20 bins, 400 data sets, 99 draws) gives p < ``RULE`` = 1e-4; every verdict below
is the result's own ``passed`` flag at that significance.

What the rule's error rates are (computed in /tmp by the author, stated here so they can be
checked): under calibration the p-value is uniform, so a correct sampler is flagged with
probability 1e-4 per parameter (a million multinomial replicates of uniform ranks gave 1.09e-4).
A sampler whose draws have half the posterior's spread gives ranks ~ Binomial(99, Phi(2Z)): the
chi-square noncentrality at 400 data sets is 422, and the probability of a miss (p >= 1e-4) is
1e-45 (noncentral chi-square); twice the spread (the importance weights omitted, below) gives
Phi(Z/2), noncentrality 189, miss 3e-14; a posterior shifted by one sd gives Phi(Z - 1),
noncentrality 508, miss 2e-58. The hints checked beside the verdicts (``reads_as``) misread a
U shape or a hump as a bias only when the mean rank is 4 of its standard errors from 1/2
(probability 6e-5 per parameter), and the coverage checks are far outside their intervals'
reach (the narrow sampler covers 67% at the 96% level). So every test here has false-alarm and
miss probabilities below about 3e-4 for a fresh seed; the seeds are fixed for regression.
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from scipy import stats

from sim.calibration.sbc import (
    bin_probabilities,
    clopper_pearson,
    coverage_table,
    expected_coverage,
    inside_interval,
    nearest_rows,
    reference_table_ranks,
    reference_table_sbc,
    simulation_based_calibration,
    summarise_ranks,
)

RULE = 1e-4
DATASETS = 400
DRAWS = 99
PRIOR_MEAN = np.array([0.0, 3.0])
PRIOR_SD = np.array([1.0, 0.5])
NOISE_SD = 1.0
PROPOSALS = 2000
NAMES = ["a", "b"]


def draw_prior(rng):
    """Two independent normal means: a ~ N(0, 1), b ~ N(3, 0.5^2)."""
    return rng.normal(PRIOR_MEAN, PRIOR_SD)


def simulate(theta, rng):
    """One observation of each mean with noise sd 1."""
    return rng.normal(theta, NOISE_SD)


def posterior(x):
    """The conjugate normal posterior: mean and sd of each parameter given its observation."""
    precision = PRIOR_SD**-2 + NOISE_SD**-2
    return (PRIOR_MEAN * PRIOR_SD**-2 + x * NOISE_SD**-2) / precision, precision**-0.5


def normal_sampler(spread=(1.0, 1.0), shift=(0.0, 0.0)):
    """Draws from the posterior with its sd multiplied by ``spread`` and its mean moved by
    ``shift`` posterior sds: exact with the defaults."""

    def sampler(x, rng):
        mean, sd = posterior(x)
        return rng.normal(mean + np.array(shift) * sd, sd * np.array(spread), (DRAWS, 2))

    return sampler


def log_normal(x, mean, sd):
    return -0.5 * ((x - mean) / sd) ** 2 - np.log(sd)


def importance_sampler(weighted: bool):
    """Sampling-importance-resampling: proposals from N(x, 2^2) per parameter, weighted by prior
    x likelihood / proposal and resampled. ``weighted=False`` is the bug of omitting the
    weights: the draws are then the proposal's, twice as wide as the posterior's and ignoring
    the prior."""

    def sampler(x, rng):
        proposals = rng.normal(x, 2 * NOISE_SD, (PROPOSALS, 2))
        log_w = log_normal(proposals, PRIOR_MEAN, PRIOR_SD) + log_normal(x, proposals, NOISE_SD)
        log_w -= log_normal(proposals, x, 2 * NOISE_SD)
        weights = np.exp(log_w - log_w.max(axis=0))
        weights /= weights.sum(axis=0)
        columns = [
            proposals[rng.choice(PROPOSALS, DRAWS, p=weights[:, c] if weighted else None), c]
            for c in range(2)
        ]
        return np.column_stack(columns)

    return sampler


def run(sampler, seed):
    return simulation_based_calibration(
        draw_prior,
        simulate,
        sampler,
        DATASETS,
        np.random.default_rng(seed),
        names=NAMES,
        significance=RULE,
    )


def test_the_exact_posterior_passes_with_coverage_at_every_level():
    result = run(normal_sampler(), 11)
    assert result.passed == {"a": True, "b": True}
    assert result.ranks.shape == (DATASETS, 2)
    assert result.coverage.expected.round(6).tolist() == [0.5, 0.5, 0.8, 0.8, 0.9, 0.9, 0.96, 0.96]


def test_a_too_narrow_posterior_is_flagged_as_under_covering():
    """Only b's draws are shrunk (sd x 0.5): b fails, a still passes, and b's every interval
    covers less than it should (its exact 95% interval lies below the expected coverage)."""
    result = run(normal_sampler(spread=(1.0, 0.5)), 12)
    assert result.passed == {"a": True, "b": False}
    b = result.coverage[result.coverage.parameter == "b"]
    assert (b.ci_high < b.expected).all()
    assert result.uniformity.set_index("parameter").reads_as["b"] == "too narrow"


def test_importance_sampling_passes_with_its_weights_and_fails_without_them():
    """The same sampler with the weights omitted returns its proposal, too wide: both flagged,
    with over-coverage at every level. With its weights the sampler is only close to exact
    (2,000 proposals): at 10,000 data sets, 25 times this test's, two fresh runs gave p-values
    0.52 and 0.31, 0.018 and 0.76, so at 400 its departure is far below what the rule sees."""
    assert run(importance_sampler(weighted=True), 13).passed == {"a": True, "b": True}
    wrong = run(importance_sampler(weighted=False), 13)
    assert wrong.passed == {"a": False, "b": False}
    assert (wrong.coverage.ci_low > wrong.coverage.expected).all()
    assert set(wrong.uniformity.reads_as) == {"too wide"}


def test_a_shifted_posterior_is_flagged_as_biased():
    """Draws one posterior sd too high: the true values rank low (a slope)."""
    result = run(normal_sampler(shift=(1.0, 1.0)), 14)
    assert result.passed == {"a": False, "b": False}
    assert set(result.uniformity.reads_as) == {"biased high"}
    assert (result.uniformity.mean_rank < 0.4).all()


def absolute_distance(rows, observed):
    return np.abs(rows - observed).sum(axis=1)


def beta_binomial_table(rng, rows: int, trials: int):
    """p ~ Uniform(0, 1) prior, x ~ Binomial(trials, p): a table of (p, x) prior simulations."""
    p = rng.random(rows)
    return p[:, None], rng.binomial(trials, p)[:, None].astype(float)


def test_a_large_reference_table_passes():
    """4,000 rows of a beta-binomial with 10 trials: every value of x has about 360 rows, so
    each data set's 100 nearest others all match it exactly (distance 0, chosen at random among
    the ties) and are exact posterior draws. Ranks share the table, so they are not quite
    independent: over 300 fresh tables the p-values were uniform or a little high (0.7% below
    0.01, 4.7% below 0.05), so the false-alarm probability at 1e-4 is about 1e-4 or less."""
    rng = np.random.default_rng(21)
    theta, stats_ = beta_binomial_table(rng, 4000, 10)
    result = reference_table_sbc(
        theta, stats_, n_datasets=DATASETS, accept=100, distance=absolute_distance, rng=rng,
        names=["p"], significance=RULE,
    )  # fmt: skip
    assert result.passed == {"p": True}
    assert result.ranks.max() <= 100


def test_a_reference_table_on_continuous_statistics_is_close_to_calibrated():
    """Normal mean, N(0, 1) prior, one N(theta, 1) observation, 20,000 rows, 50 nearest: the
    accepted observations lie within about 0.01 of the data set's, against a posterior sd of
    0.71, so the rejection posterior is calibrated to far better than 400 data sets resolve."""
    rng = np.random.default_rng(22)
    theta = rng.normal(0, 1, (20_000, 1))
    result = reference_table_sbc(
        theta, rng.normal(theta, 1), n_datasets=DATASETS, accept=50,
        distance=absolute_distance, rng=rng, names=["mean"], significance=RULE,
    )  # fmt: skip
    assert result.passed == {"mean": True}


def test_too_large_an_accepted_share_is_flagged_as_too_wide():
    """100 trials make x informative; accepting 300 of 1,000 rows takes in x values far from the
    data set's, a posterior much wider than the true one. Over 200 fresh tables the largest
    p-value was 3e-18, so a miss at 1e-4 is far below 1e-3."""
    rng = np.random.default_rng(23)
    theta, stats_ = beta_binomial_table(rng, 1000, 100)
    result = reference_table_sbc(
        theta, stats_, n_datasets=DATASETS, accept=300, distance=absolute_distance, rng=rng,
        names=["p"], significance=RULE,
    )  # fmt: skip
    assert result.passed == {"p": False}
    half = result.coverage[result.coverage.level == 0.5].iloc[0]
    assert half.ci_low > half.expected


def test_hand_built_table_ranks_each_row_among_its_nearest_others():
    theta = np.array([[0.0], [1.0], [2.0], [3.0], [4.0]])
    stats_ = np.array([[0.0], [0.1], [0.2], [5.0], [6.0]])
    ranks = reference_table_ranks(
        theta, stats_, [0, 2, 4], 2, absolute_distance, np.random.default_rng(0)
    )
    # row 0: rows 1, 2 (theta 1, 2) -> 0 below; row 2: rows 1, 0 -> 2 below; row 4: rows 3, 2
    assert ranks[:, 0].tolist() == [0, 2, 2]


def test_rows_tied_at_the_cut_off_are_drawn_at_random():
    """Every other row at the same distance: each of the 5 is chosen about equally often (a
    chi-square test at 1e-4 on 2,000 draws of 2), never the row itself, and NaN counts as far."""
    rng = np.random.default_rng(3)
    distances = np.array([0.0, 1.0, 1.0, 1.0, 1.0, 1.0, np.nan])
    theta = np.zeros((7, 1))
    picks = np.concatenate([nearest_rows(distances, 0, 2, theta, rng) for _ in range(2000)])
    assert set(picks) == {1, 2, 3, 4, 5}
    assert stats.chisquare(np.bincount(picks)[1:]).pvalue >= RULE
    assert nearest_rows(distances, 0, 6, theta, rng).tolist()[-1] == 6


def test_a_true_value_tied_with_every_draw_gets_a_uniform_rank():
    """All draws equal the true value: the ranks are spread uniformly over 0..99 by the random
    tie-break (a rank of 0 every time would fail any uniformity test)."""

    def constant(x, rng):
        return np.zeros((DRAWS, 1))

    result = simulation_based_calibration(
        lambda rng: np.zeros(1), lambda t, rng: t, constant, DATASETS,
        np.random.default_rng(5), significance=RULE,
    )  # fmt: skip
    assert result.passed == {"theta[0]": True}


def test_bins_and_coverage_by_hand():
    """L = 9 draws, 4 bins: ranks 0-2, 3-4, 5-7, 8-9; ranks 0..9 once each: the central 50%
    interval holds |2r - 9| <= 5, ranks 2..7, 6 of 10, whose Clopper-Pearson 95% interval is
    [0.2624, 0.8784]."""
    assert bin_probabilities(9, 4).tolist() == [0.3, 0.2, 0.3, 0.2]
    table = coverage_table(np.arange(10)[:, None], 9, ["x"], [0.5])
    row = table.iloc[0]
    assert (row.covered, row.expected, row.empirical) == (6, 0.6, 0.6)
    assert (round(row.ci_low, 4), round(row.ci_high, 4)) == (0.2624, 0.8784)


def test_tables_and_report_say_what_was_run_and_what_it_found():
    rng = np.random.default_rng(8)
    theta, stats_ = beta_binomial_table(rng, 1000, 100)
    result = reference_table_sbc(
        theta, stats_, n_datasets=200, accept=300, distance=absolute_distance, rng=rng,
        names=["p"],
    )  # fmt: skip
    tables = result.tables()
    assert set(tables) == {"sbc_ranks", "sbc_coverage", "sbc_uniformity"}
    assert tables["sbc_ranks"]["p"].tolist() == result.ranks[:, 0].tolist()
    text = result.report_markdown()
    for words in ("1,000 prior simulations", "200 of its rows", "300 nearest", "ties broken at "
                  "random", "nearest-neighbour search", "not a calibration", "**1 of 1 "
                  "parameters fail**: `p` (too wide)"):  # fmt: skip
        assert words in text, words


@given(st.integers(1, 2000).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_the_coverage_interval_is_scipys_exact_binomial_interval(case):
    covered, trials = case
    reference = stats.binomtest(covered, trials).proportion_ci(0.95, method="exact")
    assert np.allclose(clopper_pearson(covered, trials), (reference.low, reference.high))


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"accept": 10}, "accept"),
        ({"n_datasets": 11}, "n_datasets"),
        ({"names": ["a", "b"]}, "names"),
        ({"distance": lambda rows, observed: np.zeros(3)}, "distance returned"),
    ],
)
def test_a_budget_or_table_that_does_not_fit_is_refused(change, message):
    arguments = {
        "n_datasets": 5, "accept": 3, "distance": absolute_distance,
        "rng": np.random.default_rng(0), "names": ["a"],
    } | change  # fmt: skip
    with pytest.raises(ValueError, match=message):
        reference_table_sbc(np.zeros((10, 1)), np.zeros((10, 2)), **arguments)


def test_a_sampler_whose_number_of_draws_changes_is_refused():
    sizes = iter([5, 6])
    with pytest.raises(ValueError, match="same number"):
        simulation_based_calibration(
            lambda rng: np.zeros(1), lambda t, rng: t,
            lambda x, rng: np.zeros(next(sizes)), 2, np.random.default_rng(0),
        )  # fmt: skip


@st.composite
def tables(draw):
    """A small table with many ties (values from a few integers), NaN statistics, an accept
    count and data set rows."""
    n = draw(st.integers(3, 12))
    d, k = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    theta = draw(hnp.arrays(float, (n, d), elements=st.sampled_from([0.0, 1.0, 2.5, -1.0])))
    values = st.sampled_from([0.0, 1.0, 2.0, np.nan])
    stats_ = draw(hnp.arrays(float, (n, k), elements=values))
    accept = draw(st.integers(1, n - 1))
    rows = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    return theta, stats_, accept, rows


@settings(max_examples=60)
@given(tables(), st.integers(0, 2**32 - 1))
def test_ranks_lie_between_zero_and_the_accepted_count(table, seed):
    theta, stats_, accept, rows = table
    ranks = reference_table_ranks(
        theta, stats_, rows, accept, absolute_distance, np.random.default_rng(seed)
    )
    assert ranks.shape == (len(rows), theta.shape[1])
    assert ((ranks >= 0) & (ranks <= accept)).all()


@settings(max_examples=60)
@given(tables(), st.integers(0, 2**32 - 1), st.randoms(use_true_random=False))
def test_the_ranks_do_not_depend_on_the_order_of_the_tables_rows(table, seed, shuffler):
    """Permute the rows (and name the same data sets by their new positions): with the same
    random draws, the same ranks, ties and NaN statistics included."""
    theta, stats_, accept, rows = table
    order = list(range(len(theta)))
    shuffler.shuffle(order)
    position = np.argsort(order)  # where each original row went
    before = reference_table_ranks(
        theta, stats_, rows, accept, absolute_distance, np.random.default_rng(seed)
    )
    after = reference_table_ranks(
        theta[order], stats_[order], position[rows], accept, absolute_distance,
        np.random.default_rng(seed),
    )  # fmt: skip
    assert (before == after).all()


@settings(max_examples=40)
@given(
    st.integers(1, 200).flatmap(
        lambda draws: st.tuples(
            st.just(draws),
            hnp.arrays(np.int64, st.tuples(st.integers(1, 30), st.integers(1, 3)),
                       elements=st.integers(0, draws)),
        )
    ),
    st.lists(st.floats(0.01, 0.99), min_size=1, max_size=6, unique=True),
)  # fmt: skip
def test_coverage_grows_with_the_level_for_every_parameter(case, levels):
    draws, ranks = case
    names = [f"x{i}" for i in range(ranks.shape[1])]
    result = summarise_ranks(ranks, draws, names, levels)
    for _, part in result.coverage.groupby("parameter"):
        part = part.sort_values("level")
        assert (np.diff(part.empirical) >= 0).all()
        assert (np.diff(part.expected) >= 0).all()
    assert set(result.passed) == set(names)


@given(st.integers(1, 500), st.floats(0.001, 0.999))
def test_expected_coverage_is_the_level_within_one_rank(draws, level):
    assert abs(expected_coverage(draws, level) - level) <= 1 / (draws + 1) + 1e-12
    inside = inside_interval(np.arange(draws + 1), draws, level)
    assert inside.tolist() == inside[::-1].tolist()  # central: symmetric in the rank


@pytest.mark.parametrize(
    ("ranks", "draws", "names", "message"),
    [
        (np.zeros((3, 2)), 5, ["a", "a"], "its own name"),
        (np.full((3, 1), 6), 5, ["a"], "must lie in 0..5"),
        (np.zeros((3, 1)), 0, ["a"], "at least one posterior draw"),
        (np.zeros((3, 1)), 5, ["a", "b"], "need"),
    ],
)
def test_ranks_that_cannot_be_summarised_are_refused(ranks, draws, names, message):
    with pytest.raises(ValueError, match=message):
        summarise_ranks(ranks, draws, names)
