"""Where chunks of replications run: in this process, in a process pool, or on Dask distributed.

Every executor maps a function over tasks and yields results as they finish, in any order; the
caller writes each result as it arrives. At most twice as many tasks as workers are in flight, so a
slow writer never lets results pile up in memory.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import multiprocessing.resource_tracker
import os
import signal
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from itertools import islice
from typing import Any, Protocol


class ExecutorError(Exception):
    """An executor cannot be used as asked (for example Dask is not installed)."""


class Executor(Protocol):
    """Runs ``fn(*task)`` for every task, yielding results as they complete."""

    def imap(self, fn: Callable[..., Any], tasks: list[tuple]) -> Iterator[Any]: ...

    def __enter__(self) -> Executor: ...

    def __exit__(self, *exc: object) -> None: ...


class SerialExecutor:
    """Everything in this process, in order: the simplest and the easiest to debug."""

    def imap(self, fn: Callable[..., Any], tasks: list[tuple]) -> Iterator[Any]:
        for task in tasks:
            yield fn(*task)

    def __enter__(self) -> SerialExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        return None


def _start_forkserver_deaf_to_ctrl_c() -> None:
    """Start the forkserver (if not yet running) with Ctrl-C blocked, so that its workers are too.

    Ctrl-C reaches every process of the terminal's group. A worker waiting for its next task
    would die of it with a traceback on the user's terminal. Its initializer ignores Ctrl-C, but
    a worker is born with Python's default handler and runs its initializer only after
    unpickling its start-up data: a Ctrl-C in those milliseconds killed it (it broke the pool in
    CI). A blocked signal mask survives the forkserver's exec and every fork from it, so a
    worker holds Ctrl-C pending from birth until its initializer ignores it. The resource
    tracker is started first because starting it unblocks Ctrl-C in this thread.
    """
    multiprocessing.resource_tracker.ensure_running()
    blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, blocked)


def _start_worker() -> None:
    """In a pool worker: leave Ctrl-C to the driver, and exit when the driver is gone.

    Ignoring Ctrl-C, the worker finishes its chunk while the driver cancels the rest and shuts
    the pool down. A Ctrl-C held pending since birth is discarded when unblocked.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    _exit_with_parent()


def _exit_with_parent() -> None:
    """In a pool worker: exit as soon as the process that made the pool is gone.

    Without this, a driver killed with ``kill -9`` leaves its workers waiting forever for work
    (they hold both ends of the task queue, so they never see it close). The parent's sentinel
    becomes readable when the parent exits, however it exits.
    """
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        multiprocessing.connection.wait([parent.sentinel])
        os._exit(1)

    threading.Thread(target=watch, name="exit-with-parent", daemon=True).start()


