"""The one seam between a sweep and where its tasks run: a ``concurrent.futures.Executor``.

``serial``: in this process, one task after the other (for measurements and debugging).
``pool`` (default): a local ``ProcessPoolExecutor`` with the ``spawn`` start method (the same on
Linux, macOS and Windows; each worker sets itself up from scratch).
``dask``: ``--scheduler tcp://host:8786``; ``distributed.Client.get_executor()`` is a standard
Executor, so the sweep code is the same. Needs the optional extra ``dask``.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass

from src.backtesting.optimization.worker import worker_initializer
from src.core.config.errors import UserInputError


def default_workers() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not on Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True)
class ExecutorChoice:
    kind: str  # serial | pool | dask
    workers: int = 1
    scheduler: str | None = None

    def describe(self) -> str:
        if self.kind == "dask":
            return f"Dask cluster at {self.scheduler}"
        if self.kind == "serial":
            return "this process, one task at a time"
        return f"local process pool, {self.workers} workers"


class SerialExecutor(Executor):
    """Runs each task when submitted, in this process."""

    def submit(self, fn, /, *args, **kwargs) -> Future:
        future: Future = Future()
        if future.set_running_or_notify_cancel():
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as exc:  # noqa: BLE001 - delivered through the future
                if isinstance(exc, KeyboardInterrupt):
                    raise
                future.set_exception(exc)
        return future


class _WorkerPool(ProcessPoolExecutor):
    """Workers start with Ctrl-C ignored. ``worker_initializer`` ignores it too, but only once the worker has
    imported its way there: a Ctrl-C in that first second (a terminal sends it to the whole process group)
    printed a worker's KeyboardInterrupt traceback under the sweep's one-line message. An ignored signal stays
    ignored across spawn's exec, and Python then leaves it so."""

    def _spawn_process(self):  # ProcessPoolExecutor's own hook (3.9+), called where a worker is started
        if threading.current_thread() is not threading.main_thread():
            return super()._spawn_process()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            return super()._spawn_process()
        finally:
            signal.signal(signal.SIGINT, previous)


@contextmanager
def open_executor(choice: ExecutorChoice) -> Iterator[Executor]:
    if choice.kind == "serial":
        yield SerialExecutor()
        return
    if choice.kind == "pool":
        pool = _WorkerPool(max_workers=choice.workers, mp_context=multiprocessing.get_context("spawn"),
                           initializer=worker_initializer)
        try:
            yield pool
        except BaseException:
            terminate_pool(pool)
            raise
        else:
            pool.shutdown(wait=True)
        return
    if choice.kind == "dask":
        client = _dask_client(choice.scheduler)
        try:
            yield client.get_executor(pure=False)
        finally:
            client.close(timeout=10)
        return
    raise ValueError(f"unknown executor kind {choice.kind!r}")


def terminate_pool(pool: ProcessPoolExecutor) -> None:
    """Cancel what has not started and end the workers now (Python 3.11 has no terminate_workers)."""
    processes = list((getattr(pool, "_processes", None) or {}).values())
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
            process.join(timeout=5)


def _dask_client(scheduler: str | None):
    try:
        from distributed import Client
    except ImportError:
        raise UserInputError("--scheduler needs Dask: pip install 'vol-strategy-framework[dask]' "
                             "(dask[distributed])") from None
    try:
        return Client(scheduler, timeout="15s")
    except (OSError, TimeoutError) as exc:
        raise UserInputError(f"--scheduler {scheduler}: cannot reach the Dask scheduler ({exc})") from None
