"""Errors a user can cause and fix, shared by modules that must not import each other.

They live here, apart from the modules that raise them, so that the light modules a worker
process imports (the world, parameter sets) need not import the heavy ones (results tables).
"""


class ResultsError(Exception):
    """A results folder or data file is missing, corrupted or does not match the study."""


class CalibrationError(Exception):
    """A calibration cannot finish within the budget its config sets (the work done is kept)."""