class ProcessExecutor:
    """A local process pool (forkserver: workers start clean, whatever threads this one has).

    Workers leave Ctrl-C to this process, and exit by themselves when it dies, even by
    ``kill -9``.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sim.study.chunks"])
        _start_forkserver_deaf_to_ctrl_c()
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_start_worker
        )

    def imap(self, fn: Callable[..., Any], tasks: list[tuple]) -> Iterator[Any]:
        pending: set[Future] = set()
        queue = iter(tasks)
        for task in queue:
            pending.add(self.pool.submit(fn, *task))
            if len(pending) >= 2 * self.workers:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
                task = next(queue, None)
                if task is not None:
                    pending.add(self.pool.submit(fn, *task))

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


# Dask's defaults favour watching a cluster over simulating on it. Each of these, on a local
# cluster's workers, costs this simulator speed (benchmarks/README.md, "Dask"):
#   - MALLOC_TRIM_THRESHOLD_=65536 hands memory back to the system sooner, but any fixed value
#     stops glibc from raising its mmap threshold, and the many short-lived small arrays of a
#     replication then cost about 30% of the speed (a worker of a study holds a few MiB);
#   - the statistical profiler samples the running task's stack every 10 ms (for a dashboard,
#     which a local cluster here does not start), and the event-loop health check runs every
#     20 ms; together about 10%.
# docs/tutorial-dask.md says how to give workers started by hand the same settings.
LOCAL_CLUSTER_CONFIG = {
    "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_": None,
    "distributed.worker.profile.enabled": False,
    "distributed.admin.tick.interval": "1s",
}


TASKS_PER_DASK_TASK = 4
"""Chunks run by one Dask task. Each Dask task costs the scheduler and client about 10 ms (on
the driver's cores); a chunk of 100 replications takes about 0.3 s, so four make a task of about
a second and cut that cost to a few per cent (benchmarks/README.md, "Dask")."""


class DaskExecutor:
    """Dask distributed: a LocalCluster by default, or an existing scheduler by address.

    A task whose worker dies is retried (up to three times) on another worker, so a lost worker
    costs only the chunks it was running (at most ``TASKS_PER_DASK_TASK``).
    """

    def __init__(self, workers: int, scheduler: str | None) -> None:
        _require_dask()
        import dask
        from distributed import Client, LocalCluster

        self.workers = workers
        self.cluster = None
        if scheduler is None:
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self.cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
            self.client = Client(self.cluster)
        else:
            self.client = Client(scheduler)
            self.workers = max(1, len(self.client.scheduler_info().get("workers", {})))

    def imap(self, fn: Callable[..., Any], tasks: list[tuple]) -> Iterator[Any]:
        from distributed import as_completed

        queue = batches(tasks, self.workers)
        first = [self._submit(fn, batch) for batch in islice(queue, 2 * self.workers)]
        running = as_completed(first)
        for future in running:
            yield from future.result()
            future.release()
            batch = next(queue, None)
            if batch is not None:
                running.add(self._submit(fn, batch))

    def _submit(self, fn: Callable[..., Any], batch: list[tuple]) -> Any:
        return self.client.submit(run_batch, fn, batch, retries=3, pure=False)

    def __enter__(self) -> DaskExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.client.close()
        if self.cluster is not None:
            self.cluster.close()


def batches(tasks: list[tuple], workers: int) -> Iterator[list[tuple]]:
    """``tasks`` in order, in groups of ``TASKS_PER_DASK_TASK`` but for the last
    ``4 * workers``, which go alone so that the workers finish together."""
    alone = max(0, len(tasks) - 4 * workers)
    for start in range(0, alone, TASKS_PER_DASK_TASK):
        yield tasks[start : min(start + TASKS_PER_DASK_TASK, alone)]
    for task in tasks[alone:]:
        yield [task]


def run_batch(fn: Callable[..., Any], batch: list[tuple]) -> list[Any]:
    """``fn(*task)`` for each task of ``batch``, in order (one Dask task)."""
    return [fn(*task) for task in batch]


def _require_dask() -> None:
    try:
        import dask  # noqa: F401
        import distributed  # noqa: F401
    except ImportError:
        raise ExecutorError(
            "the Dask executor needs Dask distributed: pip install 'escalation-sim[dask]' "
            "(from a source tree: pip install -e '.[dask]')"
        ) from None


def check_executor(kind: str, scheduler: str | None = None) -> None:
    """Refuse an executor that cannot be made, before a study opens its folder."""
    if kind not in ("serial", "process", "dask"):
        raise ExecutorError(f"unknown executor {kind!r}; use serial, process or dask")
    if scheduler and kind != "dask":
        raise ExecutorError(f"a scheduler address needs the dask executor, not {kind!r}")
    if kind == "dask":
        _require_dask()


def make_executor(kind: str, workers: int, scheduler: str | None = None) -> Executor:
    """``serial``, ``process`` (one worker runs serially) or ``dask``."""
    check_executor(kind, scheduler)
    if kind == "dask":
        return DaskExecutor(workers, scheduler)
    if kind == "serial" or workers <= 1:
        return SerialExecutor()
    return ProcessExecutor(workers)
