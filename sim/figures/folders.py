"""The figures a results folder can give: a study's, a sweep's, a comparison's, a Sobol study's or
a calibration's, each drawn from the folder's tables (``figures_of``), with their levers and
parameters named by their declared meanings, and sweep points outside the calibration prior
marked, from the scenario copy the folder keeps (or, for an older folder, the scenario file it
names, if that can still be found)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from pathlib import Path

import pandas as pd

from sim.scenario.loading import read_yaml_file
from sim.study.results import Results, ResultsError, read_manifest


def _read_manifest(folder: Path) -> dict:
    try:
        return read_manifest(folder)
    except ResultsError:
        return {}


def prior_ranges(scenario) -> dict[str, tuple[float, float]]:
    """The calibration prior of each parameter a scenario draws from its posterior, by path
    (``sim.study.folder.posterior_priors``: the ``summary.csv`` beside the posterior, or what a
    study folder recorded of it for its own copy)."""
    from sim.study.folder import posterior_priors

    return posterior_priors(scenario)


def _own_scenario(folder: Path, manifest: dict, named: str) -> Path:
    """The scenario a study folder ran, from its own copy when it keeps one (so that it can be
    found after the folder moved, or after the scenario file changed or went), else the file the
    manifest names (``named``: an older folder)."""
    from sim.study.results import SCENARIO_COPY

    copy = folder / SCENARIO_COPY
    return copy if copy.is_file() else Path(str(manifest.get(named) or ""))


def sweep_figure(folder: Path, scale: str = "linear"):
    """A sweep's figure, its levers named by their declared meanings and its points outside the
    calibration prior marked, from the scenario its first point's study keeps (``_own_scenario``;
    if it cannot be found or no longer loads, levers by their paths, and no marks)."""
    from sim.figures import plots
    from sim.figures.studies import path_labels, sweep_levers
    from sim.scenario.loading import load_scenario
    from sim.scenario.problems import ScenarioError

    table = pd.read_parquet(folder / "sweep.parquet")
    first = (_read_manifest(folder).get("settings") or [{}])[0]
    source = _own_scenario(folder / str(first.get("folder", "")), first, "file")
    try:
        labels = path_labels(source, sweep_levers(table)) if source.is_file() else None
        priors = prior_ranges(load_scenario(source)) if source.is_file() else None
    except ScenarioError:  # the scenario has changed since (or its posterior moved): paths
        labels, priors = None, None
    return plots.sweep_probabilities(table, labels=labels, scale=scale, prior_ranges=priors)


def sobol_figure(folder: Path):
    """A Sobol study's figure, each uncertain input named by its declared lever's meaning (or
    its relation's alias) from the scenario the study kept (``_own_scenario``; else by its
    name)."""
    from sim.figures import plots
    from sim.figures.studies import path_labels
    from sim.scenario.problems import ScenarioError

    manifest = _read_manifest(folder)
    source = _own_scenario(folder, manifest, "scenario_file")
    uncertain = [u for u in manifest.get("uncertain", []) if "name" in u and "path" in u]
    try:
        named = path_labels(source, [u["path"] for u in uncertain]) if source.is_file() else {}
    except ScenarioError:  # the scenario has changed since (or its posterior moved): names
        named = {}
    labels = {
        u["name"]: named[u["path"]]
        for u in uncertain
        if named.get(u["path"], u["path"]) != u["path"]
    }
    return plots.sobol_indices(pd.read_parquet(folder / "sobol.parquet"), labels)


def _calibrated_scenario(folder: Path, parameters: Iterable[str]) -> Path | None:
    """The scenario of the first episode a calibration folder was fitted on, if it is still
    there: the config is the one named on the first line of its report.md (the path `sim
    calibrate --config` was given), else a calibrate.yaml kept beside the outputs (the shipped
    calibration/). A config counts only if its priors (shared, and each episode's as
    ``EPISODE:PATH``) are exactly the folder's parameters."""
    import yaml

    from sim.scenario.parameters import EPISODE_SEPARATOR

    configs = []
    report = folder / "report.md"
    if report.is_file():
        named = re.search(r"^Config `([^`]+)`", report.read_text(encoding="utf-8"), re.MULTILINE)
        configs += [Path(named.group(1))] if named else []
    for config in [*configs, folder / "calibrate.yaml"]:
        try:
            raw = yaml.safe_load(read_yaml_file(config))
        except (OSError, ValueError, yaml.YAMLError):
            continue
        if not isinstance(raw, dict) or not isinstance(raw.get("priors"), dict):
            continue
        episodes = raw.get("episodes") if isinstance(raw.get("episodes"), dict) else {}
        fitted = set(raw["priors"]) | {
            f"{name}{EPISODE_SEPARATOR}{path}"
            for name, episode in episodes.items()
            if isinstance(episode, dict)
            for path in episode.get("priors") or {}
        }
        first = next(iter(episodes.values()), {})
        scenario = config.parent / str(first.get("scenario") or "")
        if fitted == set(parameters) and scenario.is_file():
            return scenario
    return None


