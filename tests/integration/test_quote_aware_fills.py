"""Quote-aware fills through the real vnpy engine and the real replay gateway on the sample market.

The backtest on bars never fills on a minute without a print and never at or beyond the far touch of the
sample's true quotes; vnpy's own crossing, measured the same way, does both. On the sample's quote table the
fills are all on quotes. The replay's matcher is the same model: partial fills capped per minute, at the touch.
"""
from __future__ import annotations

import csv
import threading
import time
from datetime import date, datetime

import pytest
from vnpy.trader.constant import Direction, Exchange, Interval, Offset, Status
from vnpy.trader.object import TickData
from vnpy_portfoliostrategy import StrategyTemplate

from src.backtesting.config import BacktestConfig
from src.backtesting.quote_book import TickQuoteBook, sample_quote_book
from src.backtesting.runner import BacktestRunner
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.core.contract.contract_registry import ContractFactory
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.core.database_factory import create_database
from src.datafeed.sample_market import ensure_sample_market
from src.main.bootstrap.engine_factory import create_engines
from src.main.gateway.replay_gateway import EVENT_REPLAY, ReplayGateway, ReplayPhase, ReplayPlan
from src.main.gateway.replay_source import SampleMarketReplaySource
from src.strategy.domain.domain_service.fill_model import FillModel, is_at_or_beyond_far_touch
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from src.strategy.infrastructure.gateway.vnpy_converters import from_vnpy_direction

START, END = date(2026, 1, 7), date(2026, 1, 13)
REPLAY_DAY = date(2026, 1, 8)
OPTION = "IO2601-P-4450.CFFEX"


@pytest.fixture(scope="module")
def sample_database(tmp_path_factory):
    folder = tmp_path_factory.mktemp("fills")
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "s.db")}))
    ensure_sample_market(database, START, END)
    return database


@pytest.fixture(scope="module")
def quote_book(sample_database):
    book = sample_quote_book(sample_database, START, END)
    assert book is not None
    return book


def _backtest(database, folder, **options):
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG)
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END), database,
                            DEFAULT_STRATEGY_CONFIG, **options)
    result = runner.run(folder)
    with open(folder / "trades.csv", newline="", encoding="utf-8") as handle:
        trades = [row for row in csv.DictReader(handle)]
    return result.summary, trades, runner.last_engine


def test_bar_fills_need_a_print_and_never_reach_the_far_touch(sample_database, quote_book, tmp_path):
    summary, trades, engine = _backtest(sample_database, tmp_path / "model", sample_quotes="check")
    fills = [trade for trade in engine.get_all_trades() if not trade.orderid.startswith("SETTLE-")]
    assert len(fills) > 20 and summary["fill_model"] == "quotes"
    assert summary["fills_on_no_print_minutes"] == 0 and summary["fills_on_quotes"] == 0
    assert summary["fills_on_bars"] == len(fills)
    # The sample's quote of a minute is the one its first print is at: fills on that print are checked against it.
    assert 0 < summary["fills_checked_against_quotes"] <= len(fills)
    assert summary["far_touch_fills"] == 0
    assert summary["average_spread_paid_ticks"] > 0 and summary["spread_cost"] > 0
    assert summary["total_slippage"] == 0  # the spread is crossed by the model, not charged again per lot
    # Checked again from the outside: each fill's minute has a bar with volume; its price is inside the true
    # quote of the minute, or else (a fill on a later print of the minute, whose quote the table does not
    # hold) at least one tick inside the far side of every print: a sell below the high, a buy above the low.
    inside_the_minute_quote = 0
    for trade in fills:
        symbol, exchange = trade.vt_symbol.rsplit(".", 1)
        naive = trade.datetime.replace(tzinfo=None)
        (bar,) = sample_database.load_bar_data(symbol, Exchange(exchange), Interval.MINUTE, naive, naive)
        assert bar.volume > 0, (trade.vt_symbol, trade.datetime)
        true = quote_book.market.quote_at(trade.vt_symbol, trade.datetime)
        assert true is not None
        side = from_vnpy_direction(trade.direction)
        if not is_at_or_beyond_far_touch(side, trade.price, true):
            inside_the_minute_quote += 1
        tick = engine.priceticks[trade.vt_symbol]
        if trade.direction is Direction.SHORT:
            assert trade.price <= bar.high_price - tick + 1e-9, (trade.vt_symbol, trade.datetime, trade.price)
        else:
            assert trade.price >= bar.low_price + tick - 1e-9, (trade.vt_symbol, trade.datetime, trade.price)
    assert inside_the_minute_quote >= summary["fills_checked_against_quotes"]
    # Partial fills leave the rest working: lots per contract and minute within the participation cap.
    model = FillModel()
    per_minute: dict = {}
    for trade in fills:
        key = (trade.vt_symbol, trade.datetime)
        per_minute[key] = per_minute.get(key, 0) + trade.volume
    for (vt_symbol, minute), lots in per_minute.items():
        symbol, exchange = vt_symbol.rsplit(".", 1)
        naive = minute.replace(tzinfo=None)
        (bar,) = sample_database.load_bar_data(symbol, Exchange(exchange), Interval.MINUTE, naive, naive)
        assert lots <= model.capacity(bar.volume)


