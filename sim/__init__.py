"""Discrete-event escalation simulator: the documented Python API.

Data flows one way, and each step is a subpackage that imports only from the steps before it:
``sim.scenario`` (YAML -> ``Scenario``) -> ``sim.model`` (SimPy world -> one run's event log) ->
``sim.study`` (Monte Carlo -> results folder) -> ``sim.analysis`` (comparisons, sweeps,
sensitivity) -> ``sim.figures`` (paper figures, report); ``sim.calibration`` fits the model beside
the flow, and ``sim.cli`` is the command line. A notebook needs only ``import sim``,
``from sim import plots`` and ``from sim.compare import Setting, compare``: these names stay put
whatever moves inside the steps.
"""

from sim.study import DEFAULT_N
from sim.study import PACKAGE_VERSION as __version__

__all__ = ["DEFAULT_N", "__version__", "load_results", "load_scenario", "run"]


def run(scenario, n: int | None = None, *, seed: int | None = None, workers: int = 1, **options):
    """Run a Monte Carlo study of ``scenario`` (a path or a ``Scenario``) and return its results.

    ``n`` replications (default ``DEFAULT_N``, 2,000; when resuming, the study's own).

    ``options`` are those of ``sim.study.montecarlo.run_study`` (``out``, ``executor``, ``chunk_size``,
    ``until_ci``, ``resume`` ...). ``results.runs`` and ``results.events`` are pandas DataFrames and
    ``results.summary()`` gives the same tables as ``sim run``.
    """
    from sim.study.montecarlo import run_study

    return run_study(scenario, n=n, seed=seed, workers=workers, **options)


def load_scenario(path):
    """Read and validate a scenario file (see ``sim.scenario.loading.load_scenario``)."""
    from sim.scenario.loading import load_scenario as load

    return load(path)


def load_results(folder):
    """Open a finished results folder (see ``sim.study.results.Results``)."""
    from sim.study.results import Results

    return Results(folder)
