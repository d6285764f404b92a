"""Trading-session tables, lookups and the conventions that place prints into minute bars."""

from __future__ import annotations

import ast
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path

import pytest

from src.strategy.domain.value_object.trading_session import (
    CFFEX_INDEX,
    CFFEX_TREASURY,
    CHINA_TRADING_SESSIONS,
    COMMODITY_DAY_ONLY,
    COMMODITY_NIGHT_0100,
    COMMODITY_NIGHT_0230,
    COMMODITY_NIGHT_2300,
    ETF_OPTION,
    CallAuction,
    ExchangeSessions,
    SessionKind,
    SessionPhase,
    TradingSchedule,
    TradingSession,
    TradingSessionCatalog,
    product_code,
    trading_day_of,
)

MODULE = Path(__file__).resolve().parents[2] / "src/strategy/domain/value_object/trading_session.py"


def periods(schedule: TradingSchedule) -> list[tuple[str, str]]:
    return [(s.start.strftime("%H:%M"), s.end.strftime("%H:%M")) for s in schedule.sessions]


def lookup(exchange: str, symbol: str) -> TradingSchedule:
    return CHINA_TRADING_SESSIONS.schedule_for_symbol(exchange, symbol)


def _imports(module: Path) -> set[str]:
    tree = ast.parse(module.read_text(encoding="utf-8"))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
    return imported


def test_module_imports_only_the_standard_library():
    # the exchange time zone has one home, exchange_time.py, itself standard library only
    exchange_time = "src.strategy.domain.value_object.exchange_time"
    stdlib = {"__future__", "re", "dataclasses", "datetime", "enum", "functools", "zoneinfo"}
    assert {name.split(".")[0] for name in _imports(MODULE) - {exchange_time}} <= stdlib
    assert _imports(MODULE.with_name("exchange_time.py")) <= {"__future__", "zoneinfo"}


class TestTables:
    def test_cffex_index_futures_and_options(self):
        for symbol in ("IF2101", "IH2101", "IC2101", "IM2301", "IO2101-C-4000", "HO2306-P-2500", "MO2312-C-6000"):
            assert lookup("CFFEX", symbol) is CFFEX_INDEX
        assert periods(CFFEX_INDEX) == [("09:30", "11:30"), ("13:00", "15:00")]

    def test_cffex_treasury_futures_close_at_1515(self):
        for symbol in ("T2403", "TF2403", "TS2403", "TL2403"):
            assert lookup("CFFEX", symbol) is CFFEX_TREASURY
        assert periods(CFFEX_TREASURY) == [("09:30", "11:30"), ("13:00", "15:15")]

    def test_commodity_day_sessions(self):
        assert periods(COMMODITY_DAY_ONLY) == [("09:00", "10:15"), ("10:30", "11:30"), ("13:30", "15:00")]
        for schedule in (COMMODITY_NIGHT_2300, COMMODITY_NIGHT_0100, COMMODITY_NIGHT_0230):
            assert periods(schedule)[1:] == periods(COMMODITY_DAY_ONLY)
            assert schedule.sessions[0].kind is SessionKind.NIGHT
            assert all(s.kind is SessionKind.DAY for s in schedule.sessions[1:])

    @pytest.mark.parametrize(
        ("exchange", "symbol", "night"),
        [
            ("SHFE", "cu2405", ("21:00", "01:00")),
            ("SHFE", "al2405", ("21:00", "01:00")),
            ("SHFE", "ni2405", ("21:00", "01:00")),
            ("SHFE", "ss2405", ("21:00", "01:00")),
            ("INE", "bc2405", ("21:00", "01:00")),
            ("SHFE", "au2406", ("21:00", "02:30")),
            ("SHFE", "ag2406", ("21:00", "02:30")),
            ("INE", "sc2406", ("21:00", "02:30")),
            ("SHFE", "rb2405", ("21:00", "23:00")),
            ("SHFE", "ru2405", ("21:00", "23:00")),
            ("SHFE", "sp2405", ("21:00", "23:00")),
            ("DCE", "m2405", ("21:00", "23:00")),
            ("DCE", "i2405", ("21:00", "23:00")),
            ("DCE", "m2405-C-3000", ("21:00", "23:00")),
            ("CZCE", "SR405", ("21:00", "23:00")),
            ("CZCE", "MA405", ("21:00", "23:00")),
            ("CZCE", "SR405C6000", ("21:00", "23:00")),
        ],
    )
    def test_night_sessions(self, exchange, symbol, night):
        schedule = lookup(exchange, symbol)
        assert schedule.has_night_session
        assert periods(schedule)[0] == night

    @pytest.mark.parametrize(
        ("exchange", "symbol"),
        [
            ("SHFE", "wr2405"),
            ("DCE", "jd2405"),
            ("DCE", "lh2405"),
            ("CZCE", "AP405"),
            ("CZCE", "UR405"),
            ("GFEX", "si2405"),
            ("GFEX", "lc2405"),
        ],
    )
    def test_day_only_products(self, exchange, symbol):
        schedule = lookup(exchange, symbol)
        assert schedule is COMMODITY_DAY_ONLY
        assert not schedule.has_night_session

    def test_etf_options(self):
        assert lookup("SSE", "10005000") is ETF_OPTION
        assert lookup("SZSE", "90001234") is ETF_OPTION
        assert periods(ETF_OPTION) == [("09:30", "11:30"), ("13:00", "15:00")]

    def test_auction_windows_end_at_the_trading_days_first_session(self):
        assert [(a.start, a.end) for a in CFFEX_INDEX.auctions] == [(time(9, 25), time(9, 30))]
        assert [(a.start, a.end) for a in COMMODITY_DAY_ONLY.auctions] == [(time(8, 55), time(9, 0))]
        night, holiday = COMMODITY_NIGHT_2300.auctions
        assert (night.start, night.end, night.session_index, night.only_without_earlier_session) == (
            time(20, 55),
            time(21, 0),
            0,
            False,
        )
        assert (holiday.start, holiday.end, holiday.session_index, holiday.only_without_earlier_session) == (
            time(8, 55),
            time(9, 0),
            1,
            True,
        )


