"""Opening a study folder: a new study's manifest and copies, a resumed one checked to be the
same study, and the copies that make the folder self-contained.

A folder keeps what its study ran: ``scenario.yaml`` (the resolved scenario), the source file's
bytes, and the posterior sample it drew from (``scenario-posterior.parquet``), which the copy of
the scenario names relatively. So the folder can be moved to another directory or machine and
still be resumed, validated or run again; the manifest records every copy's SHA-256, and a
posterior copy changed since is refused by name. It also records the calibration prior of each
parameter the posterior draws (``priors``, from the ``summary.csv`` that ``sim calibrate`` writes
beside it), which figures mark extrapolation against once the folder has moved away from it.
Comparisons, sweeps, Sobol and explore studies keep the same copies (``keep_copies``).
"""

from __future__ import annotations

import contextlib
import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from sim.scenario.loading import load_scenario, scenario_hash
from sim.scenario.parameters import EPISODE_SEPARATOR, posterior_episode
from sim.scenario.schema import Scenario
from sim.study import DEFAULT_N
from sim.study.results import (
    MANIFEST,
    POSTERIOR_COPY,
    SCENARIO_COPY,
    SOURCE_COPY,
    ResultsError,
    atomic_write_bytes,
    check_file,
    check_manifest_seal,
    file_record,
    file_sha256,
    read_manifest,
    save_manifest,
    write_manifest,
)
from sim.study.tables import clear_folder, finished_nothing, is_leftover


def posterior_file(parameters_from: str) -> tuple[Path, str]:
    """The posterior file a ``parameters_from`` value names, and its ``#EPISODE`` suffix
    (with the ``#``; empty when it has none)."""
    name, mark, episode = parameters_from.partition("#")
    return Path(name), mark + episode


def canonical_text(scenario: Scenario) -> str:
    """The resolved scenario as YAML: variants, overrides and defaults all spelled out.

    Its hash identifies a study's model: the same model gives the same hash, whichever file,
    variant or ``--set`` produced it, and any change to the model changes it.
    """
    return yaml.safe_dump(scenario.model_dump(), sort_keys=False, allow_unicode=True)


def model_hash(scenario: Scenario) -> str:
    """SHA-256 identifying a study's model: its canonical text, with the posterior it draws from
    named by the SHA-256 of the file's content instead of by its path (an ``#EPISODE`` suffix
    kept).

    So the same model has the same hash in any checkout, on any machine, or drawn from a study
    folder's own copy of its posterior; a posterior re-fitted in place gives another (a study
    never mixes draws from two posteriors).
    """
    if scenario.parameters_from is None:
        return scenario_hash(canonical_text(scenario))
    path, episode = posterior_file(scenario.parameters_from)
    content = file_sha256(path)
    named = scenario.model_copy(update={"parameters_from": f"sha256:{content}{episode}"})
    return scenario_hash(canonical_text(named))


def copy_text(scenario: Scenario) -> str:
    """The text of a study's ``scenario.yaml``: the canonical text, its posterior named as the
    folder's own copy (relative to the folder, so the folder can move)."""
    if scenario.parameters_from is None:
        return canonical_text(scenario)
    episode = posterior_file(scenario.parameters_from)[1]
    return canonical_text(scenario.model_copy(update={"parameters_from": POSTERIOR_COPY + episode}))


PRIOR_SUMMARY = "summary.csv"
"""The table ``sim calibrate`` writes beside a posterior: each parameter's prior range."""


def posterior_priors(scenario: Scenario) -> dict[str, tuple[float, float]]:
    """The calibration prior of each parameter a scenario draws from its posterior, by path:
    ``(prior_low, prior_high)`` from the ``summary.csv`` beside the posterior file: the shared
    parameters, and those of the episode the scenario names (``parameters_from: FILE#EPISODE``,
    the prefix removed). A study folder's own posterior copy has the priors its manifest
    recorded. Empty when the scenario has no posterior or no summary is there."""
    if scenario.parameters_from is None:
        return {}
    posterior = posterior_file(scenario.parameters_from)[0]
    if posterior.name == POSTERIOR_COPY:
        return recorded_priors(posterior.parent)
    episode = posterior_episode(scenario.parameters_from)
    try:
        table = pd.read_csv(
            posterior.with_name(PRIOR_SUMMARY), usecols=["parameter", "prior_low", "prior_high"]
        )
    except (OSError, ValueError):
        return {}
    ranges = {}
    for row in table.itertuples():
        owner, separator, path = str(row.parameter).partition(EPISODE_SEPARATOR)
        if separator and owner != episode:
            continue  # another episode's own parameter
        ranges[path if separator else owner] = (float(row.prior_low), float(row.prior_high))
    return ranges


