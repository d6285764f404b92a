"""Test-wide isolation: tests never touch the user's database, .env or home folder."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="vol-strategy-tests-"))

# Set before any project module reads the environment, so a developer's .env
# (which never overrides variables already set) cannot point tests at a real account.
os.environ["VNPY_DATABASE_DRIVER"] = "sqlite"
os.environ["VNPY_DATABASE_DATABASE"] = str(_SESSION_DIR / "session.db")
for _name in ("CTP_USERNAME", "CTP_PASSWORD", "CTP_BROKER_ID", "CTP_TD_SERVER", "CTP_MD_SERVER",
              "CTP_PRODUCT_NAME", "CTP_AUTH_CODE", "FEISHU_WEBHOOK_URL"):
    os.environ[_name] = ""

SHARED_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real market data folder beside the project; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA}")
    return SHARED_DATA
