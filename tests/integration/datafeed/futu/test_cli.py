"""``python -m src.datafeed.futu stats ...`` against the local OpenD: backfill, kill -9 and resume, update,
show, import-cboe, and one-line errors."""
from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from src.datafeed.futu.cli import main
from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.option_market_statistics import OptionMarketStatisticRepository
from tests.db_backends import database_environment
from tests.integration.datafeed.futu.conftest import FUTU_HOME, putcall_folder

CODES = {"US_INDEX": 2, "HK_INDEX": 4, "VOLUME": 0, "OPEN_INTEREST": 1}
BACKFILL = ["stats", "backfill", "--market", "US_INDEX,HK_INDEX", "--type", "VOLUME,OPEN_INTEREST",
            "--start", "2016-01-01", "--end", "2018-12-31"]


def environment(location: DatabaseLocation, port: int) -> dict[str, str]:
    return {**database_environment(location), "FUTU_HOST": "127.0.0.1", "FUTU_PORT": str(port),
            "FUTU_CONNECT_TIMEOUT": "3", "FUTU_REQUEST_TIMEOUT": "2"}


def run(args: list[str], env: dict[str, str], timeout: float = 120) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **env, "HOME": str(FUTU_HOME), "PYTHONPATH": str(PROJECT_ROOT)}
    return subprocess.run([sys.executable, "-m", "src.datafeed.futu", *args], cwd=PROJECT_ROOT, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def checkpoints(path: str) -> int:
    try:
        with sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=5) as connection:
            return connection.execute("SELECT COUNT(*) FROM option_market_statistic_checkpoint").fetchone()[0]
    except sqlite3.OperationalError:
        return 0


def served(series, market: str, data_type: str, start=date(2016, 1, 1), end=date(2018, 12, 31)) -> list[date]:
    return [p.trade_date for p in series[(CODES[market], CODES[data_type])] if start <= p.trade_date <= end]


def test_backfill_killed_with_sigkill_resumes_with_no_gap_and_no_duplicate(local_opend, futu_series, tmp_path):
    location = DatabaseLocation.sqlite(tmp_path / "bars.db")
    env = {**os.environ, **environment(location, local_opend.port), "HOME": str(FUTU_HOME),
           "PYTHONPATH": str(PROJECT_ROOT)}
    local_opend.knobs.reply_delay_seconds = 0.05
    process = subprocess.Popen([sys.executable, "-m", "src.datafeed.futu", *BACKFILL], cwd=PROJECT_ROOT, env=env,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        while checkpoints(location.database) < 4 and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.05)
        time.sleep(0.1)
        process.send_signal(signal.SIGKILL)
        process.wait(30)
    finally:
        if process.poll() is None:
            process.kill()
    killed_at = checkpoints(location.database)
    assert 4 <= killed_at < 12
    local_opend.knobs.reply_delay_seconds = 0.0
    result = run(BACKFILL, environment(location, local_opend.port))
    assert result.returncode == 0, result.stderr
    assert f"windows: {12 - killed_at} fetched, {killed_at} already done" in result.stdout
    with OptionMarketStatisticRepository.open(location) as repository:
        for market in ("US_INDEX", "HK_INDEX"):
            for data_type in ("VOLUME", "OPEN_INTEREST"):
                stored = [row.trade_date for row in repository.statistics(market, data_type)]
                assert stored == served(futu_series, market, data_type)
        assert repository.duplicate_keys() == 0


def test_backfill_then_show_prints_the_table_and_writes_an_offline_chart(local_opend, database_location, tmp_path):
    env = environment(database_location, local_opend.port)
    result = run(["stats", "backfill", "--market", "HK_INDEX", "--type", "VOLUME", "--start", "2018-01-01",
                  "--end", "2018-12-31"], env)
    assert result.returncode == 0, result.stderr
    assert "windows: 1 fetched" in result.stdout and "rate: peak 1 first pages in 30 s" in result.stdout
    chart = tmp_path / "chart.html"
    shown = run(["stats", "show", "--market", "HK_INDEX", "--type", "VOLUME", "--rows", "3", "--html", str(chart)], env)
    assert shown.returncode == 0, shown.stderr
    lines = shown.stdout.splitlines()
    assert lines[0].startswith("HK_INDEX VOLUME: 246 days, 2018-01-02 .. 2018-12-31")
    assert lines[2].startswith("2018-12-31") and len([line for line in lines if line[:4] == "2018"]) == 3
    html = chart.read_text()
    assert "plotly" in html and '<script src="http' not in html and len(html) > 1_000_000  # plotly.js inside


