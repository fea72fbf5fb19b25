"""Discrete-event escalation simulator: the documented Python API.

Data flows one way, and each step is a subpackage that imports only from the steps before it:
``sim.scenario`` (YAML -> ``Scenario``) -> ``sim.model`` (SimPy world -> one run's event log) ->
``sim.study`` (Monte Carlo -> results folder) -> ``sim.analysis`` (comparisons, sweeps,
sensitivity) -> ``sim.figures`` (paper figures, report); ``sim.calibration`` fits the model beside
the flow, and ``sim.cli`` is the command line. A notebook needs only ``import sim``,
``from sim import plots`` and ``from sim.compare import Setting, compare``: these names stay put
whatever moves inside the steps.
"""

import ast
import sys
import tempfile
from pathlib import Path
from types import FrameType

from sim.study import DEFAULT_N
from sim.study import PACKAGE_VERSION as __version__
from sim.study.executors import DEFAULT_WORKERS

__all__ = [
    "DEFAULT_N",
    "DEFAULT_WORKERS",
    "MissingMainGuard",
    "__version__",
    "load_results",
    "load_scenario",
    "refuse_unguarded_main",
    "run",
]


def run(
    scenario,
    n: int | None = None,
    *,
    seed: int | None = None,
    workers: int = DEFAULT_WORKERS,
    out=None,
    **options,
):
    """Run a Monte Carlo study of ``scenario`` (a path or a ``Scenario``) and return its results.

    ``n`` replications (default ``DEFAULT_N``, 2,000; when resuming, the study's own) on
    ``workers`` processes (default ``DEFAULT_WORKERS``: all cores, as ``sim run``). ``out`` is
    the results folder; without it the study goes to a temporary folder that is removed when the
    returned ``Results`` object is garbage-collected (or Python exits): pass ``out=`` to keep it.

    ``options`` are those of ``sim.study.montecarlo.run_study`` (``executor``, ``chunk_size``,
    ``until_ci``, ``resume`` ...). ``results.runs`` and ``results.events`` are pandas DataFrames and
    ``results.summary()`` gives the same tables as ``sim run``.
    """
    from sim.study.montecarlo import run_study

    refuse_unguarded_main(options.get("executor", "process"), workers, options.get("scheduler"))
    _refuse_what_no_run_honours(scenario, n, options)
    if out is not None:
        return run_study(scenario, n=n, seed=seed, workers=workers, out=out, **options)
    if options.get("resume"):
        raise ValueError("resume=True needs out=, the folder of the study to finish")
    temporary = tempfile.TemporaryDirectory(prefix="sim-study-")
    try:
        results = run_study(
            scenario, n=n, seed=seed, workers=workers, out=temporary.name, **options
        )
    except BaseException:
        temporary.cleanup()
        raise
    results.temporary_folder = temporary  # removed with the Results object
    return results


def _refuse_what_no_run_honours(scenario, n: int | None, options: dict) -> None:
    """Refuse, before a folder is made, what ``sim run`` refuses too: more than
    ``MAX_REPLICATIONS`` replications, an opening after the horizon, a resupply that never ends
    the run (``ValueError``, ``ScenarioError``)."""
    from sim.cli.support import MAX_REPLICATIONS, check_runnable
    from sim.scenario.levers import load_with_overrides
    from sim.scenario.schema import Scenario

    for name, value in (("n", n), ("max_n", options.get("max_n"))):
        if value is not None and value > MAX_REPLICATIONS:
            raise ValueError(f"{name} must be at most {MAX_REPLICATIONS:,}, got {value:,}")
    if isinstance(scenario, Scenario):
        check_runnable(scenario, "<python object>")
    else:
        check_runnable(load_with_overrides(scenario, options.get("overrides", ())), scenario)


def load_scenario(path):
    """Read and validate a scenario file (see ``sim.scenario.loading.load_scenario``)."""
    from sim.scenario.loading import load_scenario as load

    return load(path)


def load_results(folder):
    """Open a finished results folder (see ``sim.study.results.Results``)."""
    from sim.study.results import Results

    return Results(folder)


class MissingMainGuard(SystemExit):
    """Worker processes would be started by a script's top-level code.

    Each worker imports the script that started it and would run that code again, and start
    workers of its own. A ``SystemExit`` so that Python prints this one line, no traceback.
    """


def refuse_unguarded_main(kind: str, workers: int, scheduler: str | None = None) -> None:
    """Raise ``MissingMainGuard`` if worker processes would start from a script's top-level code
    outside ``if __name__ == "__main__":``.

    Each worker process imports the main script again, as multiprocessing does: by path, or by
    module name unless it is a package's ``__main__``. A notebook, ``python -c`` or a REPL has
    no script to import, and a study in this process starts no workers.
    """
    starts_processes = (kind == "process" and workers > 1) or (kind == "dask" and not scheduler)
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    name = getattr(getattr(main, "__spec__", None), "name", None) or ""
    if not starts_processes or path is None or name.rpartition(".")[2] == "__main__":
        return
    line = _main_script_line()
    if line is None or _guarded(Path(path), line):
        return
    raise MissingMainGuard(
        f"error: {path}:{line}: worker processes import this script and would run this line "
        f'again; put the code that runs studies under `if __name__ == "__main__":`'
    )


def _main_script_line() -> int | None:
    """The line of the main script's top-level code that is running now."""
    frame: FrameType | None = sys._getframe()
    while frame is not None:
        if frame.f_code.co_name == "<module>" and frame.f_globals.get("__name__") == "__main__":
            return frame.f_lineno
        frame = frame.f_back
    return None


def _guarded(path: Path, line: int) -> bool:
    """Whether ``line`` of ``path`` is inside an ``if __name__ == "__main__":`` block (or the
    source cannot be read: then nothing is refused)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return True
    tests = {'__name__ == "__main__"', '"__main__" == __name__'}
    return any(
        isinstance(node, ast.If)
        and ast.unparse(node.test).replace("'", '"') in tests
        and node.body[0].lineno <= line <= (node.body[-1].end_lineno or line)
        for node in ast.walk(tree)
    )
