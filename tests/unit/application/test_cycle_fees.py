"""The strategy's account: net of fees, one capital source per mode, margin calls."""
from __future__ import annotations

from datetime import timedelta

import pytest

from src.strategy.application.trading_cycle import CyclePorts
from src.strategy.domain.event.account_events import MarginCallEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent
from src.strategy.domain.value_object.market import Offset
from src.strategy.domain.value_object.signal_type import SignalType
from tests.unit.application.test_trading_cycle import (  # noqa: F401  (config is a fixture)
    PUT_PRICES,
    START,
    FakeAccount,
    config,
    make_cycle,
    minute,
)


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


class FakeLiveAccount:
    """A live gateway's account: its balance already holds the P&L and fees, its available the margins."""

    def capital(self) -> float:
        return 1_000_000.0

    def funds(self):
        from src.strategy.domain.domain_service.account_valuation import AccountFunds
        return AccountFunds(balance=1_000_000.0, available=900_000.0)


def test_live_capital_comes_from_the_gateway_without_the_strategy_pnl_added_again(config):
    cycle, gateway, _published = make_cycle(config)
    cycle.ports = CyclePorts(account=FakeLiveAccount(), orders=cycle.ports.orders, events=cycle.ports.events)
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=gateway.sent[0].price)
    minute(cycle, START + timedelta(minutes=1), put_prices={k: v * 3 for k, v in PUT_PRICES.items()})  # a loss
    account = cycle.account(START + timedelta(minutes=2))
    assert (account.balance, account.available) == (1_000_000.0, 900_000.0)
    cycle.capital_share = 0.25
    assert cycle.account(START + timedelta(minutes=2)).balance == 250_000.0


def test_a_margin_call_raises_an_event_and_blocks_openings(config):
    cycle, gateway, published = make_cycle(config)
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=gateway.sent[0].price)
    cycle.ports = CyclePorts(account=FakeAccount(20_000.0), orders=cycle.ports.orders, events=cycle.ports.events)
    cycle.services.signal_service.signal = SignalType.SELL_PUT
    sent = len(gateway.sent)
    minute(cycle, START + timedelta(minutes=1))
    calls = [e for e in published if isinstance(e, MarginCallEvent)]
    assert len(calls) == 1 and calls[0].available < 0
    assert len(gateway.sent) == sent
    assert any(isinstance(e, DecisionRefusedEvent) and e.reason.startswith("margin call") for e in published)


def test_the_vnpy_account_port_reports_live_funds_only_when_the_engine_has_them():
    from src.strategy.infrastructure.gateway.vnpy_account_gateway import VnpyAccountGateway

    class LiveEngine:
        capital = 2_000_000.0

        def account_funds(self):
            return 2_000_000.0, 1_400_000.0

    class Backtester:
        capital = 1_000_000.0

    funds = VnpyAccountGateway(LiveEngine()).funds()
    assert (funds.balance, funds.available) == (2_000_000.0, 1_400_000.0)
    assert VnpyAccountGateway(Backtester()).funds() is None
