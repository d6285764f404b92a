"""The real ``tushare`` client, through our vnpy_tushare-based datafeed, against the local Tushare Pro server."""
from __future__ import annotations

from datetime import datetime

import pandas as pd
import pytest
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.datafeed import BaseDatafeed
from vnpy.trader.object import HistoryRequest
from vnpy_tushare import Datafeed as VnpyTushareDatafeed

from src.datafeed.cn.errors import VendorError
from src.datafeed.cn.tushare_feed import TushareDatafeed
from tests.datafeed_servers import market
from tests.integration.datafeed.cn.conftest import Token


def request(symbol, start, end, interval=Interval.DAILY, exchange=Exchange.CFFEX):
    return HistoryRequest(symbol, exchange, datetime.fromisoformat(start), datetime.fromisoformat(end), interval)


def feed_for(server, token="good-token", **kwargs):
    return TushareDatafeed(token=Token(token), url=server.url, **kwargs)


def test_it_is_the_datafeed_vnpy_selects_by_name():
    assert issubclass(TushareDatafeed, VnpyTushareDatafeed) and issubclass(TushareDatafeed, BaseDatafeed)


def test_main_contract_daily_bars_are_the_real_file_aggregated(tushare_server, shared_data):
    bars = feed_for(tushare_server).query_bar_history(request("IF888", "2015-06-01", "2015-06-30"))
    reference = market.if_main_daily(shared_data)
    reference = reference[(reference.trade_date >= "20150601") & (reference.trade_date <= "20150630")]
    assert len(bars) == len(reference) == 21
    assert [b.datetime.strftime("%Y%m%d") for b in bars] == list(reference.trade_date)
    assert [b.close_price for b in bars] == list(reference.close)
    assert [b.volume for b in bars] == list(reference.vol.astype(float))
    assert tushare_server.requests[-1][0] == "fut_daily"
    assert tushare_server.requests[-1][1]["ts_code"] == "IF.CFX"


def test_minute_bars_arrive_end_labelled_and_land_start_labelled(tushare_server, shared_data):
    bars = feed_for(tushare_server).query_bar_history(
        request("IF2101", "2021-01-04", "2021-01-05", interval=Interval.MINUTE))
    reference = market.if2101_minutes(shared_data)
    assert len(bars) == len(reference) == 480
    assert bars[0].datetime.strftime("%H:%M") == "09:30" and reference.trade_time.iloc[0].endswith("09:31:00")
    assert bars[-1].datetime.strftime("%H:%M") == "14:59"
    assert [b.close_price for b in bars] == list(reference.close)
    assert tushare_server.requests[-1][1]["ts_code"] == "IF2101.CFX"


def test_options_go_to_opt_daily_under_their_tushare_code(tushare_server):
    bars = feed_for(tushare_server).query_bar_history(request("IO2602-C-4600", "2026-01-05", "2026-01-30"))
    api, params = tushare_server.requests[-1]
    assert api == "opt_daily" and params["ts_code"] == "IO2602-C-4600.CFX"
    assert len(bars) == 20
    assert all(b.symbol == "IO2602-C-4600" and b.interval is Interval.DAILY for b in bars)
    assert all(b.low_price <= min(b.open_price, b.close_price) <= max(b.open_price, b.close_price) <= b.high_price
               for b in bars)


def test_the_chain_is_listed_and_mapped_back_to_vnpy_symbols(tushare_server):
    from datetime import date

    contracts = feed_for(tushare_server).list_options("IO2602", date(2026, 1, 5), date(2026, 1, 30))
    assert len(contracts) == 34
    assert contracts[0].vt_symbol == "IO2602-C-4200.CFFEX"
    assert {c.vt_symbol for c in contracts} >= {"IO2602-C-4600.CFFEX", "IO2602-P-4600.CFFEX"}


@pytest.mark.parametrize("token,refused,expected", [
    ("wrong", set(), "tushare: IF888.CFFEX 2015-06-01..2015-06-30: bad token (您的token不对，请确认。)"),
    ("good-token", {"fut_daily"}, "tushare: IF888.CFFEX 2015-06-01..2015-06-30: no permission for fut_daily"),
])
def test_vendor_refusals_are_one_line_and_none(tushare_server, token, refused, expected):
    tushare_server.permissions["good-token"] = refused
    lines: list[str] = []
    result = feed_for(tushare_server, token=token).query_bar_history(request("IF888", "2015-06-01", "2015-06-30"),
                                                                      output=lines.append)
    assert result is None
    assert len(lines) == 1 and lines[0].startswith(expected)


def test_the_per_minute_limit_is_waited_out_and_the_pace_lowered(tushare_server):
    tushare_server.calls_per_window = 3
    tushare_server.window_seconds = 0.4
    feed = feed_for(tushare_server, calls_per_minute=100, window_seconds=0.4)
    days = pd.bdate_range("2015-06-01", "2015-06-12")
    counts = [len(feed.query_bar_history(request("IF888", f"{d:%Y-%m-%d}", f"{d:%Y-%m-%d}"))) for d in days]
    assert counts == [1] * len(days)
    assert feed.rate_limit_retries >= 1
    assert feed.pacer.calls == 3


def test_a_limit_that_never_lifts_gives_up_after_the_retries(tushare_server):
    tushare_server.calls_per_window = 1
    tushare_server.window_seconds = 3600
    feed = feed_for(tushare_server, max_rate_retries=2, window_seconds=0.01)
    assert len(feed.query_bar_history(request("IF888", "2015-06-01", "2015-06-01"))) == 1
    with pytest.raises(VendorError, match=r"IF888.CFFEX 2015-06-02..2015-06-02: fut_daily: still over the "
                                          r"per-minute limit after 2 retries: 抱歉，您每分钟最多访问该接口1次"):
        feed.fetch(request("IF888", "2015-06-02", "2015-06-02"))
    assert feed.rate_limit_retries == 2


def test_the_token_never_shows(tushare_server):
    feed = feed_for(tushare_server, token="s3cret-token")
    lines: list[str] = []
    feed.query_bar_history(request("IF888", "2015-06-01", "2015-06-30"), output=lines.append)
    assert "s3cret-token" not in repr(vars(feed)) and "s3cret-token" not in " ".join(lines)


def test_etf_option_daily_closes_are_the_real_ones(tushare_server, shared_data):
    frame = market.etf50_options(shared_data)
    first = frame[frame["code"] == "10000001"]
    bars = feed_for(tushare_server).query_bar_history(
        request("10000001", "2015-02-01", "2015-03-31", exchange=Exchange.SSE))
    api, params = tushare_server.requests[-1]
    assert api == "opt_daily" and params["ts_code"] == "10000001.SH"
    expected = first[(first.trade_date >= "20150201") & (first.trade_date <= "20150331")]
    assert len(bars) == len(expected) > 20
    assert [b.close_price for b in bars] == list(expected.sort_values("trade_date").close)
    assert all(b.symbol == "10000001" and b.exchange is Exchange.SSE for b in bars)
