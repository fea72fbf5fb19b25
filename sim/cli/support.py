"""What every ``sim`` command shares: clean errors for the user's mistakes, and progress bars."""

from __future__ import annotations

import functools
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from sim.errors import CalibrationError
from sim.scenario.loading import ScenarioError
from sim.study.executors import ExecutorError
from sim.study.montecarlo import StudyProgress
from sim.study.results import ResultsError

USER_ERRORS: tuple[type[Exception], ...] = (
    ScenarioError,
    ResultsError,
    ExecutorError,
    CalibrationError,
)
EXIT_USAGE = 2
EXIT_INTERRUPTED = 130

stderr = Console(stderr=True)

WORKERS_OPTION = click.option(
    "--workers",
    "-w",
    type=click.IntRange(min=1),
    default=os.cpu_count() or 1,
    show_default="all cores",
    help="Parallel worker processes.",
)
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

    return wrapper


@contextmanager
def interrupt_hint(file: Path, folder: Path) -> Iterator[None]:
    """On Ctrl-C, say how to resume (finished chunks are on disk) and exit with status 130."""
    try:
        yield
    except KeyboardInterrupt:
        click.echo(
            f"\ninterrupted: finished chunks are kept; continue with "
            f"`sim run {file} --resume {folder}`",
            err=True,
        )
        sys.exit(EXIT_INTERRUPTED)


@contextmanager
def progress_bar(unit: str) -> Iterator[StudyProgress]:
    """A progress bar on stderr (done, rate, time left), shown only on a terminal."""
    bar = Progress(
        TextColumn(f"[bold]{unit}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=stderr,
        disable=not stderr.is_terminal,
    )
    task = bar.add_task(unit, total=None, rate="")
    first = {"done": 0}

    def start(total: int, done: int) -> None:
        first["done"] = done
        bar.update(task, total=total, completed=done)

    def advance(k: int) -> None:
        bar.advance(task, k)
        elapsed = bar.tasks[0].elapsed or 0.0
        if elapsed:
            rate = (bar.tasks[0].completed - first["done"]) / elapsed
            bar.update(task, rate=f"{rate:,.0f}/s")

    with bar:
        yield StudyProgress(start, advance, lambda total: bar.update(task, total=total))
