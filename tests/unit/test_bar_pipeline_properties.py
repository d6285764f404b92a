"""BarPipeline: invariants checked with hypothesis, and one test per bar-building convention."""

from __future__ import annotations

import math
from dataclasses import FrozenInstanceError
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData, TickData

from src.strategy.domain.value_object.trading_session import (
    CHINA_TRADING_SESSIONS,
    EXCHANGE_TIMEZONE,
    SessionPhase,
    TradingSchedule,
)
from src.strategy.infrastructure.bar_pipeline import BarPipeline, DiscardReason, PipelineStats

TZ = EXCHANGE_TIMEZONE
MULTIPLIER = 300.0

PROPERTY_SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def at(*args: int) -> datetime:
    """A Shanghai-local aware datetime; microseconds in the 7th position."""
    return datetime(*args, tzinfo=TZ)


def make_tick(
    moment: datetime,
    price: float,
    cum_volume: float,
    *,
    symbol: str = "IF2101",
    exchange: Exchange = Exchange.CFFEX,
    cum_turnover: float | None = None,
    open_interest: float = 1000.0,
) -> TickData:
    return TickData(
        gateway_name="TEST",
        symbol=symbol,
        exchange=exchange,
        datetime=moment,
        last_price=price,
        volume=cum_volume,
        turnover=cum_volume * price * MULTIPLIER if cum_turnover is None else cum_turnover,
        open_interest=open_interest,
    )


def make_bar(
    moment: datetime,
    *,
    symbol: str = "IF2101",
    exchange: Exchange = Exchange.CFFEX,
    open_price: float = 100.0,
    high: float = 101.0,
    low: float = 99.0,
    close: float = 100.5,
    volume: float = 10.0,
    turnover: float = 1000.0,
    open_interest: float = 500.0,
) -> BarData:
    return BarData(
        gateway_name="TEST",
        symbol=symbol,
        exchange=exchange,
        datetime=moment,
        interval=Interval.MINUTE,
        volume=volume,
        turnover=turnover,
        open_interest=open_interest,
        open_price=open_price,
        high_price=high,
        low_price=low,
        close_price=close,
    )


def feed_ticks(pipeline: BarPipeline, ticks: list[TickData]) -> list[BarData]:
    bars: list[BarData] = []
    for tick in ticks:
        bars.extend(pipeline.update_tick(tick))
    bars.extend(pipeline.flush_ticks())
    return bars


def feed_bars(pipeline: BarPipeline, bars: list[BarData]) -> list[BarData]:
    windows: list[BarData] = []
    for bar in bars:
        windows.extend(pipeline.update_bar(bar))
    windows.extend(pipeline.flush_bars())
    return windows


def chain(pipeline: BarPipeline, ticks: list[TickData]) -> tuple[list[BarData], list[BarData]]:
    minutes = feed_ticks(pipeline, ticks)
    return minutes, feed_bars(pipeline, minutes)


def trading_minutes(schedule: TradingSchedule, start: datetime, hours: int) -> list[datetime]:
    """Every continuous-trading minute in [start, start + hours)."""
    minutes = []
    moment = start
    for _ in range(hours * 60):
        if schedule.is_trading_minute(moment):
            minutes.append(moment)
        moment += timedelta(minutes=1)
    return minutes


def session_end_after(schedule: TradingSchedule, moment: datetime) -> datetime:
    session = schedule.locate(moment).session
    end = moment.replace(hour=session.end.hour, minute=session.end.minute, second=0, microsecond=0)
    while end <= moment:
        end += timedelta(days=1)
    return end


def assert_ohlc_consistent(bars: list[BarData]) -> None:
    for bar in bars:
        assert bar.low_price <= bar.open_price <= bar.high_price, bar
        assert bar.low_price <= bar.close_price <= bar.high_price, bar
        assert bar.volume >= 0 and bar.turnover >= 0


IF = CHINA_TRADING_SESSIONS.schedule_for_symbol("CFFEX", "IF2101")
AU = CHINA_TRADING_SESSIONS.schedule_for_symbol("SHFE", "au2406")
RB = CHINA_TRADING_SESSIONS.schedule_for_symbol("SHFE", "rb2405")

# Two IF trading days (Mon and Tue), and one au trading day (Wed 2024-03-13: night of Tue, then day).
IF_MINUTES = trading_minutes(IF, at(2021, 1, 4, 9, 0), 24 + 8)
AU_MINUTES = trading_minutes(AU, at(2024, 3, 12, 20, 0), 20)

