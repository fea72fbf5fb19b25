"""``load_config``: a calibration config file to a checked ``Config`` (``sim.calibration.config``).

Every mistake is a ``ScenarioError`` whose lines read ``file:line: field: message``;
``sim.calibration.schema`` says what a file holds, this module checks what needs the scenarios:
each loads (as a version-2 file: the scenario loader refuses others), a shared prior's path
exists in at least one episode's scenario, an episode's own prior in its own, every prior's range
is one the scenario accepts at both ends, and a target names a statistic, actors, weapons and
layers its episode's scenario has. An old single-scenario file (top-level ``scenario:``) is told
how to become one episode.

The order of the checks: the file's own shape (``parse_config``), each episode's scenario file
and the scenario itself, then the priors' paths, their ranges and the targets' statistics, each
stage reporting every mistake it finds at once.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from sim.calibration.config import Config, Episode
from sim.calibration.schema import CalibrationFile, EpisodeSpec
from sim.calibration.statistics import Statistic
from sim.calibration.targets import EPISODE_SEPARATOR, Prior, Target
from sim.scenario.coherence import number_at, position_path
from sim.scenario.loading import (
    Problem,
    ScenarioError,
    load_scenario,
    read_document,
    read_source,
    validate_model,
)
from sim.scenario.schema import Scenario

POINT = {"parameters_from": None}
"""The fit sets the parameters; its scenarios never draw them from a posterior."""


def load_config(path: str | Path) -> Config:
    """Read and validate a calibration config (see the module docstring for the checks)."""
    path = Path(path)
    spec, lines = parse_config(path)
    source = str(path)
    files = {
        name: resolve_episode(e, path.parent, name, source, lines)
        for name, e in spec.episodes.items()
    }
    scenarios = {name: load_scenario(file, POINT) for name, file in files.items()}
    problems = shared_prior_problems(spec, scenarios, source, lines)
    if problems:
        raise ScenarioError(problems)
    shared = tuple(Prior(p, v.low, v.high, v.reason) for p, v in spec.priors.items())
    episodes, own = [], []
    for name, e in spec.episodes.items():
        mine = tuple(
            Prior(f"{name}{EPISODE_SEPARATOR}{p}", v.low, v.high, v.reason, episode=name)
            for p, v in e.priors.items()
        )
        used = [p for p in shared if number_at(scenarios[name], p.path) is None] + list(mine)
        horizon = {"horizon_days": e.horizon_days}
        _check_prior_ranges(files[name], scenarios[name], horizon, used, (source, lines))
        problems += statistics_problems(e, scenarios[name], name, source, lines)
        own += mine
        episodes.append(
            Episode(
                name=name,
                scenario=load_scenario(files[name], POINT | horizon),
                full_scenario=scenarios[name],
                weight=e.weight,
                description=e.description,
                targets=tuple(Target.of(t, v) for t, v in e.targets.items()),
                columns=tuple(p.path for p in used),
            )
        )
    if problems:
        raise ScenarioError(problems)
    return Config(
        priors=shared + tuple(own),
        episodes=tuple(episodes),
        seed=spec.seed,
        smc=spec.smc.model_dump(),
        checks=spec.checks.model_dump(),
        check=spec.check.model_dump(),
        source=path,
    )


def _prior_field(prior: Prior) -> tuple:
    """The config keys of a prior: ``priors.PATH`` or ``episodes.E.priors.PATH``."""
    if prior.episode:
        return ("episodes", prior.episode, "priors", prior.scenario_path)
    return ("priors", prior.path)


def _check_prior_ranges(
    file: Path,
    scenario: Scenario,
    horizon: Mapping[str, float],
    priors: list[Prior],
    where: tuple[str, Mapping[tuple, int]],
) -> None:
    """Validate the scenario with every prior at its low end, then at its high end; a value the
    scenario refuses is reported at the prior's line in the config (``where``: its name and the
    line of each key). A relation named by alias is matched by its alias or its position."""
    source, lines = where
    for corner in ("low", "high"):
        values = {p.scenario_path: getattr(p, corner) for p in priors}
        fields = {p.scenario_path: _prior_field(p) for p in priors}
        placed = {path: position_path(scenario, path) for path in values}
        try:
            load_scenario(file, {**horizon, **POINT, **values})
        except ScenarioError as exc:
            raise ScenarioError([
                Problem(source, lines.get(fields[path]), ".".join(fields[path]),
                        f"{corner} {value} in {file}: {e.message}")
                for e in exc.problems
                for path, value in values.items()
                if _within(_dotted(e.field), placed[path]) or _within(e.field, path)
            ] or exc.problems) from None  # fmt: skip


def _dotted(field: str) -> str:
    """A problem's field with list positions as dotted keys: ``relations[4].x`` -> ``relations.4.x``."""
    return re.sub(r"\[(\d+)\]", r".\1", field)


