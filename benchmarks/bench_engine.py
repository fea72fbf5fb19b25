"""Engine vs per-projectile reference: time per strike for salvos of 320, 3,200 and 32,000.

Run: python benchmarks/bench_engine.py [--repeats N]

The salvo is the reported April 2024 mix (drone:cruise:ballistic = 170:30:120) scaled, launched
telegraphed at rung 3 against Israel's defences as shipped in scenarios/april-2024.yaml (stocks
included, so large salvos exhaust them, as they would). Times are medians of repeated runs, all
measured in this one process; the targets are ratios, so they hold on any machine:
  engine(32,000) / engine(320) <= 4       (cost grows with bins and layers, not projectiles)
  reference(320) / engine(320) >= 5       (aggregation pays even for small salvos)
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.model.interception import LayerState, intercept  # noqa: E402
from sim.model.strikes import coordinated_waves  # noqa: E402
from sim.scenario.loading import load_scenario  # noqa: E402
from tests.reference_model import reference_intercept  # noqa: E402

MIX = {"drone": 170, "cruise": 30, "ballistic": 120}


def time_strike(engine, scenario, total: int, repeats: int, seed: int) -> float:
    """Median seconds for one strike of ``total`` projectiles."""
    scale = total / sum(MIX.values())
    salvo = {weapon: round(n * scale) for weapon, n in MIX.items()}
    rng = np.random.default_rng(seed)
    times = []
    for _ in range(repeats):
        layers = [LayerState.from_spec(s, "israel") for s in scenario.actors["israel"].defence]
        waves = coordinated_waves(salvo, scenario.weapons, 0.0)
        start = time.perf_counter()
        engine(waves, layers, telegraphed=True, rung=3, rng=rng)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=30, help="runs per engine and size")
    args = parser.parse_args()
    scenario = load_scenario(ROOT / "scenarios" / "april-2024.yaml")
    sizes = (320, 3_200, 32_000)
    engine = {n: time_strike(intercept, scenario, n, args.repeats, 1) for n in sizes}
    reference = {
        n: time_strike(reference_intercept, scenario, n, max(1, args.repeats // (n // 320)), 2)
        for n in sizes
    }
    print(f"{'projectiles':>12} {'engine ms':>10} {'reference ms':>13} {'ref/engine':>11}")
    for n in sizes:
        print(
            f"{n:>12,} {engine[n] * 1e3:>10.2f} {reference[n] * 1e3:>13.1f} "
            f"{reference[n] / engine[n]:>11.1f}"
        )
    growth = engine[32_000] / engine[320]
    speedup = reference[320] / engine[320]
    checks = [
        (f"engine(32,000) / engine(320) = {growth:.2f} <= 4", growth <= 4),
        (f"reference(320) / engine(320) = {speedup:.1f} >= 5", speedup >= 5),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
