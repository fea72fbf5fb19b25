"""Where chunks of replications run: in this process, in a process pool, or on Dask distributed.

Every executor maps a function over tasks and yields results as they finish, in any order; the
caller writes each result as it arrives. At most twice as many tasks as workers are in flight, so a
slow writer never lets results pile up in memory.
"""

from __future__ import annotations

import logging
import multiprocessing
import multiprocessing.connection
import multiprocessing.forkserver
import multiprocessing.process
import multiprocessing.resource_tracker
import os
import signal
import socket
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from itertools import islice
from typing import Any, Protocol

DEFAULT_WORKERS = os.cpu_count() or 1
"""Worker processes of a study when none are asked for: all cores, for ``sim run`` and
``sim.run`` alike."""

DASK_CONNECT_SECONDS = 10.0
"""How long to try reaching a Dask scheduler given by address before saying it does not answer."""

DASK_WORKER_WAIT_SECONDS = 60.0
"""How long a study waits for a first worker to join a Dask scheduler with none (seconds);
the environment variable ``SIM_DASK_WORKER_WAIT`` sets another."""

DASK_SCHEMES = ("tcp", "tls", "ucx", "ws", "wss", "inproc")


class ExecutorError(Exception):
    """An executor cannot be used as asked (for example Dask is not installed)."""