WINDOWS = st.sampled_from(
    [
        (1, Interval.MINUTE),
        (5, Interval.MINUTE),
        (15, Interval.MINUTE),
        (30, Interval.MINUTE),
        (50, Interval.MINUTE),
        (1, Interval.HOUR),
        (2, Interval.HOUR),
    ]
)


@st.composite
def minute_bar_streams(draw):
    symbol, exchange, minutes = draw(
        st.sampled_from([("IF2101", Exchange.CFFEX, IF_MINUTES), ("au2406", Exchange.SHFE, AU_MINUTES)])
    )
    chosen = sorted(draw(st.sets(st.sampled_from(minutes), min_size=1, max_size=120)))
    bars = []
    for moment in chosen:
        low = draw(st.floats(1.0, 1000.0))
        high = low + draw(st.floats(0.0, 50.0))
        open_price = draw(st.floats(low, high))
        close = draw(st.floats(low, high))
        bars.append(
            make_bar(
                moment,
                symbol=symbol,
                exchange=exchange,
                open_price=open_price,
                high=high,
                low=low,
                close=close,
                volume=float(draw(st.integers(0, 5000))),
                turnover=float(draw(st.integers(0, 10**9))),
                open_interest=float(draw(st.integers(0, 10**6))),
            )
        )
    return bars


IF_FIRST_TICK = at(2021, 1, 4, 9, 28)


@st.composite
def tick_streams(draw, symbol="IF2101", exchange=Exchange.CFFEX, start=IF_FIRST_TICK):
    """Ticks of one trading day: increasing timestamps (some fall in breaks), non-decreasing cumulative volume."""
    count = draw(st.integers(1, 150))
    moment = start
    last_moment = start + timedelta(hours=7)
    cum_volume = 0.0
    cum_turnover = 0.0
    ticks = []
    for _ in range(count):
        moment += timedelta(milliseconds=draw(st.sampled_from([0, 500, 500, 500, 30_000, 90_000, 1_800_000])))
        if moment > last_moment:
            break
        price = draw(st.floats(100.0, 200.0))
        traded = draw(st.integers(0, 20))
        cum_volume += traded
        cum_turnover += traded * price * MULTIPLIER
        ticks.append(
            make_tick(
                moment,
                price,
                cum_volume,
                symbol=symbol,
                exchange=exchange,
                cum_turnover=cum_turnover,
                open_interest=float(draw(st.integers(0, 10**5))),
            )
        )
    return ticks


