"""Our AKShare datafeed calling the real ``akshare`` functions, answered by the local Sina stand-in.

AKShare builds each URL from a string literal, so the only way in is the one every ``requests``
user has: ``HTTPS_PROXY`` (a loopback proxy that answers for Sina's hosts and refuses any other)
and ``REQUESTS_CA_BUNDLE`` (the proxy's throwaway CA). Nothing of akshare or of ours is patched.
"""
from __future__ import annotations

from datetime import date, datetime

import pytest
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.datafeed import BaseDatafeed
from vnpy.trader.object import HistoryRequest

from src.datafeed.cn.akshare_feed import AkshareDatafeed
from src.datafeed.cn.errors import VendorError
from tests.datafeed_servers import market


def request(symbol, start, end, interval=Interval.DAILY, exchange=Exchange.CFFEX):
    return HistoryRequest(symbol, exchange, datetime.fromisoformat(start), datetime.fromisoformat(end), interval)


def test_it_is_a_vnpy_datafeed():
    assert isinstance(AkshareDatafeed(), BaseDatafeed)


def test_main_contract_daily_bars_are_the_real_file_aggregated(sina_server, shared_data):
    feed = AkshareDatafeed()
    bars = feed.query_bar_history(request("IF888", "2015-06-01", "2015-06-30"))
    reference = market.if_main_daily(shared_data)
    reference = reference[(reference.trade_date >= "20150601") & (reference.trade_date <= "20150630")]
    assert [b.close_price for b in bars] == list(reference.close)
    assert [b.datetime.strftime("%Y%m%d") for b in bars] == list(reference.trade_date)
    assert "symbol=IF0" in sina_server.requests[-1]
    # the whole history came in one answer: the next month costs no call
    feed.query_bar_history(request("IF888", "2015-07-01", "2015-07-31"))
    assert feed.calls == 1 and len(sina_server.requests) == 1
    assert sina_server.proxy.refused == []


def test_minute_bars_land_start_labelled(sina_server, shared_data):
    bars = AkshareDatafeed().query_bar_history(request("IF2101", "2021-01-04", "2021-01-05 23:59:59",
                                                       interval=Interval.MINUTE))
    reference = market.if2101_minutes(shared_data)
    assert len(bars) == 480
    assert bars[0].datetime == datetime(2021, 1, 4, 9, 30, tzinfo=bars[0].datetime.tzinfo)
    assert [b.close_price for b in bars] == list(reference.close)
    assert [b.open_interest for b in bars] == list(reference.oi.astype(int).astype(float))


def test_io_options_by_sina_code_and_the_chain_listing(sina_server):
    feed = AkshareDatafeed()
    bars = feed.query_bar_history(request("IO2602-C-4600", "2026-01-05", "2026-01-30"))
    assert len(bars) == 20 and "symbol=io2602C4600" in sina_server.requests[-1]
    contracts = feed.list_options("IO2602", date(2026, 1, 5), date(2026, 1, 30))
    assert len(contracts) == 34 and contracts[0].vt_symbol == "IO2602-C-4200.CFFEX"


def test_a_blocked_source_is_retried_then_one_line(sina_server):
    sina_server.blocked = True
    waits: list[float] = []
    feed = AkshareDatafeed(retry_wait=0.5, sleep=waits.append)
    lines: list[str] = []
    assert feed.query_bar_history(request("IO2602-C-4600", "2026-01-05", "2026-01-30"), output=lines.append) is None
    assert waits == [0.5, 0.5] and feed.retries == 2 and len(sina_server.requests) == 3
    assert len(lines) == 1
    assert lines[0].startswith("akshare: IO2602-C-4600.CFFEX 2026-01-05..2026-01-30: option_cffex_hs300_daily_sina"
                               "('io2602C4600') gave no usable answer after 3 tries")


def test_etf_option_daily_closes_are_the_real_ones(sina_server, shared_data):
    frame = market.etf50_options(shared_data)
    first = frame[(frame["code"] == "10000001") & (frame.trade_date <= "20150331")].sort_values("trade_date")
    bars = AkshareDatafeed().query_bar_history(request("10000001", "2015-02-01", "2015-03-31",
                                                        exchange=Exchange.SSE))
    assert "symbol=CON_OP_10000001" in sina_server.requests[-1]
    assert [b.close_price for b in bars] == list(first.close) and len(bars) > 20


def test_what_akshare_does_not_offer_is_said_plainly(sina_server):
    with pytest.raises(VendorError, match="rb2405.SHFE .*CFFEX futures and options and SSE/SZSE ETF options only"):
        AkshareDatafeed().fetch(request("rb2405", "2026-01-05", "2026-01-30", exchange=Exchange.SHFE))
    with pytest.raises(VendorError, match="interval 1m is not offered"):
        AkshareDatafeed().fetch(request("IO2602-C-4600", "2026-01-05", "2026-01-30", interval=Interval.MINUTE))
    assert sina_server.requests == []
