"""``--until-ci`` with relative and per-rung targets (issue 13 item 9): the stopping rule as a
pure function from a table of cases and over all inputs, then in studies (the same result on any
number of workers, and resumed mid-extension) and on the command line."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import assume, given
from hypothesis import strategies as st
from scipy import stats

import sim.study.montecarlo as montecarlo
from sim.cli.main import main
from sim.study.results import Results
from sim.study.stopping import Target, TargetError, next_target, parse_target, parse_targets
from tests.interrupts import interrupted_after

ROOT = Path(__file__).parents[1]
POINT = ROOT / "scenarios" / "april-2024-point.yaml"


def rungs(*reached: int) -> list[int]:
    """Runs reaching rungs 0, 1, ... (the rest reached by none)."""
    return [*reached, *[0] * (7 - len(reached))]


ALL = rungs(100, 100, 100, 100, 100, 100, 100)
# Wilson 95% half-widths: p = 1 or 0 at n = 100: 0.0185; p = 0.5 at n = 100: 0.0962; at
# n = 1,000: 0.0309 (p = 0.5), 0.0019 (p = 0 or 1); p = 0.1 at n = 10,000: 0.00588.
STOPPING_CASES = [
    # n, reached, targets, max_n, chunk size, replications planned (0: stop)
    (100, ALL, ["0.02"], 100_000, 100, 0),  # 0.0185 <= 0.02: met
    (100, ALL, ["0.01"], 100_000, 100, 400),  # 100 (0.0185/0.01)^2 x 1.1 = 376.5
    (100, rungs(100, 50), ["0.05"], 100_000, 100, 500),  # widest 0.0962: 406.9
    (100, rungs(100, 50), ["0.095"], 100_000, 100, 200),  # 112.7 but at least one chunk more
    (1000, rungs(1000, 500), ["0.02"], 10**6, 100, 2700),  # 1000 (0.0309/0.02)^2 x 1.1 = 2631
    (1000, rungs(1000, 500), ["0.02"], 1000, 100, 0),  # unmet, but max_n is reached
    (1000, rungs(1000, 500), ["rung>=5:0.02"], 10**6, 100, 0),  # rung 5 alone: 0.0019
    (10_000, rungs(*[10_000] * 5, 1000), ["rung>=5:10%"], 10**6, 100, 0),  # 5.9% of p
    (10_000, rungs(*[10_000] * 5, 1000), ["rung>=5:5%"], 10**6, 100, 15_300),  # 13,830 x 1.1
    (10_000, rungs(*[10_000] * 5, 1000), ["rung>=5:10%", "0.01"], 10**6, 100, 0),  # both met
    # rung 5's 0.00588 is the widest: 10,000 (0.00588/0.001)^2 x 1.1 = 380,418
    (10_000, rungs(*[10_000] * 5, 1000), ["rung>=5:10%", "0.001"], 10**6, 100, 380_500),
    # no run reached rung 5 yet: planned at the rule-of-three bound p = 3/100:
    # 1.96^2 x 0.97 / (0.1^2 x 0.03) = 12,421, x 1.1 = 13,663
    (100, rungs(*[100] * 5), ["rung>=5:10%"], 100_000, 100, 13_700),
    (100, rungs(*[100] * 5), ["rung>=5:10%"], 5000, 100, 5000),  # capped at max_n
    (100, rungs(*[100] * 5), ["rung>=5:0.02"], 100_000, 100, 0),  # absolute: 0.0185 met
]


@pytest.mark.parametrize(("n", "reached", "targets", "cap", "size", "planned"), STOPPING_CASES)
def test_the_stopping_rule_from_a_table_of_cases(n, reached, targets, cap, size, planned):
    assert next_target(n, reached, parse_targets(targets), cap, size) == planned


TARGET_CASES = [
    ("0.01", Target(0.01), "0.01"),
    (0.05, Target(0.05), "0.05"),
    ("10%", Target(0.1, relative=True), "10%"),
    ("rung>=5:0.005", Target(0.005, rung=5), "rung>=5:0.005"),
    (" rung >= 6 : 12.5 % ", Target(0.125, relative=True, rung=6), "rung>=6:12.5%"),
    ("RUNG>=4:1e-3", Target(0.001, rung=4), "rung>=4:0.001"),  # as --help spells it
]


@pytest.mark.parametrize(("given_as", "target", "text"), TARGET_CASES)
def test_a_target_is_read_and_written_back(given_as, target, text):
    assert parse_target(given_as) == target
    assert target.text == text
    assert parse_target(text) == target


@pytest.mark.parametrize(
    ("given_as", "message"),
    [
        ("nan", "'nan' is not a finite number above 0"),
        ("0", "'0' is not a finite number above 0"),
        ("-5%", "'-5' is not a finite number above 0"),
        ("1", "a half-width is a probability, below 1"),
        ("rung>=7:0.1", "there is no rung 7 (rungs are 0-6)"),
        ("often", "expected a half-width (0.01) or a percentage of the estimate (10%)"),
        ("5:0.1", "for every rung or after rung>=R: for one"),
    ],
)
def test_a_target_that_cannot_be_read_says_what_is_expected(given_as, message):
    with pytest.raises(TargetError) as refused:
        parse_target(given_as)
    assert message in str(refused.value)


def scipy_half_width(k: int, n: int) -> float:
    interval = stats.binomtest(k, n).proportion_ci(0.95, method="wilson")
    return (interval.high - interval.low) / 2


@st.composite
def stopping_inputs(draw):
    n = draw(st.integers(1, 20_000))
    reached = sorted(draw(st.lists(st.integers(0, n), min_size=7, max_size=7)), reverse=True)
    width = st.floats(0.001, 0.5)
    target = st.builds(Target, width, st.booleans(), st.one_of(st.none(), st.integers(0, 6)))
    targets = draw(st.lists(target, min_size=1, max_size=3))
    return n, reached, targets, draw(st.integers(1, 50_000)), draw(st.integers(1, 500))


@given(stopping_inputs())
def test_the_rule_stops_exactly_when_every_target_is_met_and_plans_whole_chunks(inputs):
    n, reached, targets, cap, size = inputs
    met = True
    for target in targets:
        for rung in range(7) if target.rung is None else [target.rung]:
            allowed = target.width * (reached[rung] / n if target.relative else 1)
            half = scipy_half_width(reached[rung], n)
            assume(abs(half - allowed) > 1e-9)  # exactly on the boundary: rounding decides
            met &= half <= allowed and not (target.relative and reached[rung] == 0)
    planned = next_target(n, reached, targets, cap, size)
    assert (planned == 0) == (met or n >= cap)
    if planned:
        assert n < planned <= cap
        assert planned == cap or planned % size == 0


TARGETS = ["rung>=3:20%", "rung>=4:0.15"]


def study(out: Path, **options) -> Results:
    options = {"n": 10, "chunk_size": 10, "executor": "serial", "max_n": 300} | options
    return montecarlo.run_study(POINT, out=out, until_ci=TARGETS, **options)


def reached_by_rung(results: Results) -> list[int]:
    max_rung = results.runs["max_rung"].to_numpy()
    return [int((max_rung >= rung).sum()) for rung in range(7)]


@pytest.fixture(scope="module")
def whole(tmp_path_factory) -> Results:
    return study(tmp_path_factory.mktemp("whole") / "out")


def test_a_study_stops_at_the_first_whole_chunk_count_that_meets_its_targets(whole):
    n = whole.manifest["n"]
    assert 10 < n < 300, "the targets should need an extension, and be met before max_n"
    assert whole.manifest["until_ci"] == TARGETS
    assert next_target(n, reached_by_rung(whole), parse_targets(TARGETS), 300, 10) == 0


def test_the_same_seed_gives_the_same_study_on_two_workers(whole, tmp_path):
    two = study(tmp_path / "two", executor="process", workers=2)
    assert two.manifest["n"] == whole.manifest["n"]
    pd.testing.assert_frame_equal(two.runs, whole.runs, check_exact=True)


def interrupted(out: Path, after_chunks: int) -> Path:
    """``study(out)`` stopped by Ctrl-C once ``after_chunks`` chunks are done."""
    interrupted_after(montecarlo, "simulate_chunk", after_chunks, lambda: study(out))
    return out


def test_a_study_interrupted_while_extending_resumes_to_the_same_study(whole, tmp_path):
    out = interrupted(tmp_path / "out", 2)  # the first chunk, then one of the extension
    resumed = montecarlo.run_study(POINT, out=out, resume=True, executor="serial")
    assert resumed.manifest["n"] == whole.manifest["n"]
    pd.testing.assert_frame_equal(resumed.runs, whole.runs, check_exact=True)
    pd.testing.assert_frame_equal(resumed.events, whole.events, check_exact=True)


def test_the_command_line_takes_several_targets(whole, tmp_path):
    out = tmp_path / "out"
    options = ["-n", "10", "--chunk-size", "10", "--executor", "serial", "--max-n", "300"]
    targets = ["--until-ci", "rung >= 3 : 20 %", "--until-ci", "rung>=4:0.15"]
    result = CliRunner().invoke(main, ["run", str(POINT), *options, *targets, "-o", str(out)])
    assert result.exit_code == 0, result.output
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["until_ci"] == TARGETS
    assert manifest["n"] == whole.manifest["n"]
    assert f"(n = {whole.manifest['n']}," in result.output


@pytest.mark.parametrize(
    ("target", "message"),
    [("rung>=9:10%", "there is no rung 9"), ("often", "expected a half-width (0.01)")],
)
def test_the_command_line_refuses_a_target_it_cannot_read(tmp_path, target, message):
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(POINT), "--until-ci", target, "-o", str(out)])
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()


def test_the_python_api_takes_one_target_or_several(tmp_path):
    with pytest.raises(ValueError, match="until_ci must be precision targets: 'rung>=9:10%'"):
        montecarlo.run_study(POINT, n=10, out=tmp_path / "a", until_ci="rung>=9:10%")
    assert not (tmp_path / "a").exists()
    assert parse_targets("10%") == parse_targets(["10%"]) == [Target(0.1, relative=True)]
    assert parse_targets(None) == []
    assert np.isclose(parse_targets(0.01)[0].width, 0.01)


def test_the_command_line_names_the_targets_max_n_stopped_short_of(tmp_path):
    options = ["-n", "10", "--chunk-size", "10", "--executor", "serial", "--max-n", "20"]
    targets = ["--until-ci", "rung>=5:1%", "--until-ci", "0.4"]  # 0.4 is met at once
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(POINT), *options, *targets, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "note: stopped at --max-n 20 before --until-ci rung>=5:1% was met\n" in result.output


def test_a_resumed_study_keeps_its_targets_and_says_so(whole, tmp_path):
    out = interrupted(tmp_path / "out", 1)
    args = ["run", str(POINT), "--resume", str(out), "--executor", "serial", "--until-ci", "5%"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    kept = f"note: --until-ci 5% ignored: {out} keeps its targets (rung>=3:20% rung>=4:0.15)\n"
    assert kept in result.output
    assert json.loads((out / "manifest.json").read_text())["n"] == whole.manifest["n"]
