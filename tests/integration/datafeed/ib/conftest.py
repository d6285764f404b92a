"""Fixtures of the IB tests: the real Cboe chains (skipped when ../shared/data is absent) and a runner
that bounds every test's event loop."""
from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from tests.conftest import SHARED_DATA

from tests.integration.datafeed.ib.cboe_chain import SPX_2022_06_10, SPY_2025_08_29, load_spx_2022_06_10, \
    load_spy_2025_08_29


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """../shared/data beside the project, or SHARED_DATA_DIR (a git worktree lives elsewhere)."""
    folder = Path(os.environ.get("SHARED_DATA_DIR") or SHARED_DATA)
    if not folder.is_dir():
        pytest.skip(f"real market data not found at {folder} (set SHARED_DATA_DIR)")
    return folder


@pytest.fixture(scope="session")
def spx_chain(shared_data):
    if not (shared_data / SPX_2022_06_10).exists():
        pytest.skip(f"{SPX_2022_06_10} not found in {shared_data}")
    return load_spx_2022_06_10(shared_data)


@pytest.fixture(scope="session")
def spy_chain(shared_data):
    if not (shared_data / SPY_2025_08_29).exists():
        pytest.skip(f"{SPY_2025_08_29} not found in {shared_data}")
    return load_spy_2025_08_29(shared_data)


def run(coroutine, timeout: float = 60.0):
    """Runs ``coroutine`` in a fresh event loop, failing (never hanging) after ``timeout`` seconds."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))
