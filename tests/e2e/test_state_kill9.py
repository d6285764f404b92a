"""kill -9 a process 50 times while it saves ~100 KB states: every restart finds a whole state, never an older one.

The saver prints ``saved N`` after each save returns; the next restart must load a
counter at least that high (a returned save is durable), never lower than the
previous restart's (the counter never goes backwards), and never a torn state.
"""
from __future__ import annotations

import os
import queue
import random
import signal
import subprocess
import sys
import threading

import pytest

from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.persistence.state_repository import StateRepository
from tests.db_backends import database_environment
from tests.e2e.fault_children.state_saver import KEEP, torn

KILLS = 50
SEED = 20240301
STRATEGY = "vol_15m"


class ForkServer:
    def __init__(self, environment: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.e2e.fault_children.state_saver", STRATEGY], cwd=PROJECT_ROOT,
            env={**os.environ, **environment}, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.process.stdout:
            self.lines.put(line.strip())

    def next_line(self, timeout: float = 30.0) -> str:
        try:
            return self.lines.get(timeout=timeout)
        except queue.Empty:
            pytest.fail(f"no answer from the saver within {timeout} s")

    def send(self, command: str) -> None:
        self.process.stdin.write(command + "\n")
        self.process.stdin.flush()

    def close(self) -> None:
        if self.process.poll() is None:
            self.send("quit")
            self.process.wait(timeout=10)


@pytest.mark.slow
def test_kill_9_mid_save_never_tears_or_loses_a_returned_save(database_location):
    server = ForkServer(database_environment(database_location))
    rng = random.Random(SEED)
    acknowledged = 0       # highest counter whose save() returned before a kill
    previously_loaded = 0
    saves = 0
    try:
        assert server.next_line() == "ready"
        for _ in range(KILLS):
            server.send("fork")
            kind, pid = server.next_line().split()
            assert kind == "child"
            loaded = server.next_line()
            assert loaded.startswith("loaded "), loaded
            counter, corruption_events = (int(part) for part in loaded.split()[1:])
            assert corruption_events == 0
            assert counter >= acknowledged, f"a returned save was lost: loaded {counter} after saved {acknowledged}"
            assert counter >= previously_loaded
            previously_loaded = counter

            # Random moments from "during the first save" to "after several".
            threading.Event().wait(rng.uniform(0.0, 0.12))
            os.kill(int(pid), signal.SIGKILL)
            server.send(f"reap {pid}")
            while (line := server.next_line()) != f"reaped {pid} -9":
                assert line.startswith("saved "), line
                acknowledged = max(acknowledged, int(line.split()[1]))
                saves += 1
    finally:
        server.close()

    repository = StateRepository.open(database_location)
    state = repository.load(STRATEGY)
    assert torn(state) is None
    assert state["counter"] >= acknowledged
    assert repository.verify() == []
    assert len(repository.snapshots(STRATEGY)) <= KEEP
    repository.close()
    assert saves >= KILLS, f"only {saves} saves completed: the kills did not land among saves"
