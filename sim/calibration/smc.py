"""A calibration run end to end (``sim calibrate``): the ABC-SMC fit (``sim.calibration.sampler``), its posterior, its checks and its report; and
``run_check``, the simulation-based calibration of ``sim calibrate --check``.

Everything simulated is saved under ``OUT/draws/<config hash>/`` as it is made (generations, the
reference table), so an interrupted command run again continues, and ``--check`` reuses the
reference table the fit's report already simulated.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from sim.calibration.config import Config
from sim.calibration.sampler import config_hash, generations_table, resample, run_smc
from sim.model.rng import Streams
from sim.study.tables import write_csv_safely

SBC_SECTION = "sbc.md"
SBC_FIGURES = (
    "\n\nThe rank histograms and the coverage curve, each beside the CSV of its numbers "
    "(`sim.figures.sbc.write_sbc_figures`, drawn by `sim calibrate --check`):\n\n"
    "![SBC rank histograms](figures/sbc_rank_histograms.png)\n\n"
    "![SBC coverage curve](figures/sbc_coverage_curve.png)\n"
)
"""Where the report shows the SBC figures, relative to the calibration folder."""
"""The report's simulation-based calibration section, kept beside it so that a later fit's
report keeps it (``--check`` writes it; a new fit of another config starts without it)."""


LOO_SECTION = Path("loo") / "report.md"
"""Where a calibration folder keeps the report of ``sim score --loo`` on it (its tables copied
from that command's output folder to ``loo/``), shown at the end of ``report.md``."""


def draws_folder(config: Config, out: Path) -> Path:
    """Where the config's simulations are saved: ``OUT/draws/<config hash>``."""
    return out / "draws" / config_hash(config)


def run_calibration(
    config: Config,
    out: str | Path,
    *,
    workers: int = 1,
    executor: str = "process",
    progress: Any = None,
    checks: bool = True,
) -> dict[str, pd.DataFrame]:
    """Fit by ABC-SMC, then write the posterior, the checks and a report to ``out``.

    Writes ``particles.parquet`` (the final weighted population), ``posterior.parquet`` (as many
    equally weighted rows, resampled from it: shared columns by path, episode-specific ones as
    ``EPISODE:PATH``), ``generations.csv``, ``summary.csv`` and, with ``checks``, the predictive
    checks per episode, how much each episode narrows each parameter (``narrowing.csv``, from
    the reference table of prior simulations), the variance decomposition and ``report.md``.
    """
    from sim.calibration.checks import posterior_summary
    from sim.scenario.parameters import PosteriorSample
    from sim.study.executors import make_executor
    from sim.study.results import atomic_write_bytes

    folder = Path(out)
    draws = draws_folder(config, folder)
    if progress:
        progress.start(int(config.smc["particles"]) * 10, 0)
    with make_executor(executor, workers) as pool:
        populations = run_smc(config, draws, pool=pool, progress=progress)
        table = _reference(config, draws, pool, progress) if checks else None
    particles = populations[-1]
    posterior = resample(particles, config.paths, Streams(config.seed, 0).get("abc", "resample"))
    tables = {
        "generations": generations_table(populations),
        "summary": posterior_summary(config, particles),
    }
    atomic_write_bytes(folder / "particles.parquet", particles.to_parquet(index=False))
    atomic_write_bytes(folder / "posterior.parquet", posterior.to_parquet(index=False))
    if checks:
        sample = PosteriorSample.from_columns(posterior[config.paths])
        tables |= _checks(config, sample, folder, table)
    for name, frame in tables.items():
        write_csv_safely(frame, folder / f"{name}.csv")
    if checks:
        write_report(config, tables, folder)
    return tables


def _reference(config: Config, draws: Path, pool, progress) -> pd.DataFrame:
    from sim.calibration.evidence import reference

    return reference(config, draws, pool=pool, progress=progress)


def _checks(
    config: Config, posterior, folder: Path, table: pd.DataFrame
) -> dict[str, pd.DataFrame]:
    """Predictive checks (posterior, prior, scenario), narrowing and the variance decomposition.

    ``predictive_sample.parquet`` names each target ``EPISODE: TARGET`` (the figure's panels)."""
    from sim.calibration.checks import (
        SOURCES,
        predictive_check,
        simulate_statistics,
        variance_decomposition,
    )
    from sim.calibration.evidence import narrowing
    from sim.study.results import atomic_write_bytes

    n, seed = int(config.checks["predictive_runs"]), int(config.checks["seed"])
    stats = {s: simulate_statistics(config, n, seed, s, posterior) for s in SOURCES}
    sample = pd.concat(
        pd.DataFrame({"episode": e.name, "target": f"{e.name}: {t.name}", "observed": t.observed,
                      "simulated": stats["posterior"][column]})
        for e in config.episodes
        for t, column in zip(e.targets, e.statistic_columns(), strict=True)
    ).dropna()  # fmt: skip
    atomic_write_bytes(folder / "predictive_sample.parquet", sample.to_parquet(index=False))
    variance = config.checks["variance"]
    return {
        "predictive": predictive_check(config, stats["posterior"]),
        "prior_predictive": predictive_check(config, stats["prior"]),
        "scenario_predictive": predictive_check(config, stats["scenario"]),
        "narrowing": narrowing(config, table),
        "variance": variance_decomposition(
            config.episodes[0],
            posterior,
            int(variance["parameter_sets"]),
            int(variance["replications"]),
            seed,
        ),
    }


def write_report(config: Config, tables: dict[str, pd.DataFrame], folder: Path) -> None:
    """``report.md``: the fit's report, then the SBC section if ``--check`` wrote one, then the
    leave-one-episode-out section if the folder holds one (``LOO_SECTION``)."""
    from sim.calibration.report import report
    from sim.study.results import atomic_write_bytes

    text = report(config, tables)
    for section in (folder / SBC_SECTION, folder / LOO_SECTION):
        if section.exists():
            text += "\n" + section.read_text(encoding="utf-8")
    atomic_write_bytes(folder / "report.md", text.encode("utf-8"))


def run_check(
    config: Config,
    out: str | Path,
    *,
    workers: int = 1,
    executor: str = "process",
    progress: Any = None,
):
    """Simulation-based calibration of the config on its reference table (``check:`` budget):
    writes ``sbc_*.csv`` and the report section (``sbc.md``, appended to ``report.md`` if there
    is one) to ``out``; returns the ``SbcResult`` (its figures are the caller's to draw)."""
    from sim.calibration.evidence import sbc_check
    from sim.study.executors import make_executor
    from sim.study.results import atomic_write_bytes

    folder = Path(out)
    if progress:
        progress.start(int(config.check["reference_runs"]), 0)
    with make_executor(executor, workers) as pool:
        table = _reference(config, draws_folder(config, folder), pool, progress)
    result = sbc_check(config, table)
    for name, frame in result.tables().items():
        write_csv_safely(frame, folder / f"{name}.csv")
    section = result.report_markdown() + SBC_FIGURES
    atomic_write_bytes(folder / SBC_SECTION, section.encode("utf-8"))
    _append_section(folder / "report.md", section)
    return result


def _append_section(report: Path, section: str) -> None:
    """Put ``section`` into an existing report: in place of an older section with its heading
    (up to the next ``## `` heading, so the sections after it stay), else at the end."""
    from sim.study.results import atomic_write_bytes

    if not report.exists():
        return
    text = report.read_text(encoding="utf-8").rstrip("\n")
    heading = section.splitlines()[0]
    before, found, after = text.partition("\n" + heading)
    rest = after.partition("\n## ")[2] if found else ""
    kept = [before.rstrip("\n"), section.rstrip("\n")] + ([f"## {rest}"] if rest else [])
    atomic_write_bytes(report, ("\n\n".join(kept) + "\n").encode())