class TestProperties:
    @PROPERTY_SETTINGS
    @given(bars=minute_bar_streams(), window=WINDOWS)
    def test_volume_and_turnover_are_conserved_from_minute_to_window_bars(self, bars, window):
        windows = feed_bars(BarPipeline(*window), bars)
        assert sum(b.volume for b in windows) == sum(b.volume for b in bars)
        assert math.isclose(sum(b.turnover for b in windows), sum(b.turnover for b in bars), rel_tol=1e-12)
        assert BarPipeline(*window).interval is window[1]
        assert all(w.interval is window[1] for w in windows)

    @PROPERTY_SETTINGS
    @given(bars=minute_bar_streams(), window=WINDOWS)
    def test_no_window_spans_a_session_break(self, bars, window):
        count, interval = window
        span = timedelta(minutes=count * (60 if interval is Interval.HOUR else 1))
        schedule = IF if bars[0].symbol == "IF2101" else AU
        windows = feed_bars(BarPipeline(count, interval), bars)
        starts = [w.datetime for w in windows]
        assert starts == sorted(set(starts))
        for window_bar in windows:
            start = window_bar.datetime
            assert start.tzinfo is TZ
            match = schedule.locate(start)
            assert match is not None and match.phase is SessionPhase.CONTINUOUS
            session_start = start.replace(hour=match.session.start.hour, minute=match.session.start.minute)
            if session_start > start:
                session_start -= timedelta(days=1)
            assert (start - session_start) % span == timedelta(0)
            end = min(start + span, session_end_after(schedule, start))
            inside = [b for b in bars if start <= b.datetime < end]
            assert inside, "a window bar without input"
            assert window_bar.volume == sum(b.volume for b in inside)
            assert window_bar.open_price == inside[0].open_price
            assert window_bar.close_price == inside[-1].close_price
            assert window_bar.high_price == max(b.high_price for b in inside)
            assert window_bar.low_price == min(b.low_price for b in inside)
            assert window_bar.open_interest == inside[-1].open_interest

    @PROPERTY_SETTINGS
    @given(ticks=tick_streams(), window=WINDOWS)
    def test_every_bar_has_low_below_open_close_below_high(self, ticks, window):
        minutes, windows = chain(BarPipeline(*window), ticks)
        assert_ohlc_consistent(minutes)
        assert_ohlc_consistent(windows)

    @PROPERTY_SETTINGS
    @given(ticks=tick_streams(), window=WINDOWS)
    def test_minute_volume_adds_up_to_the_last_accepted_cumulative_volume(self, ticks, window):
        pipeline = BarPipeline(*window)
        minutes, windows = chain(pipeline, ticks)
        in_session = [t for t in ticks if IF.locate(t.datetime) is not None]
        expected = in_session[-1].volume if in_session else 0.0
        assert sum(b.volume for b in minutes) == expected
        assert sum(b.volume for b in windows) == expected
        stats = pipeline.stats
        assert stats.ticks_accepted == len(in_session)
        assert stats.ticks_discarded[DiscardReason.OUTSIDE_SESSION] == len(ticks) - len(in_session)
        assert stats.minute_bars_emitted == len(minutes)
        assert stats.window_bars_emitted == len(windows)

    @PROPERTY_SETTINGS
    @given(
        streams=st.tuples(
            tick_streams(),
            tick_streams(symbol="au2406", exchange=Exchange.SHFE, start=at(2024, 3, 12, 20, 58)),
            tick_streams(symbol="rb2405", exchange=Exchange.SHFE, start=at(2024, 3, 13, 10, 0)),
        ),
        window=WINDOWS,
        data=st.data(),
    )
    def test_results_do_not_depend_on_how_symbols_interleave(self, streams, window, data):
        alone = {}
        for ticks in streams:
            alone[ticks[0].vt_symbol] = chain(BarPipeline(*window), ticks)

        remaining = [list(ticks) for ticks in streams]
        interleaved = []
        while any(remaining):
            choices = [i for i, ticks in enumerate(remaining) if ticks]
            interleaved.append(remaining[data.draw(st.sampled_from(choices))].pop(0))
        minutes, windows = chain(BarPipeline(*window), interleaved)

        for vt_symbol, (alone_minutes, alone_windows) in alone.items():
            assert [b for b in minutes if b.vt_symbol == vt_symbol] == alone_minutes
            assert [b for b in windows if b.vt_symbol == vt_symbol] == alone_windows

    @PROPERTY_SETTINGS
    @given(bars=minute_bar_streams())
    def test_window_of_one_minute_passes_bars_through(self, bars):
        assert feed_bars(BarPipeline(1, Interval.MINUTE), bars) == bars


