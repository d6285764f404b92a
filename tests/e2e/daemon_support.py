"""Running ``src/main/main.py`` (daemon or standalone) as real processes and reading their logs."""
from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import yaml

from src.paths import PROJECT_ROOT

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")


def write_override(folder: Path, name: str, runtime: dict | None = None, strategy_name: str | None = None) -> Path:
    """A timeframe-style override file; its name becomes the variant (the log folder)."""
    data: dict = {}
    if runtime:
        data["runtime"] = runtime
    if strategy_name:
        data["strategies"] = [{"strategy_name": strategy_name}]
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def environment(database: Path | None, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    if database is not None:
        env["VNPY_DATABASE_DRIVER"] = "sqlite"
        env["VNPY_DATABASE_DATABASE"] = str(database)
    env.update(extra)
    return env


class Process:
    """A command of ours started the way a user starts it, from the project root."""

    def __init__(self, args: list[str], env: dict[str, str], output: Path, program: list[str] | None = None) -> None:
        self.output = output
        self._handle = output.open("w")
        self.popen = subprocess.Popen((program or [sys.executable]) + args, cwd=PROJECT_ROOT, env=env,
                                      stdout=self._handle, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)

    @property
    def pid(self) -> int:
        return self.popen.pid

    def signal(self, signum: int) -> None:
        self.popen.send_signal(signum)

    def wait(self, timeout: float) -> int:
        try:
            return self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            pytest.fail(f"the process did not exit within {timeout} s; output:\n{self.text()[-3000:]}")

    def text(self) -> str:
        if not self._handle.closed:
            self._handle.flush()
        return self.output.read_text(errors="replace")

    def kill_everything(self) -> None:
        """Cleanup after a failed test: the process, and its children (their own sessions) listed in its log."""
        if self.popen.poll() is None:
            self.popen.kill()
            self.popen.wait(10)
        for pid in re.findall(r"started child pid (\d+)", self.text()):
            try:
                os.kill(int(pid), signal.SIGKILL)
            except OSError:
                pass
        if not self._handle.closed:
            self._handle.close()


def wait_for(read, pattern: str, timeout: float, count: int = 1, what: str = "") -> list[re.Match]:
    """Wait until ``read()`` holds ``count`` matches of ``pattern``; return them."""
    regex = re.compile(pattern, re.MULTILINE)
    deadline = time.monotonic() + timeout
    while True:
        text = read()
        found = list(regex.finditer(text))
        if len(found) >= count:
            return found
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout} s waiting for {what or pattern!r} x{count}; "
                        f"last output:\n{text[-4000:]}")
        time.sleep(0.05)


def read_file(path: Path):
    return lambda: path.read_text(errors="replace") if path.exists() else ""


def line_time(line: str) -> datetime:
    match = LOG_TIME.match(line)
    assert match, f"no timestamp in {line!r}"
    return datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S,%f")


def lines_matching(text: str, pattern: str) -> list[str]:
    regex = re.compile(pattern)
    return [line for line in text.splitlines() if regex.search(line)]


class SteppedClock:
    """Exchange time that moves only when the test says (``jump_to``); ``wait`` sleeps a few real
    milliseconds at most, so the daemon polls briskly and sees each jump at once."""

    def __init__(self, start: datetime) -> None:
        self._start = start
        self._elapsed = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed)

    def monotonic(self) -> float:
        with self._lock:
            return self._elapsed

    def wait(self, event: threading.Event, seconds: float) -> bool:
        return event.wait(min(max(seconds, 0.0), 0.01))

    def jump_to(self, moment: datetime) -> None:
        with self._lock:
            self._elapsed = max(self._elapsed, (moment - self._start).total_seconds())
