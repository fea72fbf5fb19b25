"""Step 3 of the flow: a scenario and a number of replications in, a results folder out.

Monte Carlo planning and the study loop (``montecarlo``), the workers' unit of work
(``chunks``), executors that run chunks serially, in a process pool or on Dask (``executors``),
the folder's chunk and final tables (``tables``), and ``Results``, the object that reads a
finished folder back with its manifest (``results``). Results are identical for any executor,
worker count or chunk size. Imports only from ``sim.scenario`` and ``sim.model``.
"""

from importlib.metadata import PackageNotFoundError, version

DEFAULT_N = 2000
"""Replications of a study when none are asked for, from the command line or from Python."""

try:
    PACKAGE_VERSION = version("escalation-sim")
    """The installed package's version, written into every manifest."""
except PackageNotFoundError:  # running from a source tree that was not installed
    PACKAGE_VERSION = "0.0.0+source"