class TestTickConventions:
    def test_auction_print_joins_the_first_bar(self):
        pipeline = BarPipeline()
        bars = feed_ticks(
            pipeline,
            [
                make_tick(at(2021, 1, 4, 9, 29, 0, 400_000), 5230.0, 240),
                make_tick(at(2021, 1, 4, 9, 30, 0, 400_000), 5231.0, 311),
                make_tick(at(2021, 1, 4, 9, 30, 30), 5225.0, 400),
                make_tick(at(2021, 1, 4, 9, 31, 0, 400_000), 5229.0, 450),
            ],
        )
        first = bars[0]
        assert first.datetime == at(2021, 1, 4, 9, 30)
        assert (first.open_price, first.high_price, first.low_price, first.close_price) == (
            5230.0,
            5231.0,
            5225.0,
            5225.0,
        )
        assert first.volume == 400
        assert bars[1].datetime == at(2021, 1, 4, 9, 31) and bars[1].volume == 50
        assert pipeline.stats.ticks_accepted == 4

    def test_closing_print_goes_into_the_last_minute(self):
        pipeline = BarPipeline()
        bars = feed_ticks(
            pipeline,
            [
                make_tick(at(2021, 1, 5, 11, 29, 59, 700_000), 5295.0, 49550),
                make_tick(at(2021, 1, 5, 11, 30, 0, 500_000), 5295.8, 49551),
                make_tick(at(2021, 1, 5, 13, 0, 0, 200_000), 5288.6, 49588),
            ],
        )
        assert [b.datetime for b in bars] == [at(2021, 1, 5, 11, 29), at(2021, 1, 5, 13, 0)]
        assert bars[0].close_price == 5295.8
        assert bars[0].volume == 49551
        assert bars[1].volume == 37

    def test_settlement_record_after_close_is_discarded_counted_and_closes_the_last_bar(self):
        pipeline = BarPipeline()
        assert pipeline.update_tick(make_tick(at(2021, 1, 4, 14, 59, 59, 900_000), 5260.0, 84285)) == []
        assert pipeline.update_tick(make_tick(at(2021, 1, 4, 15, 0, 0, 400_000), 5260.0, 84288)) == []
        emitted = pipeline.update_tick(make_tick(at(2021, 1, 4, 15, 35, 19, 400_000), 5260.0, 84288))
        assert [(b.datetime, b.volume) for b in emitted] == [(at(2021, 1, 4, 14, 59), 84288)]
        stats = pipeline.stats
        assert stats.ticks_discarded[DiscardReason.OUTSIDE_SESSION] == 1
        assert stats.ticks_discarded_total == 1
        assert stats.ticks_accepted == 2
        assert pipeline.flush() == []

    def test_outside_tick_within_the_grace_minute_does_not_close_the_bar(self):
        pipeline = BarPipeline()
        pipeline.update_tick(make_tick(at(2021, 1, 4, 11, 29, 50), 5260.0, 10))
        assert pipeline.update_tick(make_tick(at(2021, 1, 4, 11, 30, 30), 5261.0, 12)) == []
        assert pipeline.update_tick(make_tick(at(2021, 1, 4, 12, 0), 5261.0, 12)) != []
        assert pipeline.stats.ticks_discarded[DiscardReason.OUTSIDE_SESSION] == 1

    def test_tick_for_an_already_emitted_bar_is_out_of_order(self):
        pipeline = BarPipeline()
        pipeline.update_tick(make_tick(at(2021, 1, 4, 14, 59, 59), 5260.0, 10))
        assert len(pipeline.update_tick(make_tick(at(2021, 1, 4, 15, 30), 5260.0, 10))) == 1
        assert pipeline.update_tick(make_tick(at(2021, 1, 4, 15, 0, 0, 500_000), 5261.0, 12)) == []
        assert pipeline.stats.ticks_discarded[DiscardReason.OUT_OF_ORDER] == 1

    def test_late_closing_print_after_the_bar_was_emitted_is_out_of_order(self):
        pipeline = BarPipeline()
        pipeline.update_tick(make_tick(at(2021, 1, 4, 15, 0, 0, 200_000), 5260.0, 10))
        assert len(pipeline.update_tick(make_tick(at(2021, 1, 4, 15, 30), 5260.0, 10))) == 1
        assert pipeline.update_tick(make_tick(at(2021, 1, 4, 15, 0, 0, 700_000), 5261.0, 12)) == []
        assert pipeline.stats.ticks_discarded[DiscardReason.OUT_OF_ORDER] == 1
        assert pipeline.flush() == []

    def test_tick_of_a_flushed_minute_is_out_of_order(self):
        pipeline = BarPipeline()
        pipeline.update_tick(make_tick(at(2021, 1, 4, 10, 0, 1), 5260.0, 10))
        assert len(pipeline.flush()) == 1
        assert pipeline.update_tick(make_tick(at(2021, 1, 4, 10, 0, 2), 5261.0, 12)) == []
        assert pipeline.stats.ticks_discarded[DiscardReason.OUT_OF_ORDER] == 1
        (bar,) = feed_ticks(pipeline, [make_tick(at(2021, 1, 4, 10, 1, 0), 5262.0, 15)])
        assert (bar.datetime, bar.volume) == (at(2021, 1, 4, 10, 1), 5)

    def test_cumulative_baseline_resets_with_the_trading_day(self):
        bars = feed_ticks(
            BarPipeline(),
            [
                make_tick(at(2021, 1, 4, 14, 59, 30), 5260.0, 84288),
                make_tick(at(2021, 1, 5, 9, 29, 0, 200_000), 5250.0, 160),
                make_tick(at(2021, 1, 5, 9, 30, 0, 200_000), 5251.0, 200),
            ],
        )
        assert [(b.datetime, b.volume) for b in bars] == [
            (at(2021, 1, 4, 14, 59), 84288),
            (at(2021, 1, 5, 9, 30), 200),
        ]

    def test_cumulative_going_down_restarts_the_count(self):
        bars = feed_ticks(
            BarPipeline(),
            [
                make_tick(at(2021, 1, 4, 10, 0, 1), 5260.0, 1000, cum_turnover=5e6),
                make_tick(at(2021, 1, 4, 10, 0, 2), 5260.0, 30, cum_turnover=2e5),
                make_tick(at(2021, 1, 4, 10, 0, 3), 5260.0, 35, cum_turnover=2.5e5),
            ],
        )
        assert bars[0].volume == 1000 + 30 + 5
        assert bars[0].turnover == 5e6 + 2e5 + 5e4

    def test_open_interest_is_the_last_value(self):
        bars = feed_ticks(
            BarPipeline(),
            [
                make_tick(at(2021, 1, 4, 10, 0, 1), 5260.0, 1, open_interest=90),
                make_tick(at(2021, 1, 4, 10, 0, 2), 5261.0, 2, open_interest=95),
                make_tick(at(2021, 1, 4, 10, 0, 3), 5262.0, 3, open_interest=91),
            ],
        )
        assert bars[0].open_interest == 91

    @pytest.mark.parametrize(
        ("price", "volume", "reason"),
        [
            (float("nan"), 10.0, DiscardReason.INVALID_PRICE),
            (float("inf"), 10.0, DiscardReason.INVALID_PRICE),
            (0.0, 10.0, DiscardReason.INVALID_PRICE),
            (-1.0, 10.0, DiscardReason.INVALID_PRICE),
            (None, 10.0, DiscardReason.INVALID_PRICE),
            (100.0, -1.0, DiscardReason.INVALID_VOLUME),
            (100.0, float("nan"), DiscardReason.INVALID_VOLUME),
            (100.0, None, DiscardReason.INVALID_VOLUME),
        ],
    )
    def test_invalid_ticks_are_counted_and_skipped(self, price, volume, reason):
        pipeline = BarPipeline()
        tick = make_tick(at(2021, 1, 4, 10, 0, 1), 100.0, 5.0, cum_turnover=1.0)
        tick.last_price = price
        tick.volume = volume
        assert pipeline.update_tick(tick) == []
        assert pipeline.stats.ticks_discarded[reason] == 1
        assert pipeline.stats.ticks_accepted == 0
        assert pipeline.flush() == []

    def test_timestamp_going_backwards_is_counted(self):
        pipeline = BarPipeline()
        pipeline.update_tick(make_tick(at(2021, 1, 4, 10, 0, 5), 100.0, 5))
        pipeline.update_tick(make_tick(at(2021, 1, 4, 10, 0, 4), 101.0, 6))
        pipeline.update_tick(make_tick(at(2021, 1, 4, 9, 59, 59), 101.0, 6))
        pipeline.update_tick(make_tick(at(2021, 1, 4, 10, 0, 5), 102.0, 7))
        stats = pipeline.stats
        assert stats.ticks_discarded[DiscardReason.OUT_OF_ORDER] == 2
        assert stats.ticks_accepted == 2
        (bar,) = pipeline.flush()
        assert (bar.open_price, bar.close_price, bar.volume) == (100.0, 102.0, 7)

    def test_unknown_exchange_is_counted_not_raised(self):
        pipeline = BarPipeline()
        assert (
            pipeline.update_tick(make_tick(at(2021, 1, 4, 10, 0), 100.0, 5, symbol="ES", exchange=Exchange.CME))
            == []
        )
        assert (
            pipeline.update_tick(make_tick(at(2021, 1, 4, 10, 1), 100.0, 6, symbol="ES", exchange=Exchange.CME))
            == []
        )
        assert pipeline.stats.ticks_discarded[DiscardReason.UNKNOWN_EXCHANGE] == 2

    def test_timezones_are_normalised_to_shanghai(self):
        pipeline = BarPipeline()
        naive = make_tick(datetime(2021, 1, 4, 10, 0, 1), 100.0, 1)
        utc = make_tick(datetime(2021, 1, 4, 2, 0, 2, tzinfo=timezone.utc), 101.0, 2)
        bars = feed_ticks(pipeline, [naive, utc])
        assert [b.datetime for b in bars] == [at(2021, 1, 4, 10, 0)]
        assert bars[0].datetime.tzinfo is TZ
        assert bars[0].close_price == 101.0

    def test_emitted_bars_carry_the_inputs_identity(self):
        (bar,) = feed_ticks(BarPipeline(), [make_tick(at(2021, 1, 4, 10, 0, 1), 100.0, 1)])
        assert (bar.symbol, bar.exchange, bar.gateway_name, bar.interval, bar.vt_symbol) == (
            "IF2101",
            Exchange.CFFEX,
            "TEST",
            Interval.MINUTE,
            "IF2101.CFFEX",
        )

    def test_night_session_crossing_midnight_shfe_au(self):
        def au(moment, price, cum):
            return make_tick(moment, price, cum, symbol="au2406", exchange=Exchange.SHFE)

        pipeline = BarPipeline()
        # Friday night 2024-03-15 belongs to Monday 2024-03-18, and so does its part after midnight.
        bars = feed_ticks(
            pipeline,
            [
                au(at(2024, 3, 15, 20, 59, 0, 500_000), 480.0, 100),
                au(at(2024, 3, 15, 21, 0, 0, 500_000), 481.0, 150),
                au(at(2024, 3, 15, 23, 59, 30), 482.0, 300),
                au(at(2024, 3, 16, 0, 0, 10), 483.0, 320),
                au(at(2024, 3, 16, 2, 29, 40), 484.0, 400),
                au(at(2024, 3, 16, 2, 30, 0, 500_000), 485.0, 410),
                au(at(2024, 3, 18, 8, 59), 485.5, 410),  # not an auction: the night session took place
                au(at(2024, 3, 18, 9, 0, 1), 486.0, 450),
            ],
        )
        assert [(b.datetime, b.volume) for b in bars] == [
            (at(2024, 3, 15, 21, 0), 150),
            (at(2024, 3, 15, 23, 59), 150),
            (at(2024, 3, 16, 0, 0), 20),
            (at(2024, 3, 16, 2, 29), 90),
            (at(2024, 3, 18, 9, 0), 40),
        ]
        assert bars[3].close_price == 485.0
        assert pipeline.stats.ticks_discarded[DiscardReason.OUTSIDE_SESSION] == 1

    def test_day_auction_of_a_night_product_counts_when_no_night_session_was_held(self):
        pipeline = BarPipeline()
        bars = feed_ticks(
            pipeline,
            [
                make_tick(at(2024, 4, 8, 8, 59, 0, 500_000), 480.0, 100, symbol="au2406", exchange=Exchange.SHFE),
                make_tick(at(2024, 4, 8, 9, 0, 0, 500_000), 481.0, 130, symbol="au2406", exchange=Exchange.SHFE),
            ],
        )
        assert [(b.datetime, b.open_price, b.volume) for b in bars] == [(at(2024, 4, 8, 9, 0), 480.0, 130)]


