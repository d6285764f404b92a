import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.event.position_events import ManualCloseDetectedEvent, ManualOpenDetectedEvent
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.position_snapshot import PositionSnapshot
from src.strategy.domain.value_object.signal_type import SignalType

from .builders import at

PUT = "IO2501-P-3800.CFFEX"
CALL = "IO2501-C-4200.CFFEX"
SHORT, LONG = Direction.SHORT, Direction.LONG
OPEN, CLOSE = Offset.OPEN, Offset.CLOSE


def aggregate() -> PositionAggregate:
    result = PositionAggregate()
    for symbol in (PUT, CALL):
        result.register_contract(ContractParams(symbol, multiplier=100, pricetick=0.2, margin_ratio=0.1))
    return result


def sell_open(volume: int = 2, price: float = 30.0, symbol: str = PUT) -> OrderInstruction:
    return OrderInstruction(symbol, SHORT, OPEN, volume, price, "open SELL_PUT", SignalType.SELL_PUT)


def buy_close(volume: int = 2, price: float = 15.0, symbol: str = PUT) -> OrderInstruction:
    return OrderInstruction(symbol, LONG, CLOSE, volume, price, "close PROFIT_TARGET")


class TestOrdersAndTrades:
    def test_partial_then_full_fill(self):
        book = aggregate()
        book.register_order("o1", sell_open(volume=3), at(minute=0))
        assert book.open_position_count() == 1  # the pending opening counts
        assert [order.vt_orderid for order in book.active_orders()] == ["o1"]

        book.update_order("o1", OrderStatus.NOT_TRADED, 0, at(minute=1))
        assert book.update_trade("o1", "t1", PUT, SHORT, OPEN, 30.0, 1, at(minute=2))
        book.update_order("o1", OrderStatus.PART_TRADED, 1, at(minute=2))
        position = book.position(PUT, SHORT)
        assert position.volume == 1 and position.avg_price == 30.0
        assert book.order("o1").is_active

        book.update_trade("o1", "t2", PUT, SHORT, OPEN, 27.0, 2, at(minute=3))
        book.update_order("o1", OrderStatus.ALL_TRADED, 3, at(minute=3))
        assert position.volume == 3 and position.avg_price == pytest.approx(28.0)
        assert book.active_orders() == [] and book.open_position_count() == 1
        assert [trade.vt_tradeid for trade in book.trades()] == ["t1", "t2"]
        assert not any(trade.manual for trade in book.trades())

        book.register_order("o2", buy_close(volume=3), at(minute=10))
        book.update_trade("o2", "t3", PUT, LONG, CLOSE, 14.0, 3, at(minute=11))
        assert book.positions() == [] and book.position(PUT, SHORT).is_flat
        assert book.realized_pnl() == pytest.approx((28.0 - 14.0) * 3 * 100)
        assert book.open_position_count() == 0
        assert book.pop_events() == []

    def test_a_repeated_trade_is_ignored(self):
        book = aggregate()
        book.register_order("o1", sell_open(volume=2), at())
        assert book.update_trade("o1", "t1", PUT, SHORT, OPEN, 30.0, 1, at())
        assert not book.update_trade("o1", "t1", PUT, SHORT, OPEN, 30.0, 1, at())
        assert book.position(PUT, SHORT).volume == 1 and len(book.trades()) == 1

    def test_a_trade_that_contradicts_its_order_is_an_error(self):
        book = aggregate()
        book.register_order("o1", sell_open(), at())
        with pytest.raises(ValueError, match="does not match its order o1"):
            book.update_trade("o1", "t1", PUT, LONG, OPEN, 30.0, 1, at())
        assert book.trades() == [] and book.positions() == []

    def test_registering_an_order_twice_is_an_error(self):
        book = aggregate()
        book.register_order("o1", sell_open(), at())
        with pytest.raises(ValueError, match="already registered"):
            book.register_order("o1", sell_open(), at())

    def test_reports_of_orders_not_placed_by_the_strategy_are_not_tracked(self):
        book = aggregate()
        assert not book.update_order("manual-1", OrderStatus.NOT_TRADED, 0, at())
        assert book.orders() == []

    def test_a_contract_without_multiplier_is_refused_before_any_change(self):
        book = PositionAggregate()
        with pytest.raises(ValueError, match="multiplier of .* unknown"):
            book.update_trade("x", "t1", PUT, SHORT, OPEN, 30.0, 1, at())
        assert book.trades() == [] and book.pop_events() == []


