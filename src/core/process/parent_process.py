"""ParentProcess: the daemon that keeps one child process running during trading hours.

The child is ``python -m src.main.main --mode standalone ...`` started with
``subprocess.Popen`` as a direct child of this process. Popen rather than
multiprocessing: the child is exactly what a user runs by hand (the same entry
point, flags and logs); nothing of the parent (the CTP API's native threads
and handles, vnpy's global database) is inherited, as a fork would; exit codes
and signals are the operating system's own (2 = bad input, 3 = gateway
unavailable, -9 = SIGKILL), and Windows behaves the same way.

What the daemon does, every poll (a fraction of the heartbeat interval):

- outside ``runtime.trading_periods`` (see ``TradingWindow``) no child runs: a
  running child is asked to stop (SIGTERM, then SIGKILL after
  ``runtime.stop_timeout``) and the next start waits for the next period;
  except in a gap between two periods no longer than
  ``runtime.keep_child_through_gap`` (the lunch break): the running child is
  kept, idle, and told so through its gap notice file (see
  ``src.core.process.session_gap``), still supervised as in a period;
- inside them a child runs: a child that exits abnormally is restarted after
  the ``RestartBackoff`` delay; after ``runtime.max_restart_count`` restarts the
  daemon gives up with exit code 1; a child silent for
  ``runtime.heartbeat_timeout`` is hung: it is stopped and restarted the same
  way; a child running ``runtime.healthy_reset_seconds`` resets the count;
- a child that exits 0 on its own has finished (a paper replay at the end of
  its data): the daemon exits 0 too; one that exits 2 refused its input
  (configuration, flags, data): restarting cannot help, the daemon exits 2;
- on SIGTERM/SIGINT the daemon asks the child to stop (the child stops its
  strategies, which saves their state, and exits 0), waits for it up to
  ``stop_timeout`` and exits 0.

Every time and interval is read through ``clock`` (see ``src.core.clock``).
"""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from src.core.config.schema import RuntimeConfig
from src.core.process.exit_codes import EXIT_FAILED, EXIT_OK, EXIT_USER_INPUT
from src.core.process.heartbeat import HeartbeatMonitor
from src.core.process.session_gap import (
    TRADING,
    GapNotice,
    SessionGap,
    duration_text,
    gap_around,
    keeps_child,
    notice_file_for,
    write_notice,
)
from src.core.process.supervision import RestartBackoff, TradingWindow
from src.core.clock import Clock, SystemClock
from src.core.signals import signal_name
from src.paths import PROJECT_ROOT

logger = logging.getLogger("daemon")

IS_WINDOWS = os.name == "nt"
MIN_POLL_SECONDS = 0.02
MAX_POLL_SECONDS = 1.0


@dataclass
class _Child:
    process: subprocess.Popen
    started_at: float
    number: int
    hung: bool = False

    @property
    def pid(self) -> int:
        return self.process.pid


