"""HKEX sessions in the session tables, and BarPipeline's 1-minute and N-minute bars for SEHK ticks."""
from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import TickData

from src.strategy.domain.value_object.trading_session import (
    CHINA_TRADING_SESSIONS,
    EXCHANGE_TIMEZONE,
    ClosingAuction,
    SessionPhase,
    TradingSchedule,
    TradingSession,
)
from src.strategy.infrastructure.bar_pipeline import BarPipeline, DiscardReason

SEHK = CHINA_TRADING_SESSIONS.schedule_for_symbol("SEHK", "700")
DAY = datetime(2026, 12, 7, tzinfo=EXCHANGE_TIMEZONE)  # a Monday


@pytest.mark.parametrize("moment, phase, bar", [
    ("09:20:01", SessionPhase.AUCTION, "09:30"),
    ("09:30:00", SessionPhase.CONTINUOUS, "09:30"),
    ("11:59:59", SessionPhase.CONTINUOUS, "11:59"),
    ("12:00:00", SessionPhase.CLOSING_GRACE, "11:59"),
    ("12:08:30", SessionPhase.CLOSING_GRACE, "11:59"),  # a half day's closing auction
    ("13:00:00", SessionPhase.CONTINUOUS, "13:00"),
    ("15:59:59", SessionPhase.CONTINUOUS, "15:59"),
    ("16:08:41", SessionPhase.CLOSING_GRACE, "15:59"),
])
def test_hkex_minutes(moment, phase, bar):
    match = SEHK.locate(time.fromisoformat(moment))
    assert match.phase is phase and match.bar_time == time.fromisoformat(bar)


@pytest.mark.parametrize("moment", ["08:59", "12:10", "12:30", "12:59", "16:10", "17:00"])
def test_outside_hkex_sessions(moment):
    assert SEHK.locate(time.fromisoformat(moment)) is None


def test_a_closing_auction_must_follow_its_session():
    sessions = (TradingSession(time(9, 30), time(12, 0)),)
    with pytest.raises(ValueError, match="must start when"):
        TradingSchedule("x", sessions, closing_auctions=(ClosingAuction(time(12, 5), time(12, 10), 0),))
    with pytest.raises(ValueError, match="does not exist"):
        TradingSchedule("x", sessions, closing_auctions=(ClosingAuction(time(12, 0), time(12, 10), 1),))


def hk_tick(at: datetime, price: float, cumulative: float) -> TickData:
    return TickData(gateway_name="ALLTICK", symbol="700", exchange=Exchange.SEHK, datetime=at, last_price=price,
                    volume=cumulative, turnover=cumulative * price)


def day_of_ticks(half_day: bool = False) -> list[TickData]:
    ticks, cumulative = [], 0.0
    moments = [DAY.replace(hour=9, minute=20, second=1)]
    minute = DAY.replace(hour=9, minute=30)
    last = DAY.replace(hour=12 if half_day else 16)
    while minute < last:
        if not (12 <= minute.hour < 13):
            moments += [minute + timedelta(seconds=1), minute + timedelta(seconds=31)]
        minute += timedelta(minutes=1)
    moments.append(last.replace(minute=8, second=41))  # the closing auction's print
    for n, at in enumerate(moments):
        cumulative += 100
        ticks.append(hk_tick(at, 380 + (n % 7) / 10, cumulative))
    return ticks


@pytest.mark.parametrize("half_day, bars", [(False, 150 + 180), (True, 150)])
def test_a_day_of_hk_ticks_makes_one_bar_per_trading_minute(half_day, bars):
    pipeline = BarPipeline()
    emitted = []
    for tick in day_of_ticks(half_day):
        emitted += pipeline.update_tick(tick)
    emitted += pipeline.flush_ticks()
    assert len(emitted) == bars
    assert emitted[0].datetime.time() == time(9, 30) and emitted[0].volume == 300  # the auction print joined
    assert emitted[-1].datetime.time() == (time(11, 59) if half_day else time(15, 59))
    assert emitted[-1].volume == 300  # two continuous prints and the closing auction
    assert pipeline.stats.ticks_discarded_total == 0


def test_hourly_bars_of_an_hk_day_restart_at_each_session():
    minute_bars = BarPipeline()
    hourly = BarPipeline(window=1, interval=Interval.HOUR)
    windows = []
    for tick in day_of_ticks():
        for bar in minute_bars.update_tick(tick):
            windows += hourly.update_bar(bar)
    for bar in minute_bars.flush_ticks():
        windows += hourly.update_bar(bar)
    windows += hourly.flush_bars()
    assert [bar.datetime.strftime("%H:%M") for bar in windows] == ["09:30", "10:30", "11:30", "13:00", "14:00",
                                                                     "15:00"]


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 8 * 3600 - 1), st.integers(1, 1000)), min_size=1, max_size=200))
def test_bar_volume_is_the_volume_of_the_accepted_ticks(events):
    pipeline = BarPipeline()
    start = DAY.replace(hour=9)
    cumulative, accepted_volume, bars = 0.0, 0.0, []
    for offset, traded in sorted(events):
        cumulative += traded
        at = start + timedelta(seconds=offset)
        before = pipeline.stats.ticks_accepted
        bars += pipeline.update_tick(hk_tick(at, 100.0, cumulative))
        if pipeline.stats.ticks_accepted > before:
            accepted_volume = cumulative
    bars += pipeline.flush_ticks()
    # Volume of ticks outside the sessions is carried into the next accepted tick's bar, as for CFFEX.
    assert sum(bar.volume for bar in bars) == accepted_volume
    assert pipeline.stats.ticks_discarded[DiscardReason.UNKNOWN_EXCHANGE] == 0


@pytest.mark.parametrize("local, open_", [
    ("2026-12-07 09:10", False),  # pre-opening auction: nothing trades
    ("2026-12-07 09:31", True),
    ("2026-12-07 12:30", False),
    ("2026-12-07 15:59", True),
    ("2026-12-07 16:05", False),  # closing auction
    ("2026-12-05 10:00", False),  # Saturday
])
def test_the_stall_watchdog_expects_data_only_in_continuous_trading(local, open_):
    from src.datafeed.hk.service import HK_TIMEZONE, hk_market_open

    moment = datetime.fromisoformat(local).replace(tzinfo=HK_TIMEZONE)
    assert hk_market_open(moment.timestamp()) is open_
