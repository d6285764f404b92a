from datetime import date

import pytest

from src.core.contract.exchange_resolver import (
    UnknownProductError,
    UnsupportedProductError,
)
from src.core.contract.expiry_calculator import ExpiryCalculator, nth_weekday
from src.strategy.domain.value_object.trading_calendar import TradingCalendar
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from src.core.contract.contract_helper import ContractMonth


@pytest.fixture(scope="module")
def calculator() -> ExpiryCalculator:
    return ExpiryCalculator(load_cn_calendar())


def test_third_friday_of_a_month():
    assert nth_weekday(ContractMonth(2026, 1), 4, 3) == date(2026, 1, 16)
    assert nth_weekday(ContractMonth(2026, 5), 4, 3) == date(2026, 5, 15)  # May 1st is a Friday
    assert nth_weekday(ContractMonth(2026, 2), 4, 2) == date(2026, 2, 13)


@pytest.mark.parametrize("product", ["IF", "IH", "IC", "IM", "IO", "HO", "MO"])
def test_index_futures_and_options_expire_on_the_third_friday(calculator, product):
    assert calculator.expiry_date(product, ContractMonth(2026, 1)) == date(2026, 1, 16)
    assert calculator.expiry_date(product, ContractMonth(2026, 3)) == date(2026, 3, 20)


def test_a_third_friday_in_a_holiday_moves_to_the_next_trading_day(calculator):
    # 2026-02-20 falls in the Spring Festival closure (2026-02-16..23).
    assert calculator.expiry_date("IF", ContractMonth(2026, 2)) == date(2026, 2, 24)
    assert calculator.expiry_date("IO", ContractMonth(2026, 2)) == date(2026, 2, 24)
    # IF1802: the third Friday 2018-02-16 was Spring Festival; the contract expired on 2018-02-22.
    assert calculator.expiry_date("IF", ContractMonth(2018, 2)) == date(2018, 2, 22)


def test_the_shift_uses_the_given_calendar():
    month = ContractMonth(2030, 6)
    third_friday = date(2030, 6, 21)
    assert ExpiryCalculator(TradingCalendar()).expiry_date("IM", month) == third_friday
    closed = ExpiryCalculator(TradingCalendar([third_friday, date(2030, 6, 24)]))
    assert closed.expiry_date("IM", month) == date(2030, 6, 25)


def test_treasury_futures_expire_on_the_second_friday(calculator):
    assert calculator.expiry_date("T", ContractMonth(2026, 3)) == date(2026, 3, 13)
    assert calculator.expiry_date("TL", ContractMonth(2026, 6)) == date(2026, 6, 12)


def test_a_contract_still_trades_on_its_expiry_day(calculator):
    month = ContractMonth(2026, 1)
    assert not calculator.is_expired("IF", month, date(2026, 1, 16))
    assert calculator.is_expired("IF", month, date(2026, 1, 17))
    assert calculator.front_month("IF", date(2026, 1, 16)) == month
    assert calculator.front_month("IF", date(2026, 1, 19)) == ContractMonth(2026, 2)
    assert calculator.front_month("IF", date(2026, 2, 24)) == ContractMonth(2026, 2)
    assert calculator.front_month("IF", date(2026, 2, 25)) == ContractMonth(2026, 3)


def test_products_without_a_rule_or_unknown_are_user_errors(calculator):
    with pytest.raises(UnsupportedProductError, match="rb"):
        calculator.expiry_date("rb", ContractMonth(2026, 5))
    with pytest.raises(UnknownProductError, match="ZZ"):
        calculator.expiry_date("ZZ", ContractMonth(2026, 5))
