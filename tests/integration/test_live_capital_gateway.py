"""Live capital through vnpy's real engines: a gateway's account, never the strategy's P&L added again.

A gateway of our own (``AccountGateway``, a vnpy ``BaseGateway``) pushes the broker's account
through vnpy's MainEngine and OMS to our ``OptionStrategyEngine``; ``StrategyEntry``'s cycle values
its account from it. The strategy's book carries a loss: live, the balance and available funds are
the gateway's (which already contain it), scaled by ``account.capital_share``; a new account report
replaces them. In paper trading (a paper capital) the account is the capital plus the book's P&L less
the fees instead.
"""
from __future__ import annotations

import dataclasses
import time
from datetime import datetime

import pytest
from vnpy.trader.constant import Exchange
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import AccountData

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.main.bootstrap.engine_factory import create_engines
from src.strategy.application.bootstrap import StrategyRuntime
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.market_input import TradeFill

FUTURE, PUT = "IF2601.CFFEX", "IO2601-P-4500.CFFEX"
NOW = datetime(2026, 1, 6, 10, 0, tzinfo=EXCHANGE_TIMEZONE)
WAIT_SECONDS = 30.0


class AccountGateway(BaseGateway):
    """Reports one account (what CTP's account query answers); trades nothing."""

    default_name = "ACCOUNT"
    default_setting: dict = {}
    exchanges = [Exchange.CFFEX]

    def connect(self, setting: dict) -> None:
        self.report(1_000_000.0, frozen=100_000.0)

    def report(self, balance: float, frozen: float) -> None:
        self.on_account(AccountData(accountid="A1", balance=balance, frozen=frozen, gateway_name=self.gateway_name))

    def close(self) -> None:
        pass

    def subscribe(self, req) -> None:
        pass

    def send_order(self, req) -> str:
        return ""

    def cancel_order(self, req) -> None:
        pass

    def query_account(self) -> None:
        pass

    def query_position(self) -> None:
        pass


def _wait_for(condition, what: str) -> None:
    deadline = time.monotonic() + WAIT_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {WAIT_SECONDS:.0f} s waiting for {what}")
        time.sleep(0.02)


@pytest.fixture
def live():
    engines = create_engines(gateway_classes={"ACCOUNT": AccountGateway}, files_tag="test-live-capital")
    engine = engines.strategy_engine
    engine.history_from_stream = True  # no history to load: the test books its own position
    yield engines
    engines.close()


def _strategy(engines, share: float = 1.0):
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG)
    config = dataclasses.replace(config, account=dataclasses.replace(config.account, capital_share=share))
    engine = engines.strategy_engine
    engine.add_strategy("StrategyEntry", "live_capital", [FUTURE, PUT], {})
    strategy = engine.strategies["live_capital"]
    strategy.configure(StrategyRuntime(config))
    engine.init_strategy("live_capital")
    _wait_for(lambda: strategy.inited, "the strategy's initialisation")
    cycle = strategy.cycle
    # A short put sold at 30 and now marked at 90: a loss of 6,000 CNY on the strategy's own book.
    cycle.on_trade(TradeFill("X.1", "X.T1", PUT, Direction.SHORT, Offset.OPEN, 30.0, 1, NOW), NOW)
    cycle.last_prices.update({PUT: 90.0, FUTURE: 4400.0})
    return strategy, cycle


def test_live_funds_are_the_gateways_and_the_strategys_loss_is_not_counted_twice(live):
    live.main_engine.connect({}, "ACCOUNT")
    _wait_for(lambda: live.main_engine.get_all_accounts(), "the gateway's account in the OMS")
    _strategy_entry, cycle = _strategy(live)
    book_pnl = cycle.positions.realized_pnl() + sum(p.unrealized_pnl(cycle.last_prices[p.vt_symbol])
                                                    for p in cycle.positions.positions())
    assert book_pnl == pytest.approx(-6_000.0)
    account = cycle.account(NOW)
    assert (account.balance, account.available, account.frozen) == (1_000_000.0, 900_000.0, 100_000.0)

    live.gateways["ACCOUNT"].report(994_000.0, frozen=150_000.0)  # the broker's next report has the loss in it
    _wait_for(lambda: live.main_engine.get_all_accounts()[0].balance == 994_000.0, "the new account report")
    account = cycle.account(NOW)
    assert (account.balance, account.available) == (994_000.0, 844_000.0)


def test_a_share_of_the_live_account_per_process(live):
    live.main_engine.connect({}, "ACCOUNT")
    _wait_for(lambda: live.main_engine.get_all_accounts(), "the gateway's account in the OMS")
    _strategy_entry, cycle = _strategy(live, share=0.25)
    account = cycle.account(NOW)
    assert (account.balance, account.available) == (250_000.0, 225_000.0)


def test_paper_capital_is_the_capital_plus_the_books_pnl_less_fees(live):
    live.strategy_engine.paper_capital = 1_000_000.0
    _strategy_entry, cycle = _strategy(live)
    account = cycle.account(NOW)
    assert cycle.fees.total == pytest.approx(15.0)  # the schedule's per-lot fee of IO
    assert account.balance == pytest.approx(1_000_000.0 - 6_000.0 - 15.0)
    assert account.frozen > 0 and account.available == pytest.approx(account.balance - account.frozen)
