"""Offline paper trading end to end: the same StrategyEntry on replayed sample-market data, fills in the database."""
from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from datetime import datetime

from src.paths import PROJECT_ROOT
from tests.e2e.cli import run_command
from tests.e2e.daemon_support import Process, environment
from tests.e2e.sample_database import copy


def paper_trades(database) -> list[tuple]:
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT run_id, variant, mode, strategy_name, vt_symbol, direction, offset, price, volume, trade_time "
            "FROM paper_trade ORDER BY id").fetchall()


def test_replay_trades_and_leaves_its_fills_in_the_database(tmp_path, sample_market_database):
    database = copy(sample_market_database, tmp_path / "db")
    run = Process(["src/main/main.py", "--paper", "--replay", "--replay-start", "2026-01-12", "--replay-end",
                   "2026-01-13", "--speed", "0", "--log-dir", str(tmp_path / "logs"), "--no-ui"],
                  {**environment(database), "VOL_STRATEGY_REPLAY_PROGRESS_SECONDS": "0.2"}, tmp_path / "out.txt")
    try:
        assert run.wait(240) == 0, run.text()[-3000:]
    finally:
        run.kill_everything()
    log = (tmp_path / "logs" / "paper-default" / "standalone.log").read_text()
    # The warm-up the backtest would use (two trading days for 1-minute bars), then the two replayed days.
    assert "warm-up 2026-01-08..2026-01-09 (2 trading days), replay 2026-01-12..2026-01-13" in log
    assert "warm-up done" in log and "replay finished" in log
    # Progress inside a day reaches the log, not only a terminal.
    assert re.search(r"replay day 2026-01-1[23] \(\d of 2\): at \d\d:\d\d, \d+ of \d+ ticks \(\d+%\)", log)
    assert re.search(r"replay summary volatility_strategy: P&L realized -?[\d.]+, open -?[\d.]+", log)
    assert re.search(r"replay summary: \d+ fills in table paper_trade of SQLite file", log)
    recorded = int(re.search(r"paper trades recorded by this run: (\d+) \(run_id ([^)]+)\)", log).group(1))
    trades = paper_trades(database)
    print(f"paper replay: {len(trades)} trades")
    assert len(trades) == recorded > 0
    # Every fill went through the backtest's fill model; none on a minute without a print.
    fills = json.loads(re.search(r"replay fills: (\{.*?\});", log).group(1))
    assert fills["fills_on_bars"] + fills["fills_on_quotes"] == len(trades)
    assert fills["fills_on_no_print_minutes"] == 0
    run_ids = {trade[0] for trade in trades}
    assert len(run_ids) == 1
    for _run, variant, mode, strategy, vt_symbol, direction, offset, price, volume, when in trades:
        assert (variant, mode, strategy) == ("paper-default", "replay", "volatility_strategy")
        assert vt_symbol.startswith(("IO", "MO", "IF", "IM")) and price > 0 and volume >= 1
        assert datetime.fromisoformat(str(when)).date().isoformat() in ("2026-01-12", "2026-01-13")
    assert "Traceback" not in log

    # The backtest of the same two days on the same bars (same warm-up) fills by the same model and works its
    # orders by the same clock (an attempt lives one bar, order_execution.timeout_seconds 60): the two agree
    # within a quarter on fills and within a quarter of a tick on the spread paid per lot. What is left is the
    # replay's finer time: it sees the prints inside a minute (its marks and close rules move between bars).
    result = run_command(["-m", "src.backtesting.cli", "--start", "2026-01-12", "--end", "2026-01-13",
                          "--no-progress", "--output-dir", str(tmp_path / "backtest")], database=database)
    assert result.returncode == 0, result.stderr[-3000:]
    backtest = json.loads((tmp_path / "backtest" / "summary.json").read_text())
    backtest_fills = backtest["fills_on_bars"] + backtest["fills_on_quotes"]
    print(f"fills over 2026-01-12..13: backtest {backtest_fills}, paper replay {len(trades)}; spread paid per lot "
          f"{backtest['average_spread_paid_ticks']} and {fills['average_spread_paid_ticks']} ticks")
    assert abs(backtest_fills - len(trades)) <= 0.25 * max(backtest_fills, len(trades))
    assert abs(backtest["average_spread_paid_ticks"] - fills["average_spread_paid_ticks"]) <= 0.25


def test_run_paper_script_runs_every_timeframe_and_exits_at_the_end_of_the_data(tmp_path, sample_market_database):
    database = copy(sample_market_database, tmp_path / "db")
    result = subprocess.run(
        ["bash", "scripts/run_paper.sh", "--replay", "--replay-start", "2026-01-13", "--replay-end", "2026-01-13",
         "--replay-warmup-days", "0", "--log-dir", str(tmp_path / "logs")],
        cwd=PROJECT_ROOT, env=environment(database), capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    timeframes = sorted(path.stem for path in (PROJECT_ROOT / "config" / "timeframe").glob("*.yaml"))
    assert re.findall(r"starting the daemon for (\S+)\.yaml", result.stdout) == timeframes
    for timeframe in timeframes:
        daemon = (tmp_path / "logs" / f"paper-{timeframe}" / "daemon.log").read_text()
        assert "finished its work (exit code 0)" in daemon
