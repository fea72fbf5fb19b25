"""Step 4 of the flow: studies in, answers to a researcher's questions out.

Settings compared on common random numbers with paired differences and sweeps over levers
(``compare``), and Sobol sensitivity indices with bootstrap intervals (``sensitivity``). Each
runs studies through ``sim.study`` and hands on tidy tables and a folder with a manifest.
"""