def _within(field: str, path: str) -> bool:
    """Whether a problem at ``field`` is about the value at ``path`` (one holds the other)."""
    return field == path or field.startswith(path + ".") or path.startswith(field + ".")


def resolve_episode(
    spec: EpisodeSpec, folder: Path, name: str, source: str, lines: Mapping[tuple, int]
) -> Path:
    """The episode's scenario file, which must exist (relative to the config's folder)."""
    where = ("episodes", name, "scenario")
    found = folder / spec.scenario
    if not found.is_file():
        raise ScenarioError([Problem(source, lines.get(where), ".".join(where),
                                     f"no such file: {found}")])  # fmt: skip
    return found


def statistics_problems(
    spec: EpisodeSpec, scenario: Scenario, name: str, source: str, lines: Mapping[tuple, int]
) -> list[Problem]:
    """Each target whose name is no statistic, or names what the scenario lacks."""
    problems = []
    for target in spec.targets:
        where = ("episodes", name, "targets", target)
        try:
            said = Statistic.parse(target).problems(scenario)
        except ValueError as exc:
            said = [str(exc)]
        problems += [Problem(source, lines.get(where), ".".join(where), m) for m in said]
    return problems


def shared_prior_problems(
    spec: CalibrationFile, scenarios: Mapping[str, Scenario], source: str, lines: Mapping
) -> list[Problem]:
    """A shared prior no episode's scenario has, and an episode prior its scenario lacks or that
    repeats a shared one."""
    problems = []
    for path in spec.priors:
        why = [number_at(s, path) for s in scenarios.values()]
        if all(why):
            message = f"no episode's scenario has this value ({why[0]})"
            problems.append(Problem(source, lines.get(("priors", path)), f"priors.{path}", message))
    for name, episode in spec.episodes.items():
        for path in episode.priors:
            where = ("episodes", name, "priors", path)
            field = ".".join(where)
            if path in spec.priors:
                message = "also a shared prior (priors:); give it in one place"
                problems.append(Problem(source, lines.get(where), field, message))
            elif why := number_at(scenarios[name], path):
                problems.append(Problem(source, lines.get(where), field, why))
    return problems


def parse_config(path: Path) -> tuple[CalibrationFile, dict[tuple, int]]:
    """The validated file and the line of each key; an old single-scenario file is refused."""
    source = str(path)
    text = read_source(path)
    if not text.strip():
        needs = ", ".join(CalibrationFile.model_fields)
        raise ScenarioError([Problem(source, None, "", f"file is empty; a config needs {needs}")])
    data, lines = read_document(text, source)
    if "scenario" in data:
        message = (
            "a config now lists episodes; write this one as a single episode: move scenario, "
            "horizon_days and targets under episodes: NAME: (for example episodes: april-2024: "
            "{scenario: ..., horizon_days: ..., targets: ...}), keep the priors at the top level, "
            "and add check: {reference_runs, datasets, accept}"
        )
        raise ScenarioError([Problem(source, lines.get(("scenario",)), "scenario", message)])
    spec = validate_model(CalibrationFile, data, {k: (source, n) for k, n in lines.items()}, source)
    return spec, lines
