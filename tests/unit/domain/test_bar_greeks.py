"""BarGreeks: the Greeks of one valuation time priced once, answering as the pricer called directly would.

The reference is ``OptionGreeksService.per_lot`` called on each request as it comes, with its own
memory of last good implied volatilities; the cache must give the same Greeks (to 1e-9: the pricer
works element by element, only the arrays it is handed differ) and leave the same memory behind,
including when a price has no implied volatility and the last good one stands in.
"""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.strategy.domain.domain_service.bar_greeks import BarGreeks
from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.option_greeks_service import OptionGreeksService
from src.strategy.domain.value_object.option_contract import OptionType
from tests.unit.domain.builders import FUTURE, at, option

NOW = at(day=23, hour=10, minute=31)
UNDERLYING = {FUTURE: 3900.0}
CHAIN = [option(strike, kind) for strike in (3700.0, 3800.0, 3900.0, 4000.0)
         for kind in (OptionType.PUT, OptionType.CALL)]
# Time values over the intrinsic value: two plausible ones, and a price below intrinsic value (no
# implied volatility for the in-the-money options, whose last good volatility then stands in).
OFFSETS = (20.0, 60.0, -5.0)


def priced(contract, offset: float) -> float:
    sign = 1.0 if contract.option_type is OptionType.CALL else -1.0
    return max(max(sign * (UNDERLYING[FUTURE] - contract.strike), 0.0) + offset, 0.2)


def service(implied_vols=None) -> OptionGreeksService:
    return OptionGreeksService(GreeksCalculator("black76"), 0.02, implied_vols)


def underlying(vt_symbol: str) -> float:
    return UNDERLYING.get(vt_symbol, float("nan"))


def assert_same(got, expected) -> None:
    assert len(got) == len(expected)
    for mine, theirs in zip(got, expected):
        assert (mine is None) == (theirs is None)
        if mine is not None:
            for name in ("price", "delta", "gamma", "vega", "theta"):
                assert getattr(mine, name) == pytest.approx(getattr(theirs, name), rel=1e-9, abs=1e-9)


requests = st.lists(st.lists(st.tuples(st.integers(0, len(CHAIN) - 1), st.sampled_from(OFFSETS)),
                             min_size=0, max_size=6), min_size=1, max_size=8)


@given(requests, st.booleans())
def test_answers_and_memory_are_those_of_the_pricer_called_on_each_request(sequence, remembered):
    start = {contract.vt_symbol: 0.25 for contract in CHAIN} if remembered else None
    cached, direct = service(start), service(start)
    greeks = BarGreeks(cached, NOW, underlying)
    for request in sequence:
        contracts = [CHAIN[index] for index, _ in request]
        prices = [priced(CHAIN[index], offset) for index, offset in request]
        assert_same(greeks.per_lot(contracts, prices), direct.per_lot(contracts, prices, underlying, NOW))
    assert list(cached.implied_vols) == list(direct.implied_vols)  # the smile's order too
    for vt_symbol, vol in direct.implied_vols.items():
        assert cached.implied_vols[vt_symbol] == pytest.approx(vol, rel=1e-12)


def test_a_book_asked_again_at_the_same_prices_is_not_priced_again():
    greeks = BarGreeks(service(), NOW, underlying)
    book = CHAIN[:4]
    first = greeks.per_lot(book, [35.0] * 4)
    assert (greeks.pricer_calls, greeks.options_priced) == (1, 4)
    # the hedging measure of one product, then the risk check of a candidate among them
    assert greeks.per_lot(book[:2], [35.0] * 2) == first[:2]
    assert greeks.per_lot([book[3]], [35.0]) == [first[3]]
    assert greeks.pricer_calls == 1
    # a new candidate is priced alone; a known option at another price is priced again
    greeks.per_lot([CHAIN[5], book[0]], [35.0, 80.0])
    assert (greeks.pricer_calls, greeks.options_priced) == (2, 6)


def test_one_call_for_the_book_equals_one_call_per_option():
    prices = [priced(contract, offset) for contract, offset in zip(CHAIN, OFFSETS[:2] * 4)]
    together = service().per_lot(CHAIN, prices, underlying, NOW)
    alone = [service().per_lot([contract], [price], underlying, NOW)[0] for contract, price in zip(CHAIN, prices)]
    assert_same(together, alone)
    assert all(result is not None for result in together)


def test_an_unknown_underlying_price_is_asked_again_not_cached_as_known():
    prices_seen = []

    def moving(vt_symbol: str) -> float:
        prices_seen.append(vt_symbol)
        return 3900.0 + len(prices_seen)  # a different underlying price at every look

    greeks = BarGreeks(service(), NOW, moving)
    greeks.per_lot([CHAIN[0]], [35.0])
    greeks.per_lot([CHAIN[0]], [35.0])
    assert greeks.pricer_calls == 2


def test_nan_prices_are_priced_every_time_and_give_no_greeks():
    greeks = BarGreeks(service(), NOW, underlying)
    assert greeks.per_lot([CHAIN[0]], [math.nan]) == [None]
    assert greeks.per_lot([CHAIN[0]], [math.nan]) == [None]
    assert greeks.pricer_calls == 2


def test_mismatched_lengths_are_refused():
    with pytest.raises(ValueError, match="2 contracts but 1 prices"):
        BarGreeks(service(), NOW, underlying).per_lot(CHAIN[:2], [35.0])
