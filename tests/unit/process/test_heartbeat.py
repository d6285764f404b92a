"""The heartbeat file: the child's writer, the daemon's monitor (in explicit clock time), the engine probe."""
from __future__ import annotations

import os
import threading
import time

import pytest

from src.core.process.heartbeat import HeartbeatMonitor, HeartbeatWriter, read_beat


def wait_for(predicate, timeout: float = 60.0) -> None:
    """Until ``predicate()``; the ceiling is for a hang, the wait ends as soon as it holds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(0.01)


def test_writer_beats_with_its_pid_and_a_growing_sequence(tmp_path):
    path = tmp_path / "beat"
    writer = HeartbeatWriter(path, interval=0.02)
    writer.start()
    try:
        first = read_beat(path)
        assert first is not None and first.pid == os.getpid()
        wait_for(lambda: read_beat(path).sequence >= first.sequence + 3)
    finally:
        writer.stop()
    assert not list(tmp_path.glob(".*.tmp"))  # the temporary file never stays behind


class CountingProbe:
    """A probe that counts the writer's checks, so a test waits for checks, not for time."""

    def __init__(self, answer) -> None:
        self.answer = answer
        self.calls = 0

    def __call__(self) -> bool:
        self.calls += 1
        return self.answer()

    def wait_for_checks(self, count: int) -> None:
        """Until ``count`` more checks have been made from now."""
        target = self.calls + count
        wait_for(lambda: self.calls >= target)


def test_writer_is_silent_while_its_probe_says_unhealthy(tmp_path):
    path = tmp_path / "beat"
    healthy = threading.Event()
    healthy.set()
    probe = CountingProbe(healthy.is_set)
    writer = HeartbeatWriter(path, interval=0.02, probe=probe)
    writer.start()
    try:
        wait_for(lambda: read_beat(path).sequence >= 3)
        healthy.clear()
        # The writer checks, then beats, then waits: two checks after the clear, any beat decided
        # before it is written.
        probe.wait_for_checks(2)
        silent = read_beat(path).sequence
        probe.wait_for_checks(5)
        assert read_beat(path).sequence == silent
        healthy.set()
        wait_for(lambda: read_beat(path).sequence > silent)
    finally:
        writer.stop()


def test_a_raising_probe_counts_as_unhealthy(tmp_path):
    path = tmp_path / "beat"

    def broken() -> bool:
        raise RuntimeError("probe bug")

    probe = CountingProbe(broken)
    writer = HeartbeatWriter(path, interval=0.02, probe=probe)
    writer.start()
    try:
        probe.wait_for_checks(5)
        assert read_beat(path).sequence == 1  # only the first, unconditional beat
        assert writer._thread.is_alive()
    finally:
        writer.stop()


@pytest.mark.parametrize("text", ["", "garbage", "1 2", "a b c", "1 2 3 4"])
def test_unreadable_beats_are_none(tmp_path, text):
    path = tmp_path / "beat"
    path.write_text(text)
    assert read_beat(path) is None
    assert read_beat(tmp_path / "missing") is None


def test_monitor_counts_silence_in_clock_time_from_the_start(tmp_path):
    path = tmp_path / "beat"
    monitor = HeartbeatMonitor(path, timeout=10.0)
    monitor.watch(pid=123, started_at=1000.0)
    assert monitor.poll(1005.0) == 5.0          # no beat yet: silent since the start
    assert not monitor.is_hung(1010.0)
    assert monitor.is_hung(1010.5)
    path.write_text("123 1 0.0\n")
    assert monitor.poll(1011.0) == 0.0          # a beat
    assert monitor.poll(1015.0) == 4.0          # the same sequence again is no beat
    path.write_text("999 2 0.0\n")              # another process's beat does not count
    assert monitor.poll(1016.0) == 5.0
    path.write_text("123 2 0.0\n")
    assert monitor.poll(1030.0) == 0.0
    assert monitor.beats_seen == 2


def test_event_engine_probe_fails_when_the_event_thread_is_stuck():
    from vnpy.event import Event, EventEngine

    from src.main.gateway.event_flow import EventEngineProbe

    engine = EventEngine()
    probe = EventEngineProbe(engine, interval=0.05)
    release = threading.Event()
    engine.register("eStuck", lambda _event: release.wait(120))
    engine.start()
    try:
        assert probe()
        time.sleep(0.05)
        assert probe()
        engine.put(Event("eStuck"))
        deadline = time.monotonic() + 60
        while probe():
            assert time.monotonic() < deadline, "the probe never noticed the stuck event thread"
            time.sleep(0.05)
        release.set()
        wait_for(lambda: probe())
    finally:
        release.set()
        engine.stop()
