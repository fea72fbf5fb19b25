"""Results folders and their statistics: Wilson intervals, rung and path tables, damaged folders."""

import os

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from sim.model.outcomes import first_day_column
from sim.scenario.ladder import RUNGS
from sim.study.results import (
    Results,
    ResultsError,
    atomic_write_bytes,
    max_half_width,
    path_table,
    read_manifest,
    rung_table,
    wilson_interval,
    write_manifest,
)


@pytest.mark.parametrize("confidence", [0.8, 0.95, 0.99])
def test_wilson_interval_matches_scipy(confidence):
    cases = [(0, 10), (3, 10), (10, 10), (50, 100), (99, 100), (7, 1000), (1, 1), (0, 1)]
    k, n = np.array(cases).T
    low, high = wilson_interval(k, n, confidence)
    for i, (successes, trials) in enumerate(cases):
        expected = stats.binomtest(successes, trials).proportion_ci(confidence, method="wilson")
        assert low[i] == pytest.approx(expected.low, abs=1e-12)
        assert high[i] == pytest.approx(expected.high, abs=1e-12)


def test_wilson_interval_is_nan_without_trials():
    low, high = wilson_interval(np.array([0]), np.array([0]))
    assert np.isnan(low[0]) and np.isnan(high[0])


@pytest.mark.parametrize("p", [0.02, 0.1, 0.3, 0.5, 0.85])
@pytest.mark.parametrize("trials", [40, 100, 400])
def test_wilson_intervals_cover_at_about_the_nominal_rate(p, trials):
    """Coverage of 95% intervals over 20,000 binomial studies is 95% within Wilson's known
    oscillation (about +-2.5 points at these n) plus four binomial standard errors."""
    rng = np.random.default_rng([trials, round(p * 1000)])
    studies = 20_000
    k = rng.binomial(trials, p, size=studies)
    low, high = wilson_interval(k, np.full(studies, trials))
    coverage = np.mean((low <= p) & (p <= high))
    tolerance = 0.025 + 4 * np.sqrt(0.95 * 0.05 / studies)
    assert abs(coverage - 0.95) <= tolerance, coverage


def test_wilson_coverage_beats_the_wald_interval_at_small_p():
    """Guards the test above against a lax tolerance: the Wald interval fails it where Wilson passes."""
    rng = np.random.default_rng(11)
    trials, p, studies = 40, 0.02, 20_000
    k = rng.binomial(trials, p, size=studies)
    phat = k / trials
    wald = 1.959964 * np.sqrt(phat * (1 - phat) / trials)
    wald_coverage = np.mean((phat - wald <= p) & (p <= phat + wald))
    low, high = wilson_interval(k, np.full(studies, trials))
    assert wald_coverage < 0.95 - 0.025 - 4 * np.sqrt(0.95 * 0.05 / studies)
    assert np.mean((low <= p) & (p <= high)) > 0.93


def hand_built_runs() -> pd.DataFrame:
    """Four runs: max rungs 2, 3, 3, 5 with known first days."""
    first_days = {
        0: [0.0, 0.0, 0.0, 0.0],
        1: [0.0, 0.0, 0.0, 0.0],
        2: [0.0, 0.0, 0.0, 0.0],
        3: [np.nan, 14.0, 10.0, 12.0],
        4: [np.nan, np.nan, np.nan, 20.0],
        5: [np.nan, np.nan, np.nan, 20.0],
        6: [np.nan] * 4,
    }
    runs = pd.DataFrame({"replication": range(4), "max_rung": [2, 3, 3, 5]})
    for rung, days in first_days.items():
        runs[first_day_column(rung)] = days
    runs["rung_path"] = ["2", "2-3", "2-3", "2-3-5"]
    runs["path"] = ["a>b:2", "a>b:2 b>a:3", "a>b:2 b>a:3", "a>b:2 b>a:3 a>b:5"]
    return runs