def test_update_in_process_fetches_up_to_the_last_published_day(local_opend, futu_series, tmp_path, monkeypatch,
                                                                capsys):
    location = DatabaseLocation.sqlite(tmp_path / "bars.db")
    for key, value in environment(location, local_opend.port).items():
        monkeypatch.setenv(key, value)
    now = datetime(2019, 3, 8, 18, 0, tzinfo=ZoneInfo("America/New_York"))  # a Friday, after publication
    assert main(["stats", "update", "--market", "US_INDEX", "--type", "VOLUME", "--start-if-empty", "2019-01-01"],
                now=now) == 0
    assert main(["stats", "update", "--market", "US_INDEX", "--type", "VOLUME"], now=now) == 0
    out = capsys.readouterr().out
    assert out.count("windows: 1 fetched") == 1 and "windows: 0 fetched" in out
    with OptionMarketStatisticRepository.open(location) as repository:
        assert [r.trade_date for r in repository.statistics("US_INDEX", "VOLUME")] == served(
            futu_series, "US_INDEX", "VOLUME", date(2019, 1, 1), date(2019, 3, 8))


def test_import_cboe_loads_the_history_through_the_same_table(tmp_path):
    folder = putcall_folder()
    if not folder.is_dir():
        pytest.skip(f"Cboe files not found at {folder}")
    env = environment(DatabaseLocation.sqlite(tmp_path / "bars.db"), 1)
    result = run(["stats", "import-cboe", str(folder / "equitypc.csv"), str(folder / "indexpc.csv")], env)
    assert result.returncode == 0, result.stderr
    assert "equitypc.csv: 3253 days stored as CBOE_EQUITY VOLUME (2006-11-01 .. 2019-10-04)" in result.stdout
    shown = run(["stats", "show", "--market", "cboe_index", "--no-html", "--rows", "1"], env)
    assert shown.returncode == 0 and "2019-10-04" in shown.stdout


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.parametrize(("args", "message"), [
    (["stats", "backfill", "--market", "EU_INDEX", "--start", "2018-01-01"], "unknown market EU_INDEX"),
    (["stats", "backfill", "--market", "HK_INDEX", "--start", "2018-02-30"], "expected a date YYYY-MM-DD"),
    (["stats", "backfill", "--market", "HK_INDEX", "--type", "VOLUMES", "--start", "2018-01-01"], "unknown type"),
    (["stats", "backfill", "--market", "HK_INDEX", "--start", "2018-05-01", "--end", "2018-01-01"],
     "is before --start"),
    (["stats", "show", "--market", "HK_INDEX"], "nothing stored for HK_INDEX VOLUME"),
])
def test_bad_input_is_one_line_and_exit_code_2(args, message, tmp_path):
    result = run(args, environment(DatabaseLocation.sqlite(tmp_path / "bars.db"), free_port()))
    assert result.returncode == 2 and message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr


def test_no_opend_is_one_line_exit_1_within_the_connect_timeout(tmp_path):
    port = free_port()
    started = time.monotonic()
    result = run(["stats", "backfill", "--market", "HK_INDEX", "--start", "2018-01-01", "--end", "2018-12-31"],
                 environment(DatabaseLocation.sqlite(tmp_path / "bars.db"), port), timeout=60)
    assert result.returncode == 1 and time.monotonic() - started < 30
    assert f"cannot connect to Futu OpenD at 127.0.0.1:{port} within 3 s" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize(("key", "value", "message"), [("FUTU_PORT", "eleven", "FUTU_PORT: expected a port number"),
                                                       ("FUTU_CONNECT_TIMEOUT", "-1", "FUTU_CONNECT_TIMEOUT: must be"),
                                                       ("FUTU_RSA_KEY_FILE", "/no/such/key.pem", "no such file")])
def test_bad_futu_settings_in_the_environment_are_one_line_and_exit_code_2(key, value, message, tmp_path):
    env = {**environment(DatabaseLocation.sqlite(tmp_path / "bars.db"), free_port()), key: value}
    result = run(["stats", "update", "--market", "HK_INDEX"], env)
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr
