"""ReplayGateway in real vnpy engines: bars become ticks that rebuild them; fills respect the replayed quotes."""
from __future__ import annotations

import threading
import time
import uuid
from datetime import date, datetime, timedelta

import pytest
from vnpy.event import Event
from vnpy.trader.constant import Direction, Exchange, Offset, Status
from vnpy.trader.object import SubscribeRequest, TickData
from vnpy.trader.utility import get_file_path
from vnpy_portfoliostrategy import StrategyTemplate

from src.core.contract.contract_registry import ContractFactory
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.datafeed.sample_market import generate_sample_market
from src.main.bootstrap.engine_factory import create_engines
from src.main.gateway.event_flow import TrackedEventEngine
from src.main.gateway.replay_gateway import (
    EVENT_REPLAY,
    ReplayGateway,
    ReplayPhase,
    ReplayPlan,
    SimulatedExchange,
    TickSynthesizer,
)
from src.main.gateway.replay_source import SampleMarketReplaySource
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.bar_pipeline import BarPipeline
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

DAY = date(2026, 1, 7)
OPTION = "IO2601-P-4400.CFFEX"
FUTURE = "IF2601.CFFEX"


def test_ticks_rebuild_the_same_minute_bars():
    market = generate_sample_market(date(2026, 1, 7), date(2026, 1, 8), products=("IF",))
    synthesizer = TickSynthesizer({info.vt_symbol: info.pricetick for info in market.registry})
    pipeline = BarPipeline()
    source = {vt: market.bars[vt] for vt in market.vt_symbols}
    rebuilt: dict[str, list] = {}
    settlement_records = 0
    for day in market.trading_days:
        synthesizer.new_trading_day()
        ticks = [tick for bars in source.values() for bar in bars if bar.datetime.date() == day
                 for tick in synthesizer.ticks(bar)]
        ticks.sort(key=lambda tick: tick.datetime)
        settlement = synthesizer.settlement(ticks[-1].datetime.replace(second=0) + timedelta(minutes=31))
        settlement_records += len(settlement)
        ticks += settlement
        previous_volume: dict[str, float] = {}
        for tick in ticks:
            assert tick.volume >= previous_volume.get(tick.vt_symbol, 0.0)  # cumulative within the day
            previous_volume[tick.vt_symbol] = tick.volume
            assert tick.ask_price_1 > tick.last_price and (tick.bid_price_1 == 0 or tick.bid_price_1 < tick.last_price)
            for bar in pipeline.update_tick(tick):
                rebuilt.setdefault(bar.vt_symbol, []).append(bar)
    # Only the after-close records are discarded (outside the sessions): one per contract and day.
    discarded = {reason.value: count for reason, count in pipeline.stats.ticks_discarded.items() if count}
    assert set(discarded) == {"outside_session"}
    assert discarded["outside_session"] == settlement_records
    compared = 0
    for vt_symbol, bars in source.items():
        got = rebuilt[vt_symbol]
        assert len(got) == len(bars), vt_symbol  # the 14:59 bar too: the settlement record closes it
        for expected, bar in zip(bars, got):
            assert (bar.datetime, bar.open_price, bar.high_price, bar.low_price, bar.close_price, bar.volume,
                    bar.open_interest) == (expected.datetime, expected.open_price, expected.high_price,
                                           expected.low_price, expected.close_price, expected.volume,
                                           expected.open_interest)
            assert bar.turnover == pytest.approx(expected.turnover, rel=1e-9)
            compared += 1
    assert compared == market.bar_count > 10_000