def recorded_priors(folder: Path) -> dict[str, tuple[float, float]]:
    """The prior ranges a study folder's manifest recorded (``posterior_priors``); empty for a
    folder without them (older, or unreadable)."""
    with contextlib.suppress(ResultsError):
        priors = read_manifest(folder).get("priors")
        if isinstance(priors, dict):
            return {path: (float(low), float(high)) for path, (low, high) in priors.items()}
    return {}


def keep_copies(
    folder: Path, scenario: Scenario, source: str | Path, name: str = SCENARIO_COPY
) -> dict[str, Any]:
    """Write into ``folder`` the copies of a study's model (``scenario``, read from ``source``;
    its resolved text as ``name``) and return what a manifest records of them: ``files`` (each
    copy's size and SHA-256) and ``priors``. For studies other than ``sim run`` (a comparison's,
    a Sobol study's), so that their folder too can move and be resumed, re-plotted and run
    again. Run again from its own copy, a folder keeps the source bytes it has."""
    copies = _copies({"scenario_file": str(source)}, scenario)  # read before any is written
    copies[name] = copies.pop(SCENARIO_COPY)
    own = Path(source).resolve() == (folder / name).resolve() and (folder / SOURCE_COPY).is_file()
    if own:
        copies[SOURCE_COPY] = (folder / SOURCE_COPY).read_bytes()
    folder.mkdir(parents=True, exist_ok=True)
    for file, data in copies.items():
        atomic_write_bytes(folder / file, data)
    return {
        "files": {file: _bytes_record(data) for file, data in copies.items()},
        "priors": _plain_priors(scenario),
    }


MODELS = "models"
"""The subfolder of a comparison or sweep that keeps each scenario file's model
(``keep_models``): ``models/STEM/STEM.yaml``, resolved, with the posterior it draws from."""


def keep_models(folder: Path, files: list[Path]) -> dict[str, str]:
    """Keep each scenario file of ``files`` in ``folder/models/STEM/STEM.yaml`` (``MODELS``,
    ``keep_copies``; a manifest beside it records the copies and the posterior's priors, which a
    study run from the copy takes over) and return each file's copy, relative to ``folder``. Written before any
    setting of a comparison runs, so that an interrupted folder moves too: elsewhere, it is
    resumed or run again by the same command with each FILE replaced by its copy (setting names,
    taken from file names, stay the same)."""
    kept: dict[str, str] = {}
    for file in dict.fromkeys(files):
        taken = {Path(copy).parent.name for copy in kept.values()}
        name = file.stem if file.stem not in taken else f"{file.stem}-{len(kept)}"
        copies = keep_copies(folder / MODELS / name, load_scenario(file), file, f"{name}.yaml")
        write_manifest(folder / MODELS / name, {"kind": "model", "source": str(file), **copies})
        kept[str(file)] = f"{MODELS}/{name}/{name}.yaml"
    return kept


def _plain_priors(scenario: Scenario) -> dict[str, list[float]]:
    """``posterior_priors`` as a manifest records them (JSON lists)."""
    return {path: list(bounds) for path, bounds in posterior_priors(scenario).items()}


def _copies(manifest: dict[str, Any], scenario: Scenario) -> dict[str, bytes]:
    """The files a study keeps of its model: the resolved text, the source file's bytes, and
    the posterior it draws from."""
    copies = {SCENARIO_COPY: copy_text(scenario).encode("utf-8")}
    source = Path(manifest["scenario_file"])
    if source.is_file():
        copies[SOURCE_COPY] = source.read_bytes()
    if scenario.parameters_from is not None:
        copies[POSTERIOR_COPY] = posterior_file(scenario.parameters_from)[0].read_bytes()
    return copies


