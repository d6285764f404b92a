"""SIGTERM and SIGINT save the state before the process goes, then do what they would have done."""
from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.state_repository import StateRepository
from tests.db_backends import database_environment
from tests.e2e.cli import sigint_by_default


@pytest.mark.parametrize(("signum", "exit_code", "last_line"), [
    (signal.SIGTERM, -signal.SIGTERM, "ready"),   # default action: terminated by the signal
    (signal.SIGINT, 130, "interrupted"),          # default handler: KeyboardInterrupt
])
def test_a_signal_saves_the_changed_state_then_takes_its_default_course(tmp_path, signum, exit_code, last_line):
    location = DatabaseLocation.sqlite(tmp_path / "database.db")
    child = subprocess.Popen([sys.executable, "-m", "tests.e2e.fault_children.auto_save_child", "vol_15m"],
                             cwd=PROJECT_ROOT, env={**os.environ, **database_environment(location)},
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                             preexec_fn=sigint_by_default)
    try:
        assert child.stdout.readline().strip() == "ready"
        child.send_signal(signum)
        # Waits for the exit, which follows the save; the ceiling is for a hang, not a measure.
        remaining, errors = child.communicate(timeout=300)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == exit_code, errors
    assert (["ready"] + remaining.split())[-1] == last_line
    repository = StateRepository.open(location)
    assert repository.load("vol_15m") == {"counter": 42}
    assert len(repository.snapshots("vol_15m")) == 1
    repository.close()
