"""Running the project's commands as a user would: a real process, from the project root."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from src.paths import PROJECT_ROOT


def run_command(args: list[str], database: Path | None = None, home: Path | None = None,
                env: dict[str, str] | None = None, timeout: float = 600) -> subprocess.CompletedProcess:
    environment = dict(os.environ)
    if database is not None:
        environment["VNPY_DATABASE_DRIVER"] = "sqlite"
        environment["VNPY_DATABASE_DATABASE"] = str(database)
    if home is not None:
        environment["HOME"] = str(home)
    environment.update(env or {})
    return subprocess.run([sys.executable, *args], cwd=PROJECT_ROOT, env=environment, capture_output=True,
                          text=True, timeout=timeout)


def sigint_by_default() -> None:
    """``preexec_fn`` for a child that must see Ctrl+C as a user's shell delivers it.

    A non-interactive shell starts its background jobs with SIGINT ignored, and an ignored
    signal stays ignored across exec: a test run started that way (a CI runner, ``cmd &`` in a
    script) would hand its children an ignored SIGINT, and a test sending one would wait forever.
    """
    signal.signal(signal.SIGINT, signal.SIG_DFL)
