"""Fixtures for the Futu pipeline: futu-api imported with HOME pointed at a throwaway folder (it writes
its logs under ~ when imported), the Cboe-derived series, and a local OpenD per test."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

FUTU_HOME = Path(tempfile.mkdtemp(prefix="futu-home-"))
_real_home = os.environ.get("HOME")
os.environ["HOME"] = str(FUTU_HOME)
try:
    import futu  # noqa: F401  (its log folder is chosen now, under FUTU_HOME)
finally:
    if _real_home is None:
        os.environ.pop("HOME", None)
    else:
        os.environ["HOME"] = _real_home

from tests.integration.datafeed.futu.cboe_series import cboe_series  # noqa: E402
from tests.integration.datafeed.futu.local_opend import LocalOpenD  # noqa: E402


def putcall_folder() -> Path:
    """The Cboe files: beside the project (tests/conftest.py's SHARED_DATA), or SHARED_DATA_DIR when set
    (a git worktree lives elsewhere)."""
    from tests.conftest import SHARED_DATA

    base = Path(os.environ.get("SHARED_DATA_DIR") or SHARED_DATA)
    return base / "cboe_putcall_ratios"


@pytest.fixture(scope="session")
def futu_series():
    folder = putcall_folder()
    if not folder.is_dir():
        pytest.skip(f"Cboe put/call files not found at {folder}")
    return cboe_series(folder)


@pytest.fixture
def local_opend(futu_series):
    """A local OpenD with 60-row pages and the real 60 first pages per 30 s."""
    with LocalOpenD(futu_series, page_size=60) as server:
        yield server
