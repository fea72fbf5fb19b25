"""Hypothesis profiles: every run, in CI too, draws fresh examples; none is timed.

CI sets ``CI=true`` and gets the ``ci`` profile: a fresh random seed on every run (properties must
hold for every input, not for the examples one run happened to see), no example database (a clean
clone has none), and the seed and a reproduction blob printed with any failure, so a failure seen
once can be replayed with ``pytest --hypothesis-seed=N``. Local runs use ``dev``, which also keeps
the example database. Neither profile has a deadline: speed is measured by ``benchmarks/``, never
by a timed test, and a per-example deadline on a loaded machine fails by chance.
"""

import os

from hypothesis import settings

settings.register_profile("ci", deadline=None, database=None, print_blob=True)
settings.register_profile("dev", deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_report_header(config):
    """Say which hypothesis profile drew the examples, so a CI log shows it."""
    return f"hypothesis profile: {settings.get_current_profile_name()}"
