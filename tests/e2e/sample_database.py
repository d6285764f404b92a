"""Builds a small SQLite database of the synthetic sample market for the process tests.

``python -m tests.e2e.sample_database PATH`` writes IF/IM futures and IO/MO
options for 2026-01-08 to 2026-01-13 (four trading days) into PATH. Run as its
own process so vnpy's global database object of the test process is never
re-pointed.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from datetime import date
from pathlib import Path

from src.paths import PROJECT_ROOT

START, END = date(2026, 1, 8), date(2026, 1, 13)


def build(path: Path) -> None:
    environment = {**os.environ, "VNPY_DATABASE_DRIVER": "sqlite", "VNPY_DATABASE_DATABASE": str(path)}
    result = subprocess.run([sys.executable, "-m", "tests.e2e.sample_database", str(path)], cwd=PROJECT_ROOT,
                            env=environment, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        raise RuntimeError(f"building the sample database failed:\n{result.stderr}")


def copy(pristine: Path, folder: Path) -> Path:
    """A copy of the pristine database for one test (processes under test write to it)."""
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / "database.db"
    shutil.copyfile(pristine, target)
    return target


def _main(path: str) -> None:
    from src.datafeed.sample_market import generate_sample_market, save_sample_market
    from src.core.database_factory import create_database, database_settings_from_environment

    database = create_database(database_settings_from_environment())
    save_sample_market(database, generate_sample_market(START, END))
    print(f"sample market {START}..{END} written to {path}")


if __name__ == "__main__":
    _main(sys.argv[1])
