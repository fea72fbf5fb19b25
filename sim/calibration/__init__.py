"""Beside the flow: the simulator fitted to observed episodes, and checked for honesty.

Takes a calibration config (``schema``: its file format; ``loading``: reading and checking it;
``config``: the episodes, priors and the simulator as the fit sees it; ``statistics``: what a
target may name, computed from a run's log; ``targets``: distances), runs ABC-SMC (``sampler``,
model-agnostic; ``smc``: the whole run with its ``checks``, ``evidence`` and ``report``) through
the same simulator and executors as a study, and hands on a posterior sample that scenarios draw
their parameters from (``parameters_from:``, read by ``sim.scenario.parameters``). ``sbc``:
simulation-based calibration of a posterior. Imports from ``sim.scenario``, ``sim.model`` and
``sim.study``.
"""
