"""The data recorder end to end: replay the sample market, record it, compare the stored bars with the source."""
from __future__ import annotations

import json
import re
import sqlite3
from datetime import date, datetime

import pytest

from src.datafeed.sample_market import generate_sample_market
from tests.e2e.daemon_support import Process, environment

START, END = date(2026, 1, 7), date(2026, 1, 8)
BAR_SYMBOLS = ("IF2601.CFFEX", "IM2602.CFFEX", "IO2601-C-4600.CFFEX", "MO2601-P-7000.CFFEX")
TICK_SYMBOLS = ("IF2601.CFFEX",)


def setting(vt_symbols) -> dict:
    return {vt: {"symbol": vt.rsplit(".", 1)[0], "exchange": "CFFEX", "gateway_name": "CTP"} for vt in vt_symbols}


def stored_bars(database, vt_symbol) -> list[tuple]:
    symbol, exchange = vt_symbol.rsplit(".", 1)
    with sqlite3.connect(database) as connection:
        return connection.execute(
            "SELECT datetime, open_price, high_price, low_price, close_price, volume, turnover, open_interest "
            "FROM dbbardata WHERE symbol = ? AND exchange = ? AND interval = '1m' ORDER BY datetime",
            (symbol, exchange)).fetchall()


def test_recorded_bars_equal_the_replayed_bars(tmp_path):
    market = generate_sample_market(START, END)
    missing = [vt for vt in BAR_SYMBOLS if vt not in market.bar_counts()]
    assert not missing, f"the sample market has no {missing}: pick other contracts"
    setting_file = tmp_path / "recorder.json"
    setting_file.write_text(json.dumps({"tick": setting(TICK_SYMBOLS), "bar": setting(BAR_SYMBOLS)}))
    database = tmp_path / "recorded.db"
    run = Process(["-m", "src.main.recorder", "--replay", "--replay-source", "sample", "--replay-start",
                   START.isoformat(), "--replay-end", END.isoformat(), "--recorder-setting", str(setting_file),
                   "--log-dir", str(tmp_path / "logs")], environment(database), tmp_path / "out.txt")
    try:
        assert run.wait(120) == 0, run.text()[-3000:]
    finally:
        run.kill_everything()
    log = (tmp_path / "logs" / "recorder" / "recorder.log").read_text()
    written = re.search(r"recorder closed: (\d+) ticks and (\d+) 1-minute bars written", log)
    assert written, log[-2000:]

    compared = 0
    for vt_symbol in BAR_SYMBOLS:
        source = market.bars[vt_symbol]
        recorded = stored_bars(database, vt_symbol)
        assert len(recorded) == len(source), vt_symbol
        for expected, row in zip(source, recorded):
            when, open_, high, low, close, volume, turnover, open_interest = row
            assert datetime.fromisoformat(when) == expected.datetime.replace(tzinfo=None)
            assert (open_, high, low, close, volume, open_interest) == (
                expected.open_price, expected.high_price, expected.low_price, expected.close_price,
                expected.volume, expected.open_interest)
            assert turnover == pytest.approx(expected.turnover, rel=1e-9)
            compared += 1
    assert compared == int(written.group(2))

    with sqlite3.connect(database) as connection:
        ticks = connection.execute("SELECT symbol, COUNT(*), MIN(datetime), MAX(datetime) FROM dbtickdata "
                                   "GROUP BY symbol").fetchall()
    assert [(symbol, count) for symbol, count, _first, _last in ticks] == [("IF2601", int(written.group(1)))]
    assert ticks[0][2].startswith("2026-01-07 09:30:00") and ticks[0][3].startswith("2026-01-08 15:")
