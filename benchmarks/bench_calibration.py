"""Calibration throughput: proposals (each one run per episode) per second of the shipped config.

Simulates a reference table of prior draws (``sim.calibration.sampler.reference_table``, the same
work as an ABC-SMC generation) with 1 and with 2 worker processes and prints proposals and runs
per second of each, and the speed-up, measured in this one run. Tasks are the config's chunks
(``smc.chunk`` proposals each): give at least four chunks' worth so both workers stay busy. Multiply a fit's proposal count
(``generations.csv``: ``proposed``, summed) by the seconds per proposal for its wall time.

    python benchmarks/bench_calibration.py [--proposals 1000] [--config calibration/calibrate.yaml]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from sim.calibration.loading import load_config
from sim.calibration.sampler import reference_table
from sim.study.executors import make_executor


def proposals_per_second(config, proposals: int, executor: str, workers: int) -> float:
    """Proposals per second of a fresh reference table of ``proposals`` prior draws."""
    with tempfile.TemporaryDirectory() as folder, make_executor(executor, workers) as pool:
        start = time.perf_counter()
        reference_table(config, proposals, Path(folder), pool=pool)
        return proposals / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--proposals", type=int, default=1000)
    parser.add_argument("--config", default="calibration/calibrate.yaml")
    args = parser.parse_args()
    config = load_config(args.config)
    episodes = len(config.episodes)
    serial = proposals_per_second(config, args.proposals, "serial", 1)
    two = proposals_per_second(config, args.proposals, "process", 2)
    for label, rate in (("1 worker", serial), ("2 workers", two)):
        print(
            f"{label}: {rate:.1f} proposals/s, {rate * episodes:.1f} runs/s ({episodes} episodes)"
        )
    print(f"speed-up with 2 workers: {two / serial:.2f}")


if __name__ == "__main__":
    main()
