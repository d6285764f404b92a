"""``python -m src.main.data import-bars`` on the real IF 5-minute history (2014-2019) and on broken input."""
from __future__ import annotations

import re
import sqlite3

import pandas as pd
import pytest

from tests.e2e.cli import run_command

IF_HOT_5M = "cn_index_futures_bars/CFFEX.IF.HOT_m5_2014_2019.csv.gz"
LAYOUT = "config/examples/import_bars/wondertrader_5m.yaml"


def stored(database):
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "select symbol, exchange, interval, datetime, open_price, high_price, low_price, close_price, volume "
            "from dbbardata order by datetime").fetchall()


def file_frame(shared_data):
    frame = pd.read_csv(shared_data / IF_HOT_5M, skipinitialspace=True)
    frame.columns = [name.strip("<>") for name in frame.columns]
    frame["end"] = pd.to_datetime(frame["Date"] + " " + frame["Time"], format="%Y/%m/%d %H:%M:%S")
    return frame


@pytest.mark.slow
def test_the_if_history_lands_start_labelled_day_by_day_and_reimports_identically(shared_data, tmp_path):
    database = tmp_path / "bars.db"
    args = ["-m", "src.main.data", "import-bars", "--file", str(shared_data / IF_HOT_5M), "--symbol", "IF888",
            "--exchange", "CFFEX", "--layout", LAYOUT]
    first = run_command(args, database=database)
    assert first.returncode == 0, first.stderr
    assert "68145 rows read, 68145 bars written on 1421 days (2014-01-02 09:30 to 2019-10-31 14:55)" in first.stdout
    assert "0 rows rejected (none)" in first.stdout
    rows = stored(database)
    assert len(rows) == 68145
    assert {row[:3] for row in rows} == {("IF888", "CFFEX", "1m")}

    frame = file_frame(shared_data)
    starts = pd.to_datetime([row[3] for row in rows])
    # every stored bar is the file's bar moved to its start, in the same order with the same prices
    assert list(starts) == list(frame["end"] - pd.Timedelta(minutes=5))
    assert [row[4:9] for row in rows[:2]] == [(2342.2, 2343.4, 2339.2, 2343.2, 10226.0),
                                              (2343.4, 2343.8, 2336.6, 2338.0, 12114.0)]
    # bars per day equal the file's: 48 a day, 29 on 2016-01-04 and 4 on 2016-01-07 (the circuit-breaker days)
    per_day_db = pd.Series(starts.date).value_counts().sort_index()
    per_day_file = pd.Series(frame["end"].dt.date).value_counts().sort_index()
    assert per_day_db.equals(per_day_file)
    assert len(per_day_db) == 1421
    assert per_day_db.value_counts().to_dict() == {48: 1419, 29: 1, 4: 1}
    # session-correct: 09:30-11:25 and 13:00-14:55 starts only, whatever the year (the file has no 09:15-09:30
    # or 15:00-15:15 bars even before 2016)
    minutes = sorted({(t.hour, t.minute) for t in starts})
    assert minutes[0] == (9, 30) and minutes[-1] == (14, 55)
    assert all((9, 30) <= m <= (11, 25) or (13, 0) <= m <= (14, 55) for m in minutes)

    second = run_command(args, database=database)
    assert second.returncode == 0, second.stderr
    assert stored(database) == rows


def test_bad_rows_are_counted_and_the_good_ones_kept(tmp_path):
    bars = tmp_path / "bars.csv"
    bars.write_text("<Date>, <Time>, <Open>, <High>, <Low>, <Close>, <Volume>\n"
                    "2015/3/2,09:35:00,3600,3610,3590,3605,100\n"
                    "2015/3/2,09:20:00,3600,3610,3590,3605,100\n"
                    "2015/3/2,09:40:00,x,3610,3590,3605,100\n"
                    "2015/3/2,09:45:00,3600,3590,3590,3605,100\n"
                    "2015/3/2,15:15:00,3600,3610,3590,3605,100\n"
                    "2015/3/2,09:40:00,3600,3610,3590,3605,100\n", encoding="utf-8")
    database = tmp_path / "bars.db"
    result = run_command(["-m", "src.main.data", "import-bars", "--file", str(bars), "--symbol", "IF888",
                          "--exchange", "CFFEX", "--layout", LAYOUT, "--no-progress"], database=database)
    assert result.returncode == 0, result.stderr
    summary = result.stdout.strip().splitlines()[-1]
    assert "6 rows read, 2 bars written on 1 days" in summary
    assert "4 rows rejected (inconsistent OHLC: 1, outside session: 2, unparsable number in 'open': 1)" in summary
    assert "rejected line 3: outside session" in result.stdout
    assert [row[3] for row in stored(database)] == ["2015-03-02 09:30:00", "2015-03-02 09:35:00"]


def test_flags_alone_describe_a_layout_and_override_the_file(tmp_path):
    bars = tmp_path / "bars.csv"
    bars.write_text("ts;o;h;l;c;v\n2021-01-04 09:31;5230;5231;5229;5230;4\n", encoding="utf-8")
    database = tmp_path / "bars.db"
    result = run_command(["-m", "src.main.data", "import-bars", "--file", str(bars), "--symbol", "IF2101",
                          "--exchange", "CFFEX", "--datetime-column", "ts", "--datetime-format", "%Y-%m-%d %H:%M",
                          "--label", "end", "--delimiter", ";", "--column", "open=o", "--column", "high=h",
                          "--column", "low=l", "--column", "close=c", "--column", "volume=v"], database=database)
    assert result.returncode == 0, result.stderr
    assert [row[3] for row in stored(database)] == ["2021-01-04 09:30:00"]


@pytest.mark.parametrize("extra,message", [
    (["--label", "middle"], "argument --label: invalid choice"),
    (["--timezone", "Mars/Olympus"], "timezone: unknown timezone 'Mars/Olympus'"),
    (["--column", "colour=red"], "--column 'colour=red': expected FIELD=NAME"),
    (["--price-scale", "0"], "must be positive"),
])
def test_bad_layout_flags_are_one_line_and_exit_2(tmp_path, extra, message):
    bars = tmp_path / "bars.csv"
    bars.write_text("datetime,open,high,low,close,volume\n", encoding="utf-8")
    result = run_command(["-m", "src.main.data", "import-bars", "--file", str(bars), "--symbol", "IF2101",
                          "--exchange", "CFFEX", *extra], database=tmp_path / "bars.db")
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert not (tmp_path / "bars.db").exists()


def test_layout_file_problems_name_the_file_and_write_nothing(tmp_path):
    layout = tmp_path / "layout.yaml"
    layout.write_text("bar_minutes: 5\nlabel: end\ncolour: red\n", encoding="utf-8")
    bars = tmp_path / "bars.csv"
    bars.write_text("a,b\n1,2\n", encoding="utf-8")
    result = run_command(["-m", "src.main.data", "import-bars", "--file", str(bars), "--symbol", "IF2101",
                          "--exchange", "CFFEX", "--layout", str(layout)], database=tmp_path / "bars.db")
    assert result.returncode == 2
    assert re.search(r"layout\.yaml: unknown key\(s\) colour", result.stderr)
    layout.write_text("bar_minutes: 5\n", encoding="utf-8")
    result = run_command(["-m", "src.main.data", "import-bars", "--file", str(bars), "--symbol", "IF2101",
                          "--exchange", "CFFEX", "--layout", str(layout)], database=tmp_path / "bars.db")
    assert result.returncode == 2
    assert "bars.csv: missing column(s): datetime, open, high, low, close, volume (the header has: a, b)" \
        in result.stderr
