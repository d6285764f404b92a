"""HistoryDataRepository on vnpy's own database (SQLite and MySQL), with bars written by vnpy."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.object import BarData

from src.core.database_factory import create_database, create_state_repository
from src.core.config.env_settings import DatabaseSettings
from src.core.config.secret_value import Secret
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.history_data_repository import (
    HistoryDataRepository,
)
from tests.db_backends import drop_tables, execute, mysql_location

SHANGHAI = ZoneInfo("Asia/Shanghai")
# Wednesday 2024-02-28 .. Monday 2024-03-04 (a weekend in between).
DAYS = [date(2024, 2, 28), date(2024, 2, 29), date(2024, 3, 1), date(2024, 3, 4)]
END = datetime(2024, 3, 4, 10, 0, tzinfo=SHANGHAI)


def minutes_between(day: date, start: str, end: str) -> list[datetime]:
    moment = datetime.combine(day, time.fromisoformat(start), SHANGHAI)
    stop = datetime.combine(day, time.fromisoformat(end), SHANGHAI)
    out = []
    while moment < stop:
        out.append(moment)
        moment += timedelta(minutes=1)
    return out


def index_future_minutes() -> list[datetime]:
    """IF: day sessions only, 240 minutes a day."""
    return [m for day in DAYS for m in minutes_between(day, "09:30", "11:30") + minutes_between(day, "13:00", "15:00")]


def rebar_minutes() -> list[datetime]:
    """rb: a night session (21:00-23:00) on the evenings before the next trading day, plus day sessions."""
    out = []
    for day in DAYS:
        out += minutes_between(day, "09:00", "11:30") + minutes_between(day, "13:30", "15:00")
        if day != DAYS[-1]:
            out += minutes_between(day, "21:00", "23:00")  # Friday's night belongs to Monday
    return sorted(out)


def bars_for(symbol: str, exchange: Exchange, moments: list[datetime]) -> list[BarData]:
    return [BarData(gateway_name="TEST", symbol=symbol, exchange=exchange, datetime=moment, interval=Interval.MINUTE,
                    open_price=100 + n, high_price=101 + n, low_price=99 + n, close_price=100.5 + n, volume=10)
            for n, moment in enumerate(moments)]


def settings_for(location) -> DatabaseSettings:
    return DatabaseSettings(driver=location.driver, database=location.database, host=location.host,
                            port=location.port, user=location.user, password=Secret(location.password))


@pytest.fixture(scope="module", params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def database_location(request, tmp_path_factory):
    """One database per backend for the whole module: the bars are written once and only read."""
    if request.param == "sqlite":
        return DatabaseLocation.sqlite(tmp_path_factory.mktemp("history") / "bars.db")
    location = mysql_location()
    drop_tables(location)
    return location


@pytest.fixture(scope="module")
def settings(database_location):
    return settings_for(database_location)


@pytest.fixture(scope="module")
def history(settings):
    database = create_database(settings)
    database.save_bar_data(bars_for("IF2403", Exchange.CFFEX, index_future_minutes()))
    database.save_bar_data(bars_for("rb2405", Exchange.SHFE, rebar_minutes()))
    database.save_bar_data(bars_for("IH2403", Exchange.CFFEX, minutes_between(date(2023, 11, 10), "09:30", "10:00")))
    return HistoryDataRepository(database)


def test_the_last_n_trading_minutes_of_each_symbol_merged_in_time_order(history):
    bars = history.load_recent_bars(["IF2403.CFFEX", "rb2405.SHFE"], END, minutes=300)
    by_symbol = {symbol: [bar.datetime for bar in bars if bar.vt_symbol == symbol]
                 for symbol in ("IF2403.CFFEX", "rb2405.SHFE")}
    assert by_symbol["IF2403.CFFEX"] == [m for m in index_future_minutes() if m <= END][-300:]
    assert by_symbol["rb2405.SHFE"] == [m for m in rebar_minutes() if m <= END][-300:]
    keys = [(bar.datetime, 0 if bar.symbol == "IF2403" else 1) for bar in bars]
    assert keys == sorted(keys)
    assert len(bars) == 600


def test_the_last_n_trading_days_count_a_night_session_in_the_next_day(history):
    bars = history.load_recent_bars(["IF2403.CFFEX", "rb2405.SHFE"], END, days=2)
    index_future = [bar.datetime for bar in bars if bar.symbol == "IF2403"]
    rebar = [bar.datetime for bar in bars if bar.symbol == "rb2405"]
    friday_open = datetime(2024, 3, 1, 9, 30, tzinfo=SHANGHAI)
    thursday_night = datetime(2024, 2, 29, 21, 0, tzinfo=SHANGHAI)
    assert index_future == [m for m in index_future_minutes() if friday_open <= m <= END]
    assert rebar == [m for m in rebar_minutes() if thursday_night <= m <= END]


def test_bars_grouped_per_minute_as_on_bars_takes_them(history):
    slices = history.load_bar_slices(["IF2403.CFFEX", "rb2405.SHFE"], END, minutes=30)
    # Both trade every minute of Monday morning, so their last 30 bars are the same minutes.
    assert [moment for moment, _ in slices] == minutes_between(END.date(), "09:31", "10:01")
    for moment, bars in slices:
        assert set(bars) == {"IF2403.CFFEX", "rb2405.SHFE"}
        assert all(bar.datetime == moment for bar in bars.values())


def test_old_data_is_found_by_widening_the_window_and_a_utc_end_means_the_same_moment(history):
    bars = history.load_recent_bars(["IH2403.CFFEX"], END.astimezone(timezone.utc), minutes=10)
    assert [bar.datetime for bar in bars] == minutes_between(date(2023, 11, 10), "09:30", "10:00")[-10:]
    assert history.load_recent_bars(["IF2403.CFFEX"], END.astimezone(timezone.utc), minutes=1)[0].datetime == END


def test_a_symbol_without_bars_gives_none(history):
    assert history.load_recent_bars(["IC2403.CFFEX"], END, days=3) == []


@pytest.mark.parametrize(("arguments", "message"), [
    ({"vt_symbols": ["IF2403"], "minutes": 5}, "expected a vt_symbol like 'IF2101.CFFEX'"),
    ({"vt_symbols": ["IF2403.NOPE"], "minutes": 5}, "unknown exchange 'NOPE'"),
    ({"vt_symbols": ["IF2403.CFFEX"]}, "exactly one of minutes=N or days=N"),
    ({"vt_symbols": ["IF2403.CFFEX"], "minutes": 5, "days": 1}, "exactly one of minutes=N or days=N"),
    ({"vt_symbols": ["IF2403.CFFEX"], "days": 0}, "the lookback must be an int >= 1"),
])
def test_bad_requests_are_refused_clearly(history, arguments, message):
    with pytest.raises(ValueError, match=message):
        history.load_recent_bars(end=END, **arguments)


def test_state_lives_in_the_same_database_as_the_bars(history, settings, database_location):
    repository = create_state_repository(settings, keep=2)
    repository.save("vol_15m", {"warm": True})
    assert repository.load("vol_15m") == {"warm": True}
    repository.close()
    assert len(history.load_recent_bars(["IF2403.CFFEX"], END, minutes=5)) == 5
    (count,) = execute(database_location, "SELECT COUNT(*) FROM strategy_state")[0]
    (bars,) = execute(database_location, "SELECT COUNT(*) FROM dbbardata")[0]
    assert count == 1 and bars > 0