class ParentProcess:
    def __init__(self, child_command: Sequence[str], runtime: RuntimeConfig, heartbeat_file: Path,
                 window: TradingWindow | None, clock: Clock | None = None, name: str = "daemon",
                 environment: Mapping[str, str] | None = None, cwd: Path = PROJECT_ROOT,
                 poll_interval: float | None = None,
                 notify: Callable[[str, str], None] | None = None) -> None:
        """``window`` None runs the child at any time (a replay is not tied to the market's hours);
        ``notify(kind, message)`` is told of every restart ("restart") and of giving up ("gave_up")."""
        self.child_command = list(child_command)
        self.runtime = runtime
        self.heartbeat_file = Path(heartbeat_file)
        self.window = window
        self.clock = clock or SystemClock()
        self.name = name
        self.environment = dict(os.environ if environment is None else environment)
        self.cwd = cwd
        self.backoff = RestartBackoff(runtime.restart_delay, runtime.max_restart_delay,
                                      runtime.max_restart_count, runtime.healthy_reset_seconds)
        self.heartbeat = HeartbeatMonitor(self.heartbeat_file, runtime.heartbeat_timeout)
        self.poll_interval = poll_interval or _default_poll(runtime)
        self.stop_event = threading.Event()
        self.children_started = 0
        self.start_times: list[datetime] = []  # clock time of every child start, oldest first
        self._child: _Child | None = None
        self._restart_at: float | None = None
        self._waiting_logged = False
        self._notify_callback = notify
        self.gap_notice_file = notice_file_for(self.heartbeat_file)
        self._gap: SessionGap | None = None  # the gap the running child is being kept through
        self.gaps_kept = 0

    # ------------------------------------------------------------------ API
    def request_stop(self) -> None:
        self.stop_event.set()

    def run(self) -> int:
        where = self.window.describe() if self.window is not None else "at any time (replay)"
        logger.info("%s: supervising %s; child runs %s; restarts: %d max, delay %.3g s doubling up to %.3g s; "
                    "heartbeat timeout %.3g s", self.name, " ".join(self.child_command[2:]), where,
                    self.runtime.max_restart_count, self.runtime.restart_delay, self.runtime.max_restart_delay,
                    self.runtime.heartbeat_timeout)
        try:
            return self._loop()
        finally:
            if self._child is not None and self._child.process.poll() is None:
                self._stop_child("the daemon is exiting")

    # ----------------------------------------------------------------- loop
    def _loop(self) -> int:
        while True:
            if self.stop_event.is_set():
                if self._child is not None:
                    self._stop_child("the daemon was asked to stop")
                logger.info("%s: stopped", self.name)
                return EXIT_OK
            now = self.clock.monotonic()
            is_open = self.window is None or self.window.is_open(self.clock.now())
            child = self._child
            if child is not None:
                code = child.process.poll()
                if code is not None:
                    result = self._on_exit(child, code, now)
                    if result is not None:
                        return result
                    continue
                if not is_open:
                    if not self._keep_through_gap(child):
                        continue
                elif self._gap is not None:
                    self._end_gap(child)
                silence = self.heartbeat.poll(now)
                if silence > self.runtime.heartbeat_timeout:
                    logger.error("%s: child pid %d is hung: no heartbeat for %.1f s (heartbeat_timeout %.3g s); "
                                 "stopping it", self.name, child.pid, silence, self.runtime.heartbeat_timeout)
                    child.hung = True
                    self._terminate(child)
                    continue
                if self.backoff.note_running(now - child.started_at):
                    logger.info("%s: child pid %d healthy for %.0f s: restart count reset", self.name, child.pid,
                                now - child.started_at)
                self._sleep(self.poll_interval)
                continue

            if not is_open:
                self._restart_at = None  # a new period starts its child at once
                if not self._waiting_logged:
                    upcoming = self.window.next_open(self.clock.now()) if self.window is not None else None
                    logger.info("%s: outside the trading periods (%s); next start %s", self.name,
                                self.window.describe() if self.window else "",
                                f"{upcoming:%Y-%m-%d %H:%M}" if upcoming else "not within two weeks")
                    self._waiting_logged = True
                self._sleep(self.poll_interval)
                continue
            self._waiting_logged = False
            if self._restart_at is not None and now < self._restart_at:
                self._sleep(min(self.poll_interval, self._restart_at - now))
                continue
            self._restart_at = None
            self._start_child()

    # ------------------------------------------------------------------ gaps
    def _keep_through_gap(self, child: _Child) -> bool:
        """Outside the periods with a child running: True when it is kept through this gap (said once, at
        the gap's start), False when it was stopped (the gap is too long)."""
        if self._gap is not None:
            return True
        gap = gap_around(self.window, self.clock.now())
        limit = self.runtime.keep_child_through_gap
        if gap is None or not keeps_child(gap, limit):
            if gap is None:
                why = "no period opens within two weeks"
            elif limit <= 0:
                why = f"the gap {gap.describe()}; runtime.keep_child_through_gap is 0"
            else:
                why = (f"the gap {gap.describe()} is longer than runtime.keep_child_through_gap "
                       f"({duration_text(limit)})")
            self._stop_child(f"outside the trading periods ({why})")
            return False
        self._gap = gap
        self.gaps_kept += 1
        orders = self.runtime.gap_working_orders
        self._write_gap_notice(GapNotice(gap, orders))
        logger.info("%s: trading period ended at %s; gap %s is within runtime.keep_child_through_gap (%s): "
                    "keeping child pid %d running (no restart), its strategies idle, working orders %s",
                    self.name, f"{gap.start:%H:%M}", gap.describe(), duration_text(limit), child.pid,
                    "kept at the exchange" if orders == "keep" else "cancelled by the child")
        return True

    def _end_gap(self, child: _Child) -> None:
        gap, self._gap = self._gap, None
        self._write_gap_notice(TRADING)
        logger.info("%s: gap %s over: child pid %d kept running through it (running %.0f s, no new login or "
                    "warm-up); its strategies trade again", self.name, gap.describe(), child.pid,
                    self.clock.monotonic() - child.started_at)

    def _write_gap_notice(self, notice: GapNotice) -> None:
        try:
            write_notice(self.gap_notice_file, notice)
        except OSError as error:
            logger.error("%s: cannot write the gap notice %s: %s", self.name, self.gap_notice_file, error)

    def _sleep(self, seconds: float) -> None:
        self.clock.wait(self.stop_event, max(seconds, 0.0))

    # -------------------------------------------------------------- children
    def _start_child(self) -> None:
        self.children_started += 1
        self.heartbeat_file.unlink(missing_ok=True)
        self.gap_notice_file.unlink(missing_ok=True)
        self._gap = None
        options: dict = {}
        if IS_WINDOWS:
            # Its own process group, so CTRL_BREAK_EVENT reaches the child alone.
            options["creationflags"] = subprocess.CREATE_NEW_PROCESS_GROUP
        else:
            # Its own session: a Ctrl+C in the terminal reaches the daemon, which stops the child cleanly.
            options["start_new_session"] = True
        try:
            process = subprocess.Popen(self.child_command, cwd=self.cwd, env=self.environment,
                                       stdin=subprocess.DEVNULL, **options)
        except OSError as error:
            logger.error("%s: cannot start the child: %s", self.name, error)
            self._schedule_restart(uptime=0.0, what=f"could not be started ({error})")
            return
        started_at = self.clock.monotonic()
        self.start_times.append(self.clock.now())
        self._child = _Child(process, started_at, self.children_started)
        self.heartbeat.watch(process.pid, started_at)
        logger.info("%s: started child pid %d (start %d, restarts so far %d)", self.name, process.pid,
                    self.children_started, self.backoff.restarts)

    def _on_exit(self, child: _Child, code: int, now: float) -> int | None:
        """Handle a child's exit; returns the daemon's exit code when the daemon should exit."""
        self._child = None
        self._gap = None
        uptime = now - child.started_at
        what = _describe_exit(code)
        if code == 0 and not child.hung:
            logger.info("%s: child pid %d finished its work (exit code 0) after %.1f s; the daemon exits too",
                        self.name, child.pid, uptime)
            return EXIT_OK
        if code == EXIT_USER_INPUT and not child.hung:
            logger.error("%s: child pid %d refused its input (exit code 2; the reason is in its log); "
                         "restarting cannot help, the daemon exits", self.name, child.pid)
            return EXIT_USER_INPUT
        if child.hung:
            what = f"hung and was stopped ({what})"
        return self._schedule_restart(uptime, what, child.pid)

    def _schedule_restart(self, uptime: float, what: str, pid: int | None = None) -> int | None:
        delay = self.backoff.next_delay(uptime)
        who = f"child pid {pid}" if pid is not None else "child"
        if delay is None:
            message = (f"{self.name}: {who} {what} after {uptime:.1f} s; giving up after {self.backoff.restarts} "
                       f"restarts (runtime.max_restart_count {self.runtime.max_restart_count})")
            logger.error("%s", message)
            self._notify("gave_up", message)
            return EXIT_FAILED
        self._restart_at = self.clock.monotonic() + delay
        message = (f"{self.name}: {who} {what} after {uptime:.1f} s; restart {self.backoff.restarts} of "
                   f"{self.runtime.max_restart_count} in {delay:.3f} s")
        logger.warning("%s", message)
        self._notify("restart", message)
        return None

    def _notify(self, kind: str, message: str) -> None:
        if self._notify_callback is None:
            return
        try:
            self._notify_callback(kind, message)
        except Exception:  # an alert must never stop the supervision
            logger.exception("%s: the restart notification failed", self.name)

    def _stop_child(self, reason: str) -> None:
        """Stop the child on purpose (not a failure: no restart is scheduled)."""
        child = self._child
        if child is None:
            return
        logger.info("%s: stopping child pid %d: %s", self.name, child.pid, reason)
        self._terminate(child)
        code = child.process.wait()
        self._child = None
        self._gap = None
        logger.info("%s: child pid %d stopped (%s) after %.1f s", self.name, child.pid, _describe_exit(code),
                    self.clock.monotonic() - child.started_at)

    def _terminate(self, child: _Child) -> None:
        """Ask the child to stop; kill it after ``stop_timeout``. Its exit is handled by the loop."""
        process = child.process
        if process.poll() is not None:
            return
        try:
            if IS_WINDOWS:
                os.kill(process.pid, signal.CTRL_BREAK_EVENT)
            else:
                process.send_signal(signal.SIGTERM)
        except OSError:
            return  # already gone
        deadline = self.clock.monotonic() + self.runtime.stop_timeout
        while process.poll() is None and self.clock.monotonic() < deadline:
            # Not interrupted by a stop request: the child is being stopped already.
            self.clock.wait(threading.Event(), min(self.poll_interval, deadline - self.clock.monotonic()))
        if process.poll() is None:
            logger.warning("%s: child pid %d did not stop within %.3g s (runtime.stop_timeout); killing it",
                           self.name, child.pid, self.runtime.stop_timeout)
            process.kill()
            process.wait()


def _describe_exit(code: int) -> str:
    if code < 0:
        return f"killed by {signal_name(-code)}"
    return f"exit code {code}"


def _default_poll(runtime: RuntimeConfig) -> float:
    """Often enough to see a silent child and to restart on time, rarely enough to cost nothing."""
    return max(MIN_POLL_SECONDS, min(MAX_POLL_SECONDS, runtime.heartbeat_interval / 2, runtime.restart_delay / 4))
