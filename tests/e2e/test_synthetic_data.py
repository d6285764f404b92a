"""Synthetic bars never go silently into a user's database: the replay needs --sample-market, and neither
the replay nor the backtest writes them beside real bars."""
from __future__ import annotations

import sqlite3

import pytest

from tests.e2e.cli import run_command

MAIN = "src/main/main.py"
REAL_TICKS = "cn_futures_ticks/CFFEX_IF2101_tick_20210104_20210105.csv.gz"


def bar_count(database) -> int:
    if not database.exists():
        return 0
    with sqlite3.connect(database) as connection:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return connection.execute("SELECT COUNT(*) FROM dbbardata").fetchone()[0] if "dbbardata" in tables else 0


def test_a_replay_over_dates_without_bars_asks_for_the_flag_and_writes_nothing(tmp_path):
    database = tmp_path / "user.db"
    result = run_command([MAIN, "--replay", "--replay-start", "2025-03-03", "--replay-end", "2025-03-04",
                          "--log-dir", str(tmp_path / "logs"), "--no-ui"], database=database, timeout=180)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert "no bars between" in last and "add --sample-market" in last
    assert bar_count(database) == 0


@pytest.fixture
def real_database(tmp_path, shared_data):
    ticks = shared_data / REAL_TICKS
    if not ticks.exists():
        pytest.skip(f"{ticks} is not there")
    database = tmp_path / "real.db"
    imported = run_command(["-m", "src.main.data", "import-ticks", "--file", str(ticks), "--symbol", "IF2101",
                            "--exchange", "CFFEX"], database=database, timeout=300)
    assert imported.returncode == 0, imported.stderr[-2000:]
    return database


@pytest.mark.parametrize("command", [
    ["-m", "src.backtesting.cli", "--sample-market", "--start", "2026-01-12", "--end", "2026-01-13",
     "--no-progress"],
    [MAIN, "--replay", "--sample-market", "--replay-start", "2025-03-03", "--replay-end", "2025-03-04", "--no-ui"],
], ids=["backtest", "replay"])
def test_the_sample_market_is_refused_beside_real_bars(real_database, tmp_path, command):
    before = bar_count(real_database)
    extra = ["--output-dir", str(tmp_path / "report")] if "src.backtesting.cli" in command else \
        ["--log-dir", str(tmp_path / "logs")]
    result = run_command(command + extra, database=real_database, timeout=300)
    assert result.returncode == 2, result.stderr[-2000:]
    last = result.stderr.strip().splitlines()[-1]
    assert "refusing to write the synthetic sample market into SQLite file" in last
    assert "IF2101.CFFEX" in last
    assert bar_count(real_database) == before