def _bytes_record(data: bytes) -> dict[str, Any]:
    return {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}


def _create(folder: Path, manifest: dict[str, Any], scenario: Scenario) -> dict[str, Any]:
    """Start a study in ``folder`` (empty but for leftovers): the manifest first, recording its
    copies' hashes, then the copies. A kill at any moment leaves a folder that
    ``finished_nothing`` accepts."""
    manifest["chunks"] = {}  # from here on, a failure removes what this study wrote
    copies = _copies(manifest, scenario)  # read first: the posterior may be this folder's copy
    priors = _plain_priors(scenario)
    clear_folder(folder)
    manifest["n"] = manifest["n"] or DEFAULT_N
    manifest["files"] = {name: _bytes_record(data) for name, data in copies.items()}
    manifest["priors"] = priors
    save_manifest(folder, manifest)
    for name, data in copies.items():
        atomic_write_bytes(folder / name, data)
    return manifest


def _restore_copies(folder: Path, manifest: dict[str, Any], scenario: Scenario) -> None:
    """Write again a copy that is missing or changed since it was recorded (the model hash
    matched, so the text is this study's); an older folder's copies are recorded as found."""
    files = manifest.setdefault("files", {})
    manifest.setdefault("priors", _plain_priors(scenario))
    for name, data in _copies(manifest, scenario).items():
        path = folder / name
        if name not in files and path.is_file():
            files[name] = file_record(path)
        elif not path.is_file() or file_sha256(path) != files[name]["sha256"]:
            atomic_write_bytes(path, data)
            files[name] = _bytes_record(data)


def check_posterior_copy(folder: Path, manifest: dict[str, Any]) -> None:
    """Refuse a study's posterior copy changed since the study recorded it: draws from another
    posterior must never be mixed into its results."""
    record = manifest.get("files", {}).get(POSTERIOR_COPY)
    if record is not None and (folder / POSTERIOR_COPY).is_file():
        check_file(
            folder / POSTERIOR_COPY,
            record,
            "the study's parameter draws cannot be checked: restore the file, or start a new study",
        )


def open_folder(
    folder: Path, fresh: dict[str, Any], resume: bool, scenario: Scenario
) -> dict[str, Any]:
    """Start a study in ``folder``, or check that a resumed one is the same study. A folder
    holding only this tool's leftovers counts as empty, for ``--resume`` too."""
    if not (folder / MANIFEST).exists() and all(is_leftover(p) for p in folder.iterdir()):
        resume = False
    if not resume:
        if not finished_nothing(folder):
            raise ResultsError(
                f"{folder}: already exists and is not empty; choose another --out "
                f"or continue it with --resume {folder}"
            )
        return _create(folder, fresh, scenario)
    old = read_manifest(folder)
    check_manifest_seal(folder, old)
    missing = [k for k in ("scenario_sha256", "seed", "n", "chunk_size", "status") if k not in old]
    if missing:
        raise ResultsError(
            f"{folder / 'manifest.json'}: corrupted manifest (no {', '.join(missing)})"
        )
    check_posterior_copy(folder, old)
    _check_same_study(folder, old, fresh)
    old.setdefault("resumed_utc", []).append(datetime.now(UTC).isoformat())
    _restore_copies(folder, old, scenario)
    return old


def _check_same_study(folder: Path, old: dict[str, Any], fresh: dict[str, Any]) -> None:
    """Refuse to resume a study with another model, seed or number of replications."""
    if old["scenario_sha256"] != fresh["scenario_sha256"]:
        raise ResultsError(
            f"{folder}: was made from another scenario (sha256 {old['scenario_sha256'][:12]}..., "
            f"this one {fresh['scenario_sha256'][:12]}...; same file and --set options?); "
            "refusing to mix two studies"
        )
    if old["seed"] != fresh["seed"]:
        raise ResultsError(
            f"{folder}: was made with seed {old['seed']}, not {fresh['seed']}; "
            "refusing to mix two studies"
        )
    if fresh["n"] not in (None, old["n"]) and not old.get("until_ci"):
        raise ResultsError(
            f"{folder}: is a study of {old['n']} replications, not {fresh['n']}; resuming "
            "finishes a study as it was planned (leave out -n, or start a new study)"
        )
