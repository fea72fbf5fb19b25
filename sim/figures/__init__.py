"""Step 5 of the flow: finished results folders and tables in, paper figures and reports out.

The paper style and provenance stamped on every figure (``style``), the figures of one study
(``plots``, the module notebooks use), of paths (``paths``), of comparisons, sweeps and Sobol
indices (``studies``), of a calibration (``calibration``), the figures a folder can give
(``folders``), the one-page HTML report (``report``) and the documentation gallery (``gallery``).
Figures read tables, never live simulation objects.
"""