class TestManualTrades:
    def test_a_trade_of_an_unknown_order_is_a_manual_open(self):
        book = aggregate()
        book.update_trade("manual-1", "t1", CALL, SHORT, OPEN, 12.0, 2, at())
        (event,) = book.pop_events()
        assert isinstance(event, ManualOpenDetectedEvent)
        assert (event.vt_symbol, event.direction, event.volume, event.occurred_at) == (CALL, SHORT, 2, at())
        assert "manual-1" in event.detail
        assert book.position(CALL, SHORT).volume == 2 and book.trades()[0].manual
        assert book.pop_events() == []

    def test_a_trade_of_an_unknown_order_closing_ours_is_a_manual_close(self):
        book = aggregate()
        book.register_order("o1", sell_open(volume=3), at())
        book.update_trade("o1", "t1", PUT, SHORT, OPEN, 30.0, 3, at())
        book.update_trade("manual-2", "t2", PUT, LONG, CLOSE, 20.0, 1, at(minute=5))
        (event,) = book.pop_events()
        assert isinstance(event, ManualCloseDetectedEvent)
        assert (event.vt_symbol, event.direction, event.volume) == (PUT, SHORT, 1)
        assert book.position(PUT, SHORT).volume == 2
        assert book.realized_pnl() == pytest.approx(1000.0)

    def test_a_close_of_more_than_known_reveals_a_manual_open(self):
        book = aggregate()
        book.register_order("o1", sell_open(volume=1), at())
        book.update_trade("o1", "t1", PUT, SHORT, OPEN, 30.0, 1, at())
        book.register_order("o2", buy_close(volume=3), at(minute=5))
        book.update_trade("o2", "t2", PUT, LONG, CLOSE, 20.0, 3, at(minute=6))
        (event,) = book.pop_events()
        assert isinstance(event, ManualOpenDetectedEvent)
        assert (event.direction, event.volume) == (SHORT, 2)
        # The adopted lots enter at the trade price, so only the strategy's lot realizes PnL.
        assert book.position(PUT, SHORT).is_flat and book.realized_pnl() == pytest.approx(1000.0)


class TestReconcile:
    def held(self, volume: int = 2, price: float = 30.0) -> PositionAggregate:
        book = aggregate()
        book.register_order("o1", sell_open(volume=volume, price=price), at())
        book.update_trade("o1", "t1", PUT, SHORT, OPEN, price, volume, at())
        book.update_order("o1", OrderStatus.ALL_TRADED, volume, at())
        return book

    def test_matching_positions_change_nothing(self):
        book = self.held()
        assert book.reconcile([PositionSnapshot(PUT, SHORT, 2, 31.4)], at(minute=30)) == []
        assert book.pop_events() == []
        assert book.position(PUT, SHORT).avg_price == 30.0  # a settlement-based cost is not adopted

    def test_a_larger_reported_position_is_adopted_with_a_manual_open(self):
        book = self.held()
        book.reconcile([PositionSnapshot(PUT, SHORT, 5, 28.0), PositionSnapshot(CALL, SHORT, 1, 12.0)], at(minute=30))
        events = book.pop_events()
        assert [(type(e), e.vt_symbol, e.direction, e.volume) for e in events] == [
            (ManualOpenDetectedEvent, CALL, SHORT, 1), (ManualOpenDetectedEvent, PUT, SHORT, 3)]
        assert book.position(PUT, SHORT).volume == 5 and book.position(PUT, SHORT).avg_price == 28.0
        assert book.position(CALL, SHORT).volume == 1 and book.position(CALL, SHORT).opened_at == at(minute=30)

    def test_a_smaller_or_missing_reported_position_is_adopted_with_a_manual_close(self):
        book = self.held(volume=3)
        book.reconcile([PositionSnapshot(PUT, SHORT, 1, 40.0)], at(minute=30))
        (event,) = book.pop_events()
        assert isinstance(event, ManualCloseDetectedEvent) and event.volume == 2 and "PnL is unknown" in event.detail
        assert book.position(PUT, SHORT).volume == 1 and book.position(PUT, SHORT).avg_price == 30.0

        book.reconcile([], at(minute=31))
        (event,) = book.pop_events()
        assert isinstance(event, ManualCloseDetectedEvent) and event.volume == 1
        assert book.positions() == []

    def test_contracts_with_active_orders_are_skipped(self):
        book = self.held()
        book.register_order("o2", buy_close(volume=2), at(minute=20))
        skipped = book.reconcile([PositionSnapshot(CALL, SHORT, 1, 12.0)], at(minute=30))
        assert skipped == [PUT]
        assert [e.vt_symbol for e in book.pop_events()] == [CALL]
        assert book.position(PUT, SHORT).volume == 2

    def test_invalid_snapshots_change_nothing(self):
        book = self.held()
        with pytest.raises(ValueError, match="two snapshots"):
            book.reconcile([PositionSnapshot(PUT, SHORT, 1, 1.0), PositionSnapshot(PUT, SHORT, 2, 1.0)], at())
        with pytest.raises(ValueError, match="multiplier of OTHER.CFFEX unknown"):
            book.reconcile([PositionSnapshot(PUT, SHORT, 1, 1.0), PositionSnapshot("OTHER.CFFEX", LONG, 1, 1.0)], at())
        assert book.position(PUT, SHORT).volume == 2 and book.pop_events() == []


