"""Both bundled tick layouts import: the timestamp layout (IF2101) and the CTP snapshot layout (RM705)."""
from __future__ import annotations

import csv
import sqlite3
from collections import defaultdict
from datetime import datetime

from vnpy.trader.constant import Exchange

from src.strategy.infrastructure.tick_csv import CHINA_TZ, read_ctp_tick_csv
from tests.e2e.cli import run_command

RM705 = "cn_futures_ticks/RM705-2017-03-20.csv"


def test_the_snapshot_layout_reads_every_row_of_rm705(shared_data):
    path = shared_data / RM705
    rows = list(read_ctp_tick_csv(path, "RM705", Exchange.CZCE))
    assert len(rows) == 16979
    assert [item for _line, item in rows if isinstance(item, str)] == []
    line, first = rows[0]
    assert line == 2  # RM705,20170320,09:00:00.5,2374.0,0.0,2372.0,2374.0,264.0,65.0
    assert first.datetime == datetime(2017, 3, 20, 9, 0, 0, 500000, tzinfo=CHINA_TZ)
    assert (first.last_price, first.bid_price_1, first.ask_price_1, first.bid_volume_1, first.ask_volume_1) == \
        (2374.0, 2372.0, 2374.0, 264.0, 65.0)
    assert first.volume == 0.0  # lastVolume is never recorded in this file: no volume, never invented
    times = [tick.datetime for _line, tick in rows]
    assert times == sorted(times)


def test_a_row_of_another_symbol_or_a_bad_time_is_counted_not_fatal(tmp_path):
    path = tmp_path / "ticks.csv"
    path.write_text("symbol,date,time,lastPrice,lastVolume,bidPrice1,askPrice1,bidVolume1,askVolume1\n"
                    "RM705,20170320,09:00:00.5,2374.0,2,2372.0,2374.0,264.0,65.0\n"
                    "RM709,20170320,09:00:01.0,2376.0,0,2375.0,2376.0,117.0,55.0\n"
                    "RM705,20170320,9h00,2376.0,0,2375.0,2376.0,117.0,55.0\n"
                    "RM705,20170320,09:00:01,2377.0,3,2376.0,2377.0,1.0,2.0\n", encoding="utf-8")
    rows = list(read_ctp_tick_csv(path, "RM705", Exchange.CZCE))
    assert [item for _line, item in rows if isinstance(item, str)] == [
        "symbol 'RM709' is not the requested symbol 'RM705'", "unparsable date and time '20170320' '9h00'"]
    ticks = [item for _line, item in rows if not isinstance(item, str)]
    assert [(tick.last_volume, tick.volume) for tick in ticks] == [(2.0, 2.0), (3.0, 5.0)]  # cumulative: running sum


def test_import_ticks_builds_the_minute_bars_of_rm705(shared_data, tmp_path):
    database = tmp_path / "bars.db"
    result = run_command(["-m", "src.main.data", "import-ticks", "--file", str(shared_data / RM705), "--symbol",
                          "RM705", "--exchange", "CZCE", "--no-progress"], database=database, timeout=600)
    assert result.returncode == 0, result.stderr
    assert "16979 rows read, 190 1-minute bars written" in result.stdout
    with sqlite3.connect(database) as connection:
        bars = connection.execute("select datetime, open_price, high_price, low_price, close_price from dbbardata "
                                  "where symbol = 'RM705' order by datetime").fetchall()
    assert len(bars) == 190
    # Each bar against the file's own ticks of that minute, read here with the csv module.
    by_minute: dict[str, list[float]] = defaultdict(list)
    with (shared_data / RM705).open(encoding="utf-8", newline="") as stream:
        for row in csv.DictReader(stream):
            by_minute[f"2017-03-20 {row['time'][:5]}:00"].append(float(row["lastPrice"]))
    for moment, open_price, high, low, close in bars:
        prices = by_minute[moment]
        assert (open_price, high, low, close) == (prices[0], max(prices), min(prices), prices[-1]), moment
    assert not any("10:15:00" < moment < "10:30:00" for moment, *_ in bars)  # CZCE's morning break