def calibration_figure(folder: Path):
    """Prior against posterior, relations named by alias when the calibrated scenario file can
    be found (``_calibrated_scenario``; else by their paths)."""
    from sim.figures import plots
    from sim.figures.studies import path_labels
    from sim.scenario.problems import ScenarioError

    summary = pd.read_csv(folder / "summary.csv")
    scenario = _calibrated_scenario(folder, summary.parameter)
    try:
        labels = path_labels(scenario, summary.parameter, meanings=False) if scenario else None
    except ScenarioError:  # the scenario has changed since (or its posterior moved): paths
        labels = None
    return plots.prior_posterior(pd.read_parquet(folder / "posterior.parquet"), summary, labels)


def _study_figures(folder: Path, scale: str = "linear") -> dict[str, Callable] | None:
    """The figure makers of a study folder (sweep, compare, sensitivity, calibration), if it is
    one; ``scale`` is a sweep's probability axis."""
    from sim.figures import plots

    if (folder / "sweep.parquet").exists():
        return {"sweep": lambda: sweep_figure(folder, scale)}
    if (folder / "comparison.parquet").exists():
        table = folder / "comparison.parquet"
        return {"compare": lambda: plots.paired_differences(pd.read_parquet(table))}
    if (folder / "sobol.parquet").exists():
        return {"sobol": lambda: sobol_figure(folder)}
    if (folder / "posterior.parquet").exists() and (folder / "summary.csv").exists():
        figures = {"calibration": lambda: calibration_figure(folder)}
        if (folder / "predictive_sample.parquet").exists():
            sample = folder / "predictive_sample.parquet"
            figures["predictive"] = lambda: plots.predictive_check(pd.read_parquet(sample))
        return figures
    return None


def figures_of(
    folder: Path,
    kinds: tuple[str, ...] = (),
    replication: int | None = None,
    scale: str = "linear",
):
    """(name, figure, manifest) for each figure asked of ``folder`` (all it can give by default);
    ``scale`` ("linear" or "log") is a sweep's probability axis."""
    from sim.figures import plots

    makers = _study_figures(folder, scale)
    manifest = _read_manifest(folder)
    if makers is None:
        results = Results(folder)
        manifest = results.manifest
        makers = {
            name: (lambda draw=draw: draw(results)) for name, draw in plots.RESULTS_FIGURES.items()
        }
        makers["timeline"] = lambda: plots.run_timeline(results, replication)
    unknown = set(kinds) - set(makers)
    if unknown:
        raise ResultsError(
            f"{folder}: unknown --kind {', '.join(sorted(unknown))}; this folder gives "
            f"{', '.join(makers)}"
        )
    return [(name, makers[name](), manifest) for name in kinds or makers]