class TestState:
    def test_round_trip_through_json(self):
        book = aggregate()
        book.register_order("o1", sell_open(volume=3), at())
        book.update_trade("o1", "t1", PUT, SHORT, OPEN, 30.0, 2, at(minute=1))
        book.update_order("o1", OrderStatus.PART_TRADED, 2, at(minute=1))
        book.update_trade("m1", "t2", CALL, SHORT, OPEN, 12.0, 1, at(minute=2))
        state = json.loads(json.dumps(book.to_dict()))
        restored = PositionAggregate.from_dict(state)
        assert restored.to_dict() == book.to_dict()
        assert restored.order("o1").is_active and restored.open_position_count() == 2
        # The day's trades resent after a restart are recognised.
        assert not restored.update_trade("o1", "t1", PUT, SHORT, OPEN, 30.0, 2, at(minute=1))
        assert restored.pop_events() == []

    def test_unknown_version_is_refused(self):
        state = aggregate().to_dict()
        state["version"] = 99
        with pytest.raises(ValueError, match="version 99"):
            PositionAggregate.from_dict(state)

    def test_prune_history_keeps_active_orders_and_recent_trades(self):
        book = aggregate()
        book.register_order("old", sell_open(volume=1), at(day=20))
        book.update_trade("old", "t-old", PUT, SHORT, OPEN, 30.0, 1, at(day=20))
        book.update_order("old", OrderStatus.ALL_TRADED, 1, at(day=20))
        book.register_order("live", sell_open(volume=1, symbol=CALL), at(day=20))
        book.update_trade("m", "t-new", PUT, SHORT, OPEN, 30.0, 1, at(day=23))
        assert book.prune_history(at(day=23, hour=0)) == 2
        assert [o.vt_orderid for o in book.orders()] == ["live"]
        assert [t.vt_tradeid for t in book.trades()] == ["t-new"]
        assert book.position(PUT, SHORT).volume == 2


operations = st.lists(
    st.tuples(
        st.sampled_from([PUT, CALL]),
        st.sampled_from(Direction),
        st.booleans(),                      # opening (else closing)
        st.integers(min_value=1, max_value=5),
        st.integers(min_value=1, max_value=500).map(lambda ticks: ticks * 0.2),
        st.booleans(),                      # placed by the strategy (else manual)
        st.sampled_from(list(OrderStatus)),
    ),
    max_size=25,
)


@settings(max_examples=60, deadline=None)
@given(operations)
def test_state_round_trip_after_any_history(ops):
    book = aggregate()
    for index, (symbol, side, opening, volume, price, ours, status) in enumerate(ops):
        when = at(hour=9 + index // 60, minute=index % 60)
        held = book.position(symbol, side)
        if not opening and (held is None or held.is_flat):
            opening = True
        offset = OPEN if opening else CLOSE
        direction = side if opening else side.opposite
        orderid = f"o{index}" if ours else f"manual{index}"
        if ours:
            book.register_order(orderid, OrderInstruction(symbol, direction, offset, volume, price, "test"), when)
        book.update_trade(orderid, f"t{index}", symbol, direction, offset, price, volume, when)
        book.update_order(orderid, status, volume if status is OrderStatus.ALL_TRADED else 0, when)
    state = book.to_dict()
    restored = PositionAggregate.from_dict(json.loads(json.dumps(state)))
    assert restored.to_dict() == state
    assert restored.open_position_count() == book.open_position_count()
    assert restored.realized_pnl() == book.realized_pnl()
    for trade in book.trades():
        assert not restored.update_trade(trade.vt_orderid, trade.vt_tradeid, trade.vt_symbol, trade.direction,
                                         trade.offset, trade.price, trade.volume, trade.traded_at)
