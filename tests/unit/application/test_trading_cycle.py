"""The trading cycle on domain values and the project's fakes: no vnpy engine, time passed in.

The scenario: IF2502 at 3,900 with a chain of IO2502 puts and calls 46 days before expiry. A
scripted signal service (a fake of the domain's ``ISignalService`` port) asks for SELL_PUT on the
first window bar; ``FakeTradeGateway`` (tests/unit/execution/fakes.py) plays the exchange.
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.schema import GreeksLimits, StrategySetting
from src.strategy.application import cycle_state
from src.strategy.application.bootstrap import build_cycle
from src.strategy.application.trading_cycle import CyclePorts, TradingCycle
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent, SignalEvent
from src.strategy.domain.event.instrument_events import ActiveContractChangedEvent
from src.strategy.domain.event.order_events import OrderOverfilledEvent
from src.strategy.domain.value_object.market import BarSnapshot, Direction, Offset
from src.strategy.domain.value_object.market_input import BarPrint, TopOfBook, TradeFill
from src.strategy.domain.value_object.order_instruction import OrderPurpose
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.signal_type import SignalType
from tests.unit.execution.fakes import FakeTradeGateway

CST = ZoneInfo("Asia/Shanghai")
FUTURE = "IF2502.CFFEX"
PUT_STRIKES = (3900, 3850, 3800, 3750, 3700, 3650, 3600)
OPTIONS = [f"IO2502-P-{strike}.CFFEX" for strike in PUT_STRIKES] + ["IO2502-C-4000.CFFEX"]
START = datetime(2025, 1, 6, 10, 0, tzinfo=CST)  # a Monday; IO2502 expires 2025-02-21
PUT_PRICES = {3900: 95.0, 3850: 70.0, 3800: 50.0, 3750: 35.0, 3700: 24.0, 3650: 16.0, 3600: 10.4}


class ScriptedSignals:
    """Opens once with the scripted signal; never closes."""

    def __init__(self, signal: SignalType | None = SignalType.SELL_PUT) -> None:
        self.signal = signal

    def check_open_signal(self, instrument, bar):
        signal, self.signal = self.signal, None
        return signal

    def check_close_signal(self, position, instrument, bar):
        return None


class FakeAccount:
    def __init__(self, capital: float = 1_000_000.0) -> None:
        self._capital = capital

    def capital(self) -> float:
        return self._capital


class FakeOrders:
    def __init__(self) -> None:
        self.known: dict[str, tuple[OrderStatus, int]] = {}
        self.claimed: list[str] = []

    def order_state(self, vt_orderid):
        return self.known.get(vt_orderid)

    def claim(self, vt_orderid):
        self.claimed.append(vt_orderid)


class LogLines:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def write_log(self, message: str) -> None:
        self.lines.append(message)


class ExchangeToCycle:
    """The fake exchange's callbacks as the platform would deliver them to the cycle."""

    def __init__(self, gateway: FakeTradeGateway) -> None:
        self.gateway = gateway
        self.cycle: TradingCycle | None = None

    def on_order_update(self, vt_orderid, status, traded, at):
        self.cycle.on_order(vt_orderid, status, traded, at, at)

    def on_trade(self, vt_orderid, vt_tradeid, volume, price, at):
        instruction = self.gateway.orders[vt_orderid].instruction
        self.cycle.on_trade(TradeFill(vt_orderid, vt_tradeid, instruction.vt_symbol, instruction.direction,
                                      instruction.offset, price, volume, at), at)


@pytest.fixture(scope="module")
def config():
    return load_strategy_config(DEFAULT_STRATEGY_CONFIG)


