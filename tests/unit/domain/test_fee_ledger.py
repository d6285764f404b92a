"""Fees per fill from the schedule: per-lot option fees, futures close-today, broker add-on, exercise."""
from __future__ import annotations

from datetime import datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.core.config.config_loader import load_strategy_config
from src.strategy.domain.domain_service.fee_ledger import FeeLedger
from src.strategy.domain.value_object.fee_schedule import FeeSchedule, ProductFees
from src.strategy.domain.value_object.market import Direction, Offset
from tests.unit.domain.builders import CST

IO = ProductFees("IO", open_per_lot=15.0, close_per_lot=15.0, close_today_per_lot=15.0, exercise_per_lot=2.0)
IF = ProductFees("IF", open_rate=0.000023, close_rate=0.000023, close_today_rate=0.00023)
DAY1, DAY2 = datetime(2026, 1, 12, 10, tzinfo=CST), datetime(2026, 1, 13, 10, tzinfo=CST)


def test_the_shipped_schedule_is_dated_and_covers_the_traded_products():
    fees = load_strategy_config().fees
    assert fees.as_of and fees.source
    schedule = fees.to_domain()
    assert {"IO", "MO", "IF", "IM"} <= set(schedule.products)
    assert schedule.products["MO"].open_per_lot == 15.0 and schedule.products["IF"].close_today_rate == 0.00023


def test_a_known_sequence_of_fills():
    ledger = FeeLedger(FeeSchedule({"IO": IO, "IF": IF}, broker_per_lot=1.0))
    put = "IO2602-P-4200.CFFEX"
    assert ledger.charge(put, "IO", Direction.SHORT, Offset.OPEN, 30.0, 3, 100, DAY1) == pytest.approx(48.0)
    assert ledger.charge(put, "IO", Direction.LONG, Offset.CLOSE, 20.0, 2, 100, DAY1) == pytest.approx(32.0)
    assert ledger.charge(put, "IO", Direction.LONG, Offset.CLOSE, 25.0, 1, 100, DAY2) == pytest.approx(16.0)
    future = "IF2602.CFFEX"
    # Two lots opened on day 1, one on day 2; on day 2 a close of 2 takes day 1's lots (close-yesterday
    # rate), the next close the lot of day 2 (close-today rate, ten times).
    assert ledger.charge(future, "IF", Direction.SHORT, Offset.OPEN, 4000.0, 2, 300, DAY1) == \
        pytest.approx(4000 * 300 * 2 * 0.000023 + 2)
    ledger.charge(future, "IF", Direction.SHORT, Offset.OPEN, 4010.0, 1, 300, DAY2)
    assert ledger.charge(future, "IF", Direction.LONG, Offset.CLOSE, 4020.0, 2, 300, DAY2) == \
        pytest.approx(4020 * 300 * 2 * 0.000023 + 2)
    assert ledger.charge(future, "IF", Direction.LONG, Offset.CLOSE, 4030.0, 1, 300, DAY2) == \
        pytest.approx(4030 * 300 * 0.00023 + 1)
    assert ledger.close_today_total == pytest.approx(2 * 15.0 + 4030 * 300 * 0.00023)  # the options closed on day 1 too
    # An option settled in the money pays the exercise fee; one expiring worthless pays nothing.
    assert ledger.settle(put, "IO", Direction.SHORT, 2, exercised=True) == pytest.approx(6.0)
    assert ledger.settle(put, "IO", Direction.SHORT, 2, exercised=False) == 0.0
    assert ledger.charge("HO2602-P-2600.CFFEX", "HO", Direction.SHORT, Offset.OPEN, 30.0, 1, 100, DAY1) == 0.0


@settings(max_examples=100, deadline=None)
@given(st.lists(st.tuples(st.booleans(), st.booleans(), st.integers(1, 4), st.floats(3000, 5000)), max_size=25))
def test_close_today_is_charged_only_on_lots_opened_that_day(fills):
    """Whatever the sequence, the fees are the schedule applied lot by lot: opens, older closes
    at the close rate, the day's own lots at the close-today rate."""
    ledger = FeeLedger(FeeSchedule({"IF": IF}))
    held: list[tuple[int, int]] = []  # (day, lots) oldest first
    expected = 0.0
    for second_day, closing, volume, price in fills:
        day = 2 if second_day else 1
        if held and held[-1][0] > day:
            day = held[-1][0]  # time goes forward
        at = DAY2 if day == 2 else DAY1
        turnover_per_lot = price * 300
        if closing:
            volume = min(volume, sum(lots for _d, lots in held))
            if volume == 0:
                continue
            remaining = volume
            while remaining:
                lot_day, lots = held[0]
                taken = min(lots, remaining)
                rate = IF.close_today_rate if lot_day == day else IF.close_rate
                expected += rate * turnover_per_lot * taken
                remaining -= taken
                held[0] = (lot_day, lots - taken)
                if held[0][1] == 0:
                    held.pop(0)
            ledger.charge("IF2602.CFFEX", "IF", Direction.LONG, Offset.CLOSE, price, volume, 300, at)
        else:
            held.append((day, volume))
            expected += IF.open_rate * turnover_per_lot * volume
            ledger.charge("IF2602.CFFEX", "IF", Direction.SHORT, Offset.OPEN, price, volume, 300, at)
    assert ledger.total == pytest.approx(expected, rel=1e-9, abs=1e-9)
