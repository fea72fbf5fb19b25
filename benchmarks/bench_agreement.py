"""Engine vs per-projectile reference at full size: every case of tests/test_engine_agreement.py,
and the whole reported April 2024 salvo against the shipped Israeli defences at 1,500 replications
(enough to catch a bias of 0.5 ballistic leakers, 6%).

Run: python benchmarks/bench_agreement.py [--replications N] [--april-replications N]

The test file runs the same cases at 300 replications and a quarter of the reported salvo, so the
test suite stays fast; this runs the large sample the test file used to. For each case and
quantity it prints both engines' means, their gap in standard errors of the difference and the
two-sample Kolmogorov-Smirnov p-value; a case passes when every gap is within 3 standard errors
and every p-value above 0.001 (the test file's thresholds).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.model.interception import intercept  # noqa: E402
from sim.model.strikes import coordinated_waves  # noqa: E402
from tests.reference_model import reference_intercept  # noqa: E402
from tests.test_engine_agreement import (  # noqa: E402
    APRIL,
    CASES,
    ISRAEL,
    REPORTED_MIX,
    SHARED,
    samples,
    shared_samples,
)


def compare(fast: list[int], slow: list[int]) -> tuple[float, float, float, float]:
    """Means of both engines, their gap in standard errors, and the KS p-value (1 if constant)."""
    fast_a, slow_a = np.asarray(fast, float), np.asarray(slow, float)
    error = np.sqrt(fast_a.var(ddof=1) / len(fast_a) + slow_a.var(ddof=1) / len(slow_a))
    gap = abs(fast_a.mean() - slow_a.mean())
    in_errors = gap / error if error else (0.0 if gap == 0 else np.inf)
    varies = fast_a.std() or slow_a.std()
    p_value = stats.ks_2samp(fast_a, slow_a, method="asymp").pvalue if varies else 1.0
    return fast_a.mean(), slow_a.mean(), in_errors, p_value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--replications", type=int, default=300, help="runs per engine and case")
    parser.add_argument(
        "--april-replications", type=int, default=1500, help="runs of the whole reported salvo"
    )
    args = parser.parse_args()
    runs = {
        case: (lambda engine, seed, n, w=waves, s=specs: samples(engine, w, s, seed, n))
        for case, (waves, specs) in CASES.items()
    }
    runs |= {
        f"shared: {case}": (
            lambda engine, seed, n, w=strikes, s=specs: shared_samples(engine, w, s, seed, n)
        )
        for case, (strikes, specs) in SHARED.items()
    }
    whole = coordinated_waves(REPORTED_MIX, APRIL.weapons, 0.0)
    april = "the whole reported April salvo against the shipped Israeli defences"
    runs[april] = lambda engine, seed, n: samples(engine, whole, ISRAEL, seed, n)
    failed = 0
    print(f"{'case: quantity':<90} {'engine':>8} {'reference':>9} {'gap/SE':>7} {'KS p':>7}")
    for case, run in runs.items():
        n = args.april_replications if case == april else args.replications
        fast, slow = run(intercept, 1, n), run(reference_intercept, 2, n)
        for what in fast:
            engine_mean, reference_mean, gap, p_value = compare(fast[what], slow[what])
            ok = gap <= 3 and p_value > 0.001
            failed += not ok
            print(
                f"{case + ': ' + what:<90} {engine_mean:>8.2f} {reference_mean:>9.2f} "
                f"{gap:>7.2f} {p_value:>7.3f} {'' if ok else 'FAIL'}"
            )
    print(f"{'PASS' if not failed else 'FAIL'}  {failed} quantities outside 3 SE or KS p <= 0.001")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
