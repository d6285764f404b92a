"""``python -m src.datafeed.hk run``: standalone and under the parent/child daemon, against the local server."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from tests.db_backends import execute
from tests.integration.datafeed.hk.alltick_server import LocalAllTickServer, ServerThread
from tests.integration.datafeed.hk.support import TOKEN
from tests.integration.datafeed.hk.test_gateway import market_clock

FAST = ["--heartbeat-interval", "0.2", "--request-interval", "0.01", "--metrics-interval", "0.5",
        "--batch-ms", "5", "--backoff-max", "1", "--healthy-after", "1"]


def run_cli(args: list[str], tmp_path: Path, token: str = TOKEN, timeout: float = 60) -> subprocess.CompletedProcess:
    env = dict(os.environ, ALLTICK_TOKEN=token, VNPY_DATABASE_DRIVER="sqlite",
               VNPY_DATABASE_DATABASE=str(tmp_path / "feed.db"), PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run([sys.executable, "-m", "src.datafeed.hk", *args, "--log-dir", str(tmp_path / "logs")],
                          cwd=PROJECT_ROOT, env=env, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("args, message", [
    (["run", "--codes", "AAPL.US"], "not a Hong Kong code"),
    (["run", "--codes", "700.HK,9988.HK", "--max-codes", "1"], "the plan allows 1"),
    (["run", "--codes", "700.HK", "--heartbeat-interval", "0"], "must be positive"),
    (["run"], "--codes"),
])
def test_bad_flags_are_one_line_and_exit_2(args, message, tmp_path):
    result = run_cli(args, tmp_path)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_no_token_is_one_line_and_exit_2(tmp_path):
    result = run_cli(["run", "--codes", "700.HK"], tmp_path, token="")
    assert result.returncode == 2 and "ALLTICK_TOKEN is not set" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_standalone_run_records_the_trades_the_1_minute_bars_and_the_metrics(tmp_path):
    server = LocalAllTickServer(trades_per_code=200, push_rate=400, clock=market_clock(0.5))
    with ServerThread(server):
        result = run_cli(["run", "--codes", "700.HK,9988.HK", "--mode", "standalone", "--url", server.url,
                          "--duration", "3", *FAST], tmp_path)
    assert result.returncode == 0, result.stderr
    location = DatabaseLocation.sqlite(tmp_path / "feed.db")
    stored = execute(location, "SELECT code, COUNT(*), MIN(seq), MAX(seq) FROM hk_trade_tick GROUP BY code")
    assert {code: count for code, count, _, _ in stored} == {"700.HK": 200, "9988.HK": 200}
    assert execute(location, "SELECT COUNT(*) FROM monitor_signal_snapshot WHERE strategy_name = 'datafeed.hk'")[0][0] \
        >= 2
    log = (tmp_path / "logs" / "datafeed-hk" / "feed.log").read_text()
    assert "HK feed stopped: 400 trades" in log and TOKEN not in log
    for code in ("700.HK", "9988.HK"):
        traded = execute(location, "SELECT SUM(volume), COUNT(DISTINCT substr(tick_time, 1, 16)) FROM hk_trade_tick "
                                   "WHERE code = ?", (code,))[0]
        bars = execute(location, "SELECT SUM(volume), COUNT(*) FROM dbbardata WHERE symbol = ? AND exchange = 'SEHK' "
                                 "AND interval = '1m'", (code[:-3],))[0]
        assert bars == traded and bars[1] >= 3


def test_a_refused_token_stops_with_one_line_and_exit_2(tmp_path):
    server = LocalAllTickServer()
    with ServerThread(server):
        result = run_cli(["run", "--codes", "700.HK", "--mode", "standalone", "--url", server.url, *FAST],
                         tmp_path, token="expired-token")
    assert result.returncode == 2
    assert "401 token invalid" in result.stderr and "Traceback" not in result.stderr
    assert "expired-token" not in result.stderr + (tmp_path / "logs" / "datafeed-hk" / "feed.log").read_text()
    assert server.stats.connections == 1


def test_under_the_daemon_the_child_records_and_a_refused_token_stops_the_daemon(tmp_path):
    server = LocalAllTickServer(trades_per_code=100, push_rate=400)
    with ServerThread(server):
        result = run_cli(["run", "--codes", "700.HK", "--mode", "daemon", "--anytime", "--url", server.url,
                          "--duration", "2", *FAST], tmp_path)
        assert result.returncode == 0, result.stderr
        refused = run_cli(["run", "--codes", "700.HK", "--mode", "daemon", "--anytime", "--url", server.url, *FAST],
                          tmp_path / "refused", token="expired-token")
    location = DatabaseLocation.sqlite(tmp_path / "feed.db")
    assert execute(location, "SELECT COUNT(*) FROM hk_trade_tick")[0][0] == 100
    logs = tmp_path / "logs" / "datafeed-hk"
    assert (logs / "daemon.log").is_file() and "HK feed stopped: 100 trades" in (logs / "child.log").read_text()
    assert refused.returncode == 2


def test_an_unreachable_database_is_one_line_and_exit_2(tmp_path):
    env = dict(os.environ, ALLTICK_TOKEN=TOKEN, VNPY_DATABASE_DRIVER="mysql", VNPY_DATABASE_DATABASE="hk",
               VNPY_DATABASE_HOST="127.0.0.1", VNPY_DATABASE_PORT="1", VNPY_DATABASE_PASSWORD="db-secret",
               PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run([sys.executable, "-m", "src.datafeed.hk", "run", "--codes", "700.HK", "--mode",
                             "standalone", "--log-dir", str(tmp_path / "logs")], cwd=PROJECT_ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 2
    assert "cannot open MySQL" in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "db-secret" not in result.stderr
