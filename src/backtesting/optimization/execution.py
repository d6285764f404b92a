"""Runs a batch of tasks on an executor: results as they finish, failures reported, Ctrl-C cancels."""
from __future__ import annotations

import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, Future, as_completed

from src.backtesting.optimization.worker import SweepTask, TaskResult, run_task

PROGRESS_LOG_SECONDS = 30.0


class Progress:
    """A tqdm bar on a terminal, otherwise a line (done, failed, elapsed, ETA) every 30 s and at the end."""

    def __init__(self, total: int, label: str = "sweep", stream=None) -> None:
        self.total = total
        self.label = label
        self.stream = stream or sys.stderr
        self.done = 0
        self.failed = 0
        self.started = time.monotonic()
        self._last_line = self.started
        self._bar = None
        if total and getattr(self.stream, "isatty", lambda: False)():
            from tqdm import tqdm
            self._bar = tqdm(total=total, desc=label, unit="backtest", file=self.stream)

    def update(self, result: TaskResult) -> None:
        self.done += 1
        self.failed += 0 if result.ok else 1
        if self._bar is not None:
            self._bar.set_postfix(failed=self.failed)
            self._bar.update(1)
            return
        now = time.monotonic()
        if now - self._last_line >= PROGRESS_LOG_SECONDS or self.done == self.total:
            self._last_line = now
            print(self.line(), file=self.stream, flush=True)

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        remaining = self.total - self.done
        eta = elapsed / self.done * remaining if self.done else float("nan")
        eta_text = f"{eta:.0f} s" if self.done else "?"
        return (f"{self.label}: {self.done}/{self.total} done, {self.failed} failed, "
                f"elapsed {elapsed:.0f} s, ETA {eta_text}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def run_batch(executor: Executor, tasks: Sequence[SweepTask], on_result: Callable[[TaskResult], None],
              progress: Progress | None = None) -> list[TaskResult]:
    """Every task's result (in task order), each handed to ``on_result`` as soon as it finishes.

    A task that raises in the worker, or whose worker died, becomes a failed result naming the error;
    the other tasks go on. KeyboardInterrupt cancels the tasks not started and propagates.
    """
    futures: dict[Future, SweepTask] = {}
    results: dict[int, TaskResult] = {}
    try:
        for task in tasks:
            futures[executor.submit(run_task, task)] = task
        for future in as_completed(futures):
            task = futures[future]
            try:
                result = future.result()
            except Exception as exc:  # noqa: BLE001 - a worker that died, a task that could not be sent
                result = TaskResult(task.index, task.assignments, task.tag, None, (),
                                    f"{type(exc).__name__}: {str(exc).strip() or 'the worker failed'}")
            results[task.index] = result
            on_result(result)
            if progress is not None:
                progress.update(result)
    except BaseException:
        for future in futures:
            future.cancel()
        raise
    return [results[task.index] for task in tasks]
