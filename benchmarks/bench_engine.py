"""Engine vs per-projectile reference: time per strike for salvos of 320, 3,200 and 32,000;
and one run's time per strike for 1,000, 2,000 and 4,000 strikes.

Run: python benchmarks/bench_engine.py [--repeats N]

The salvo is the reported April 2024 mix (drone:cruise:ballistic = 170:30:120) scaled, launched
telegraphed at rung 3 against Israel's defences as shipped in scenarios/april-2024.yaml (stocks
included, so large salvos exhaust them, as they would). Times are medians of repeated runs, all
measured in this one process; the targets are ratios, so they hold on any machine:
  engine(32,000) / engine(320) <= 4       (cost grows with bins and layers, not projectiles)
  reference(320) / engine(320) >= 5       (aggregation pays even for small salvos)

The strike-count case is 20 actors that all defend one another and answer every strike at once,
so every strike provokes 20 decisions and the run reaches ``max_strikes`` (1,000, 2,000, 4,000)
within hours and keeps refusing launches until the horizon. A run must be linear in its strikes:
  per-strike time(4,000) / per-strike time(1,000) <= 1.5

The shared-defences case flies 25 and then 100 salvos of 320, one an hour, through one set of
Israel's layers that they share (``shared_defences``; stocks made unlimited so every salvo is
engaged), so each salvo's drones are in the air with five others'. The layers' record of
engagements must not make later strikes dearer:
  per-strike time(100 shared) / per-strike time(25 shared) <= 1.5
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.model.interception import LayerState, intercept  # noqa: E402
from sim.model.strikes import coordinated_waves  # noqa: E402
from sim.model.world import run_replication  # noqa: E402
from sim.scenario.loading import load_scenario, parse_scenario  # noqa: E402
from tests.reference_model import reference_intercept  # noqa: E402

MIX = {"drone": 170, "cruise": 30, "ballistic": 120}
ALLIES = 20

ALLIANCE_ACTOR = """\
  a{i}:
    name: A{i}
    arsenal: {{rocket: 1000000}}
    policy:
      base_response_probability: 1
      delay: {{median_days: 0.01, sigma: 0.5}}
      packages: {{3: {{projectiles: {{rocket: 2}}}}}}
"""


def alliance(max_strikes: int):
    """20 actors that all defend one another (joining at rung 3) and answer every strike."""
    actors = "".join(ALLIANCE_ACTOR.format(i=i) for i in range(ALLIES))
    relations = "".join(
        f"  - {{kind: defends, ally: a{i}, protects: a{j}, joins_combat_at_rung: 3}}\n"
        for i in range(ALLIES)
        for j in range(ALLIES)
        if i != j
    )
    return parse_scenario(
        "name: alliance\nseed: 1\nhorizon_days: 5\n"
        f"max_strikes: {max_strikes}\n"
        "weapons:\n  rocket: {flight_time: {min_hours: 0.1, mode_hours: 0.1, max_hours: 0.1}, "
        "unit_cost_usd: 1}\n"
        f"actors:\n{actors}relations:\n{relations}"
        "opening:\n  - {day: 0, attacker: a0, target: a1, rung: 3, projectiles: {rocket: 2}}\n"
    )


def time_per_strike_of_a_run(max_strikes: int, repeats: int = 3) -> float:
    """Seconds per strike of one run of the alliance that reaches ``max_strikes``: the best of
    ``repeats`` runs, as other work on the machine only ever adds time."""
    scenario = alliance(max_strikes)
    best = math.inf
    for _ in range(repeats):
        start = time.perf_counter()
        events = run_replication(scenario, 0)
        best = min(best, time.perf_counter() - start)
    launched = sum(e.kind == "strike" for e in events)
    assert launched == max_strikes, f"the alliance launched {launched} of {max_strikes} strikes"
    return best / launched


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


def time_per_shared_strike(scenario, strikes: int, repeats: int = 3) -> float:
    """Seconds per salvo of ``strikes`` salvos of the reported mix, one an hour, through one set
    of Israel's layers with unlimited stocks that they share: the best of ``repeats`` runs."""
    specs = [s.model_copy(update={"stock": 10**7}) for s in scenario.actors["israel"].defence]
    best = math.inf
    for repeat in range(repeats):
        layers = [LayerState.from_spec(s, "israel", shared=True) for s in specs]
        rng = np.random.default_rng(repeat)
        start = time.perf_counter()
        for hour in range(strikes):
            waves = coordinated_waves(MIX, scenario.weapons, float(hour))
            intercept(waves, layers, telegraphed=True, rung=3, rng=rng)
        best = min(best, time.perf_counter() - start)
    return best / strikes


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
    strikes = (1_000, 2_000, 4_000)
    per_strike = {n: time_per_strike_of_a_run(n) for n in strikes}
    print(f"\n{'strikes':>12} {'ms per strike':>14}   ({ALLIES} actors defending one another)")
    for n in strikes:
        print(f"{n:>12,} {per_strike[n] * 1e3:>14.3f}")
    shared = {n: time_per_shared_strike(scenario, n) for n in (25, 100)}
    print(f"\n{'salvos':>12} {'ms per salvo':>14}   (sharing Israel's layers, one an hour)")
    for n, seconds in shared.items():
        print(f"{n:>12,} {seconds * 1e3:>14.3f}")
    growth = engine[32_000] / engine[320]
    speedup = reference[320] / engine[320]
    flat = per_strike[4_000] / per_strike[1_000]
    checks = [
        (f"engine(32,000) / engine(320) = {growth:.2f} <= 4", growth <= 4),
        (f"reference(320) / engine(320) = {speedup:.1f} >= 5", speedup >= 5),
        (f"per strike, 4,000 strikes / 1,000 strikes = {flat:.2f} <= 1.5", flat <= 1.5),
        (
            f"per salvo, 100 shared / 25 shared = {shared[100] / shared[25]:.2f} <= 1.5",
            shared[100] / shared[25] <= 1.5,
        ),
    ]
    for text, ok in checks:
        print(f"{'PASS' if ok else 'FAIL'}  {text}")
    return 0 if all(ok for _, ok in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
