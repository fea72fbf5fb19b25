"""Overhead of an explore study over running the same replications with ``run_study``.

Run: python benchmarks/bench_explore.py [--quick] [--workers 2]

Measures, in this one run, on the process pool:
  an explore study of 200 Latin-hypercube points x 100 replications of scenarios/april-2024.yaml
    (20,000 runs) with the default outcomes, written to a fresh folder;
  a ``run_study`` of 20,000 replications of the same scenario (chunks of 100), the same number
    of runs.
The factors are the unit costs of drones and cruise missiles (US dollars): they change what a run
costs, not what happens in it, so both studies simulate the same kind of run and the difference in
wall time is what exploring adds (building each point's scenario, tasks per point, outcome values,
the tables). A design over policy levers changes the work per run itself (more or fewer strikes),
which no overhead figure should hide or claim. Target: overhead (explore / run_study - 1) < 10%.

The machine is shared, and its load drifts over minutes: so the two are measured in ROUNDS
alternating rounds (a quarter of the points, then as many replications with run_study), and the
totals compared, rather than one long study after the other.
--quick divides the points by ten: a smoke run whose PASS/FAIL line is not the target.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APRIL = ROOT / "scenarios" / "april-2024.yaml"
FACTORS = ["weapons.drone.unit_cost_usd=10000:100000", "weapons.cruise.unit_cost_usd=5e5:2e6"]
REPLICATIONS = 100
ROUNDS = 4
TARGET_OVERHEAD = 0.10


def timed_explore(points: int, workers: int, folder: Path, seed: int) -> float:
    """Wall seconds of an explore study of ``points`` x ``REPLICATIONS`` runs."""
    from sim.analysis.explore import explore

    start = time.perf_counter()
    explore(
        APRIL, FACTORS, n=points, replications=REPLICATIONS, out=folder, workers=workers, seed=seed
    )
    return time.perf_counter() - start


def timed_run_study(n: int, workers: int, folder: Path, seed: int) -> float:
    """Wall seconds of a Monte Carlo study of ``n`` replications."""
    from sim.study.montecarlo import run_study

    start = time.perf_counter()
    run_study(APRIL, n=n, out=folder, workers=workers, seed=seed)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="20 points instead of 200")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    points = 20 if args.quick else 200
    runs = points * REPLICATIONS
    explored = studied = 0.0
    with tempfile.TemporaryDirectory() as folder:
        for k in range(ROUNDS):
            part = points // ROUNDS
            seconds = timed_explore(part, args.workers, Path(folder) / f"explore-{k}", seed=k)
            baseline = timed_run_study(
                part * REPLICATIONS, args.workers, Path(folder) / f"run-{k}", seed=k
            )
            print(f"round {k + 1}: explore {seconds:.1f} s, run_study {baseline:.1f} s")
            explored, studied = explored + seconds, studied + baseline
    overhead = explored / studied - 1
    print(f"explore {points} points x {REPLICATIONS} replications, {args.workers} workers: "
          f"{explored:.1f} s ({runs / explored:,.0f} runs/s)")  # fmt: skip
    print(f"run_study {runs:,} replications, {args.workers} workers: {studied:.1f} s "
          f"({runs / studied:,.0f} runs/s)")  # fmt: skip
    print(f"ratio explore / run_study: {explored / studied:.3f} (overhead {100 * overhead:+.1f}%)")
    passed = overhead < TARGET_OVERHEAD
    label = "PASS" if passed else "FAIL"
    print(f"{label}: overhead {100 * overhead:+.1f}% < {100 * TARGET_OVERHEAD:.0f}%")
    return 0 if passed or args.quick else 1


if __name__ == "__main__":
    sys.exit(main())