class ProbeStrategy(StrategyTemplate):
    """Sends, on the option's first quote after 10:00, a sell at that quote's bid (marketable at once), a buy
    far under the ask (never marketable) and a close of lots it does not hold; records every quote and fill."""

    parameters: list = []
    variables: list = []

    def on_init(self) -> None:
        self.quotes = {}
        self.trades = []
        self.orders = {}
        self.sent_on = None

    def on_tick(self, tick) -> None:
        self.quotes[tick.datetime] = (tick.bid_price_1, tick.ask_price_1)
        if self.sent_on is None and tick.datetime.hour >= 10:
            self.sent_on = tick.datetime
            self.limit = tick.bid_price_1
            self.sell_id, = self.send_order(tick.vt_symbol, Direction.SHORT, Offset.OPEN, tick.bid_price_1, 1)
            self.buy_id, = self.send_order(tick.vt_symbol, Direction.LONG, Offset.OPEN, 0.2, 1)
            self.close_id, = self.send_order(tick.vt_symbol, Direction.LONG, Offset.CLOSE, tick.ask_price_1, 5)

    def on_bars(self, bars) -> None:
        """Quotes are all this probe looks at."""

    def update_order(self, order) -> None:
        super().update_order(order)
        self.orders[order.vt_orderid] = order.status

    def update_trade(self, trade) -> None:
        super().update_trade(trade)
        self.trades.append(trade)


@pytest.fixture
def replay_engines():
    engines = create_engines(gateway_classes={"REPLAY": ReplayGateway}, files_tag="test-replay-gateway")
    engines.strategy_engine.classes["ProbeStrategy"] = ProbeStrategy
    yield engines
    engines.gateways["REPLAY"].close()
    engines.close()


def run_replay(engines, vt_symbols, speed=0.0, strategy_symbols=()):
    calendar = load_cn_calendar()
    factory = ContractFactory(ExpiryCalculator(calendar))
    gateway: ReplayGateway = engines.gateways["REPLAY"]
    source = SampleMarketReplaySource(DAY, DAY, products=("IF",))
    gateway.prepare(source, [factory.info(vt.split(".")[0]) for vt in vt_symbols], ReplayPlan((), (DAY,), speed),
                    calendar, capital=1e6)
    finished = threading.Event()
    engines.event_engine.register(EVENT_REPLAY, lambda event: finished.set()
                                  if event.data.phase is not ReplayPhase.WARMUP_DONE else None)
    engines.main_engine.connect({"speed": speed}, "REPLAY")
    engines.event_engine.wait_until_idle()
    engine = engines.strategy_engine
    strategy = None
    if strategy_symbols:
        engine.add_strategy("ProbeStrategy", "probe", list(strategy_symbols), {})
        strategy = engine.strategies["probe"]
        engine.init_strategy("probe")
        deadline = time.monotonic() + 60  # a ceiling: ends when the event comes
        while not strategy.inited:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        engine.start_strategy("probe")
    else:
        for vt_symbol in vt_symbols:
            contract = engines.main_engine.get_contract(vt_symbol)
            engines.main_engine.subscribe(SubscribeRequest(contract.symbol, contract.exchange), "REPLAY")
    started = time.monotonic()
    gateway.start_replay()
    assert finished.wait(60), "the replay did not finish"
    engines.event_engine.wait_until_idle()
    return strategy, time.monotonic() - started


def test_contracts_are_published_with_their_terms(replay_engines):
    run_replay(replay_engines, [FUTURE, OPTION], strategy_symbols=[OPTION])
    option = replay_engines.main_engine.get_contract(OPTION)
    future = replay_engines.main_engine.get_contract(FUTURE)
    assert (option.size, option.pricetick, option.option_strike, option.option_underlying) == \
        (100, 0.2, 4400.0, FUTURE)
    assert (future.size, future.pricetick) == (300, 0.2)