def make_cycle(config, signals=None, hedging=False, cancel_mode="sync", extra_symbols=()):
    capital = 1_000_000.0
    if hedging:
        # A book big enough to need a whole futures lot: more capital, wider Greeks limits.
        hedge = dataclasses.replace(config.hedging.delta_hedging, enabled=True, hedging_band=0.1)
        risk = config.greeks_risk
        wide = dataclasses.replace(risk, position_limits=GreeksLimits(delta=1e4, gamma=1e4, vega=1e6),
                                   portfolio_limits=GreeksLimits(delta=1e5, gamma=1e5, vega=1e7), cash_limits=None)
        config = dataclasses.replace(config, greeks_risk=wide,
                                     hedging=dataclasses.replace(config.hedging, delta_hedging=hedge),
                                     advanced_orders=dataclasses.replace(config.advanced_orders,
                                                                         default_iceberg_batch_size=1000))
        capital = 20_000_000.0
    gateway = FakeTradeGateway(cancel_mode=cancel_mode, now=START)
    listener = ExchangeToCycle(gateway)
    gateway.listener = listener
    ports = CyclePorts(account=FakeAccount(capital), orders=FakeOrders(), events=LogLines())
    # The chain below is laid out for the strike-level mode (the 4th out-of-the-money strike); the delta
    # mode, the configuration's default, has tests of its own (test_option_selector_by_delta, the backtest).
    setting = StrategySetting(max_positions=5, position_ratio=0.1, strike_level=4, bar_window=1,
                              bar_interval="MINUTE", strike_selection="strike_level")
    cycle = build_cycle("unit", [FUTURE, *OPTIONS, *extra_symbols], config, setting, gateway, ports, prices_from_bars=True)
    cycle.services.signal_service = signals or ScriptedSignals()
    listener.cycle = cycle
    published: list[DomainEvent] = []
    cycle.bus.subscribe(DomainEvent, published.append)
    return cycle, gateway, published


def minute(cycle: TradingCycle, at: datetime, future_close: float = 3900.0, trading: bool = True,
           put_prices=PUT_PRICES, extra_prints=None, touches=None) -> None:
    prints = {FUTURE: BarPrint(future_close, 120.0, 50_000.0)}
    prints.update({f"IO2502-P-{strike}.CFFEX": BarPrint(price, 30.0, 900.0) for strike, price in put_prices.items()})
    prints["IO2502-C-4000.CFFEX"] = BarPrint(40.0, 30.0, 900.0)
    prints.update(extra_prints or {})
    window = [BarSnapshot(FUTURE, at, future_close, future_close, future_close, future_close, 120.0,
                          open_interest=50_000.0)]
    cycle.on_bars(prints, window, at, at + timedelta(minutes=1), trading=trading, recording=True, touches=touches)


def test_a_bar_backtest_prices_off_the_touch_its_bar_leaves_else_off_the_last_price(config):
    """With the fill model each bar leaves the quote its fills are modelled on: the opening sells at that bid
    less the slippage ticks, as on the replay's ticks; without one (vnpy's crossing) at the last price less
    them, as before. slippage_ticks 2, IO's tick 0.2."""
    put = "IO2502-P-3700.CFFEX"
    cycle, gateway, _ = make_cycle(config)
    minute(cycle, START)
    (sent,) = gateway.sent
    assert (sent.vt_symbol, sent.price) == (put, 23.6)  # the last price 24.0, two ticks through it

    cycle, gateway, _ = make_cycle(config)
    touch = TopOfBook(put, 23.8, 24.2, 24.0, None, None, 7.0, 7.0, None, 900.0)
    minute(cycle, START, touches={put: touch})
    (sent,) = gateway.sent
    assert (sent.vt_symbol, sent.price) == (put, 23.4)  # the bid 23.8, two ticks through it
    quote = cycle.instruments.get("IF").option_quote(put)
    assert (quote.bid, quote.ask, quote.bid_size) == (23.8, 24.2, 7.0) and quote.mark_price == pytest.approx(24.0)


def test_a_signal_opens_the_fourth_out_of_the_money_put_and_the_fill_books_it(config):
    """3,900 is at the money; 3,850, 3,800, 3,750 and 3,700 are the out-of-the-money puts."""
    cycle, gateway, published = make_cycle(config)
    minute(cycle, START)

    assert {type(e) for e in published} >= {ActiveContractChangedEvent, SignalEvent}
    (sent,) = gateway.sent
    assert (sent.vt_symbol, sent.direction, sent.offset, sent.purpose) == (
        "IO2502-P-3700.CFFEX", Direction.SHORT, Offset.OPEN, OrderPurpose.SIGNAL)
    assert cycle.counters.signal_count == 1 and cycle.counters.order_count == 1

    gateway.fill(gateway.last_id(), price=35.0)
    (position,) = cycle.positions.positions()
    assert (position.vt_symbol, position.direction, position.volume) == (sent.vt_symbol, Direction.SHORT,
                                                                          sent.volume)
    assert cycle.open_position_count() == 1
    assert cycle.account(START).frozen > 0, "a short option holds margin"


