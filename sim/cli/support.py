"""What every ``sim`` command shares: clean errors for the user's mistakes, and progress bars."""

from __future__ import annotations

import errno
import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from sim.errors import CalibrationError
from sim.scenario.base import horizon_problems
from sim.scenario.loading import ScenarioError
from sim.scenario.problems import Problem
from sim.scenario.schema import Scenario
from sim.study.executors import DEFAULT_WORKERS, ExecutorError, StudyFault
from sim.study.folder import MODELS
from sim.study.progress import StudyProgress, terminal_bar
from sim.study.results import MANIFEST, ResultsError
from sim.study.stopping import TargetError, parse_target


class OptionError(Exception):
    """A command-line option that cannot be honoured (an output folder that cannot be written)."""


USER_ERRORS: tuple[type[Exception], ...] = (
    ScenarioError,
    ResultsError,
    ExecutorError,
    CalibrationError,
    OptionError,
)
PATH_ERRORS = {errno.ENOTDIR, errno.EISDIR, errno.EEXIST, errno.EACCES, errno.EPERM, errno.EROFS}
"""Errors of a path the user gave (a folder below a file, one that cannot be written)."""
EXIT_FAULT = 1
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

MAX_REPLICATIONS = 10_000_000
"""The most replications one study may plan (``-n``, ``--max-n``): about four and a half hours
on 2 cores at the April scenario's 644 replications per second (benchmarks/README.md); a plan of
10**15 ran out of memory before its first replication."""


stderr = Console(stderr=True)

WORKERS_OPTION = click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=DEFAULT_WORKERS,
    show_default="all cores",
    help="Parallel worker processes.",
)


def replications_option(*names: str, default: int, help: str) -> Callable:
    """An option for a number of replications, from 1 to ``MAX_REPLICATIONS``."""
    return click.option(
        *names,
        type=click.IntRange(min=1, max=MAX_REPLICATIONS),
        default=default,
        show_default=True,
        help=f"{help} At most {MAX_REPLICATIONS:,}.",
    )


def calibration_config_option(help: str) -> Callable:
    """``--config``: a calibration config file (``sim calibrate``, ``sim score --loo``), the
    shipped one unless given."""
    return click.option(
        "--config",
        "config_path",
        type=click.Path(path_type=Path, exists=True, dir_okay=False),
        default=Path("calibration/calibrate.yaml"),
        show_default=True,
        help=help,
    )


class PrecisionTarget(click.ParamType):
    """A ``--until-ci`` target: ``0.01``, ``10%``, ``rung>=5:0.005`` (``sim.study.stopping``);
    converted to its canonical text."""

    name = "[rung>=R:]WIDTH[%]"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> str:
        try:
            return parse_target(value).text
        except TargetError as exc:
            self.fail(str(exc), param, ctx)


EXECUTOR_OPTION = click.option(
    "--executor",
    type=click.Choice(["process", "serial", "dask"]),
    default="process",
    show_default=True,
    help="Where chunks run; results are identical on every one.",
)


def user_errors(command: Callable[..., Any]) -> Callable[..., Any]:
    """Turn the user's mistakes into clear messages on stderr and exit status 2 (no traceback)."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return command(*args, **kwargs)
        except USER_ERRORS as exc:
            text = str(exc) if isinstance(exc, ScenarioError) else f"error: {exc}"
            click.echo(text, err=True)
            sys.exit(EXIT_USAGE)
        except OSError as exc:
            if exc.errno not in PATH_ERRORS:
                raise
            click.echo(f"error: {exc.filename or ''}: {exc.strerror}", err=True)
            sys.exit(EXIT_USAGE)

    return wrapper


def report_console() -> Console:
    """A console for result tables on stdout: fitted to a terminal, never cut when piped (a
    file gets every column whole however wide)."""
    console = Console()
    return console if console.is_terminal else Console(width=100_000)


def percent(share: float) -> str:
    """A share (0-1) as a whole percentage, never ``-0%``."""
    return f"{round(100 * float(share)) + 0}%"


def check_output_folder(path: Path, option: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be made or written to."""
    existing = path
    while not existing.exists() and existing.parent != existing:
        existing = existing.parent
    if not existing.is_dir():
        raise OptionError(f"{option} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise OptionError(f"{option} {path}: {existing} is not writable")


def check_runnable(scenario: Scenario, source: str | Path) -> None:
    """Refuse a scenario that no run could honour: an opening on or after the horizon or a
    resupply so frequent that a run never ends. The schema refuses both when it validates
    (``sim.scenario.base.horizon_problems``); this asks the same check again for a scenario
    object that skipped validation (``model_copy(update=...)``, ``model_construct``)."""
    problems = [
        Problem(str(source), None, ".".join(map(str, loc)), message)
        for loc, message, _ in horizon_problems(scenario)
    ]
    if problems:
        raise ScenarioError(problems)


@contextmanager
def study_faults(folder: Path, continue_with: str) -> Iterator[None]:
    """Ctrl-C, a killed worker, a lost scheduler, a full disk: one line on stderr saying what
    happened, whether finished work is kept in ``folder``, and how to go on (``continue_with``,
    or the same command when nothing had finished); exit 130 on Ctrl-C, 1 on the others (no
    traceback)."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: {_what_is_kept(folder, continue_with)}", err=True)
        sys.exit(EXIT_INTERRUPTED)
    except StudyFault as exc:
        click.echo(f"\nerror: {exc}; {_what_is_kept(folder, continue_with)}", err=True)
        sys.exit(EXIT_FAULT)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
        how = _what_is_kept(folder, f"{continue_with} once space is freed")
        click.echo(f"\nerror: disk full writing {exc.filename or folder}; {how}", err=True)
        sys.exit(EXIT_FAULT)


def _what_is_kept(folder: Path, continue_with: str) -> str:
    """After a study stopped: a study keeps its folder when a chunk had finished (and removes
    what it had made when none had); a comparison or sweep keeps each setting's study that
    had begun, whose manifest is in a subfolder (``models/`` holds only the copies)."""
    begun = [p for p in folder.glob(f"*/{MANIFEST}") if p.parent.name != MODELS]
    if (folder / MANIFEST).is_file() or begun:
        return f"finished work is kept in {folder}; {continue_with}"
    return "nothing had finished, so nothing is kept; run the same command again"


@contextmanager
def progress_bar(unit: str) -> Iterator[StudyProgress]:
    """A progress bar on stderr, shown only on a terminal:
    ``replications ━━━━ 300/2000 15% 812/s 0:00:03 elapsed, 0:00:10 left``."""
    with terminal_bar(unit, stderr) as progress:
        yield progress
