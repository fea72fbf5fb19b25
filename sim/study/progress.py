"""Progress of a long study, shown where someone is watching: a bar on a terminal's stderr, or
a bar in a Jupyter notebook's output cell; nothing in a pipe, a log or a batch job.

A study reports through ``StudyProgress`` callbacks (replications planned, done, and a larger
plan when ``until_ci`` extends it); ``study_progress`` picks the display. The notebook bar is one
display updated in place (``IPython.display`` with a display id: an HTML ``<progress>`` bar, and
plain text for front ends without HTML), so it needs neither ipywidgets nor a terminal.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

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

NOTEBOOK_REFRESH_SECONDS = 0.25
"""Least time between two updates of a notebook bar (each is a message to the front end)."""


@dataclass
class StudyProgress:
    """Callbacks a caller may pass to watch a study (a progress bar, a log)."""

    start: Callable[[int, int], None] = lambda total, done: None
    advance: Callable[[int], None] = lambda replications: None
    extend: Callable[[int], None] = lambda total: None


def in_notebook() -> bool:
    """Whether this process is a Jupyter kernel (a notebook, JupyterLab, Colab, VS Code's)."""
    ipython = sys.modules.get("IPython")
    shell = ipython.get_ipython() if ipython is not None else None
    return shell is not None and (
        type(shell).__name__ == "ZMQInteractiveShell" or "google.colab" in type(shell).__module__
    )


@contextmanager
def study_progress(unit: str, show: bool = True, terminal: bool = True) -> Iterator[StudyProgress]:
    """A progress display for a study counting ``unit``: a notebook bar in a Jupyter kernel,
    with ``terminal`` a bar on stderr when it is a terminal, else none (and none unless
    ``show``)."""
    if show and in_notebook():
        yield NotebookBar(unit).progress()
    elif show and terminal:
        with terminal_bar(unit, Console(stderr=True)) as progress:
            yield progress
    else:
        yield StudyProgress()


@contextmanager
def terminal_bar(unit: str, console: Console) -> Iterator[StudyProgress]:
    """A progress bar on ``console``, shown only when it is a terminal:
    ``replications ━━━━ 300/2000 15% 812/s 0:00:03 elapsed, 0:00:10 left``."""
    bar = Progress(
        TextColumn(f"[bold]{unit}"),
        BarColumn(),
        MofNCompleteColumn(),
        TaskProgressColumn(),
        TextColumn("{task.fields[rate]}"),
        TimeElapsedColumn(),
        TextColumn("elapsed,"),
        TimeRemainingColumn(),
        TextColumn("left"),
        console=console,
        disable=not console.is_terminal,
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


def _clock(seconds: float) -> str:
    minutes, second = divmod(round(seconds), 60)
    return f"{minutes // 60}:{minutes % 60:02d}:{second:02d}"


class NotebookBar:
    """A bar in a notebook's output cell, updated in place as replications finish."""

    def __init__(self, unit: str) -> None:
        self.unit, self.total, self.done, self.first = unit, 0, 0, 0
        self.began = self.shown = time.monotonic()
        self.handle = None

    def progress(self) -> StudyProgress:
        return StudyProgress(self.start, self.advance, self.extend)

    def start(self, total: int, done: int) -> None:
        self.total, self.done, self.first = total, done, done
        self._show(force=True)

    def advance(self, replications: int) -> None:
        self.done += replications
        self._show(force=self.done >= self.total)

    def extend(self, total: int) -> None:
        self.total = total
        self._show(force=True)

    def text(self) -> str:
        """``replications 300/2,000 15% 812/s 0:00:03 elapsed, 0:00:10 left``."""
        elapsed = time.monotonic() - self.began
        rate = (self.done - self.first) / elapsed if elapsed > 0 else 0.0
        share = self.done / self.total if self.total else 0.0
        left = (self.total - self.done) / rate if rate > 0 else None
        return (
            f"{self.unit} {self.done:,}/{self.total:,} {share:.0%} {rate:,.0f}/s "
            f"{_clock(elapsed)} elapsed, {'-:--:--' if left is None else _clock(left)} left"
        )

    def _show(self, force: bool) -> None:
        from IPython.display import display

        now = time.monotonic()
        if not force and now - self.shown < NOTEBOOK_REFRESH_SECONDS:
            return
        self.shown, text = now, self.text()
        html = (
            f'<progress value="{self.done}" max="{max(self.total, 1)}" '
            f'style="width: 24em"></progress> <code>{text}</code>'
        )
        bundle = {"text/plain": text, "text/html": html}
        if self.handle is None:
            self.handle = display(bundle, raw=True, display_id=True)
        else:
            self.handle.update(bundle, raw=True)
