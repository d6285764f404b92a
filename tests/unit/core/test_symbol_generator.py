from datetime import date

import pytest

from src.core.contract.exchange_resolver import UnsupportedProductError
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.core.contract.symbol_generator import DateRangeError, SymbolGenerator
from src.core.config.errors import UserInputError
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from src.core.contract.contract_helper import ContractMonth


@pytest.fixture(scope="module")
def generator() -> SymbolGenerator:
    return SymbolGenerator(ExpiryCalculator(load_cn_calendar()))


def codes(months):
    return [month.code for month in months]


def test_index_futures_list_two_monthly_and_two_quarterly_contracts(generator):
    assert codes(generator.listed_months("IF", date(2026, 1, 5))) == ["2601", "2602", "2603", "2606"]
    assert codes(generator.listed_months("IF", date(2026, 1, 16))) == ["2601", "2602", "2603", "2606"]
    # the day after IF2601 expires IF2609 is listed
    assert codes(generator.listed_months("IF", date(2026, 1, 19))) == ["2602", "2603", "2606", "2609"]
    # in a quarter month the next month is itself a quarter month: the two quarters come after it
    assert codes(generator.listed_months("IM", date(2026, 2, 25))) == ["2603", "2604", "2606", "2609"]
    assert codes(generator.listed_months("IC", date(2026, 11, 2))) == ["2611", "2612", "2703", "2706"]


def test_index_options_list_three_monthly_and_three_quarterly_contracts(generator):
    assert codes(generator.listed_months("IO", date(2026, 1, 5))) == ["2601", "2602", "2603", "2606", "2609", "2612"]
    assert codes(generator.listed_months("MO", date(2026, 1, 19))) == ["2602", "2603", "2604", "2606", "2609", "2612"]


def test_treasury_futures_list_the_three_nearest_quarters(generator):
    assert codes(generator.listed_months("T", date(2026, 1, 5))) == ["2603", "2606", "2609"]
    assert codes(generator.listed_months("T", date(2026, 3, 16))) == ["2606", "2609", "2612"]


def test_symbols_of_a_window_are_every_contract_listed_in_it(generator):
    assert generator.symbols("IF", date(2026, 1, 5), date(2026, 2, 6)) == \
        ["IF2601", "IF2602", "IF2603", "IF2606", "IF2609"]
    assert generator.symbols("IF", date(2026, 1, 5), date(2026, 1, 9)) == ["IF2601", "IF2602", "IF2603", "IF2606"]


def test_listed_contracts_carry_their_listing_days_in_the_window(generator):
    contracts = {c.symbol: c for c in generator.contracts("IM", date(2026, 1, 5), date(2026, 2, 6))}
    assert contracts["IM2601"].expiry == date(2026, 1, 16)
    assert (contracts["IM2601"].first_day, contracts["IM2601"].last_day) == (date(2026, 1, 5), date(2026, 1, 16))
    assert (contracts["IM2609"].first_day, contracts["IM2609"].last_day) == (date(2026, 1, 19), date(2026, 2, 6))
    assert contracts["IM2602"].expiry == date(2026, 2, 24)
    assert contracts["IM2602"].vt_symbol == "IM2602.CFFEX"
    assert contracts["IM2602"].contract_month == ContractMonth(2026, 2)


def test_trading_days_skip_weekends_and_holidays(generator):
    days = generator.trading_days(date(2025, 12, 31), date(2026, 1, 6))
    assert days == [date(2025, 12, 31), date(2026, 1, 5), date(2026, 1, 6)]
    assert generator.symbols("IF", date(2026, 2, 16), date(2026, 2, 20)) == []


def test_bad_windows_and_products_are_user_errors(generator):
    with pytest.raises(DateRangeError, match="2026-02-06 is after end date 2026-01-05") as caught:
        generator.symbols("IF", date(2026, 2, 6), date(2026, 1, 5))
    assert isinstance(caught.value, UserInputError)
    with pytest.raises(UnsupportedProductError, match="rb"):
        generator.symbols("rb", date(2026, 1, 5), date(2026, 1, 9))