class TestLookup:
    def test_product_code_is_the_leading_letters(self):
        assert product_code("IF2101") == "IF"
        assert product_code("rb2405") == "rb"
        assert product_code("IO2101-C-4000") == "IO"
        assert product_code("10005000") == ""
        assert product_code("SR405C6000") == "SR"

    def test_unknown_product_gets_the_exchange_default(self):
        assert lookup("SHFE", "zz2405") is COMMODITY_DAY_ONLY
        assert lookup("CFFEX", "XX2405") is CFFEX_INDEX
        assert not CHINA_TRADING_SESSIONS.exchange("SHFE").knows("zz")

    def test_product_matching_ignores_case(self):
        assert lookup("SHFE", "RB2405") is COMMODITY_NIGHT_2300
        assert lookup("CZCE", "sr405") is COMMODITY_NIGHT_2300
        assert lookup("shfe", "au2406") is COMMODITY_NIGHT_0230

    def test_unknown_exchange_is_a_clear_error(self):
        with pytest.raises(ValueError, match="no trading sessions known for exchange 'NYMEX'"):
            lookup("NYMEX", "CL2405")

    def test_all_chinese_exchanges_are_known(self):
        assert set(CHINA_TRADING_SESSIONS.exchange_codes) == {
            "CFFEX",
            "SHFE",
            "INE",
            "DCE",
            "CZCE",
            "GFEX",
            "SSE",
            "SZSE",
            "SEHK",
        }