def test_vnpy_crossing_measured_the_same_way_fills_at_the_far_touch_and_on_quiet_minutes(sample_database,
                                                                                          tmp_path):
    summary, _trades, _engine = _backtest(sample_database, tmp_path / "vnpy", fills="vnpy", sample_quotes="check")
    assert summary["fill_model"] == "vnpy" and summary["fills_on_bars"] > 20
    assert summary["far_touch_fills"] > 0.2 * summary["fills_checked_against_quotes"]
    assert summary["fills_on_no_print_minutes"] > 0


def test_fills_on_the_sample_quote_table_are_all_on_quotes(sample_database, tmp_path):
    summary, _trades, engine = _backtest(sample_database, tmp_path / "quotes", sample_quotes="fill")
    assert summary["fills_on_quotes"] > 20 and summary["fills_on_bars"] == 0
    assert summary["far_touch_fills"] == 0
    assert "quote table" in summary["quote_source"]


def test_recorded_ticks_become_quotes_per_minute(tmp_path):
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(tmp_path / "t.db")}))
    symbol = OPTION.split(".")[0]

    def tick(second, bid, ask, bid_size=3, ask_size=4):
        return TickData(gateway_name="DB", symbol=symbol, exchange=Exchange.CFFEX,
                        datetime=datetime(2026, 1, 8, 10, 1, second, tzinfo=EXCHANGE_TIMEZONE), last_price=bid,
                        bid_price_1=bid, ask_price_1=ask, bid_volume_1=bid_size, ask_volume_1=ask_size)
    database.save_tick_data([tick(1, 20.0, 20.4), tick(31, 20.2, 20.6), tick(45, 0.0, 0.0),
                             tick(50, 21.0, 20.0)])  # an empty book and a crossed one are skipped
    book = TickQuoteBook(database, [OPTION, "IO2601-C-4450.CFFEX"])
    assert bool(book) and list(book.spans) == [OPTION]
    minute = datetime(2026, 1, 8, 10, 1, tzinfo=EXCHANGE_TIMEZONE)
    quotes = book.quotes(OPTION, minute)
    assert [(q.bid, q.ask, q.ask_size) for q in quotes] == [(20.0, 20.4, 4), (20.2, 20.6, 4)]
    assert book.quotes(OPTION, minute.replace(minute=2)) == ()
    assert book.quotes("IO2601-C-4450.CFFEX", minute) == ()


class ProbeStrategy(StrategyTemplate):
    """At 10:00 sells 40 lots of the option at a limit far below the market (marketable on every quote), and
    records its fills and the quotes."""

    parameters: list = []
    variables: list = []

    def on_init(self) -> None:
        self.trades = []
        self.quotes = {}
        self.order_id = None
        self.statuses = []

    def on_tick(self, tick) -> None:
        self.quotes[tick.datetime] = (tick.bid_price_1, tick.ask_price_1, tick.bid_volume_1)
        if self.order_id is None and tick.datetime.hour >= 10:
            self.order_id, = self.send_order(tick.vt_symbol, Direction.SHORT, Offset.OPEN, 0.2, 40)

    def on_bars(self, bars) -> None:
        """Quotes only."""

    def update_order(self, order) -> None:
        super().update_order(order)
        self.statuses.append((order.status, order.traded))

    def update_trade(self, trade) -> None:
        super().update_trade(trade)
        self.trades.append(trade)


