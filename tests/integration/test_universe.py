"""UniverseBuilder: what live and replay processes subscribe, from gateway contracts or stored bars."""
from __future__ import annotations

from datetime import date

import pytest
from vnpy.trader.constant import Exchange, OptionType, Product
from vnpy.trader.object import ContractData

from src.main.bootstrap.universe import UniverseBuilder
from src.core.config.errors import UserInputError
from src.main.gateway.replay_source import SampleMarketReplaySource
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

TODAY = date(2026, 1, 12)


def future(symbol: str) -> ContractData:
    return ContractData(gateway_name="CTP", symbol=symbol, exchange=Exchange.CFFEX, name=symbol,
                        product=Product.FUTURES, size=300, pricetick=0.2)


def option(symbol: str) -> ContractData:
    contract = ContractData(gateway_name="CTP", symbol=symbol, exchange=Exchange.CFFEX, name=symbol,
                            product=Product.OPTION, size=100, pricetick=0.2)
    contract.option_type = OptionType.CALL if "-C-" in symbol else OptionType.PUT
    return contract


def test_live_universe_is_the_listed_futures_and_their_options_within_the_selector_window():
    contracts = [future("IF2601"), future("IF2602"), future("IF2603"), future("IF2606"), future("IH2601"),
                 future("IM2601"), option("IO2601-C-4000"), option("IO2602-P-3900"), option("IO2606-C-4500"),
                 option("HO2601-C-2800"), option("MO2601-P-6000"),
                 ContractData(gateway_name="SOPT", symbol="10009999", exchange=Exchange.SSE, name="50ETF",
                              product=Product.OPTION, size=10000, pricetick=0.0001)]
    universe = UniverseBuilder(["IF", "IM"], load_cn_calendar()).from_contracts(contracts, TODAY)
    assert [f.vt_symbol for f in universe.futures] == ["IF2601.CFFEX", "IF2602.CFFEX", "IF2603.CFFEX",
                                                        "IF2606.CFFEX", "IM2601.CFFEX"]
    # IO2606 expires in June: beyond OptionSelectorService's 60 days; HO is on IH, not traded here.
    assert [o.vt_symbol for o in universe.options] == ["IO2601-C-4000.CFFEX", "IO2602-P-3900.CFFEX",
                                                        "MO2601-P-6000.CFFEX"]
    assert universe.options[0].underlying_vt_symbol == "IF2601.CFFEX" and universe.options[0].size == 100


def test_live_universe_refuses_a_product_the_gateways_do_not_list():
    with pytest.raises(UserInputError, match="the gateways list no futures of IM"):
        UniverseBuilder(["IF", "IM"], load_cn_calendar()).from_contracts([future("IF2601")], TODAY)


@pytest.mark.parametrize("products,message", [(["XX"], "unknown product 'XX'"),
                                              (["T"], "has no listed options")])
def test_bad_trading_targets(products, message):
    with pytest.raises(UserInputError, match=message):
        UniverseBuilder(products, load_cn_calendar())


def test_replay_universe_follows_the_backtest_rule():
    source = SampleMarketReplaySource(date(2026, 1, 8), date(2026, 1, 13))
    universe = UniverseBuilder(["IF", "IM"], load_cn_calendar()).from_history(
        source, date(2026, 1, 12), date(2026, 1, 13), "the sample")
    assert {f.vt_symbol for f in universe.futures} == {"IF2601.CFFEX", "IF2602.CFFEX", "IF2603.CFFEX",
                                                       "IF2606.CFFEX", "IM2601.CFFEX", "IM2602.CFFEX",
                                                       "IM2603.CFFEX", "IM2606.CFFEX"}
    assert universe.options and all(o.underlying_vt_symbol in {f.vt_symbol for f in universe.futures}
                                    for o in universe.options)
    assert {o.product for o in universe.options} == {"IO", "MO"}
