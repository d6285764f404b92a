from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st
from vnpy.trader.constant import Exchange, OptionType

from src.core.contract.contract_helper import (
    ContractHelper,
    ContractMonth,
    SymbolStyle,
)

helper = ContractHelper(reference_year=2026)


def test_cffex_index_option_maps_to_the_index_future_of_its_month():
    parsed = helper.parse_option("IO2601-C-4000")
    assert parsed.product == "IO"
    assert parsed.underlying_product == "IF"
    assert parsed.underlying_symbol == "IF2601"
    assert parsed.option_type is OptionType.CALL and parsed.is_call
    assert parsed.strike == 4000.0
    assert parsed.contract_month == ContractMonth(2026, 1)
    put = helper.parse_option("MO2601-P-6000")
    assert (put.underlying_symbol, put.option_type, put.strike) == ("IM2601", OptionType.PUT, 6000.0)
    assert helper.parse_option("HO2603-P-2650").underlying_symbol == "IH2603"


@pytest.mark.parametrize("symbol, product, underlying, option_type, strike, month", [
    ("au2606C560", "au", "au2606", OptionType.CALL, 560.0, ContractMonth(2026, 6)),
    ("cu2607P72000", "cu", "cu2607", OptionType.PUT, 72000.0, ContractMonth(2026, 7)),
    ("m2605-C-3000", "m", "m2605", OptionType.CALL, 3000.0, ContractMonth(2026, 5)),
    ("i2609-P-750", "i", "i2609", OptionType.PUT, 750.0, ContractMonth(2026, 9)),
    ("SR605C5000", "SR", "SR605", OptionType.CALL, 5000.0, ContractMonth(2026, 5)),
    ("CF509P13000", "CF", "CF509", OptionType.PUT, 13000.0, ContractMonth(2025, 9)),
    ("si2606-C-9500", "si", "si2606", OptionType.CALL, 9500.0, ContractMonth(2026, 6)),
])
def test_commodity_option_formats(symbol, product, underlying, option_type, strike, month):
    parsed = helper.parse_option(symbol)
    assert (parsed.product, parsed.underlying_product, parsed.underlying_symbol) == (product, product, underlying)
    assert (parsed.option_type, parsed.strike, parsed.contract_month) == (option_type, strike, month)


def test_futures_symbols():
    parsed = helper.parse_future("IF2601")
    assert (parsed.product, parsed.contract_month) == ("IF", ContractMonth(2026, 1))
    assert helper.parse_future("rb2610").contract_month == ContractMonth(2026, 10)
    assert helper.parse_future("SR605").contract_month == ContractMonth(2026, 5)


def test_czce_one_digit_year_is_resolved_near_the_reference_year():
    assert ContractHelper(reference_year=2026).parse_future("SR605").contract_month.year == 2026
    # the window is [reference - 5, reference + 4]
    assert ContractHelper(reference_year=2026).parse_future("SR112").contract_month.year == 2021
    assert ContractHelper(reference_year=2026).parse_future("SR012").contract_month.year == 2030
    assert ContractHelper(reference_year=2026).parse_future("SR212").contract_month.year == 2022
    assert ContractHelper(reference_year=2029).parse_future("SR001").contract_month.year == 2030


@pytest.mark.parametrize("symbol, message", [
    ("IF2613", "month 13"),
    ("IF2600", "month 00"),
    ("IO2601-X-4000", "cannot parse"),
    ("IO2601-C-", "cannot parse"),
    ("IO2601C-4000", "cannot parse"),
    ("10005000", "cannot parse"),
    ("", "cannot parse"),
    ("IF26011", "cannot parse"),
    ("IO2601-C-0", "strike must be positive"),
])
def test_invalid_symbols_raise_a_clear_value_error(symbol, message):
    with pytest.raises(ValueError, match=message):
        helper.parse_option(symbol) if "-" in symbol else helper.parse_future(symbol)


def test_options_are_not_futures_and_futures_are_not_options():
    with pytest.raises(ValueError, match="is an option symbol"):
        helper.parse_future("IO2601-C-4000")
    with pytest.raises(ValueError, match="option product"):
        helper.parse_future("IO2601")
    with pytest.raises(ValueError, match="not an option symbol"):
        helper.parse_option("IF2601")
    assert helper.is_option("m2605-C-3000") and not helper.is_option("m2605")
    with pytest.raises(TypeError):
        helper.parse_future(2601)


def test_contract_month_arithmetic_and_codes():
    month = ContractMonth(2026, 11)
    assert month.shifted(2) == ContractMonth(2027, 1)
    assert month.shifted(-11) == ContractMonth(2025, 12)
    assert (month.code, month.czce_code, str(month)) == ("2611", "611", "2611")
    assert ContractMonth.of(date(2026, 3, 20)).is_quarter_month
    with pytest.raises(ValueError):
        ContractMonth(2026, 13)


EXCHANGE_PRODUCTS = {
    Exchange.CFFEX: ["IO", "MO", "HO"],
    Exchange.SHFE: ["au", "cu", "ag", "ru"],
    Exchange.INE: ["sc"],
    Exchange.DCE: ["m", "i", "pp", "c"],
    Exchange.CZCE: ["SR", "CF", "MA", "TA"],
    Exchange.GFEX: ["si", "lc"],
}


@st.composite
def option_fields(draw):
    exchange = draw(st.sampled_from(sorted(EXCHANGE_PRODUCTS, key=lambda e: e.value)))
    product = draw(st.sampled_from(EXCHANGE_PRODUCTS[exchange]))
    month = ContractMonth(draw(st.integers(2022, 2030)), draw(st.integers(1, 12)))
    option_type = draw(st.sampled_from([OptionType.CALL, OptionType.PUT]))
    strike = draw(st.one_of(st.integers(1, 500_000).map(float),
                            st.integers(1, 100_000).map(lambda n: n / 4)))
    return exchange, product, month, option_type, strike


@given(option_fields())
def test_format_then_parse_round_trips(fields):
    exchange, product, month, option_type, strike = fields
    symbol = ContractHelper.format_option(product, month, option_type, strike, exchange)
    parsed = helper.parse_option(symbol)
    assert (parsed.product, parsed.option_type, parsed.strike, parsed.contract_month) == \
        (product, option_type, strike, month)
    future = ContractHelper.format_future(parsed.underlying_product, month, exchange)
    assert parsed.underlying_symbol == future
    assert helper.parse_future(future).contract_month == month
    style = SymbolStyle.of(exchange)
    assert ("-" in symbol) == (style is SymbolStyle.DASHED)
