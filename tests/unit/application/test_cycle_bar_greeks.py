"""The cycle prices its book once per bar and serves every consumer of that bar from it.

A pricer that counts its calls stands in for the strategy's (the project's own service, not a
stand-in for a library); the reference is a second service of the same kind called directly.
"""
from __future__ import annotations

from datetime import timedelta

import pytest

from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.option_greeks_service import OptionGreeksService
from tests.unit.application.test_trading_cycle import (  # noqa: F401  (config is a fixture)
    FUTURE,
    START,
    config,
    make_cycle,
    minute,
)


class CountingGreeks(OptionGreeksService):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[int] = []

    def per_lot(self, contracts, prices, underlying_price, now):
        self.calls.append(len(contracts))
        return super().per_lot(contracts, prices, underlying_price, now)


def counted(cycle) -> CountingGreeks:
    current = cycle.services.greeks
    counting = CountingGreeks(current.calculator, current.risk_free_rate, current.implied_vols,
                              time_to_expiry=current.time_to_expiry, days_per_year=current.days_per_year)
    cycle.services.greeks = counting
    return counting


def book_with_a_short_put(config):
    cycle, gateway, _published = make_cycle(config, hedging=True)
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=35.0)
    return cycle, gateway


def test_one_pricing_call_per_bar_serves_the_risk_check_the_hedge_and_the_monitor(config):
    cycle, _gateway = book_with_a_short_put(config)
    greeks = counted(cycle)
    at = START + timedelta(minutes=1)
    minute(cycle, at, trading=True)
    now = at + timedelta(minutes=1)
    assert greeks.calls == [1], "the book (one put) priced once for the window bar's risk check and the hedge"
    cycle.position_greeks(now)
    cycle.product_delta("IF", FUTURE, now)
    cycle.monitor_view(now)
    assert greeks.calls == [1], "the same valuation time is served from what was priced"
    cycle.position_greeks(now + timedelta(seconds=1))
    assert greeks.calls == [1, 1], "another time is priced afresh"


def test_the_cached_greeks_are_those_of_the_pricer_called_directly(config):
    cycle, _gateway = book_with_a_short_put(config)
    minute(cycle, START + timedelta(minutes=1))
    now = START + timedelta(minutes=2)
    used = cycle.services.greeks
    reference = OptionGreeksService(GreeksCalculator("black76"), used.risk_free_rate,
                                    time_to_expiry=used.time_to_expiry, days_per_year=used.days_per_year)
    held = [p for p in cycle.positions.positions() if p.vt_symbol in cycle.options]
    expected = reference.per_lot([cycle.options[p.vt_symbol] for p in held],
                                 [cycle.last_prices[p.vt_symbol] for p in held],
                                 lambda vt_symbol: cycle.last_prices.get(vt_symbol, float("nan")), now)
    got = cycle.position_greeks(now)
    assert [g.delta for g in got] == pytest.approx([e.delta for e in expected], rel=1e-12)
    assert [g.vega for g in got] == pytest.approx([e.vega for e in expected], rel=1e-12)
