"""``python -m src.main.data`` as a user runs it, on the real IF2101 ticks and on broken files."""
from __future__ import annotations

import sqlite3

import numpy as np
import pandas as pd
import pytest

from tests.e2e.cli import run_command

IF2101_TICKS = "cn_futures_ticks/CFFEX_IF2101_tick_20210104_20210105.csv.gz"


def stored_bars(database):
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "select symbol, exchange, interval, datetime, open_price, high_price, low_price, close_price, "
            "volume, turnover, open_interest from dbbardata order by datetime").fetchall()


def test_import_twice_leaves_the_same_bars_and_writes_nothing_at_home(shared_data, tmp_path):
    database = tmp_path / "bars.db"
    home = tmp_path / "home"
    home.mkdir()
    args = ["-m", "src.main.data", "import-ticks", "--file", str(shared_data / IF2101_TICKS),
            "--symbol", "IF2101", "--exchange", "CFFEX"]
    first = run_command(args, database=database, home=home)
    assert first.returncode == 0, first.stderr
    assert "56209 rows read, 480 1-minute bars written" in first.stdout
    assert "5 rows rejected (outside session: 5)" in first.stdout
    bars_after_first = stored_bars(database)
    assert len(bars_after_first) == 480

    second = run_command(args, database=database, home=home)
    assert second.returncode == 0, second.stderr
    assert stored_bars(database) == bars_after_first
    assert list(home.iterdir()) == []


def test_bad_rows_are_counted_and_skipped(tmp_path):
    ticks = tmp_path / "ticks.csv"
    ticks.write_text(
        "timestamp,price,total_volume,total_turnover,open_interest\n"
        "2021-01-04T09:30:00.5+08:00,5230.0,10,15690000,100\n"
        "2021-01-04T09:30:01+08:00,abc,11,15700000,100\n"
        "not-a-time,5231.0,12,15710000,100\n"
        "2021-01-04T09:30:02+08:00,5231.0\n"
        "2021-01-04T09:31:00.5+08:00,5232.0,20,31380000,101\n"
        "2021-01-04T09:31:01+08:00,-1,21,31390000,101\n"
        "2021-01-04T12:00:00+08:00,5232.0,21,31390000,101\n",
        encoding="utf-8")
    result = run_command(["-m", "src.main.data", "import-ticks", "--file", str(ticks), "--symbol", "IF2101",
                          "--exchange", "CFFEX"], database=tmp_path / "bars.db")
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "7 rows read, 2 1-minute bars written, 5 rows rejected" in summary
    for reason in ("unparsable number in 'price': 1", "unparsable timestamp: 1", "expected N fields, found N: 1",
                   "invalid price: 1", "outside session: 1"):
        assert reason in summary
    assert "rejected line 3: unparsable number in 'price'" in result.stdout
    bars = stored_bars(tmp_path / "bars.db")
    assert [(row[3], row[8]) for row in bars] == [("2021-01-04 09:30:00", 10.0), ("2021-01-04 09:31:00", 10.0)]


@pytest.mark.parametrize("args,message", [
    (["import-ticks", "--file", "absent.csv", "--symbol", "IF2101", "--exchange", "CFFEX"], "absent.csv: file not found"),
    (["import-ticks", "--file", "x.csv", "--symbol", "IF2101", "--exchange", "MARS"], "unknown exchange 'MARS'"),
    (["export-bars", "--symbol", "IF2101", "--exchange", "CFFEX", "--window", "0", "--out", "x.csv"],
     "expected a whole number >= 1"),
    (["export-bars", "--symbol", "IF2101", "--exchange", "CFFEX", "--start", "2021-02-01", "--end", "2021-01-01",
      "--out", "x.csv"], "--start 2021-02-01 is after --end 2021-01-01"),
    (["export-bars", "--symbol", "IF2109", "--exchange", "CFFEX", "--out", "x.csv"],
     "no 1-minute bars of IF2109.CFFEX"),
    (["export-bars", "--symbol", "IF2101", "--exchange", "CFFEX", "--start", "2021-13-01", "--out", "x.csv"],
     "expected a date YYYY-MM-DD"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args, message):
    result = run_command(["-m", "src.main.data", *args], database=tmp_path / "empty.db")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_header_without_required_columns(tmp_path):
    ticks = tmp_path / "ticks.csv"
    ticks.write_text("time,last\n1,2\n", encoding="utf-8")
    result = run_command(["-m", "src.main.data", "import-ticks", "--file", str(ticks), "--symbol", "IF2101",
                          "--exchange", "CFFEX"], database=tmp_path / "bars.db")
    assert result.returncode == 2
    assert "missing required column(s): timestamp, price, total_volume" in result.stderr


def test_export_columns_and_local_time(shared_data, tmp_path):
    database = tmp_path / "bars.db"
    imported = run_command(["-m", "src.main.data", "import-ticks", "--file", str(shared_data / IF2101_TICKS),
                            "--symbol", "IF2101", "--exchange", "CFFEX"], database=database)
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "hourly.csv"
    exported = run_command(["-m", "src.main.data", "export-bars", "--symbol", "IF2101", "--exchange", "CFFEX",
                            "--window", "1", "--interval", "HOUR", "--start", "2021-01-05", "--end", "2021-01-05",
                            "--out", str(out)], database=database)
    assert exported.returncode == 0, exported.stderr
    frame = pd.read_csv(out)
    assert list(frame.columns) == ["datetime", "open", "high", "low", "close", "volume", "turnover", "open_interest"]
    assert list(frame["datetime"]) == ["2021-01-05T09:30:00+08:00", "2021-01-05T10:30:00+08:00",
                                       "2021-01-05T13:00:00+08:00", "2021-01-05T14:00:00+08:00"]


@pytest.mark.parametrize("window", [1, 15])
def test_import_then_export_reproduces_the_pandas_reference(shared_data, tmp_path, window):
    from tests.integration.test_bar_pipeline_if2101 import pandas_minute_bars, pandas_window_bars

    database = tmp_path / "bars.db"
    imported = run_command(["-m", "src.main.data", "import-ticks", "--file", str(shared_data / IF2101_TICKS),
                            "--symbol", "IF2101", "--exchange", "CFFEX"], database=database)
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / f"bars_{window}.csv"
    exported = run_command(["-m", "src.main.data", "export-bars", "--symbol", "IF2101", "--exchange", "CFFEX",
                            "--window", str(window), "--out", str(out)], database=database)
    assert exported.returncode == 0, exported.stderr

    minute_reference, _dropped = pandas_minute_bars(shared_data / IF2101_TICKS)
    reference = minute_reference if window == 1 else pandas_window_bars(minute_reference, window)
    actual = pd.read_csv(out)
    actual["datetime"] = pd.to_datetime(actual["datetime"]).dt.tz_convert("Asia/Shanghai")
    actual = actual.set_index("datetime")
    reference = reference.reset_index()
    reference = reference.set_index(reference.columns[0])
    assert len(actual) == len(reference) == (480 if window == 1 else 32)
    assert list(actual.index) == list(reference.index)
    for column in ("open", "high", "low", "close", "volume", "turnover", "open_interest"):
        assert np.allclose(actual[column].to_numpy(), reference[column].to_numpy(), rtol=0, atol=1e-6), column