class TestLocate:
    def test_continuous_minutes(self):
        match = CFFEX_INDEX.locate(time(10, 0, 30))
        assert match.phase is SessionPhase.CONTINUOUS
        assert match.bar_time == time(10, 0)
        assert match.offset_minutes == 0
        assert not match.is_last_minute
        assert CFFEX_INDEX.locate(time(14, 59, 59)).is_last_minute

    def test_cffex_auction_print_joins_0930(self):
        match = CFFEX_INDEX.locate(time(9, 29, 0, 400_000))
        assert match.phase is SessionPhase.AUCTION
        assert match.bar_time == time(9, 30)
        assert match.session_index == 0
        assert CFFEX_INDEX.locate(time(9, 24, 59)) is None

    def test_closing_prints_join_the_last_minute_of_their_session(self):
        for stamp, bar in ((time(11, 30, 0, 500_000), time(11, 29)), (time(15, 0, 0, 400_000), time(14, 59))):
            match = CFFEX_INDEX.locate(stamp)
            assert match.phase is SessionPhase.CLOSING_GRACE
            assert match.bar_time == bar
            assert match.offset_minutes == -1
        assert CFFEX_INDEX.locate(time(11, 31)) is None
        assert CFFEX_INDEX.locate(time(15, 1)) is None
        assert CFFEX_TREASURY.locate(time(15, 15, 0, 200_000)).bar_time == time(15, 14)

    def test_settlement_records_are_outside(self):
        for stamp in (time(15, 29, 30), time(15, 35, 19), time(15, 44), time(12, 0), time(9, 0)):
            assert CFFEX_INDEX.locate(stamp) is None

    def test_commodity_break_at_1015(self):
        assert COMMODITY_DAY_ONLY.locate(time(10, 15, 0, 500_000)).bar_time == time(10, 14)
        assert COMMODITY_DAY_ONLY.locate(time(10, 20)) is None
        assert COMMODITY_DAY_ONLY.locate(time(10, 30)).phase is SessionPhase.CONTINUOUS

    def test_night_session_crossing_midnight(self):
        au = COMMODITY_NIGHT_0230
        night = au.sessions[0]
        assert night.crosses_midnight
        assert night.duration_minutes == 330
        for stamp in (time(21, 0), time(23, 59, 59), time(0, 0), time(2, 29, 59)):
            match = au.locate(stamp)
            assert match.session_index == 0 and match.phase is SessionPhase.CONTINUOUS
        assert au.locate(time(2, 30, 0, 500_000)).bar_time == time(2, 29)
        assert au.locate(time(2, 31)) is None
        assert au.locate(time(20, 59)).bar_time == time(21, 0)
        assert COMMODITY_NIGHT_0100.locate(time(1, 0, 0, 500_000)).bar_time == time(0, 59)
        assert COMMODITY_NIGHT_0100.locate(time(1, 30)) is None
        assert COMMODITY_NIGHT_2300.locate(time(23, 30)) is None

    def test_day_auction_of_night_products_is_conditional(self):
        match = COMMODITY_NIGHT_2300.locate(time(8, 59))
        assert match.phase is SessionPhase.AUCTION
        assert match.only_without_earlier_session
        assert match.bar_time == time(9, 0)
        assert not COMMODITY_DAY_ONLY.locate(time(8, 59)).only_without_earlier_session

    def test_etf_option_auction_print_joins_0930(self):
        assert ETF_OPTION.locate(time(9, 25, 0)).bar_time == time(9, 30)
        assert ETF_OPTION.locate(time(9, 14)) is None

    def test_minute_table_agrees_with_session_membership(self):
        for schedule in (CFFEX_INDEX, CFFEX_TREASURY, COMMODITY_NIGHT_0230, COMMODITY_NIGHT_0100, ETF_OPTION):
            for minute in range(24 * 60):
                moment = time(minute // 60, minute % 60)
                inside = any(s.contains(moment) for s in schedule.sessions)
                assert schedule.is_trading_minute(moment) == inside


class TestWindowLayout:
    def test_windows_restart_at_each_session(self):
        layout = COMMODITY_DAY_ONLY.window_layout(60)
        assert layout[9 * 60 + 59].closes_window
        assert layout[10 * 60].minutes_into_window == 0
        assert layout[10 * 60 + 14].minutes_into_window == 14 and layout[10 * 60 + 14].closes_window
        assert layout[10 * 60 + 30].minutes_into_window == 0
        assert layout[13 * 60 + 30].minutes_into_window == 0
        assert layout[10 * 60 + 20] is None

    def test_night_window_runs_across_midnight(self):
        layout = COMMODITY_NIGHT_0230.window_layout(120)
        assert layout[23 * 60].minutes_into_window == 0
        assert layout[0].minutes_into_window == 60
        assert layout[60].minutes_into_window == 0
        assert layout[2 * 60 + 29].minutes_into_window == 89 and layout[2 * 60 + 29].closes_window

    def test_window_must_be_positive(self):
        with pytest.raises(ValueError):
            CFFEX_INDEX.window_layout(0)


class TestTradingDay:
    def test_day_session_belongs_to_its_date(self):
        assert trading_day_of(datetime(2021, 1, 4, 9, 29)) == date(2021, 1, 4)
        assert trading_day_of(datetime(2021, 1, 4, 15, 35)) == date(2021, 1, 4)

    def test_night_session_belongs_to_the_next_weekday(self):
        assert trading_day_of(datetime(2024, 3, 12, 21, 0)) == date(2024, 3, 13)
        assert trading_day_of(datetime(2024, 3, 13, 1, 30)) == date(2024, 3, 13)
        # Friday night and its part after midnight (a Saturday) belong to Monday.
        assert trading_day_of(datetime(2024, 3, 15, 20, 59)) == date(2024, 3, 18)
        assert trading_day_of(datetime(2024, 3, 15, 23, 59)) == date(2024, 3, 18)
        assert trading_day_of(datetime(2024, 3, 16, 2, 29)) == date(2024, 3, 18)

    def test_aware_datetimes_are_converted_to_exchange_time(self):
        utc = datetime(2024, 3, 15, 13, 30, tzinfo=timezone.utc)  # 21:30 in Shanghai, a Friday
        assert trading_day_of(utc) == date(2024, 3, 18)
        assert trading_day_of(datetime(2024, 3, 12, 1, 30, tzinfo=timezone.utc)) == date(2024, 3, 12)


class TestValidation:
    def test_session_rejects_bad_times(self):
        with pytest.raises(ValueError):
            TradingSession(time(9, 0), time(9, 0))
        with pytest.raises(ValueError):
            TradingSession(time(9, 0, 30), time(10, 0))
        with pytest.raises(ValueError):
            TradingSession(time(9, 0, tzinfo=timezone(timedelta(hours=8))), time(10, 0))
        with pytest.raises(TypeError):
            TradingSession("09:00", time(10, 0))

    def test_schedule_rejects_overlap_and_order(self):
        with pytest.raises(ValueError, match="overlaps"):
            TradingSchedule("x", (TradingSession(time(9), time(11)), TradingSession(time(10), time(12))))
        with pytest.raises(ValueError, match="night session must come before"):
            TradingSchedule(
                "x", (TradingSession(time(9), time(11)), TradingSession(time(21), time(23), SessionKind.NIGHT))
            )
        with pytest.raises(ValueError):
            TradingSchedule("x", ())

    def test_auction_must_end_at_its_session_start(self):
        with pytest.raises(ValueError, match="must end when session"):
            TradingSchedule("x", (TradingSession(time(9), time(11)),), (CallAuction(time(8, 50), time(8, 55), 0),))
        with pytest.raises(ValueError, match="does not exist"):
            TradingSchedule("x", (TradingSession(time(9), time(11)),), (CallAuction(time(8, 55), time(9), 1),))

    def test_catalog_rejects_duplicates(self):
        entry = ExchangeSessions("XX", default=CFFEX_INDEX)
        with pytest.raises(ValueError, match="listed twice"):
            TradingSessionCatalog((entry, entry))
        with pytest.raises(ValueError, match="listed twice"):
            ExchangeSessions("XX", default=CFFEX_INDEX, products=(("ab", CFFEX_INDEX), ("AB", CFFEX_INDEX)))

    def test_values_are_frozen(self):
        with pytest.raises(AttributeError):
            CFFEX_INDEX.label = "changed"
        with pytest.raises(AttributeError):
            CFFEX_INDEX.sessions[0].start = time(9)
