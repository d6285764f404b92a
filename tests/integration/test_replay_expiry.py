"""The paper replay settles an expired contract after its expiry day, by the strategy's rule."""
from __future__ import annotations

import threading
import time
from datetime import date

import pytest
from vnpy.trader.constant import Direction, Offset
from vnpy_portfoliostrategy import StrategyTemplate

from src.core.contract.contract_registry import ContractFactory
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.datafeed.sample_market import generate_sample_market
from src.main.bootstrap.engine_factory import create_engines
from src.main.gateway.replay_gateway import EVENT_REPLAY, ReplayGateway, ReplayPhase, ReplayPlan
from src.main.gateway.replay_source import SampleMarketReplaySource
from src.strategy.domain.domain_service.expiry_settlement import intrinsic_value
from src.strategy.application.bootstrap import option_contract_of
from src.strategy.domain.value_object.fee_schedule import FeeSchedule, ProductFees
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

EXPIRY = date(2026, 1, 16)
IO_FEES = ProductFees("IO", open_per_lot=15.0, close_per_lot=15.0, close_today_per_lot=15.0, exercise_per_lot=2.0)
FUTURE = "IF2601.CFFEX"


class SellOnce(StrategyTemplate):
    """Sells one lot of its option on the first quote after 10:00 (marketable at once) and holds it."""

    parameters: list = []
    variables: list = []

    def on_init(self) -> None:
        self.trades = []
        self.sent = False

    def on_tick(self, tick) -> None:
        if not self.sent and "-P-" in tick.vt_symbol and tick.datetime.hour >= 10 and tick.bid_price_1 > 0:
            self.sent = True
            self.send_order(tick.vt_symbol, Direction.SHORT, Offset.OPEN, tick.bid_price_1, 1)

    def on_bars(self, bars) -> None:
        """Quotes are all this probe looks at."""

    def update_trade(self, trade) -> None:
        super().update_trade(trade)
        self.trades.append(trade)


@pytest.fixture
def replay_engines():
    engines = create_engines(gateway_classes={"REPLAY": ReplayGateway}, files_tag="test-replay-expiry")
    engines.strategy_engine.classes["SellOnce"] = SellOnce
    yield engines
    engines.gateways["REPLAY"].close()
    engines.close()


def test_an_option_held_into_expiry_leaves_the_replay_account_at_intrinsic_value(replay_engines):
    market = generate_sample_market(EXPIRY, EXPIRY, products=("IF",))
    calendar = load_cn_calendar()
    factory = ContractFactory(ExpiryCalculator(calendar))
    options = [vt for vt in market.options(FUTURE) if "-P-" in vt]
    option = options[len(options) // 2]
    infos = [factory.info(vt.split(".")[0]) for vt in (FUTURE, option)]
    gateway: ReplayGateway = replay_engines.gateways["REPLAY"]
    gateway.prepare(SampleMarketReplaySource(EXPIRY, EXPIRY, products=("IF",)), infos,
                    ReplayPlan((), (EXPIRY,), 0.0), calendar, capital=1e6,
                    fees=FeeSchedule({"IO": IO_FEES}, broker_per_lot=1.0))
    finished = threading.Event()
    replay_engines.event_engine.register(EVENT_REPLAY, lambda event: finished.set()
                                         if event.data.phase is not ReplayPhase.WARMUP_DONE else None)
    replay_engines.main_engine.connect({"speed": 0.0}, "REPLAY")
    replay_engines.event_engine.wait_until_idle()
    engine = replay_engines.strategy_engine
    engine.add_strategy("SellOnce", "sell_once", [FUTURE, option], {})
    strategy = engine.strategies["sell_once"]
    engine.init_strategy("sell_once")
    deadline = time.monotonic() + 10
    while not strategy.inited:
        assert time.monotonic() < deadline
        time.sleep(0.01)
    engine.start_strategy("sell_once")
    gateway.start_replay()
    assert finished.wait(120), "the replay did not finish"
    replay_engines.event_engine.wait_until_idle()

    (trade,) = strategy.trades
    closes = [bar.close_price for bar in market.bars[FUTURE]
              if (bar.datetime.hour, bar.datetime.minute) >= (13, 0)]
    settlement = intrinsic_value(option_contract_of(factory.info(option.split(".")[0])), sum(closes) / len(closes))
    exchange = gateway._exchange
    assert option not in exchange.held_symbols()
    assert exchange.position(option, Direction.SHORT).volume == 0
    account = exchange.account()
    fees = 15.0 + 1.0 + ((2.0 + 1.0) if settlement > 0 else 0.0)  # open, broker add-on, exercise when in the money
    assert account.balance == pytest.approx(1e6 + (trade.price - settlement) * 100 - fees, abs=1e-6)
