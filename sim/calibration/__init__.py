"""Beside the flow: the simulator fitted to the seed text's events.

Takes a calibration config (``schema``: its file format; ``targets``: priors, targets and the
statistics of a simulated run, with the predictive checks), runs ABC-SMC (``smc``) through the
same simulator and executors as a study, and hands on a posterior sample that scenarios draw
their parameters from (``parameters_from:``, read by ``sim.scenario.parameters``). Imports from
``sim.scenario``, ``sim.model`` and ``sim.study``.
"""