class StudyFault(Exception):
    """A study stopped by a fault outside the model (a worker killed, the scheduler lost).

    The chunks finished before it are on disk, so the same study can be resumed.
    """


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
    ``kill -9``. A worker killed from outside (the out-of-memory killer's SIGKILL) ends the
    study with a ``StudyFault`` naming it; the chunks written before are kept.
    """

    def __init__(self, workers: int) -> None:
        self.workers = workers
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["sim.study.chunks"])
        _start_forkserver_deaf_to_ctrl_c()
        self.pool = ProcessPoolExecutor(
            max_workers=workers, mp_context=context, initializer=_start_worker
        )
        self.started: dict[int, multiprocessing.process.BaseProcess] = {}

    def imap(self, fn: Callable[..., Any], tasks: list[tuple]) -> Iterator[Any]:
        try:
            yield from self._imap(fn, tasks)
        except BrokenProcessPool:
            self.pool.shutdown(wait=True, cancel_futures=True)
            raise StudyFault(_which_worker_died(self.started)) from None

    def _imap(self, fn: Callable[..., Any], tasks: list[tuple]) -> Iterator[Any]:
        pending: set[Future] = set()
        queue = iter(tasks)
        for task in queue:
            pending.add(self._submit(fn, task))
            if len(pending) >= 2 * self.workers:
                break
        while pending:
            finished, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in finished:
                yield future.result()
                task = next(queue, None)
                if task is not None:
                    pending.add(self._submit(fn, task))

    def _submit(self, fn: Callable[..., Any], task: tuple) -> Future:
        """Submit one task, and remember the pool's worker processes (it starts them on demand)
        so that a dead one can be named."""
        future = self.pool.submit(fn, *task)
        self.started.update(self.pool._processes or {})
        return future

    def __enter__(self) -> ProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)


def _which_worker_died(workers: dict[int, multiprocessing.process.BaseProcess]) -> str:
    """One line naming the worker that died first, by pid and signal when known.

    When one worker dies the pool stops the others with SIGTERM, so the culprit is the one that
    ended otherwise.
    """
    ended = {pid: p.exitcode for pid, p in workers.items() if p.exitcode not in (None, 0)}
    culprits = {pid: c for pid, c in ended.items() if c != -signal.SIGTERM} or ended
    if not culprits:
        return "a worker process died"
    pid, code = min(culprits.items())
    if code < 0:
        name = signal.Signals(-code).name
        hint = ", as the out-of-memory killer does" if name == "SIGKILL" else ""
        return f"worker process {pid} was killed by signal {-code} ({name}{hint})"
    return f"worker process {pid} exited with status {code}"


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
    costs only the chunks it was running (at most ``TASKS_PER_DASK_TASK``). A scheduler with no
    worker is waited for ``DASK_WORKER_WAIT_SECONDS``; a scheduler lost mid-study ends it with a
    ``StudyFault`` (the chunks written before are kept).
    """

    def __init__(self, workers: int, scheduler: str | None) -> None:
        _require_dask()
        import dask
        from distributed import Client, LocalCluster

        self.workers = workers
        self.cluster = None
        self.address = scheduler or "a local cluster"
        if scheduler is None:
            with dask.config.set(LOCAL_CLUSTER_CONFIG):
                self.cluster = LocalCluster(
                    n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
                )
            self.client = Client(self.cluster)
            return
        _quiet_client_log()
        try:
            self.client = Client(scheduler, timeout=DASK_CONNECT_SECONDS)
        except (OSError, TimeoutError) as exc:
            raise StudyFault(f"Dask scheduler {scheduler}: cannot connect ({exc})") from None
        self.workers = self._wait_for_workers(scheduler)

    def _wait_for_workers(self, scheduler: str) -> int:
        """The scheduler's number of workers, once at least one has joined (bounded wait)."""
        seconds = dask_worker_wait()
        try:
            self.client.wait_for_workers(1, timeout=seconds)
        except (OSError, TimeoutError):
            self.client.close()
            raise StudyFault(
                f"no worker joined the Dask scheduler {scheduler} within {seconds:g} s; start "
                f"one (dask worker {scheduler}) or wait longer (SIM_DASK_WORKER_WAIT=SECONDS)"
            ) from None
        return max(1, len(self.client.scheduler_info().get("workers", {})))

    def imap(self, fn: Callable[..., Any], tasks: list[tuple]) -> Iterator[Any]:
        try:
            yield from self._imap(fn, tasks)
        except Exception as exc:
            if self.client.status == "running" and not isinstance(exc, _lost_connection_errors()):
                raise
            raise StudyFault(
                f"lost the connection to the Dask scheduler ({self.address}; {type(exc).__name__})"
            ) from None

    def _imap(self, fn: Callable[..., Any], tasks: list[tuple]) -> Iterator[Any]:
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
        self.client.close(timeout=DASK_CONNECT_SECONDS)
        if self.cluster is not None:
            self.cluster.close()


def _quiet_client_log() -> None:
    """Leave a lost scheduler to the study's one-line error: the client would log its attempts
    to reconnect, and the closed connection's traceback, on stderr as well."""
    for name in ("distributed", "distributed.client", "distributed.batched", "distributed.core"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def _lost_connection_errors() -> tuple[type[BaseException], ...]:
    """What a client raises for a future when its scheduler is gone."""
    from concurrent.futures import CancelledError

    from distributed.client import FutureCancelledError
    from distributed.comm import CommClosedError

    return (CancelledError, FutureCancelledError, CommClosedError, OSError)


def dask_worker_wait() -> float:
    """Seconds to wait for a first Dask worker: ``SIM_DASK_WORKER_WAIT`` or the default."""
    text = os.environ.get("SIM_DASK_WORKER_WAIT", "")
    if not text:
        return DASK_WORKER_WAIT_SECONDS
    try:
        seconds = float(text)
    except ValueError:
        seconds = float("nan")
    if not 0 < seconds < float("inf"):
        raise ExecutorError(
            f"SIM_DASK_WORKER_WAIT: expected seconds (a positive number), not {text!r}"
        )
    return seconds


def check_scheduler(address: str) -> None:
    """Refuse a Dask scheduler address that is malformed or where nothing answers, at once
    (Dask itself retries for 30 s, then raises a traceback)."""
    scheme, separator, location = address.partition("://")
    if not separator:
        scheme, location = "tcp", address
    if scheme not in DASK_SCHEMES:
        raise ExecutorError(
            f"Dask scheduler {address}: unknown address scheme {scheme!r}; give tcp://HOST:PORT"
        )
    if scheme not in ("tcp", "tls"):
        return
    host, _, port = location.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ExecutorError(f"Dask scheduler {address}: give it as {scheme}://HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), DASK_CONNECT_SECONDS).close()
    except OSError as exc:
        reason = exc.strerror or str(exc) or type(exc).__name__
        raise ExecutorError(f"Dask scheduler {address}: nothing answers there ({reason})") from None


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
        dask_worker_wait()
        if scheduler:
            check_scheduler(scheduler)


def make_executor(kind: str, workers: int, scheduler: str | None = None) -> Executor:
    """``serial``, ``process`` (one worker runs serially) or ``dask``."""
    check_executor(kind, scheduler)
    if kind == "dask":
        return DaskExecutor(workers, scheduler)
    if kind == "serial" or workers <= 1:
        return SerialExecutor()
    return ProcessExecutor(workers)
