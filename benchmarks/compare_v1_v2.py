"""What the version-2 mechanisms change in the April 2024 headline probabilities, paired.

Run: python benchmarks/compare_v1_v2.py [-n 1000] [--workers 2] [--out DIR]

Runs, with common random numbers (``sim.analysis.compare.compare``: every setting the same root
seed, replication k of each facing the same luck), scenarios/april-2024.yaml (version 2), its
variant scenarios/april-2024-v1-mechanisms.yaml (every version-2 block off: version 1), and one
variant per mechanism with that mechanism's blocks alone switched off (written to a temporary
folder, from ``sim.scenario.versions.version_2_blocks``, never shipped). Prints two tables in
Markdown, for docs/model-changes.md:
  the estimates of P(rung >= 3), P(rung >= 5), P(rung >= 6) and P(the round ended before the
    horizon) for each setting, with Wilson 95% intervals;
  what each changed: version 2 minus the setting, the mean of the per-replication differences
    with a Student-t 95% interval (the row `all` is version 2 minus version 1; a mechanism's row
    what switching it off alone takes away, the others on).
Every setting draws its parameters from the posterior april-2024.yaml names, on the same stream,
so the differences are the mechanisms' and not the calibration's. Refuses to run if the shipped
version-1 variant leaves a version-2 block of april-2024.yaml on (it names the blocks to set off).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

APRIL = ROOT / "scenarios" / "april-2024.yaml"
VERSION_1 = ROOT / "scenarios" / "april-2024-v1-mechanisms.yaml"
HEADLINE = ("rung>=3", "rung>=5", "rung>=6")
ENDED = "ended:any"
"""Computed from each setting's runs table: a setting that cannot end is refused as an outcome
by ``compare`` (it would be a probability of 0 by construction), but its 0s still pair."""


def mechanism_variants(folder: Path) -> list:
    """Settings: version 2, version 1, and version 2 without each mechanism (files in ``folder``)."""
    from sim.analysis.compare import Setting
    from sim.scenario.loading import load_scenario
    from sim.scenario.versions import version_2_blocks

    left_on = version_2_blocks(load_scenario(VERSION_1))
    if left_on:
        paths = [
            f"{path}: {value!r}" for block in left_on.values() for path, value in block.items()
        ]
        raise SystemExit(
            f"{VERSION_1.name} leaves version-2 blocks of {APRIL.name} on; add to its set:\n  "
            + "\n  ".join(paths)
        )
    settings = [Setting("version-2", APRIL), Setting("version-1", VERSION_1)]
    for mechanism, paths in version_2_blocks(load_scenario(APRIL)).items():
        variant = {
            "version": 2,
            "extends": str(APRIL),
            "name": f"April 2024 without {mechanism}",
            "set": paths,
        }
        file = folder / f"without-{mechanism}.yaml"
        file.write_text(yaml.safe_dump(variant, sort_keys=False), encoding="utf-8")
        settings.append(Setting(f"without-{mechanism}", file))
    return settings


def ended_values(folder: Path) -> np.ndarray:
    """Per replication, in replication order: whether the round ended before the horizon."""
    from sim.analysis.outcomes import parse_outcome
    from sim.study.results import Results

    runs = Results(folder).runs.sort_values("replication", ignore_index=True)
    return parse_outcome(ENDED).values(runs, None).astype(float)


def tables(table: pd.DataFrame, out: Path, names: list[str]) -> tuple[list[str], list[str]]:
    """The estimates and the differences (version 2 minus each setting), as Markdown rows."""
    from sim.analysis.compare import paired_difference
    from sim.study.results import wilson_interval

    ended = {name: ended_values(out / name) for name in names}
    estimates, changes = [], []
    for name in names:
        rows = table[table["setting"] == name].set_index("outcome")
        cells = [_interval(rows.loc[o, "estimate"], rows.loc[o, "ci_low"], rows.loc[o, "ci_high"])
                 for o in HEADLINE]  # fmt: skip
        low, high = wilson_interval(int(ended[name].sum()), len(ended[name]))
        cells.append(_interval(ended[name].mean(), low, high))
        estimates.append(f"| {name} | " + " | ".join(cells) + " |")
        if name == names[0]:
            continue
        diffs = [(-rows.loc[o, "difference"], -rows.loc[o, "diff_ci_high"],
                  -rows.loc[o, "diff_ci_low"]) for o in HEADLINE]  # fmt: skip
        paired = paired_difference(ended[name], ended[names[0]])
        diffs.append((paired["difference"], paired["diff_ci_low"], paired["diff_ci_high"]))
        label = "all (version 2 - version 1)" if name == "version-1" else name[len("without-") :]
        changes.append(
            f"| {label} | " + " | ".join(_interval(*d, signed=True) for d in diffs) + " |"
        )
    return estimates, changes


def _interval(value: float, low: float, high: float, signed: bool = False) -> str:
    """``0.123 [0.100, 0.150]``, signed for a difference; a zero is never printed ``-0.000``."""
    value, low, high = (round(float(v), 3) + 0.0 for v in (value, low, high))
    form = "+.3f" if signed else ".3f"
    return f"{value:{form}} [{low:{form}}, {high:{form}}]"


def main() -> int:
    from sim.analysis.compare import compare
    from sim.scenario.loading import load_scenario

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=1000, help="replications per setting (1000)")
    parser.add_argument("--workers", type=int, default=2, help="worker processes (2)")
    parser.add_argument("--out", type=Path, help="keep the studies here (default: a temp folder)")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        out = options.out or Path(scratch) / "compare"
        settings = mechanism_variants(Path(scratch))
        table = compare(settings, n=options.n, out=out, outcomes=HEADLINE, workers=options.workers)
        estimates, changes = tables(table, out, [s.name for s in settings])
    seed = load_scenario(APRIL).seed
    header = "| P(rung >= 3) | P(rung >= 5) | P(rung >= 6) | P(ended before the horizon) |"
    print(f"April 2024, version 1 against version 2: n = {options.n:,} per setting, seed {seed}")
    print("\nEstimates (95% Wilson intervals)\n")
    print("| setting " + header)
    print("|---" * 5 + "|")
    print("\n".join(estimates))
    print("\nWhat each changed: version 2 minus the setting, paired (95% t intervals)\n")
    print("| mechanism switched off " + header)
    print("|---" * 5 + "|")
    print("\n".join(changes))
    return 0


if __name__ == "__main__":
    sys.exit(main())
