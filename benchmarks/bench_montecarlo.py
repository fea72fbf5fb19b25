"""Monte Carlo throughput, scaling and memory for scenarios/april-2024.yaml, measured in one run.

Run: python benchmarks/bench_montecarlo.py [--quick]

Prints replications per second on 1 and 2 workers (parallel efficiency), the speed-up over a naive
world in which every projectile is its own SimPy process (tests/reference_model.py), the driver's
peak resident memory for N = 10,000 and N = 100,000 (each in a fresh process), Dask against the
process pool on a run of 30 s or more, and the wall time of a 10,000-replication study. Targets:
  parallel efficiency on 2 workers >= 0.9
  peak memory(N = 100,000) / peak memory(N = 10,000) <= 1.2
  Dask time / process-pool time <= 1.1
  10,000 replications on 2 cores < 30 s
--quick shrinks every N tenfold (a smoke run; its PASS/FAIL lines are not the targets).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APRIL = ROOT / "scenarios" / "april-2024.yaml"

MEMORY_PROBE = """
import resource, sys
from sim.montecarlo import run_study
run_study(sys.argv[1], n=int(sys.argv[2]), out=sys.argv[3], workers=2, chunk_size=250)
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
"""


def timed_study(n: int, **options) -> float:
    """Seconds for a study of ``n`` replications (fresh folder, nothing printed)."""
    from sim.montecarlo import run_study

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run_study(APRIL, n=n, out=Path(folder) / "out", chunk_size=250, **options)
        return time.perf_counter() - start


def naive_rate(n: int) -> float:
    """Replications per second when every projectile is its own SimPy process."""
    import sim.strikes
    from sim.scenario import load_scenario
    from sim.world import run_replication
    from tests.reference_model import reference_intercept

    scenario = load_scenario(APRIL)
    fast = sim.strikes.intercept
    sim.strikes.intercept = reference_intercept
    try:
        start = time.perf_counter()
        for replication in range(n):
            run_replication(scenario, replication)
        return n / (time.perf_counter() - start)
    finally:
        sim.strikes.intercept = fast


def peak_memory_mib(n: int) -> float:
    """Peak resident memory of the driver process of an ``n``-replication study, MiB."""
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(APRIL), str(n), str(Path(folder) / "out")],
            capture_output=True, text=True, check=True, cwd=ROOT,
        )
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every N divided by ten")
    scale = 10 if parser.parse_args().quick else 1
    n_rate, n_long = 4_000 // scale, 20_000 // scale

    one = n_rate / timed_study(n_rate, workers=1, executor="serial")
    two = n_rate / timed_study(n_rate, workers=2, executor="process")
    efficiency = two / (2 * one)
    naive = naive_rate(max(20, 200 // scale))
    ten_thousand = timed_study(10_000 // scale, workers=2, executor="process")
    pool = timed_study(n_long, workers=2, executor="process")
    dask = timed_study(n_long, workers=2, executor="dask")
    small, large = peak_memory_mib(10_000 // scale), peak_memory_mib(100_000 // scale)

    print(f"replications/s, 1 worker:            {one:10.0f}")
    print(f"replications/s, 2 workers:           {two:10.0f}   parallel efficiency {efficiency:.2f}")
    print(f"replications/s, naive per-projectile: {naive:9.1f}   engine is {one / naive:.0f}x faster")
    print(f"{10_000 // scale:,} replications, 2 workers:    {ten_thousand:9.1f} s")
    print(f"{n_long:,} replications: process pool {pool:.1f} s, Dask {dask:.1f} s "
          f"(ratio {dask / pool:.2f})")
    print(f"peak driver memory: N={10_000 // scale:,}: {small:.0f} MiB, "
          f"N={100_000 // scale:,}: {large:.0f} MiB (ratio {large / small:.2f})")
    checks = [
        (f"parallel efficiency {efficiency:.2f} >= 0.9", efficiency >= 0.9),
        (f"memory ratio {large / small:.2f} <= 1.2", large / small <= 1.2),
        (f"Dask / process pool {dask / pool:.2f} <= 1.1 (run of {pool:.0f} s)", dask / pool <= 1.1),
        (f"10,000 replications in {ten_thousand:.1f} s < 30 s", ten_thousand < 30),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
