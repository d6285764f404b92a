"""Saves a strategy's state every interval when it changed, on stop, and on SIGTERM/SIGINT.

The caller drives it: ``tick(now)`` from its own loop (``on_bars`` or a timer),
with ``now`` from the clock of its choice (monotonic seconds by default), so tests
pass time in. ``start()`` runs the same ticks on a background thread for callers
that have no loop of their own.

Change detection compares the sha256 of the serialized state with the last one
saved, so an unchanged state costs one serialization and no write. A failed save
(database down) is logged and retried at the next interval; it never raises into
the caller's loop.
"""
from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterable
from types import FrameType
from typing import Protocol

from src.strategy.infrastructure.persistence.state_repository import PreparedState

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_SECONDS = 60.0
HANDLED_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class StateSaver(Protocol):
    """What the service needs of a StateRepository."""

    def prepare(self, state: dict) -> PreparedState: ...

    def save_prepared(self, strategy_name: str, prepared: PreparedState) -> None: ...


class AutoSaveService:
    def __init__(self, repository: StateSaver, strategy_name: str, state_provider: Callable[[], dict],
                 interval_seconds: float = DEFAULT_INTERVAL_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if not isinstance(interval_seconds, (int, float)) or interval_seconds <= 0:
            raise ValueError(f"interval_seconds must be a number > 0, got {interval_seconds!r}")
        if not isinstance(strategy_name, str) or not strategy_name.strip():
            raise ValueError(f"a strategy name must be a non-empty string, got {strategy_name!r}")
        self._repository = repository
        self._strategy_name = strategy_name
        self._state_provider = state_provider
        self._interval = float(interval_seconds)
        self._clock = clock
        self._lock = threading.Lock()
        self._saving_thread: int | None = None
        self._pending_signal: tuple[int, FrameType | None] | None = None
        self._next_check: float | None = None
        self._last_checksum: str | None = None
        self._saves = 0
        self._last_error: str | None = None
        self._stopped = threading.Event()
        self._thread: threading.Thread | None = None
        self._previous_handlers: dict[int, object] = {}

    @property
    def saves(self) -> int:
        """How many snapshots this service has written."""
        return self._saves

    @property
    def last_error(self) -> str | None:
        return self._last_error

    def tick(self, now: float | None = None) -> bool:
        """Save when an interval has passed since the last check and the state changed; True when saved."""
        now = self._clock() if now is None else now
        if self._next_check is None:
            self._next_check = now + self._interval
            return False
        if now < self._next_check:
            return False
        self._next_check = now + self._interval
        return self.save_if_changed()

    def save_if_changed(self) -> bool:
        """Save now if the state differs from the last one saved; True when saved. Never raises."""
        with self._lock:
            self._saving_thread = threading.get_ident()
            try:
                saved = self._save_if_changed_locked()
            finally:
                self._saving_thread = None
        pending, self._pending_signal = self._pending_signal, None
        if pending is not None:  # a signal arrived during this save and waited for it to complete
            self._save_and_chain(*pending)
        return saved

    def _save_if_changed_locked(self) -> bool:
        try:
            prepared = self._repository.prepare(self._state_provider())
            if prepared.checksum == self._last_checksum:
                return False
            self._repository.save_prepared(self._strategy_name, prepared)
        except Exception as error:  # the strategy keeps running; the next interval retries
            self._last_error = f"{type(error).__name__}: {error}".splitlines()[0]
            logger.error("auto-save of strategy %r failed: %s", self._strategy_name, self._last_error)
            return False
        self._last_checksum = prepared.checksum
        self._last_error = None
        self._saves += 1
        return True

    def stop(self) -> bool:
        """Stop the background thread (if any) and save a last time if the state changed; True when saved."""
        self._stopped.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=max(self._interval, 5.0))
        self._thread = None
        return self.save_if_changed()

    # ------------------------------------------------------------------ optional thread runner
    def start(self, poll_seconds: float = 1.0) -> None:
        """Tick on a background (daemon) thread every ``poll_seconds`` until ``stop()``."""
        if self._thread is not None:
            raise RuntimeError("the auto-save thread is already running")
        self._stopped.clear()
        self._thread = threading.Thread(target=self._run, args=(min(poll_seconds, self._interval),),
                                        name=f"auto-save-{self._strategy_name}", daemon=True)
        self._thread.start()

    def _run(self, poll_seconds: float) -> None:
        while not self._stopped.wait(poll_seconds):
            self.tick()

    # ------------------------------------------------------------------ signals
    def install_signal_handlers(self, signals: Iterable[int] = HANDLED_SIGNALS) -> None:
        """On each signal: save if changed, then hand over to the handler that was installed before.

        A previous Python handler is called; the default action is carried out (SIGINT raises
        KeyboardInterrupt, SIGTERM terminates the process by the signal); an ignored signal stays
        ignored. Must be called from the main thread (a rule of Python's ``signal`` module).
        """
        for signum in signals:
            self._previous_handlers[signum] = signal.getsignal(signum)
            signal.signal(signum, self._handle_signal)

    def restore_signal_handlers(self) -> None:
        for signum, handler in self._previous_handlers.items():
            signal.signal(signum, handler)
        self._previous_handlers.clear()

    def _handle_signal(self, signum: int, frame: FrameType | None) -> None:
        if self._saving_thread == threading.get_ident():
            # The signal interrupted a save on this very thread: finish it first, then act.
            self._pending_signal = (signum, frame)
            return
        self._save_and_chain(signum, frame)

    def _save_and_chain(self, signum: int, frame: FrameType | None) -> None:
        logger.info("signal %s: saving the state of strategy %r", signal.Signals(signum).name, self._strategy_name)
        self.stop()
        previous = self._previous_handlers.get(signum, signal.SIG_DFL)
        if callable(previous):
            previous(signum, frame)
        elif previous == signal.SIG_DFL:
            if signum == signal.SIGINT:
                raise KeyboardInterrupt
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)
