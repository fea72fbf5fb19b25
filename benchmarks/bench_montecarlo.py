"""Monte Carlo throughput, scaling and memory for scenarios/april-2024.yaml, measured in one run.

Run: python benchmarks/bench_montecarlo.py [--quick]

Prints, all measured in this one run, every study with the default chunk size:
  replications per second of a 10,000-replication study on 1 worker (in process) and on 2 workers
    (process pool), and the parallel efficiency rate(2) / (2 rate(1)); the 2-worker study is
    also the one the 30 s target is about;
  the speed-up over a naive world in which every projectile is its own SimPy process (the same
    world with ``sim.model.strikes.intercept`` replaced by ``tests.reference_model.reference_intercept``);
  Dask LocalCluster (2 workers) against the process pool on the same run, sized from the
    measured rate to take the pool about 40 s (the target is about runs of 30 s or more);
  the driver's peak resident memory as the OS sees it, for N = 10,000 and N = 100,000 on 2
    workers: each a fresh process running ``sim run FILE -n N -w 2 -o DIR`` in-process (the
    study, then the summary it prints), getrusage(RUSAGE_SELF).ru_maxrss in MiB, with the size of
    the tables written;
  version 1 against version 2: replications per second of 1-worker studies of
    scenarios/april-2024-v1-mechanisms.yaml (every version-2 mechanism off) and of
    april-2024.yaml, 10,000 replications each in two halves taken in turn, and their ratio.
Targets (PASS/FAIL lines; the exit status is 1 if one fails):
  parallel efficiency on 2 workers >= 0.9
  peak memory(N = 100,000) / peak memory(N = 10,000) <= 1.2
  Dask time / process-pool time <= 1.1, on a process-pool run of at least 30 s
  10,000 replications on 2 cores < 30 s
  version 2 no slower than 1.5x version 1: rate(version 1) / rate(version 2) <= 1.5
--quick divides every N by ten: a smoke run whose PASS/FAIL lines are not the targets.
--memory measures the driver's peak memory alone (and checks only its target).
--versions measures version 1 against version 2 alone (and checks only its target).
"""

from __future__ import annotations

import argparse
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APRIL = ROOT / "scenarios" / "april-2024.yaml"
VERSION_1 = ROOT / "scenarios" / "april-2024-v1-mechanisms.yaml"
SLOWDOWN_TARGET = 1.5
"""Version 2 may take at most this many times version 1's time per replication."""
LONG_RUN_SECONDS = 40
"""The Dask comparison runs as many replications as the process pool does in about this long."""

MEMORY_PROBE = """
import contextlib, io, resource, sys
from pathlib import Path
from sim.cli.main import main
out = Path(sys.argv[3])
with contextlib.redirect_stdout(io.StringIO()):
    main(["run", sys.argv[1], "-n", sys.argv[2], "-w", "2", "-o", str(out)], standalone_mode=False)
size = sum(p.stat().st_size for p in out.glob("*.parquet"))
print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, size)
"""
"""What ``sim run`` does, in a process of its own: the driver is everything but the workers
(the study loop, the tables it streams, and the summary it prints at the end)."""


def timed_study(n: int, scenario: Path = APRIL, **options) -> float:
    """Wall seconds for a study of ``n`` replications (fresh folder, no progress bar)."""
    from sim.study.montecarlo import run_study

    with tempfile.TemporaryDirectory() as folder:
        start = time.perf_counter()
        run_study(scenario, n=n, out=Path(folder) / "out", **options)
        return time.perf_counter() - start


