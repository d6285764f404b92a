"""Fixtures of the process tests."""
from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def sample_market_database(tmp_path_factory) -> Path:
    """A pristine SQLite file holding the synthetic sample market 2026-01-08..13; copy it before use."""
    from tests.e2e.sample_database import build

    path = tmp_path_factory.mktemp("sample-market") / "pristine.db"
    build(path)
    return path
