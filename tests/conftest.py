"""Hypothesis profiles: CI draws the same examples every time, local runs keep exploring.

CI sets ``CI=true`` and gets the ``ci`` profile: derandomized (examples derived from each test's
source, not from the clock), no example database, and the seed printed with any failure, so a
submission's CI cannot pass or fail by chance. Local runs use ``dev``, which draws fresh examples
on every run; a failure found there is kept as an ``@example`` on the test it broke.
"""

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev", print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))


def pytest_report_header(config):
    """Say which hypothesis profile drew the examples, so a CI log shows it."""
    return f"hypothesis profile: {settings.get_current_profile_name()}"
