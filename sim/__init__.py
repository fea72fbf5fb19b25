"""Discrete-event escalation simulator: the documented Python API.

Data flows one way, and each step is a subpackage that imports only from the steps before it:
``sim.scenario`` (YAML -> ``Scenario``) -> ``sim.model`` (SimPy world -> one run's event log) ->
``sim.study`` (Monte Carlo -> results folder) -> ``sim.analysis`` (comparisons, sweeps,
sensitivity) -> ``sim.figures`` (paper figures, report); ``sim.calibration`` fits the model beside
the flow, and ``sim.cli`` is the command line. A notebook needs only ``import sim``,
``from sim import plots`` and ``from sim.compare import Setting, compare``: these names stay put
whatever moves inside the steps. Long calls (``run``, ``compare``, ``explore``) show a progress
bar in a notebook's output (``progress=False``: none).
"""

import tempfile
from pathlib import Path

from sim.study import DEFAULT_N
from sim.study import PACKAGE_VERSION as __version__
from sim.study.executors import DEFAULT_WORKERS
from sim.study.guard import MissingMainGuard, refuse_unguarded_main

__all__ = [
    "DEFAULT_N",
    "DEFAULT_WORKERS",
    "MissingMainGuard",
    "__version__",
    "discover",
    "load_results",
    "load_scenario",
    "refuse_unguarded_main",
    "run",
    "score",
]


def run(
    scenario,
    n: int | None = None,
    *,
    seed: int | None = None,
    workers: int = DEFAULT_WORKERS,
    out=None,
    progress=True,
    **options,
):
    """Run a Monte Carlo study of ``scenario`` (a path or a ``Scenario``) and return its results.

    ``n`` replications (default ``DEFAULT_N``, 2,000; when resuming, the study's own) on
    ``workers`` processes (default ``DEFAULT_WORKERS``: all cores, as ``sim run``). ``out`` is
    the results folder; without it the study goes to a temporary folder that is removed when the
    returned ``Results`` object is garbage-collected (or Python exits): pass ``out=`` to keep it.

    ``progress``: a bar in a Jupyter notebook's output, or on a terminal's stderr, as replications
    finish (none in a pipe, a log or a batch job); ``progress=False`` shows none. ``options``
    are those of ``sim.study.montecarlo.run_study`` (``executor``, ``chunk_size``, ``until_ci``
    as ``"10%"``, ``"rung>=5:0.005"`` or a list of such targets, ``resume`` ...). ``results.runs`` and ``results.events`` are pandas DataFrames and
    ``results.summary()`` gives the same tables as ``sim run``.
    """
    from sim.study.montecarlo import run_study

    refuse_unguarded_main(options.get("executor", "process"), workers, options.get("scheduler"))
    _refuse_what_no_run_honours(scenario, n, options)
    if out is not None:
        return run_study(
            scenario, n=n, seed=seed, workers=workers, out=out, progress=progress, **options
        )
    if options.get("resume"):
        raise ValueError("resume=True needs out=, the folder of the study to finish")
    temporary = tempfile.TemporaryDirectory(prefix="sim-study-")
    try:
        results = run_study(
            scenario,
            n=n,
            seed=seed,
            workers=workers,
            out=temporary.name,
            progress=progress,
            **options,
        )
    except BaseException:
        temporary.cleanup()
        raise
    results.temporary_folder = temporary  # removed with the Results object
    return results


def _refuse_what_no_run_honours(scenario, n: int | None, options: dict) -> None:
    """Refuse, before a folder is made, what ``sim run`` refuses too: more than
    ``MAX_REPLICATIONS`` replications, an opening after the horizon, a resupply that never ends
    the run (``ValueError``, ``ScenarioError``)."""
    from sim.cli.support import MAX_REPLICATIONS, check_runnable
    from sim.scenario.levers import load_with_overrides
    from sim.scenario.schema import Scenario

    for name, value in (("n", n), ("max_n", options.get("max_n"))):
        if value is not None and value > MAX_REPLICATIONS:
            raise ValueError(f"{name} must be at most {MAX_REPLICATIONS:,}, got {value:,}")
    if isinstance(scenario, Scenario):
        check_runnable(scenario, "<python object>")
    else:
        check_runnable(load_with_overrides(scenario, options.get("overrides", ())), scenario)


def discover(folder, outcome: str, **options):
    """Scenario discovery on an explore study folder: PRIM (with CART and feature scores) on
    where ``outcome`` happens; returns the ``DiscoveryResult`` (see
    ``sim.analysis.discovery.discover``, which takes the tables themselves)."""
    from sim.analysis.discovery import discover_folder

    return discover_folder(Path(folder), outcome, **options)[0]


def explore(scenario, factors, *, progress=True, **options):
    """An experiment design over ``factors`` of ``scenario``, R replications per point on common
    random numbers, in a resumable study folder (see ``sim.analysis.explore.explore``).

    ``progress``: a bar in a notebook or on a terminal, as ``run``; False for none (or
    ``StudyProgress`` callbacks)."""
    from sim.analysis.explore import explore as run_explore
    from sim.study.progress import StudyProgress, study_progress

    if isinstance(progress, StudyProgress):
        return run_explore(scenario, factors, progress=progress, **options)
    with study_progress("replications", show=bool(progress)) as shown:
        return run_explore(scenario, factors, progress=shown, **options)


def score(questions, **options):
    """Score the model's forecasts of a questions file against baselines with proper scores
    (see ``sim.analysis.forecasts.score`` and docs/scoring.md)."""
    from sim.analysis.forecasts import score as score_questions

    return score_questions(questions, **options)


def load_scenario(path):
    """Read and validate a scenario file (see ``sim.scenario.loading.load_scenario``)."""
    from sim.scenario.loading import load_scenario as load

    return load(path)


def load_results(folder):
    """Open a finished results folder (see ``sim.study.results.Results``)."""
    from sim.study.results import Results

    return Results(folder)
