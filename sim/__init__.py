"""Discrete-event escalation simulator.

Data flows one way: scenario YAML -> ``Scenario`` -> SimPy world -> one run's event log ->
Monte Carlo -> results tables -> analysis -> figures. Each step is one module; see ``docs/``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("escalation-sim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"

DEFAULT_N = 2000
"""Replications of a study when none are asked for, from the command line or from Python."""


def run(scenario, n: int | None = None, *, seed: int | None = None, workers: int = 1, **options):
    """Run a Monte Carlo study of ``scenario`` (a path or a ``Scenario``) and return its results.

    ``n`` replications (default ``DEFAULT_N``, 2,000; when resuming, the study's own).

    ``options`` are those of ``sim.montecarlo.run_study`` (``out``, ``executor``, ``chunk_size``,
    ``until_ci``, ``resume`` ...). ``results.runs`` and ``results.events`` are pandas DataFrames and
    ``results.summary()`` gives the same tables as ``sim run``.
    """
    from sim.montecarlo import run_study

    return run_study(scenario, n=n, seed=seed, workers=workers, **options)


def load_scenario(path):
    """Read and validate a scenario file (see ``sim.scenario.load_scenario``)."""
    from sim.scenario import load_scenario as load

    return load(path)


def load_results(folder):
    """Open a finished results folder (see ``sim.results.Results``)."""
    from sim.results import Results

    return Results(folder)
