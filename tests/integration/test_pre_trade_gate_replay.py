"""The pre-trade gate in vnpy's real engines (EventEngine, MainEngine, the portfolio strategy engine,
StrategyEntry) over the replay gateway: orders beyond the day's price limits and an order that could cross
our own working order never reach the gateway; each refusal is one event with its rule and figures."""
from __future__ import annotations

import threading
import time
from datetime import date, datetime
from datetime import time as dtime

import pytest
from vnpy.event import Event

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.main.bootstrap.engine_factory import add_strategy, create_engines, strategy_setting
from src.main.bootstrap.universe import UniverseBuilder
from src.main.gateway.replay_gateway import EVENT_REPLAY, ReplayGateway, ReplayPhase, ReplayPlan
from src.main.gateway.replay_source import SampleMarketReplaySource
from src.strategy.application.bootstrap import StrategyRuntime
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.safeguard_events import PreTradeRefusedEvent
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

WARMUP = (date(2026, 1, 8), date(2026, 1, 9))
DAY = date(2026, 1, 12)
EVENT_PROBE = "eGateProbe"


class LimitsAboveTheMarket(ReplayGateway):
    """A fault knob: the day's price limits of every option sit above its quotes (limit-down at 1.5x the
    last price), so selling at the market is beyond the limit; futures get the usual +-10%."""

    def _day_ticks(self, day):
        ticks = super()._day_ticks(day)
        for tick in ticks:
            if not tick.last_price:
                continue
            if "-" in tick.symbol:
                tick.limit_down, tick.limit_up = tick.last_price * 1.5, tick.last_price * 2.0
            else:
                tick.limit_down, tick.limit_up = tick.last_price * 0.9, tick.last_price * 1.1
        return ticks


def run_strategy(gateway_class):
    calendar = load_cn_calendar()
    engines = create_engines(gateway_classes={"REPLAY": gateway_class}, files_tag="test-gate-replay")
    source = SampleMarketReplaySource(WARMUP[0], DAY, products=("IF",))
    universe = UniverseBuilder(["IF"], calendar).from_history(source, WARMUP[0], DAY, source.describe())
    gateway = engines.gateways["REPLAY"]
    gateway.prepare(source, universe.contracts, ReplayPlan(WARMUP, (DAY,), 0.0), calendar, capital=1e6)
    engine = engines.strategy_engine
    engine.market_clock = lambda: gateway.market_time
    engine.history_from_stream = True
    finished = threading.Event()

    def on_progress(event):
        if event.data.phase is ReplayPhase.WARMUP_DONE:
            engine.start_all_strategies()
        else:
            finished.set()

    engines.event_engine.register(EVENT_REPLAY, on_progress)
    engines.main_engine.connect({"speed": 0.0}, "REPLAY")
    engines.event_engine.wait_until_idle()
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG)
    definition = config.strategies[0]
    strategy = add_strategy(engine, definition, universe.vt_symbols, strategy_setting(definition))
    published: list[DomainEvent] = []
    strategy.configure(StrategyRuntime(config, event_handlers=((DomainEvent, published.append),)))
    engine.init_strategy(strategy.strategy_name)
    deadline = time.monotonic() + 120  # a ceiling: ends when the strategy is initialised
    while not strategy.inited:
        assert time.monotonic() < deadline, "the strategy did not initialise"
        time.sleep(0.05)
    gateway.start_replay()
    assert finished.wait(300), "the replay did not finish"
    engines.event_engine.wait_until_idle()
    return engines, strategy, published


@pytest.fixture
def engines_factory():
    made = []

    def make(gateway_class):
        result = run_strategy(gateway_class)
        made.append(result[0])
        return result

    yield make
    for engines in made:
        engines.gateways["REPLAY"].close()
        engines.close()


def test_orders_beyond_the_days_limits_never_reach_the_gateway(engines_factory):
    engines, strategy, published = engines_factory(LimitsAboveTheMarket)
    refused = [e for e in published if isinstance(e, PreTradeRefusedEvent) and e.rule == "price_limit"]
    assert refused, "the strategy's sells were below every option's limit-down"
    for event in refused:
        assert event.price < event.figures["limit_down"] and event.direction == "SHORT"
    option_orders = [o for o in engines.main_engine.get_all_orders() if "-" in o.symbol]
    assert option_orders == []
    assert strategy.safeguards_summary()["pre_trade_refusals"]["price_limit"] == len(refused)


def test_an_order_that_could_cross_our_own_working_order_is_refused(engines_factory):
    engines, strategy, published = engines_factory(ReplayGateway)
    cycle = strategy.cycle
    option = next(vt for vt in sorted(cycle.options) if vt.startswith("IO2602-P-"))
    price = cycle.last_prices.get(option, 50.0)
    sent_before = len(engines.main_engine.get_all_orders())
    done = threading.Event()

    def probe(_event: Event) -> None:  # in the event thread, as every strategy callback
        try:
            # The replay is over (its clock is at the after-close record): send within the day's last minute.
            now = datetime.combine(DAY, dtime(14, 59, 30), tzinfo=EXCHANGE_TIMEZONE)
            cycle._send(OrderInstruction(option, Direction.SHORT, Offset.OPEN, 1, price * 3, "probe sell"), now)
            cycle._send(OrderInstruction(option, Direction.LONG, Offset.OPEN, 1, price * 4, "probe buy"), now)
            cycle._publish()
        finally:
            done.set()

    engines.event_engine.register(EVENT_PROBE, probe)
    engines.event_engine.put(Event(EVENT_PROBE))
    assert done.wait(30)
    engines.event_engine.wait_until_idle()
    orders = engines.main_engine.get_all_orders()[sent_before:]
    assert [(o.symbol, o.direction.name) for o in orders] == [(option.split(".")[0], "SHORT")]
    (crossing,) = [e for e in published if isinstance(e, PreTradeRefusedEvent) and e.rule == "self_trade"]
    assert crossing.vt_symbol == option and crossing.figures["working_order"] == orders[0].vt_orderid
