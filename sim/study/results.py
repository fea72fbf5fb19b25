"""Results of a Monte Carlo study: the folder on disk, its tables, its manifest, and its summary.

A results folder holds ``runs.parquet`` (one row per replication), ``events.parquet`` (one row per
event), ``manifest.json`` (what was run, how, with which versions) and ``scenario.yaml`` (a copy of
the scenario text). Every file is written atomically: a crash leaves the old file or none, never a
half-written one that looks complete. Probabilities come with Wilson 95% confidence intervals.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from sim.errors import ResultsError
from sim.model.outcomes import first_day_column
from sim.scenario.ladder import RUNGS

MANIFEST = "manifest.json"
RUNS = "runs.parquet"
EVENTS = "events.parquet"
SCENARIO_COPY = "scenario.yaml"


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` so that readers see the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        os.fchmod(handle, 0o644)
        with os.fdopen(handle, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def git_commit() -> str | None:
    """The git commit of the package's source tree, if it is a git checkout (for manifests)."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=Path(__file__).parent,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def write_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    """Write ``manifest.json`` atomically, keys sorted so that diffs are readable."""
    text = json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n"
    atomic_write_bytes(folder / MANIFEST, text.encode("utf-8"))


def read_manifest(folder: Path) -> dict[str, Any]:
    """Read a folder's manifest, or raise ``ResultsError`` saying what is wrong."""
    path = folder / MANIFEST
    if not path.is_file():
        raise ResultsError(f"{folder}: not a results folder (no {MANIFEST})")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise ResultsError(f"{path}: corrupted manifest ({exc})") from None
    if not isinstance(manifest, dict):
        raise ResultsError(f"{path}: corrupted manifest (not a JSON object)")
    return manifest


def wilson_interval(
    successes: np.ndarray, trials: np.ndarray, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score interval for binomial proportions (vectorised); NaN where trials == 0."""
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = k / n
        denominator = 1 + z**2 / n
        centre = (p + z**2 / (2 * n)) / denominator
        half = z * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2)) / denominator
    low, high = np.clip(centre - half, 0, 1), np.clip(centre + half, 0, 1)
    return np.fmin(low, p), np.fmax(high, p)


def rung_table(runs: pd.DataFrame, confidence: float = 0.95) -> pd.DataFrame:
    """For each rung: runs reaching it, probability with CI, median days to reach (if reached)."""
    n = len(runs)
    rows = []
    for rung in RUNGS:
        reached = runs[first_day_column(rung)].notna()
        days = runs.loc[reached, first_day_column(rung)]
        rows.append(
            {
                "rung": int(rung),
                "label": rung.label,
                "runs_reaching": int(reached.sum()),
                "n": n,
                "median_days_to_reach": float(days.median()) if len(days) else np.nan,
            }
        )
    table = pd.DataFrame(rows)
    table.insert(4, "probability", table["runs_reaching"] / n if n else np.nan)
    low, high = wilson_interval(
        table["runs_reaching"].to_numpy(), np.full(len(table), n), confidence
    )
    table.insert(5, "ci_low", low)
    table.insert(6, "ci_high", high)
    return table


def path_table(
    runs: pd.DataFrame, column: str = "rung_path", top: int = 10, confidence: float = 0.95
) -> pd.DataFrame:
    """The ``top`` most frequent escalation paths with their shares and Wilson CIs."""
    counts = runs[column].value_counts().head(top)
    low, high = wilson_interval(counts.to_numpy(), np.full(len(counts), len(runs)), confidence)
    return pd.DataFrame(
        {
            "path": counts.index.astype(str),
            "runs": counts.to_numpy(),
            "share": counts.to_numpy() / len(runs),
            "ci_low": low,
            "ci_high": high,
        }
    )


def max_half_width(runs_reaching: np.ndarray, n: int, confidence: float = 0.95) -> float:
    """Largest CI half-width over the rung probabilities (for ``--until-ci``)."""
    low, high = wilson_interval(runs_reaching, np.full(len(runs_reaching), n), confidence)
    return float(np.max((high - low) / 2))


@dataclass(frozen=True)
class Summary:
    """The headline numbers of a study: rung probabilities and the most frequent paths."""

    rungs: pd.DataFrame
    paths: pd.DataFrame
    actor_paths: pd.DataFrame
    n: int


STUDY_TABLES = {
    "sweep.parquet": "sweep (one `sim run` study per grid point, in its subfolders)",
    "comparison.parquet": "comparison (one `sim run` study per setting, in its subfolders)",
    "sobol.parquet": "sensitivity study",
    "posterior.parquet": "calibration",
}
"""Tables that mark a folder as another kind of study, and what to call it."""


def _refuse_other_studies(folder: Path) -> None:
    """A folder of another kind of study is named as such, not reported as unreadable runs."""
    if (folder / RUNS).exists():
        return
    for table, kind in STUDY_TABLES.items():
        if (folder / table).exists():
            raise ResultsError(
                f"{folder} holds a {kind}, not the runs of one `sim run` study; "
                f"`sim plot {folder}` draws it"
            )


class Results:
    """A results folder, opened for reading; tables load on first use."""

    def __init__(self, folder: str | Path) -> None:
        self.folder = Path(folder)
        _refuse_other_studies(self.folder)
        self.manifest = read_manifest(self.folder)
        if self.manifest.get("status") != "complete":
            raise ResultsError(
                f"{self.folder}: the study is incomplete; finish it with "
                f"`sim run {self.manifest.get('scenario_file', 'FILE')} --resume {self.folder}`"
            )

    @cached_property
    def runs(self) -> pd.DataFrame:
        """One row per replication (see ``sim.model.outcomes.run_row``)."""
        return self._read(RUNS)

    @cached_property
    def events(self) -> pd.DataFrame:
        """One row per event of every replication (see ``sim.model.events``)."""
        return self._read(EVENTS)

    @property
    def scenario_text(self) -> str:
        """The exact scenario text the study ran."""
        return (self.folder / SCENARIO_COPY).read_text(encoding="utf-8")

    def _read(self, name: str) -> pd.DataFrame:
        try:
            return pd.read_parquet(self.folder / name, page_checksum_verification=True)
        except Exception as exc:  # pyarrow raises several types for damaged files
            reason = " ".join(str(exc).split())
            raise ResultsError(f"{self.folder / name}: cannot read ({reason})") from None

    def summary(self, top_paths: int = 10) -> Summary:
        """Rung probabilities with CIs and the most frequent paths."""
        return Summary(
            rungs=rung_table(self.runs),
            paths=path_table(self.runs, "rung_path", top_paths),
            actor_paths=path_table(self.runs, "path", top_paths),
            n=len(self.runs),
        )

    def __repr__(self) -> str:
        m = self.manifest
        return f"Results({str(self.folder)!r}, scenario={m.get('scenario_name')!r}, n={m.get('n')})"
