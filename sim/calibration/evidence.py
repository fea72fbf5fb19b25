"""What the episodes teach, from one reference table of prior simulations: how much each episode
narrows each parameter, and simulation-based calibration (``sim calibrate --check``).

The reference table (``sim.calibration.sampler.reference_table``) holds ``check.reference_runs`` prior
draws, each run once in every episode, with every target's statistic and each episode's distance.
Both uses below are rejection ABC on it, so neither costs a simulation beyond the table's:

- ``narrowing``: add the episodes one at a time (config order) and accept the rows whose combined
  distance over the episodes included (``targets.graded``) is within the final tolerance (if fewer than
  ``check.accept`` rows are, the ``accept`` nearest instead, and the tolerance that took is
  reported); the width ratio of each parameter among the accepted rows says what each episode
  added.
- ``sbc_check``: each of ``check.datasets`` rows in turn is the observed data and its ``accept``
  nearest other rows its posterior (``sim.calibration.sbc.reference_table_sbc``, with the
  calibration's own distance, tolerances moved to the synthetic observation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.checks import width_ratio
from sim.calibration.config import DISTANCE, Config
from sim.calibration.targets import EPISODE_SEPARATOR, graded_rows


def reference(config: Config, folder: Path, *, pool, progress: Any = None) -> pd.DataFrame:
    """The config's reference table of ``check.reference_runs`` prior simulations (saved in
    ``folder``, resumed from there)."""
    from sim.calibration.sampler import reference_table

    runs = int(config.check["reference_runs"])
    return reference_table(config, runs, folder, pool=pool, progress=progress)


def accepted_rows(distance: np.ndarray, tolerance: float, accept: int) -> tuple[np.ndarray, float]:
    """Rejection ABC: the rows within ``tolerance``, or the ``accept`` nearest when fewer are
    (ties at the edge in row order), with the tolerance that took them."""
    order = np.argsort(distance, kind="stable")
    within = int((distance <= tolerance).sum())
    if within >= accept:
        return order[:within], tolerance
    return order[:accept], float(distance[order[accept - 1]])


def narrowing(config: Config, table: pd.DataFrame) -> pd.DataFrame:
    """Per episode added (config order) and parameter: the width ratio of the rejection-ABC
    posterior on the episodes so far, with how many rows were accepted and at what tolerance."""
    final, accept = float(config.smc["final_epsilon"]), int(config.check["accept"])
    rows, equal = [], np.ones(len(table))
    columns = [f"{DISTANCE}{EPISODE_SEPARATOR}{e.name}" for e in config.episodes]
    for step, episode in enumerate(config.episodes, start=1):
        included = graded_rows(table[columns[:step]].to_numpy(float))
        chosen, tolerance = accepted_rows(included, final, accept)
        for p in config.priors:
            values = table[p.path].to_numpy(float)[chosen]
            rows.append({
                "step": step, "added": episode.name, "parameter": p.path,
                "width_ratio": width_ratio(values, equal[chosen], p.low, p.high),
                "accepted": len(chosen), "tolerance": tolerance,
            })  # fmt: skip
    return pd.DataFrame(rows)


def narrowing_wide(table: pd.DataFrame) -> pd.DataFrame:
    """``narrowing`` as one row per parameter and one column per episode added (``+NAME``)."""
    wide = table.pivot(index="parameter", columns="step", values="width_ratio")
    added = table.drop_duplicates("step").set_index("step").added
    wide.columns = [f"+{added[s]}" for s in wide.columns]
    order = list(dict.fromkeys(table.parameter))
    return wide.loc[order].reset_index()


def sbc_check(config: Config, table: pd.DataFrame):
    """Simulation-based calibration on the reference table (``check.datasets`` synthetic data
    sets, ``check.accept`` nearest rows each) with the calibration's distance; an ``SbcResult``."""
    from sim.calibration.sbc import reference_table_sbc
    from sim.model.rng import Streams

    return reference_table_sbc(
        table[config.paths].to_numpy(float),
        table[config.statistic_columns()].to_numpy(float),
        n_datasets=int(config.check["datasets"]),
        accept=int(config.check["accept"]),
        distance=config.table_distance(),
        rng=Streams(config.seed, 0).get("abc", "sbc"),
        names=config.paths,
    )
