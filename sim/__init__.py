"""Discrete-event escalation simulator.

Data flows one way: scenario YAML -> ``Scenario`` -> SimPy world -> one run's event log ->
Monte Carlo -> results tables -> analysis -> figures. Each step is one module; see ``docs/``.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("escalation-sim")
except PackageNotFoundError:  # running from a source tree that was not installed
    __version__ = "0.0.0+source"
