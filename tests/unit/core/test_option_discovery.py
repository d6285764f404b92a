from datetime import datetime, timedelta

import pytest
from vnpy.trader.constant import Exchange, Interval, OptionType
from vnpy.trader.object import BarData

from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.core.contract.option_discovery import (
    InvalidFutureSymbolError,
    OptionDiscoveryService,
)
from src.core.database_factory import create_database
from src.core.config.env_settings import DatabaseSettings
from src.core.contract.contract_helper import ContractMonth

SYMBOLS = [
    ("IF2601", Exchange.CFFEX), ("IF2602", Exchange.CFFEX), ("IM2601", Exchange.CFFEX),
    ("IO2601-C-4600", Exchange.CFFEX), ("IO2601-P-4600", Exchange.CFFEX), ("IO2601-C-4650", Exchange.CFFEX),
    ("IO2602-C-4600", Exchange.CFFEX), ("MO2601-P-7500", Exchange.CFFEX), ("HO2601-C-2700", Exchange.CFFEX),
    ("m2605-C-3000", Exchange.DCE), ("m2605", Exchange.DCE), ("SR605C5000", Exchange.CZCE),
    ("10009999", Exchange.SSE),  # an ETF option code: not parseable, skipped
]


def bars(symbol: str, exchange: Exchange, count: int, interval: Interval = Interval.MINUTE) -> list[BarData]:
    start = datetime(2026, 1, 5, 9, 30, tzinfo=EXCHANGE_TIMEZONE)
    return [BarData(symbol=symbol, exchange=exchange, datetime=start + timedelta(minutes=i), interval=interval,
                    volume=1, open_price=10, high_price=11, low_price=9, close_price=10, gateway_name="TEST")
            for i in range(count)]


@pytest.fixture
def database(tmp_path):
    db = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(tmp_path / "x.db")}))
    for index, (symbol, exchange) in enumerate(SYMBOLS):
        db.save_bar_data(bars(symbol, exchange, 3 + index))
    db.save_bar_data(bars("IO2601-C-4700", Exchange.CFFEX, 2, Interval.DAILY))
    return db


def test_finds_the_options_of_each_future_by_product_map_and_month(database):
    service = OptionDiscoveryService(database)
    found = service.discover(["IF2601.CFFEX", "IF2602.CFFEX", "IM2601.CFFEX", "IH2601.CFFEX", "IC2601.CFFEX"])
    assert [o.symbol for o in found["IF2601.CFFEX"]] == ["IO2601-C-4600", "IO2601-C-4650", "IO2601-P-4600"]
    assert [o.symbol for o in found["IF2602.CFFEX"]] == ["IO2602-C-4600"]
    assert [o.symbol for o in found["IM2601.CFFEX"]] == ["MO2601-P-7500"]
    assert [o.symbol for o in found["IH2601.CFFEX"]] == ["HO2601-C-2700"]
    assert found["IC2601.CFFEX"] == []


def test_discovered_options_are_parsed_descriptions_with_their_bar_range(database):
    option = OptionDiscoveryService(database).options_of("IF2601.CFFEX")[2]
    assert option.vt_symbol == "IO2601-P-4600.CFFEX"
    assert (option.option_type, option.strike, option.contract_month) == (OptionType.PUT, 4600.0, ContractMonth(2026, 1))
    assert option.underlying_vt_symbol == "IF2601.CFFEX"
    assert option.bar_count == 3 + 4
    assert option.first_bar == datetime(2026, 1, 5, 9, 30)
    assert option.last_bar == datetime(2026, 1, 5, 9, 36)


def test_commodity_options_match_their_own_underlying(database):
    service = OptionDiscoveryService(database)
    assert [o.symbol for o in service.options_of("m2605.DCE")] == ["m2605-C-3000"]
    assert [o.symbol for o in service.options_of("SR605.CZCE")] == ["SR605C5000"]
    assert {o.underlying_vt_symbol for o in service.all_options()} == {
        "IF2601.CFFEX", "IF2602.CFFEX", "IM2601.CFFEX", "IH2601.CFFEX", "m2605.DCE", "SR605.CZCE"}


def test_only_bars_of_the_chosen_interval_count(database):
    daily = OptionDiscoveryService(database, interval=Interval.DAILY)
    assert [o.symbol for o in daily.options_of("IF2601.CFFEX")] == ["IO2601-C-4700"]


@pytest.mark.parametrize("vt_symbol, message", [
    ("IF2601", "not a futures vt_symbol"),
    ("IO2601-C-4600.CFFEX", "not a futures vt_symbol"),
    ("IF2601.SHFE", "IF trades on CFFEX"),
    ("IF2601.NOPE", "not a futures vt_symbol"),
])
def test_bad_future_symbols_are_user_errors(database, vt_symbol, message):
    with pytest.raises(InvalidFutureSymbolError, match=message):
        OptionDiscoveryService(database).discover([vt_symbol])


def test_an_empty_database_has_no_options(tmp_path):
    db = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(tmp_path / "empty.db")}))
    assert OptionDiscoveryService(db).discover(["IF2601.CFFEX"]) == {"IF2601.CFFEX": []}