def test_without_trading_no_order_is_sent_but_indicators_and_contracts_follow(config):
    cycle, gateway, published = make_cycle(config)
    minute(cycle, START, trading=False)
    assert gateway.sent == [] and cycle.counters.signal_count == 0
    assert cycle.instruments.active_contract("IF") == FUTURE


def test_a_refusal_is_an_event_with_its_reason_and_is_counted_once(config):
    cycle, gateway, published = make_cycle(config)
    # Only three out-of-the-money puts: strike level 4 cannot be met.
    minute(cycle, START, put_prices={3850: 70.0, 3800: 50.0, 3750: 35.0})
    refusals = [e for e in published if isinstance(e, DecisionRefusedEvent)]
    assert len(refusals) == 1 and "strike_level is 4" in refusals[0].reason
    assert cycle.counters.refusal_count == 1 and gateway.sent == []


def test_an_overfill_is_closed_by_an_explicit_correction_order(config):
    cycle, gateway, published = make_cycle(config)
    minute(cycle, START)
    opening = gateway.last_id()
    volume = gateway.orders[opening].instruction.volume
    # The order times out and is cancelled; then a fill the cancel lost to arrives.
    later = START + timedelta(minutes=1, seconds=config.order_execution.timeout_seconds + 1)
    gateway.now = later
    cycle.on_time(later)
    assert gateway.orders[opening].status is OrderStatus.CANCELLED
    resend = gateway.last_id()
    assert resend != opening
    gateway.fill(resend, price=35.0)
    gateway.late_fill(opening, volume, price=35.0)
    assert any(isinstance(e, OrderOverfilledEvent) for e in published)
    corrections = [i for i in gateway.sent if i.purpose is OrderPurpose.CORRECTION]
    assert len(corrections) == 1
    assert (corrections[0].direction, corrections[0].offset) == (Direction.LONG, Offset.CLOSE)


def test_hedges_carry_their_purpose_and_their_fills_are_counted(config):
    cycle, gateway, _published = make_cycle(config, hedging=True)
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=35.0)
    minute(cycle, START + timedelta(minutes=1))
    hedges = [i for i in gateway.sent if i.purpose is OrderPurpose.HEDGE]
    delta = cycle.product_delta("IF", FUTURE, START + timedelta(minutes=2))
    assert abs(delta) > 0.5, "the short puts should need at least one futures lot"
    assert len(hedges) == 1 and hedges[0].vt_symbol == FUTURE
    gateway.fill(gateway.last_id(), price=3900.0)
    assert cycle.counters.hedge_trade_count == 1
    assert cycle.hedging_summary()["hedge_trade_count"] == 1


def test_the_state_round_trips_and_an_old_hedge_book_is_migrated(config):
    cycle, gateway, _published = make_cycle(config, hedging=True)
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=35.0)
    minute(cycle, START + timedelta(minutes=1))
    saved = cycle_state.capture(cycle)

    restored, _gateway, _ = make_cycle(config, hedging=True)
    cycle_state.restore(restored, saved, START + timedelta(minutes=2))
    assert cycle_state.capture(restored) == saved

    # Before orders had a purpose the hedge book was a list of execution ids beside the executor.
    legacy = dict(saved)
    executions = [dict(e, instruction={k: v for k, v in e["instruction"].items() if k != "purpose"})
                  for e in saved["executor"]["executions"]]
    legacy["executor"] = dict(saved["executor"], executions=executions)
    hedge_ids = [e["execution_id"] for e in saved["executor"]["executions"]
                 if e["instruction"]["purpose"] == OrderPurpose.HEDGE.value]
    legacy["hedge_executions"] = hedge_ids
    migrated, _gateway, _ = make_cycle(config, hedging=True)
    cycle_state.restore(migrated, legacy, START + timedelta(minutes=2))
    assert [v.execution_id for v in migrated.executor.executions() if v.instruction.is_hedge] == hedge_ids


