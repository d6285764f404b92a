"""The strategy's own balance is net of the fee schedule's fees."""
from __future__ import annotations

from datetime import timedelta

import pytest

from src.strategy.domain.value_object.market import Offset
from tests.unit.application.test_trading_cycle import START, config, make_cycle, minute  # noqa: F401


def test_an_option_fill_pays_the_per_lot_fee_and_the_balance_is_net_of_it(config):
    cycle, gateway, _published = make_cycle(config)
    minute(cycle, START)
    (opening,) = gateway.sent
    assert opening.offset is Offset.OPEN
    gateway.fill(gateway.last_id(), price=opening.price)
    assert cycle.fees.total == pytest.approx(15.0 * opening.volume)  # the shipped CFFEX schedule for IO
    account = cycle.account(START + timedelta(minutes=1))
    unrealized = sum(p.unrealized_pnl(cycle.last_prices[p.vt_symbol]) for p in cycle.positions.positions())
    assert account.balance == pytest.approx(1_000_000.0 - cycle.fees.total + unrealized)