def test_rung_table_counts_probabilities_and_median_days():
    table = rung_table(hand_built_runs()).set_index("rung")
    assert list(table.index) == [int(r) for r in RUNGS]
    assert table["runs_reaching"].tolist() == [4, 4, 4, 3, 1, 1, 0]
    assert table["probability"].tolist() == [1, 1, 1, 0.75, 0.25, 0.25, 0]
    assert table.loc[3, "median_days_to_reach"] == 12.0
    assert table.loc[5, "median_days_to_reach"] == 20.0
    assert np.isnan(table.loc[6, "median_days_to_reach"])
    low, high = wilson_interval(np.array([3]), np.array([4]))
    assert (table.loc[3, "ci_low"], table.loc[3, "ci_high"]) == (low[0], high[0])
    assert (table.ci_low <= table.probability).all() and (table.probability <= table.ci_high).all()


def test_path_table_orders_paths_by_frequency():
    table = path_table(hand_built_runs(), "rung_path", top=2)
    assert table["path"].tolist() == ["2-3", "2"]
    assert table["runs"].tolist() == [2, 1]
    assert table["share"].tolist() == [0.5, 0.25]


def test_max_half_width_is_the_widest_rung():
    reached = np.array([100, 50, 3])
    widest = stats.binomtest(50, 100).proportion_ci(0.95, method="wilson")
    assert max_half_width(reached, 100) == pytest.approx((widest.high - widest.low) / 2)


def write_folder(folder, status="complete"):
    folder.mkdir()
    write_manifest(folder, {"status": status, "scenario_file": "x.yaml", "n": 4})
    hand_built_runs().to_parquet(folder / "runs.parquet", write_page_checksum=True)
    return folder


def test_results_open_a_complete_folder(tmp_path):
    results = Results(write_folder(tmp_path / "ok"))
    pd.testing.assert_frame_equal(results.runs, hand_built_runs(), check_exact=True)
    assert results.summary().n == 4


def test_an_incomplete_study_says_how_to_finish_it(tmp_path):
    folder = write_folder(tmp_path / "half", status="running")
    with pytest.raises(ResultsError, match=f"sim run x.yaml --resume {folder}"):
        Results(folder)


@pytest.mark.parametrize(
    ("text", "match"),
    [(None, "not a results folder"), ("{not json", "corrupted manifest"), ("[1]", "corrupted")],
)
def test_a_missing_or_corrupted_manifest_is_refused(tmp_path, text, match):
    tmp_path.joinpath("x").mkdir()
    if text is not None:
        tmp_path.joinpath("x", "manifest.json").write_text(text)
    with pytest.raises(ResultsError, match=match):
        read_manifest(tmp_path / "x")


def test_a_damaged_table_is_refused_by_name(tmp_path):
    folder = write_folder(tmp_path / "bad")
    data = bytearray((folder / "runs.parquet").read_bytes())
    data[len(data) // 3 : len(data) // 3 + 64] = bytes(64)
    (folder / "runs.parquet").write_bytes(bytes(data))
    with pytest.raises(ResultsError, match=r"runs\.parquet: cannot read"):
        Results(folder).runs  # noqa: B018


def test_atomic_write_keeps_the_old_file_when_writing_fails(tmp_path, monkeypatch):
    target = tmp_path / "manifest.json"
    atomic_write_bytes(target, b"old")

    def disk_full(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", disk_full)
    with pytest.raises(OSError, match="No space"):
        atomic_write_bytes(target, b"new")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["manifest.json"]


@pytest.mark.parametrize("table", ["sweep.parquet", "comparison.parquet", "sobol.parquet"])
def test_a_folder_of_another_kind_of_study_is_named_as_such(tmp_path, table):
    (tmp_path / table).write_bytes(b"")
    with pytest.raises(ResultsError, match=rf"{tmp_path} holds a \w+.*`sim plot {tmp_path}` draws"):
        Results(tmp_path)
