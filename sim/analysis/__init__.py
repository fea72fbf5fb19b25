"""Step 4 of the flow: studies in, answers to a researcher's questions out.

The outcome language every study command shares (``outcomes``); settings compared on common
random numbers with paired differences, and sweeps over levers (``compare``); Sobol sensitivity
indices with bootstrap intervals (``sensitivity``); experiment designs over many factors
(``designs``, ``explore``) and scenario discovery on them (``prim``, ``cart``, ``discovery``);
forecast questions and their proper scores against baselines (``questions``, ``scores``,
``forecasts``). Each runs studies through ``sim.study`` and hands on tidy tables and a folder
with a manifest.
"""
