"""The command line, one module per family of commands, over every step of the flow.

``main`` holds the ``sim`` group and the commands of one study (validate, schema, trace, run,
summary); ``compare`` the comparison, sweep and sensitivity commands; ``calibrate`` calibration;
``figures`` plot, report and gallery; ``support`` what they share (options, progress bars, the
one-line errors and exit codes). ``python -m sim`` and the ``sim`` script both run ``main``.
"""