@pytest.mark.parametrize("quotes", [True, False], ids=["sample quotes", "estimated quotes"])
def test_the_replay_fills_with_the_same_model(quotes):
    engines = create_engines(gateway_classes={"REPLAY": ReplayGateway}, files_tag="test-quote-fills")
    try:
        engines.strategy_engine.classes["ProbeStrategy"] = ProbeStrategy
        calendar = load_cn_calendar()
        factory = ContractFactory(ExpiryCalculator(calendar))
        gateway: ReplayGateway = engines.gateways["REPLAY"]
        source = SampleMarketReplaySource(REPLAY_DAY, REPLAY_DAY, products=("IF",), quotes=quotes)
        gateway.prepare(source, [factory.info(OPTION.split(".")[0])], ReplayPlan((), (REPLAY_DAY,)), calendar,
                        capital=5e6)  # 40 short lots need about 1.4 million of margin
        finished = threading.Event()
        engines.event_engine.register(EVENT_REPLAY, lambda event: finished.set()
                                      if event.data.phase is not ReplayPhase.WARMUP_DONE else None)
        engines.main_engine.connect({"speed": 0.0}, "REPLAY")
        engines.event_engine.wait_until_idle()
        engine = engines.strategy_engine
        engine.add_strategy("ProbeStrategy", "probe", [OPTION], {})
        strategy = engine.strategies["probe"]
        engine.init_strategy("probe")
        deadline = time.monotonic() + 60  # a ceiling: ends when the strategy is ready
        while not strategy.inited:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        engine.start_strategy("probe")
        gateway.start_replay()
        assert finished.wait(120), "the replay did not finish"
        engines.event_engine.wait_until_idle()

        trades = strategy.trades
        assert len(trades) > 1, "40 lots fill over several minutes"
        assert sum(trade.volume for trade in trades) <= 40
        model = FillModel()
        by_minute: dict = {}
        for trade in trades:
            bid, _ask, bid_size = strategy.quotes[trade.datetime]
            assert trade.price == bid  # at the touch, never better
            minute = trade.datetime.replace(second=0, microsecond=0)
            by_minute[minute] = by_minute.get(minute, 0) + trade.volume
            assert by_minute[minute] <= max(model.capacity(bid_size), 0)
            if quotes:
                true = source.quote_at(OPTION, minute)
                assert true is not None and trade.price == true.bid
        statuses = [status for status, _traded in strategy.statuses]
        assert Status.PARTTRADED in statuses
        summary = gateway.fill_summary()
        assert summary["fills_on_quotes" if quotes else "fills_on_bars"] == len(trades)
        if quotes:
            # the standing quote of a minute nobody traded fills too, as in the backtest on quotes
            assert summary["far_touch_fills"] == 0
            printed = {bar.datetime for bar in source.load_bars(OPTION, datetime(2026, 1, 7, 18, 0),
                                                                   datetime(2026, 1, 8, 17, 59))}
            assert 0 < summary["fills_on_no_print_minutes"] == sum(
                1 for trade in trades if trade.datetime.replace(second=0, microsecond=0) not in printed)
        else:
            assert summary["fills_on_no_print_minutes"] == 0
    finally:
        engines.gateways["REPLAY"].close()
        engines.close()


def test_the_replay_refuses_an_opening_the_account_cannot_margin():
    from vnpy.trader.constant import OrderType
    from vnpy.trader.object import OrderRequest

    from src.main.gateway.replay_gateway import SimulatedExchange
    from src.strategy.application.bootstrap import option_contract_of
    from src.strategy.domain.value_object.contract_params import ContractParams

    calendar = load_cn_calendar()
    factory = ContractFactory(ExpiryCalculator(calendar))
    infos = [factory.info("IO2601-P-4450"), factory.info("IF2601")]
    contracts = {}
    for info in infos:
        contracts[info.vt_symbol] = ContractFactory.contract_data(info)
    exchange = SimulatedExchange("REPLAY", contracts, 100_000.0)
    exchange.options = {info.vt_symbol: option_contract_of(info) for info in infos if info.is_option}
    exchange.params = {info.vt_symbol: ContractParams(info.vt_symbol, info.size, info.pricetick, info.margin_ratio)
                       for info in infos}
    exchange.marks = {"IF2601.CFFEX": 4600.0, OPTION: 30.0}

    def order(volume, direction=Direction.SHORT):
        return OrderRequest(symbol="IO2601-P-4450", exchange=Exchange.CFFEX, direction=direction,
                            type=OrderType.LIMIT, volume=volume, price=30.0, offset=Offset.OPEN)

    one_lot = exchange._lot_margin(OPTION, Direction.SHORT, 30.0)
    assert 10_000 < one_lot < 100_000  # 30 x 100 + about 10 % of 460,000 less the OTM amount
    accepted, reason = exchange.accept(order(1), None)
    assert reason == "" and accepted.status is Status.NOTTRADED
    assert exchange.account().frozen == pytest.approx(one_lot)  # the working opening holds its margin
    refused, reason = exchange.accept(order(10), None)
    assert refused.status is Status.REJECTED and "insufficient margin" in reason
    assert exchange.margin_rejections == 1
    long_call, reason = exchange.accept(order(3, Direction.LONG), None)  # a long option costs its premium only
    assert reason == ""


def test_the_backtest_fills_on_recorded_ticks_where_the_database_has_them(tmp_path):
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(tmp_path / "k.db")}))
    day = date(2026, 1, 9)
    ensure_sample_market(database, date(2026, 1, 8), day)
    symbol = OPTION.split(".")[0]
    database.save_tick_data([TickData(gateway_name="DB", symbol=symbol, exchange=Exchange.CFFEX,
                                      datetime=datetime(2026, 1, 9, 10, 1, 5, tzinfo=EXCHANGE_TIMEZONE),
                                      last_price=20.0, bid_price_1=20.0, ask_price_1=20.6, bid_volume_1=8,
                                      ask_volume_1=9)])
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG)
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=day, end=day), database,
                            DEFAULT_STRATEGY_CONFIG)
    engine = runner.prepare_engine()
    assert engine.fill_model is not None and engine.fill_quotes.describe() == "recorded ticks of 1 contracts"
    (minute,) = [dt for dt in engine.dts if (dt.day, dt.hour, dt.minute) == (9, 10, 1)]
    (quote,) = engine.fill_quotes.quotes(OPTION, minute)  # the engine's own minute, as the replay loop asks
    assert (quote.bid, quote.ask, quote.bid_size) == (20.0, 20.6, 8)
    assert engine.fill_quotes.quotes(OPTION, minute.replace(minute=2)) == ()