def versions_check(n: int) -> tuple[str, tuple[str, bool]]:
    """Replications per second of version 1 and version 2 on 1 worker, as a line to print, and
    the slowdown target's check. Each version runs two studies of ``n / 2`` replications, taken
    in turn (1, 2, 1, 2), so that a change in the machine's load falls on both."""
    seconds = {VERSION_1: 0.0, APRIL: 0.0}
    for scenario in [VERSION_1, APRIL] * 2:
        seconds[scenario] += timed_study(n // 2, scenario, workers=1, executor="process")
    version_1, version_2 = (2 * (n // 2) / seconds[s] for s in (VERSION_1, APRIL))
    slowdown = version_1 / version_2
    line = (
        f"replications/s, 1 worker, version 1 ({VERSION_1.name}): {version_1:.0f}; version 2: "
        f"{version_2:.0f}; version 2 takes {slowdown:.2f}x version 1's time (taken in turn)"
    )
    check = f"version 2 / version 1 time {slowdown:.2f} <= {SLOWDOWN_TARGET}"
    return line, (check, slowdown <= SLOWDOWN_TARGET)


def naive_rate(n: int) -> float | None:
    """Replications per second when every projectile is its own SimPy process (None if the
    reference model is not in this tree)."""
    try:
        from tests.reference_model import reference_intercept
    except ImportError:
        return None
    import sim.model.strikes
    from sim.model.world import run_replication
    from sim.scenario.loading import load_scenario

    scenario = load_scenario(APRIL)
    fast = sim.model.strikes.intercept
    sim.model.strikes.intercept = reference_intercept
    try:
        start = time.perf_counter()
        for replication in range(n):
            run_replication(scenario, replication)
        return n / (time.perf_counter() - start)
    finally:
        sim.model.strikes.intercept = fast


def engine_rate(n: int) -> float:
    """Replications per second of the world alone (no tables, no files), in this process."""
    from sim.model.world import run_replication
    from sim.scenario.loading import load_scenario

    scenario = load_scenario(APRIL)
    start = time.perf_counter()
    for replication in range(n):
        run_replication(scenario, replication)
    return n / (time.perf_counter() - start)


def peak_memory(n: int) -> tuple[float, float]:
    """Peak resident memory of the driver of an ``n``-replication study, and its tables, MiB."""
    with tempfile.TemporaryDirectory() as folder:
        out = subprocess.run(
            [sys.executable, "-c", MEMORY_PROBE, str(APRIL), str(n), str(Path(folder) / "out")],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
    rss_kib, size = out.stdout.split()[-2:]
    return int(rss_kib) / 1024, int(size) / 2**20


def memory_line(n_small: int, n_large: int) -> tuple[str, float]:
    """The driver's peak memory at both sizes, as a line to print, and their ratio."""
    (small, small_out), (large, large_out) = peak_memory(n_small), peak_memory(n_large)
    line = (
        f"peak driver memory (sim run, 2 workers): N = {n_small:,}: {small:.0f} MiB (tables "
        f"{small_out:.1f} MiB); N = {n_large:,}: {large:.0f} MiB (tables {large_out:.1f} MiB); "
        f"ratio {large / small:.2f}"
    )
    return line, large / small


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="every N divided by ten (smoke run)")
    parser.add_argument("--memory", action="store_true", help="the driver's peak memory only")
    parser.add_argument("--versions", action="store_true", help="version 1 against 2 only")
    options = parser.parse_args()
    scale = 10 if options.quick else 1
    n_study = 10_000 // scale
    n_small, n_large = 10_000 // scale, 100_000 // scale
    if options.memory:
        line, ratio = memory_line(n_small, n_large)
        print(line)
        print(f"{'PASS' if ratio <= 1.2 else 'FAIL'}  memory ratio {ratio:.2f} <= 1.2")
        return 0 if ratio <= 1.2 else 1
    if options.versions:
        line, (text, ok) = versions_check(n_study)
        print(line)
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
        return 0 if ok else 1

    one = n_study / timed_study(n_study, workers=1, executor="process")
    versions, versions_target = versions_check(n_study)
    study = timed_study(n_study, workers=2, executor="process")
    two = n_study / study
    efficiency = two / (2 * one)
    n_naive = max(20, 200 // scale)
    engine, naive = engine_rate(n_naive), naive_rate(n_naive)
    n_long = max(2 * n_study, math.ceil(LONG_RUN_SECONDS / scale * two / 1000) * 1000)
    pool = timed_study(n_long, workers=2, executor="process")
    dask = timed_study(n_long, workers=2, executor="dask")
    memory, ratio = memory_line(n_small, n_large)

    print(f"scenario {APRIL.name}, default chunks{', QUICK (N / 10)' if scale > 1 else ''}")
    print(f"replications/s, 1 worker:   {one:8.0f}   ({n_study:,} replications, tables written)")
    print(f"replications/s, 2 workers:  {two:8.0f}   parallel efficiency {efficiency:.2f}")
    if naive is None:
        print("naive per-projectile reference: tests/reference_model.py missing; engine only:")
        print(f"replications/s, world alone: {engine:7.0f}")
    else:
        print(
            f"replications/s, world alone: {engine:7.0f}   naive per-projectile world: "
            f"{naive:.1f}   engine {engine / naive:.1f}x faster ({n_naive} replications each)"
        )
    print(f"{n_study:,} replications, 2 workers: {study:.1f} s")
    print(
        f"{n_long:,} replications, 2 workers: process pool {pool:.1f} s, Dask LocalCluster "
        f"{dask:.1f} s (ratio {dask / pool:.2f})"
    )
    print(memory)
    print(versions)
    long_enough = "" if pool >= 30 else f"; run of {pool:.0f} s is shorter than 30 s"
    checks = [
        (f"parallel efficiency {efficiency:.2f} >= 0.9", efficiency >= 0.9),
        (f"memory ratio {ratio:.2f} <= 1.2", ratio <= 1.2),
        (
            f"Dask / process pool {dask / pool:.2f} <= 1.1 (run of {pool:.0f} s{long_enough})",
            dask / pool <= 1.1 and pool >= 30,
        ),
        (f"{n_study:,} replications in {study:.1f} s < 30 s", study < 30),
        versions_target,
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
