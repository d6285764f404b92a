from datetime import date, datetime

import pytest
from vnpy.trader.constant import Exchange, OptionType, Product
from vnpy.trader.object import ContractData

from src.core.contract.product_spec import ProductSpec
from src.core.contract.contract_registry import (
    ContractFactory,
    ContractInfo,
    ContractRegistry,
    UnknownContractError,
)
from src.core.contract.exchange_resolver import UnsupportedProductError
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.core.config.errors import UserInputError
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from src.core.contract.contract_helper import ContractMonth


@pytest.fixture(scope="module")
def factory() -> ContractFactory:
    return ContractFactory(ExpiryCalculator(load_cn_calendar()))


def test_future_info_from_its_symbol(factory):
    info = factory.info("IF2601")
    assert (info.vt_symbol, info.product, info.exchange) == ("IF2601.CFFEX", "IF", Exchange.CFFEX)
    assert (info.size, info.pricetick, info.margin_ratio) == (300, 0.2, 0.12)
    assert info.contract_month == ContractMonth(2026, 1) and info.expiry == date(2026, 1, 16)
    assert not info.is_option and info.strike is None


def test_option_info_from_its_symbol(factory):
    info = factory.info("MO2602-P-7500")
    assert (info.product, info.size, info.pricetick) == ("MO", 100, 0.2)
    assert (info.option_type, info.strike) == (OptionType.PUT, 7500.0)
    assert info.underlying_vt_symbol == "IM2602.CFFEX"
    assert info.expiry == date(2026, 2, 24)  # the third Friday is in the Spring Festival closure
    assert info.expiry_datetime.isoformat() == "2026-02-24T15:00:00+08:00"


def test_contract_data_of_a_future_is_valid_vnpy_data(factory):
    contract = factory.create("IM2603")
    assert isinstance(contract, ContractData)
    assert (contract.vt_symbol, contract.product, contract.size, contract.pricetick) == \
        ("IM2603.CFFEX", Product.FUTURES, 200, 0.2)
    assert contract.option_type is None and contract.option_strike is None


def test_contract_data_of_an_option_has_all_option_fields(factory):
    contract = factory.create("IO2601-C-4650")
    assert contract.vt_symbol == "IO2601-C-4650.CFFEX"
    assert contract.product is Product.OPTION
    assert (contract.size, contract.pricetick) == (100, 0.2)
    assert contract.option_strike == 4650.0
    assert contract.option_underlying == "IF2601.CFFEX"
    assert contract.option_type is OptionType.CALL
    assert contract.option_expiry == datetime.fromisoformat("2026-01-16T15:00:00+08:00")
    assert contract.option_portfolio == "IO"
    assert contract.option_index == "4650"


def test_registry_register_get_all(factory):
    registry = ContractRegistry()
    infos = factory.register(registry, ["IF2601", "IO2601-C-4600", "IO2601-P-4600", "IF2602"])
    assert len(registry) == 4 and [i.vt_symbol for i in registry.all()] == [i.vt_symbol for i in infos]
    assert registry.get("IO2601-P-4600.CFFEX").option_type is OptionType.PUT
    assert "IF2602.CFFEX" in registry and registry.find("IF2609.CFFEX") is None
    assert [i.symbol for i in registry.futures()] == ["IF2601", "IF2602"]
    assert {i.symbol for i in registry.options_of("IF2601.CFFEX")} == {"IO2601-C-4600", "IO2601-P-4600"}
    assert registry.sizes()["IO2601-C-4600.CFFEX"] == 100
    assert registry.priceticks()["IF2601.CFFEX"] == 0.2
    registry.register(factory.info("IF2601"))  # the same terms again: fine
    assert len(registry) == 4


def test_registry_refuses_conflicts_and_reports_unknown_contracts(factory):
    registry = ContractRegistry([factory.info("IF2601")])
    other = ContractInfo("IF2601", Exchange.CFFEX, "IF", 200, 0.2, 0.12, ContractMonth(2026, 1), date(2026, 1, 16))
    with pytest.raises(ValueError, match="already registered"):
        registry.register(other)
    with pytest.raises(UnknownContractError, match="IF2612.CFFEX") as caught:
        registry.get("IF2612.CFFEX")
    assert isinstance(caught.value, UserInputError)


def test_contract_info_validation():
    month = ContractMonth(2026, 1)
    with pytest.raises(ValueError, match="size must be positive"):
        ContractInfo("IF2601", Exchange.CFFEX, "IF", 0, 0.2, 0.12, month)
    with pytest.raises(ValueError, match="needs option_type, strike, underlying and expiry"):
        ContractInfo("IO2601-C-4000", Exchange.CFFEX, "IO", 100, 0.2, 0.1, month, option_type=OptionType.CALL)
    with pytest.raises(ValueError, match="without an option_type"):
        ContractInfo("IF2601", Exchange.CFFEX, "IF", 300, 0.2, 0.12, month, strike=4000.0)


def test_products_without_specs_are_user_errors():
    factory = ContractFactory(ExpiryCalculator(load_cn_calendar()),
                              {"IF": ProductSpec("IF", 300, 0.2, 0.12, 0.000023)})
    with pytest.raises(UnsupportedProductError, match="no product spec .* for IM"):
        factory.info("IM2601")
    with pytest.raises(ValueError, match="cannot parse"):
        factory.info("IF26O1")
