from datetime import datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.strategy.domain.entity.order import Order
from src.strategy.domain.entity.position import Position
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_status import OrderStatus

from .builders import at

SYMBOL = "IO2501-P-3800.CFFEX"
prices = st.integers(min_value=1, max_value=50_000).map(lambda ticks: ticks * 0.2)
volumes = st.integers(min_value=1, max_value=50)


class TestPosition:
    def test_opening_fills_average_by_volume(self):
        position = Position(SYMBOL, Direction.SHORT, multiplier=100)
        assert position.apply_fill(Direction.SHORT, Offset.OPEN, 2, 30.0, at(hour=10)) == 0.0
        position.apply_fill(Direction.SHORT, Offset.OPEN, 1, 24.0, at(hour=11))
        assert position.volume == 3
        assert position.avg_price == pytest.approx(28.0)
        assert position.opened_at == at(hour=10)

    def test_closing_realizes_pnl_with_the_multiplier_and_side(self):
        short = Position(SYMBOL, Direction.SHORT, multiplier=100)
        short.apply_fill(Direction.SHORT, Offset.OPEN, 3, 28.0, at())
        assert short.apply_fill(Direction.LONG, Offset.CLOSE, 2, 20.0, at(hour=11)) == pytest.approx(1600.0)
        assert short.volume == 1 and short.avg_price == pytest.approx(28.0)
        assert short.unrealized_pnl(30.0) == pytest.approx(-200.0)
        short.apply_fill(Direction.LONG, Offset.CLOSE, 1, 30.0, at(hour=12))
        assert short.is_flat and short.realized_pnl == pytest.approx(1400.0)
        assert short.avg_price == 0.0 and short.opened_at is None

        long = Position(SYMBOL, Direction.LONG, multiplier=300)
        long.apply_fill(Direction.LONG, Offset.OPEN, 1, 4000.0, at())
        assert long.apply_fill(Direction.SHORT, Offset.CLOSE, 1, 4010.0, at()) == pytest.approx(3000.0)

    def test_closing_more_than_held_is_an_error_and_changes_nothing(self):
        position = Position(SYMBOL, Direction.SHORT, multiplier=100)
        position.apply_fill(Direction.SHORT, Offset.OPEN, 1, 28.0, at())
        with pytest.raises(ValueError, match="cannot close 2, only 1 held"):
            position.apply_fill(Direction.LONG, Offset.CLOSE, 2, 20.0, at())
        assert position.volume == 1 and position.realized_pnl == 0.0

    def test_fill_on_the_wrong_side_is_an_error(self):
        position = Position(SYMBOL, Direction.SHORT, multiplier=100)
        with pytest.raises(ValueError, match="opening LONG fill cannot add to a SHORT position"):
            position.apply_fill(Direction.LONG, Offset.OPEN, 1, 28.0, at())
        position.apply_fill(Direction.SHORT, Offset.OPEN, 1, 28.0, at())
        with pytest.raises(ValueError, match="closing fill of a SHORT position must be LONG"):
            position.apply_fill(Direction.SHORT, Offset.CLOSE, 1, 28.0, at())

    def test_fill_needs_an_aware_time(self):
        with pytest.raises(ValueError, match="timezone-aware"):
            Position(SYMBOL, Direction.LONG, 100).apply_fill(Direction.LONG, Offset.OPEN, 1, 1.0, datetime(2024, 1, 1))

    @given(direction=st.sampled_from(Direction), volume=volumes, entry=prices, exit=prices,
           multiplier=st.sampled_from([100, 200, 300, 10]))
    def test_open_then_close_the_same_volume_is_flat_with_the_expected_pnl(self, direction, volume, entry, exit,
                                                                            multiplier):
        position = Position(SYMBOL, direction, multiplier)
        position.apply_fill(direction, Offset.OPEN, volume, entry, at())
        position.apply_fill(direction.opposite, Offset.CLOSE, volume, exit, at(hour=11))
        assert position.is_flat
        expected = (exit - entry) * volume * multiplier * (1 if direction is Direction.LONG else -1)
        assert position.realized_pnl == pytest.approx(expected, rel=1e-9, abs=1e-6)

    @given(direction=st.sampled_from(Direction), fills=st.lists(st.tuples(volumes, prices), min_size=1, max_size=8),
           exit=prices)
    def test_several_openings_closed_at_once_realize_the_sum_of_their_pnl(self, direction, fills, exit):
        position = Position(SYMBOL, direction, 100)
        for volume, price in fills:
            position.apply_fill(direction, Offset.OPEN, volume, price, at())
        total = sum(volume for volume, _ in fills)
        position.apply_fill(direction.opposite, Offset.CLOSE, total, exit, at())
        expected = sum((exit - price) * volume for volume, price in fills) * 100 * direction.sign
        assert position.realized_pnl == pytest.approx(expected, rel=1e-9, abs=1e-6)

    def test_round_trips_through_a_dict(self):
        position = Position(SYMBOL, Direction.SHORT, 100)
        position.apply_fill(Direction.SHORT, Offset.OPEN, 2, 28.2, at())
        restored = Position.from_dict(position.to_dict())
        assert restored.to_dict() == position.to_dict() and restored.opened_at == at()


class TestOrder:
    def make(self):
        return Order("CTP.1", SYMBOL, Direction.SHORT, Offset.OPEN, 28.2, 3, created_at=at(), updated_at=at())

    def test_life_cycle(self):
        order = self.make()
        assert order.is_active and order.status is OrderStatus.SUBMITTING and order.remaining == 3
        assert order.apply_update(OrderStatus.NOT_TRADED, 0, at(minute=1))
        assert order.apply_update(OrderStatus.PART_TRADED, 2, at(minute=2))
        assert order.remaining == 1 and order.updated_at == at(minute=2)
        assert order.apply_update(OrderStatus.ALL_TRADED, 3, at(minute=3))
        assert not order.is_active

    def test_stale_reports_are_ignored(self):
        order = self.make()
        order.apply_update(OrderStatus.PART_TRADED, 2, at(minute=2))
        assert not order.apply_update(OrderStatus.PART_TRADED, 1, at(minute=3))
        assert not order.apply_update(OrderStatus.SUBMITTING, 2, at(minute=3))
        order.apply_update(OrderStatus.CANCELLED, 2, at(minute=4))
        assert not order.apply_update(OrderStatus.NOT_TRADED, 2, at(minute=5))
        assert order.status is OrderStatus.CANCELLED and order.traded == 2

    def test_traded_above_volume_is_an_error(self):
        with pytest.raises(ValueError, match="traded 4 exceeds volume 3"):
            self.make().apply_update(OrderStatus.ALL_TRADED, 4, at())