class TestWindowConventions:
    def minute_bars(self, schedule, start, hours, **fields):
        return [make_bar(m, **fields) for m in trading_minutes(schedule, start, hours)]

    def test_short_last_window_of_a_session_is_emitted_with_its_last_minute(self):
        pipeline = BarPipeline(50)
        emitted = {}
        for bar in self.minute_bars(IF, at(2021, 1, 4, 9, 0), 7):
            for window in pipeline.update_bar(bar):
                emitted[window.datetime] = (bar.datetime, window.volume)
        assert emitted[at(2021, 1, 4, 11, 10)] == (at(2021, 1, 4, 11, 29), 200.0)
        assert emitted[at(2021, 1, 4, 10, 20)] == (at(2021, 1, 4, 11, 9), 500.0)
        assert at(2021, 1, 4, 13, 0) in emitted and at(2021, 1, 4, 12, 0) not in emitted
        assert emitted[at(2021, 1, 4, 14, 40)] == (at(2021, 1, 4, 14, 59), 200.0)
        assert pipeline.flush() == []

    def test_commodity_break_at_1015_cuts_the_window(self):
        windows = feed_bars(
            BarPipeline(30),
            self.minute_bars(RB, at(2024, 3, 13, 8, 0), 8, symbol="rb2405", exchange=Exchange.SHFE),
        )
        assert [(w.datetime.strftime("%H:%M"), w.volume) for w in windows] == [
            ("09:00", 300.0),
            ("09:30", 300.0),
            ("10:00", 150.0),
            ("10:30", 300.0),
            ("11:00", 300.0),
            ("13:30", 300.0),
            ("14:00", 300.0),
            ("14:30", 300.0),
        ]

    def test_hourly_bars(self):
        windows = feed_bars(BarPipeline(1, Interval.HOUR), self.minute_bars(IF, at(2021, 1, 4, 9, 0), 7))
        assert [(w.datetime.strftime("%H:%M"), w.interval, w.volume) for w in windows] == [
            ("09:30", Interval.HOUR, 600.0),
            ("10:30", Interval.HOUR, 600.0),
            ("13:00", Interval.HOUR, 600.0),
            ("14:00", Interval.HOUR, 600.0),
        ]
        rb = feed_bars(
            BarPipeline(1, Interval.HOUR),
            self.minute_bars(RB, at(2024, 3, 12, 20, 0), 20, symbol="rb2405", exchange=Exchange.SHFE),
        )
        assert [(w.datetime.strftime("%d %H:%M"), w.volume) for w in rb] == [
            ("12 21:00", 600.0),
            ("12 22:00", 600.0),
            ("13 09:00", 600.0),
            ("13 10:00", 150.0),
            ("13 10:30", 600.0),
            ("13 13:30", 600.0),
            ("13 14:30", 300.0),
        ]

    def test_hourly_window_crosses_midnight_inside_the_night_session(self):
        bars = self.minute_bars(AU, at(2024, 3, 12, 20, 0), 8, symbol="au2406", exchange=Exchange.SHFE)
        windows = feed_bars(BarPipeline(2, Interval.HOUR), bars)
        assert [(w.datetime, w.volume) for w in windows] == [
            (at(2024, 3, 12, 21, 0), 1200.0),
            (at(2024, 3, 12, 23, 0), 1200.0),
            (at(2024, 3, 13, 1, 0), 900.0),
        ]

    def test_window_is_completed_by_a_later_bar_when_its_last_minute_is_missing(self):
        pipeline = BarPipeline(15)
        assert pipeline.update_bar(make_bar(at(2021, 1, 4, 9, 30))) == []
        assert pipeline.update_bar(make_bar(at(2021, 1, 4, 9, 40))) == []
        (window,) = pipeline.update_bar(make_bar(at(2021, 1, 4, 9, 46)))
        assert (window.datetime, window.volume) == (at(2021, 1, 4, 9, 30), 20.0)
        (rest,) = pipeline.flush()
        assert rest.datetime == at(2021, 1, 4, 9, 45)

    def test_auction_minute_bar_merges_into_the_first_minute(self):
        pipeline = BarPipeline(1)
        assert (
            pipeline.update_bar(
                make_bar(at(2021, 1, 4, 9, 29), open_price=99.5, high=99.5, low=99.5, close=99.5, volume=240)
            )
            == []
        )
        (bar,) = pipeline.update_bar(make_bar(at(2021, 1, 4, 9, 30)))
        assert (bar.datetime, bar.open_price, bar.low_price, bar.close_price, bar.volume) == (
            at(2021, 1, 4, 9, 30),
            99.5,
            99.0,
            100.5,
            250.0,
        )

    def test_grace_minute_bar_after_the_last_window_is_out_of_order(self):
        pipeline = BarPipeline(15)
        for minute in range(45, 60):
            pipeline.update_bar(make_bar(at(2021, 1, 4, 14, minute)))
        assert pipeline.update_bar(make_bar(at(2021, 1, 4, 15, 0), volume=3)) == []
        assert pipeline.stats.bars_discarded[DiscardReason.OUT_OF_ORDER] == 1

    def test_grace_minute_bar_closes_a_window_still_open(self):
        pipeline = BarPipeline(15)
        pipeline.update_bar(make_bar(at(2021, 1, 4, 14, 50)))
        (window,) = pipeline.update_bar(make_bar(at(2021, 1, 4, 15, 0), volume=3))
        assert (window.datetime, window.volume) == (at(2021, 1, 4, 14, 45), 13.0)

    @pytest.mark.parametrize(
        ("change", "reason"),
        [
            ({"high": 98.0}, DiscardReason.INVALID_PRICE),
            ({"low": 100.6}, DiscardReason.INVALID_PRICE),
            ({"open_price": float("nan")}, DiscardReason.INVALID_PRICE),
            ({"volume": -1.0}, DiscardReason.INVALID_VOLUME),
            ({"turnover": float("inf")}, DiscardReason.INVALID_VOLUME),
        ],
    )
    def test_invalid_bars_are_counted(self, change, reason):
        pipeline = BarPipeline(5)
        assert pipeline.update_bar(make_bar(at(2021, 1, 4, 10, 0), **change)) == []
        assert pipeline.stats.bars_discarded[reason] == 1
        assert pipeline.stats.bars_accepted == 0

    def test_bars_outside_sessions_wrong_interval_or_repeated_are_counted(self):
        pipeline = BarPipeline(5)
        pipeline.update_bar(make_bar(at(2021, 1, 4, 12, 0)))
        hourly = make_bar(at(2021, 1, 4, 10, 0))
        hourly.interval = Interval.HOUR
        pipeline.update_bar(hourly)
        pipeline.update_bar(make_bar(at(2021, 1, 4, 10, 0, 30)))
        pipeline.update_bar(make_bar(at(2021, 1, 4, 10, 1)))
        pipeline.update_bar(make_bar(at(2021, 1, 4, 10, 1)))
        discarded = pipeline.stats.bars_discarded
        assert discarded[DiscardReason.OUTSIDE_SESSION] == 1
        assert discarded[DiscardReason.INVALID_BAR] == 2
        assert discarded[DiscardReason.OUT_OF_ORDER] == 1
        assert pipeline.stats.bars_accepted == 1

    def test_portfolio_form(self):
        pipeline = BarPipeline(2)
        first = pipeline.update_bars(
            {
                "IF2101.CFFEX": make_bar(at(2021, 1, 4, 9, 30)),
                # 10:14 is the last minute before the 10:15 break: a one-minute window that closes at once.
                "rb2405.SHFE": make_bar(at(2021, 1, 4, 10, 14), symbol="rb2405", exchange=Exchange.SHFE),
            }
        )
        assert list(first) == ["rb2405.SHFE"]
        assert first["rb2405.SHFE"].datetime == at(2021, 1, 4, 10, 14)
        second = pipeline.update_bars({"IF2101.CFFEX": make_bar(at(2021, 1, 4, 9, 31))})
        assert list(second) == ["IF2101.CFFEX"]
        assert (second["IF2101.CFFEX"].datetime, second["IF2101.CFFEX"].volume) == (at(2021, 1, 4, 9, 30), 20.0)

    def test_portfolio_form_keeps_a_second_completed_window_for_the_next_call(self):
        pipeline = BarPipeline(15)
        pipeline.update_bars({"IF2101.CFFEX": make_bar(at(2021, 1, 4, 14, 40))})
        out = pipeline.update_bars({"IF2101.CFFEX": make_bar(at(2021, 1, 4, 14, 59))})
        assert out["IF2101.CFFEX"].datetime == at(2021, 1, 4, 14, 30)
        later = pipeline.update_bars({})
        assert later["IF2101.CFFEX"].datetime == at(2021, 1, 4, 14, 45)
        assert pipeline.update_bars({}) == {}


class TestConstruction:
    def test_invalid_arguments(self):
        with pytest.raises(ValueError):
            BarPipeline(0)
        with pytest.raises(ValueError):
            BarPipeline(True)
        with pytest.raises(ValueError):
            BarPipeline(1, Interval.DAILY)
        with pytest.raises(TypeError):
            BarPipeline(1, Interval.MINUTE, sessions={})

    def test_stats_are_frozen_and_validated(self):
        stats = BarPipeline().stats
        with pytest.raises(FrozenInstanceError):
            stats.ticks_accepted = 3
        with pytest.raises(TypeError):
            stats.ticks_discarded[DiscardReason.OUT_OF_ORDER] = 1
        assert set(stats.ticks_discarded) == set(DiscardReason)
        with pytest.raises(ValueError):
            PipelineStats(-1, {}, 0, {}, 0, 0)

    def test_stats_are_a_snapshot(self):
        pipeline = BarPipeline()
        before = pipeline.stats
        pipeline.update_tick(make_tick(at(2021, 1, 4, 12, 0), 100.0, 1))
        assert before.ticks_discarded_total == 0
        assert pipeline.stats.ticks_discarded_total == 1
