"""Test-wide isolation: tests never touch the user's database, .env or home folder."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Hypothesis profiles. "ci" (chosen when CI=true, as .ci/run runs) bounds the examples and has no
# per-example deadline, so a loaded machine slows the property tests down but never fails them;
# HYPOTHESIS_PROFILE picks one by name. Tests with their own @settings keep their max_examples.
settings.register_profile("ci", max_examples=50, deadline=None, print_blob=True,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE")
                      or ("ci" if os.environ.get("CI", "").lower() == "true" else "dev"))

_SESSION_DIR = Path(tempfile.mkdtemp(prefix="vol-strategy-tests-"))

# Set before any project module reads the environment, so a developer's .env
# (which never overrides variables already set) cannot point tests at a real account.
os.environ["VNPY_DATABASE_DRIVER"] = "sqlite"
os.environ["VNPY_DATABASE_DATABASE"] = str(_SESSION_DIR / "session.db")
for _prefix in ("CTP", "SOPT"):
    for _field in ("USERNAME", "PASSWORD", "BROKER_ID", "TD_SERVER", "MD_SERVER", "PRODUCT_NAME", "AUTH_CODE",
                   "ENVIRONMENT"):
        os.environ[f"{_prefix}_{_field}"] = ""
os.environ["FEISHU_WEBHOOK_URL"] = ""
os.environ["ALLTICK_TOKEN"] = ""

# vnpy chooses its working folder when first imported (./.vntrader, else ~/.vntrader): pick a
# throwaway one now, before any test module imports vnpy, so tests never write into the home folder.
from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home  # noqa: E402

ensure_vnpy_home(_SESSION_DIR / "vnpy")

# The real market data beside the project; SHARED_DATA_DIR points elsewhere (a git worktree, say).
SHARED_DATA = Path(os.environ.get("SHARED_DATA_DIR") or Path(__file__).resolve().parents[2] / "shared" / "data")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The real market data folder beside the project; tests using it skip when it is absent."""
    if not SHARED_DATA.is_dir():
        pytest.skip(f"real market data not found at {SHARED_DATA}")
    return SHARED_DATA


def pytest_collection_modifyitems(config, items):
    """Tests marked ``mysql`` skip, saying why, when no MySQL-compatible server was provided."""
    from tests.db_backends import MYSQL_SKIP_REASON, mysql_configured

    if mysql_configured():
        return
    skip = pytest.mark.skip(reason=MYSQL_SKIP_REASON)
    for item in items:
        if item.get_closest_marker("mysql") is not None:
            item.add_marker(skip)


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def database_location(request, tmp_path):
    """Each of our backends in turn: a fresh SQLite file, and the test MySQL database emptied of our tables."""
    from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
    from tests.db_backends import drop_tables, mysql_location

    if request.param == "sqlite":
        return DatabaseLocation.sqlite(tmp_path / "database.db")
    location = mysql_location()
    drop_tables(location)
    return location


@pytest.fixture
def mysql_database():
    """The test MySQL database emptied of our tables (use with @pytest.mark.mysql)."""
    from tests.db_backends import drop_tables, mysql_location

    location = mysql_location()
    drop_tables(location)
    return location
