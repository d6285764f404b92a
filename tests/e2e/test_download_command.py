"""``python -m src.main.data download`` as a user runs it, against the local Tushare Pro server."""
from __future__ import annotations

import json
import sqlite3

import pytest

from tests.datafeed_servers.tushare_pro import TushareProServer
from tests.e2e.cli import run_command


@pytest.fixture
def server(shared_data):
    with TushareProServer(shared_data, tokens=("good-token",)) as running:
        yield running


def download(server, tmp_path, *args, token="good-token", home=None):
    env = {"TUSHARE_TOKEN": token, "TUSHARE_API_URL": server.url}
    return run_command(["-m", "src.main.data", "download", "--source", "tushare", "--journal",
                        str(tmp_path / "journal.json"), *args], database=tmp_path / "bars.db", env=env, timeout=300,
                       home=home)


def bars(database):
    if not database.exists():
        return []
    with sqlite3.connect(database) as connection:
        return connection.execute("select symbol, interval, datetime, close_price from dbbardata "
                                  "order by symbol, datetime").fetchall()


def test_a_month_of_an_io_chain_then_a_rerun_that_finds_it_done(server, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    first = download(server, tmp_path, "--chain", "IO2602", "--start", "2026-01-05", "--end", "2026-02-04",
                     home=home)
    assert first.returncode == 0, first.stderr
    assert list(home.iterdir()) == []          # no ~/tk.csv (tushare's set_token), nothing else at home
    assert "tushare: 34 contracts, 782 d bars written (34 chunks fetched, 0 already done), 35 calls" in first.stdout
    stored = bars(tmp_path / "bars.db")
    assert len(stored) == 782
    assert {row[0] for row in stored} >= {"IO2602-C-4600", "IO2602-P-4600"}
    calls = len(server.requests)

    second = download(server, tmp_path, "--chain", "IO2602", "--start", "2026-01-05", "--end", "2026-02-04")
    assert second.returncode == 0, second.stderr
    assert "0 d bars written (0 chunks fetched, 34 already done)" in second.stdout
    assert len(server.requests) == calls + 1        # only the chain listing is asked again
    assert bars(tmp_path / "bars.db") == stored


def test_an_error_midway_stops_with_one_line_and_the_rerun_resumes(server, tmp_path):
    args = ("--symbols", "IF888.CFFEX", "--start", "2015-01-01", "--end", "2015-03-31", "--chunk-days", "31")
    server.requests.clear()
    server.fail_next = []
    original = server.answer

    def fail_third(body):
        if len(server.requests) == 2:
            server.fail_next = [(40203, "抱歉，您没有访问该接口的权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。")]
        return original(body)

    server.answer = fail_third
    first = download(server, tmp_path, *args)
    assert first.returncode == 2
    lines = first.stderr.strip().splitlines()
    assert len(lines) == 1, first.stderr
    assert lines[0].startswith("python -m src.main.data: error: tushare: IF888.CFFEX 2015-03-04..2015-03-31: "
                               "no permission for fut_daily")
    written = bars(tmp_path / "bars.db")
    assert written[-1][2] == "2015-03-03 00:00:00"          # the two finished chunks, whole, nothing after
    journal = json.loads((tmp_path / "journal.json").read_text(encoding="utf-8"))
    assert list(journal.values()) == [["2015-01-01..2015-01-31", "2015-02-01..2015-03-03"]]

    server.answer = original
    second = download(server, tmp_path, *args)
    assert second.returncode == 0, second.stderr
    assert "(1 chunks fetched, 2 already done)" in second.stdout
    assert {row[2][:7] for row in bars(tmp_path / "bars.db")} == {"2015-01", "2015-02", "2015-03"}


@pytest.mark.parametrize("token,symbols,message", [
    ("wrong", "IF888.CFFEX", "tushare: IF888.CFFEX 2015-01-05..2015-02-04: bad token (您的token不对，请确认。)"),
    ("good-token", "IF2109.CFFEX", "tushare: IF2109.CFFEX 2015-01-05..2015-02-04: empty result"),
    ("good-token", "IF2109.MARS", "IF2109.MARS: unknown exchange 'MARS'"),
])
def test_vendor_errors_are_one_line_exit_2_and_write_nothing(server, tmp_path, token, symbols, message):
    result = download(server, tmp_path, "--symbols", symbols, "--start", "2015-01-05", "--end", "2015-02-04",
                      token=token)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr and token not in result.stderr.replace("good-token", "")
    assert bars(tmp_path / "bars.db") == []


def test_the_client_paces_itself_under_the_cap_it_is_given(server, tmp_path):
    server.calls_per_window = 5
    server.window_seconds = 60.0
    result = download(server, tmp_path, "--symbols", "IF888.CFFEX", "--start", "2015-01-05", "--end", "2015-01-09",
                      "--chunk-days", "1", "--calls-per-minute", "5")
    assert result.returncode == 0, result.stderr
    assert "5 d bars written (5 chunks fetched, 0 already done), 5 calls, 0 retries after the per-minute limit" \
        in result.stdout


@pytest.fixture
def sina(shared_data):
    from tests.datafeed_servers.sina import SinaServer

    with SinaServer(shared_data) as running:
        yield running


def download_akshare(sina, tmp_path, *args, home=None):
    return run_command(["-m", "src.main.data", "download", "--source", "akshare", "--journal",
                        str(tmp_path / "journal.json"), "--retry-wait", "0.2", *args],
                       database=tmp_path / "bars.db", env=sina.environment(), timeout=300, home=home)


def test_akshare_a_month_of_the_io_chain(sina, tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    result = download_akshare(sina, tmp_path, "--chain", "IO2602", "--start", "2026-01-05", "--end", "2026-02-04",
                              home=home)
    assert result.returncode == 0, result.stderr
    assert list(home.iterdir()) == []
    assert "akshare: 34 contracts, 782 d bars written (34 chunks fetched, 0 already done), 35 calls, " \
           "0 retries after failed calls" in result.stdout
    assert len(bars(tmp_path / "bars.db")) == 782
    assert sina.proxy.refused == []


def test_vnpy_datafeed_name_selects_the_source(sina, tmp_path, monkeypatch, capsys):
    """Without --source the command takes vnpy's datafeed.name, as vnpy users set it in vt_setting.json."""
    from vnpy.trader.setting import SETTINGS

    from src.main import data

    for key, value in sina.environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("VNPY_DATABASE_DATABASE", str(tmp_path / "bars.db"))
    monkeypatch.setitem(SETTINGS, "datafeed.name", "akshare")
    code = data.main(["download", "--journal", str(tmp_path / "journal.json"), "--symbols", "IF888.CFFEX",
                      "--start", "2019-10-01", "--end", "2019-10-31", "--no-progress"])
    assert code == 0
    assert capsys.readouterr().out.startswith("akshare: 1 contracts, 18 d bars written")


def test_akshare_blocked_is_one_line_exit_2_and_nothing_written(sina, tmp_path):
    sina.blocked = True
    result = download_akshare(sina, tmp_path, "--symbols", "IO2602-C-4600.CFFEX", "--start", "2026-01-05",
                              "--end", "2026-02-04")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "akshare: IO2602-C-4600.CFFEX 2026-01-05..2026-02-04: option_cffex_hs300_daily_sina" \
        in lines[0], result.stderr
    assert bars(tmp_path / "bars.db") == []


def test_minute_bars_downloaded_equal_the_ones_import_ticks_builds(server, shared_data, tmp_path):
    """Tushare's end-labelled minutes of IF2101 land exactly where import-ticks puts the same real ticks."""
    downloaded = download(server, tmp_path, "--symbols", "IF2101.CFFEX", "--interval", "1m",
                          "--start", "2021-01-04", "--end", "2021-01-05")
    assert downloaded.returncode == 0, downloaded.stderr
    assert "480 1m bars written" in downloaded.stdout
    built = tmp_path / "built.db"
    imported = run_command(["-m", "src.main.data", "import-ticks", "--file",
                            str(shared_data / "cn_futures_ticks/CFFEX_IF2101_tick_20210104_20210105.csv.gz"),
                            "--symbol", "IF2101", "--exchange", "CFFEX", "--no-progress"], database=built)
    assert imported.returncode == 0, imported.stderr
    assert bars(tmp_path / "bars.db") == bars(built)