def test_fills_respect_the_quotes_and_come_after_the_order(replay_engines):
    strategy, _ = run_replay(replay_engines, [OPTION], strategy_symbols=[OPTION])
    assert strategy.sent_on is not None
    (trade,) = strategy.trades
    assert trade.vt_orderid == strategy.sell_id
    # Not on the quote the order reacted to: on a later one, at that quote's bid, no lower than the limit.
    assert trade.datetime > strategy.sent_on
    assert trade.price == strategy.quotes[trade.datetime][0] >= strategy.limit
    assert strategy.orders[strategy.sell_id] is Status.ALLTRADED
    assert strategy.orders[strategy.buy_id] is Status.NOTTRADED        # 0.2 never reached the ask
    assert strategy.orders[strategy.close_id] is Status.REJECTED       # nothing to close
    positions = {(p.vt_symbol, p.direction): p.volume for p in replay_engines.main_engine.get_all_positions()}
    assert positions[(OPTION, Direction.SHORT)] == 1


def test_no_fill_outside_the_sessions():
    exchange = SimulatedExchange("REPLAY", {}, 0.0)
    tick = TickData(gateway_name="REPLAY", symbol="IF2601", exchange=Exchange.CFFEX,
                    datetime=datetime(2026, 1, 7, 15, 30, tzinfo=EXCHANGE_TIMEZONE), last_price=4000.0,
                    bid_price_1=3999.8, ask_price_1=4000.2)
    assert not exchange._in_session(tick)
    tick.datetime = tick.datetime.replace(hour=14)
    assert exchange._in_session(tick)


def test_speed_paces_the_replay(replay_engines):
    # 240 trading minutes plus the lunch break (counted as one minute) at 6000x: about 2.4 s.
    _, elapsed = run_replay(replay_engines, [FUTURE], speed=6000.0)
    assert 2.0 < elapsed < 6.0, elapsed


def test_the_gateway_needs_a_tracked_event_engine():
    from vnpy.event import EventEngine

    with pytest.raises(TypeError, match="TrackedEventEngine"):
        ReplayGateway(EventEngine())


def test_tracked_event_engine_waits_for_consequences():
    engine = TrackedEventEngine()
    seen = []
    engine.register("eFirst", lambda event: (time.sleep(0.05), engine.put(Event("eSecond"))))
    engine.register("eSecond", lambda event: seen.append("second"))
    engine.start()
    try:
        engine.put(Event("eFirst"))
        assert engine.wait_until_idle()
        assert seen == ["second"]  # the event the first one caused was handled too
    finally:
        engine.stop()


def test_paper_account_app_fills_orders_on_the_gateways_quotes(tmp_path):
    """--paper on live market data: vnpy_paperaccount takes the orders (never the market data gateway)."""
    from src.core.config.env_settings import DatabaseSettings
    from src.main.process.paper_trades import PaperTradeStore, database_location

    # vnpy_paperaccount keeps its positions in a JSON file of vnpy's folder: one of this run's own.
    engines = create_engines(gateway_classes={"REPLAY": ReplayGateway}, paper_account=True,
                             files_tag=f"test-paper-{uuid.uuid4().hex[:8]}")
    engines.strategy_engine.classes["ProbeStrategy"] = ProbeStrategy
    settings = DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(tmp_path / "paper.db")})
    store = PaperTradeStore(database_location(settings), "paper-test", "paper")
    store.listen(engines.main_engine, engines.event_engine)
    try:
        strategy, _ = run_replay(engines, [OPTION], strategy_symbols=[OPTION])
        (trade,) = strategy.trades
        assert trade.gateway_name == "PAPER" and trade.vt_orderid == strategy.sell_id
        assert trade.vt_orderid.startswith("PAPER.")
        assert trade.price >= strategy.limit
        assert engines.paper_engine.get_position(OPTION, Direction.SHORT).volume == 1
        assert store.count(store.run_id) == 1
        # The replay gateway matched nothing: vnpy_paperaccount took the orders before they reached it.
        assert engines.gateways["REPLAY"]._exchange._order_count == 0
    finally:
        store.close()
        engines.gateways["REPLAY"].close()
        engines.close()
        for name in (engines.paper_engine.data_filename, engines.paper_engine.setting_filename,
                     engines.strategy_engine.data_filename, engines.strategy_engine.setting_filename):
            get_file_path(name).unlink(missing_ok=True)