def test_a_cancel_answered_inside_cancel_order_does_not_advance_time_twice(config):
    """vnpy's backtester confirms a cancel before cancel_order returns: the nested step books it at once."""
    cycle, gateway, published = make_cycle(config, cancel_mode="sync")
    minute(cycle, START)
    opening = gateway.last_id()
    later = START + timedelta(minutes=1, seconds=config.order_execution.timeout_seconds + 1)
    gateway.now = later
    cycle.on_time(later)
    order = cycle.positions.order(opening)
    assert order is not None and order.status is OrderStatus.CANCELLED
    resent = [i for i in gateway.sent if i.offset is Offset.OPEN]
    assert len(resent) == 2, "the executor re-priced and resent the remainder once"


def test_resumed_orders_are_claimed_and_those_the_broker_forgot_are_closed(config):
    cycle, gateway, _published = make_cycle(config)
    minute(cycle, START)
    opening = gateway.last_id()
    cycle.resume_orders(START + timedelta(minutes=2))
    assert cycle.ports.orders.claimed == [opening]
    assert cycle.positions.order(opening).status is OrderStatus.CANCELLED


def test_the_monitor_view_has_the_desk_columns_per_position_and_the_smile(config):
    """IV and the Greeks of each option position (signed lots × per-lot Greeks) add up to the portfolio's."""
    cycle, gateway, _ = make_cycle(config)
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=35.0)
    minute(cycle, START + timedelta(minutes=1))
    view = cycle.monitor_view(START + timedelta(minutes=1))
    (row,) = view["positions"]
    assert row["vt_symbol"] == "IO2502-P-3700.CFFEX" and row["direction"] == Direction.SHORT.value
    assert 0.0 < row["iv"] < 3.0
    assert row["delta"] > 0 and row["gamma"] < 0 and row["vega"] < 0 and row["theta"] > 0, \
        "a short put: long delta, short gamma and vega, earns theta"
    for greek in ("delta", "gamma", "vega", "theta"):
        assert row[greek] == pytest.approx(view["greeks"][greek])
    strikes = {point["strike"] for point in view["smile"]}
    assert 3700.0 in strikes
    assert all(point["option_type"] in ("CALL", "PUT") and point["iv"] > 0 for point in view["smile"])


def test_a_ticks_touch_reaches_the_option_chain_and_a_wide_one_refuses_the_opening(config):
    """Live and in the replay: the tick's bid, ask and sizes go into the option's quote, the bar keeps them,
    the mark is the mid, and the liquidity filter's spread check acts on them."""
    cycle, gateway, published = make_cycle(config)
    minute(cycle, START, trading=False)
    put = "IO2502-P-3700.CFFEX"
    cycle.on_quote(TopOfBook(put, 23.8, 24.2, 24.0, None, None, 6.0, 4.0, 80.0, 950.0), START + timedelta(seconds=70))
    instrument = cycle.instruments.get("IF")
    quote = instrument.option_quote(put)
    assert (quote.bid, quote.ask, quote.bid_size, quote.ask_size, quote.volume) == (23.8, 24.2, 6.0, 4.0, 80.0)
    assert quote.mark_price == pytest.approx(24.0)
    minute(cycle, START + timedelta(minutes=1), trading=False)
    assert (instrument.option_quote(put).bid, instrument.option_quote(put).ask) == (23.8, 24.2)
    # A spread of a third of the mid: the signal's option is refused, with the reason.
    cycle.on_quote(TopOfBook(put, 20.0, 28.0, 24.0, None, None, 1.0, 1.0, 90.0, 950.0), START + timedelta(seconds=130))
    minute(cycle, START + timedelta(minutes=2))
    assert not gateway.sent
    refusals = [e for e in published if isinstance(e, DecisionRefusedEvent)]
    assert refusals and "above max_spread_ratio" in refusals[-1].reason
