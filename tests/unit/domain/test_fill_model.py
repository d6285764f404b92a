"""The quote-aware fill model: no fill without a print, never better than the touch, the participation cap,
lots conserved, and the spread estimator."""
from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.strategy.domain.domain_service.fill_model import (
    FillModel,
    FillSettings,
    FillSource,
    NoFill,
    Quote,
    SpreadRule,
    bar_path,
    is_at_or_beyond_far_touch,
)
from src.strategy.domain.domain_service.fill_statistics import FillStatistics
from src.strategy.domain.value_object.market import Direction

TICK = 0.2
sides = st.sampled_from([Direction.LONG, Direction.SHORT])
ticks_price = st.integers(min_value=1, max_value=5_000)  # a price in ticks
sizes = st.integers(min_value=0, max_value=200)
participations = st.sampled_from([0.05, 0.1, 0.25, 0.5, 1.0])


@st.composite
def quotes(draw):
    bid = draw(st.integers(min_value=0, max_value=4_000))
    width = draw(st.integers(min_value=1, max_value=30))
    return Quote(round(bid * TICK, 10), round((bid + width) * TICK, 10), draw(sizes), draw(sizes))


limits = st.one_of(st.none(), st.integers(min_value=1, max_value=4_100).map(lambda t: round(t * TICK, 10)))


@given(side=sides, remaining=st.integers(1, 50), traded=st.sampled_from([0.0, -0.0]),
       price=st.one_of(st.none(), ticks_price.map(lambda t: t * TICK)), used=st.integers(0, 10))
def test_never_fills_on_a_minute_without_a_print(side, remaining, traded, price, used):
    decision = FillModel().match_bar(side, None, remaining, price, traded, TICK, used)
    assert decision.volume == 0 and decision.no_fill is NoFill.NO_PRINT
    assert FillModel().match_bar(side, 1e9 if side is Direction.LONG else TICK, remaining, None, 50, TICK).volume == 0


@given(side=sides, quote=quotes(), limit=limits, remaining=st.integers(1, 100), used=st.integers(0, 100),
       participation=participations)
def test_never_better_than_the_touch_and_never_at_the_far_touch(side, quote, limit, remaining, used, participation):
    decision = FillModel(FillSettings(participation=participation)).match(side, limit, remaining, quote, used)
    if not decision.filled:
        return
    touch, _size = quote.touch(side)
    assert decision.price == touch
    if side is Direction.LONG:
        assert limit is None or decision.price <= limit + 1e-9
    else:
        assert limit is None or decision.price >= limit - 1e-9
    if quote.two_sided and quote.bid < quote.ask:
        assert not is_at_or_beyond_far_touch(side, decision.price, quote)


@given(side=sides, print_ticks=ticks_price, traded=st.integers(1, 500), remaining=st.integers(1, 50),
       limit_ticks=st.integers(-40, 40), is_option=st.booleans())
def test_bar_fills_cross_the_estimated_spread(side, print_ticks, traded, remaining, limit_ticks, is_option):
    model = FillModel()
    price = round(print_ticks * TICK, 10)
    limit = round(price + limit_ticks * TICK, 10)
    if limit <= 0:
        return
    decision = model.match_bar(side, limit, remaining, price, traded, TICK, is_option=is_option)
    quote = model.estimated_quote(price, TICK, traded, is_option)
    assert quote.bid <= price <= quote.ask and quote.bid < quote.ask
    if decision.filled:
        assert decision.source is FillSource.BAR
        # a buy pays at least the print plus half the estimated spread (rounded up), a sell receives at most ...
        if side is Direction.LONG:
            assert decision.price > price - 1e-9 and decision.price == quote.ask
        else:
            assert decision.price < price + 1e-9 and decision.price == quote.bid


@given(available=st.floats(min_value=0, max_value=10_000, allow_nan=False), participation=participations,
       min_lots=st.integers(0, 5))
def test_capacity_is_a_share_of_what_is_available(available, participation, min_lots):
    capacity = FillModel(FillSettings(participation=participation, min_lots=min_lots)).capacity(available)
    shown = math.floor(available + 1e-9)
    assert 0 <= capacity <= shown
    if shown:
        assert capacity >= min(min_lots, shown)
        assert capacity <= max(min_lots, participation * shown + 1e-9)


@given(side=sides, quote_list=st.lists(quotes(), min_size=1, max_size=12), order_lots=st.integers(1, 80),
       participation=participations)
def test_partial_fills_within_a_minute_respect_the_cap_and_conserve_lots(side, quote_list, order_lots,
                                                                         participation):
    """One minute, several quotes (ticks) of one contract: the lots filled never exceed the cap of any tick's
    size, nor the order; what is left stays working."""
    model = FillModel(FillSettings(participation=participation))
    used, remaining = 0, order_lots
    for quote in quote_list:
        decision = model.match(side, None, remaining, quote, used)
        _price, size = quote.touch(side)
        if decision.filled:
            assert used + decision.volume <= model.capacity(size)
            used += decision.volume
            remaining -= decision.volume
        assert remaining >= 0
    assert used + remaining == order_lots


@given(side=sides, minutes=st.lists(st.tuples(st.integers(0, 30), st.integers(1, 3_000)), min_size=1,
                                     max_size=30), order_lots=st.integers(1, 60))
def test_an_order_worked_over_minutes_fills_at_most_its_lots(side, minutes, order_lots):
    model = FillModel()
    stats = FillStatistics()
    filled = 0
    for traded, print_ticks in minutes:
        remaining = order_lots - filled
        if remaining == 0:
            break
        decision = model.match_bar(side, None, remaining, print_ticks * TICK, traded, TICK)
        if decision.no_fill is NoFill.NO_PRINT:
            assert traded == 0
            stats.record_no_print("o1")
            continue
        assert decision.volume <= model.capacity(traded)
        filled += decision.volume
        if decision.filled:
            stats.record_fill("o1", side, decision.price, decision.volume, decision.source, decision.quote, TICK,
                              100, printed=True, complete=filled == order_lots)
    assert 0 <= filled <= order_lots
    summary = stats.summary()
    assert summary["lots_on_bars"] == filled
    assert summary["fills_on_no_print_minutes"] == 0
    if summary["average_spread_paid_ticks"] is not None:
        assert summary["average_spread_paid_ticks"] > 0  # crossing costs, always
    assert summary["orders_unfilled_for_want_of_print"] == (1 if stats.no_print_skips and filled < order_lots else 0)


def test_spread_rule_is_two_ticks_plus_a_share_of_the_price():
    rule = SpreadRule()
    assert rule.ticks(10.0, 0.2) == 2
    assert rule.ticks(50.0, 0.2) == 3       # 0.4 % of 50 is one tick
    assert rule.ticks(200.0, 0.2) == 6
    assert rule.ticks(10_000.0, 0.2) == 20  # capped
    with pytest.raises(ValueError):
        SpreadRule(min_ticks=3, max_ticks=2)


def test_estimated_quote_of_a_future_is_one_tick_either_side_and_a_wing_has_no_bid():
    model = FillModel()
    future = model.estimated_quote(4600.0, 0.2, 300, is_option=False)
    assert (future.bid, future.ask) == (4599.8, 4600.2)
    wing = model.estimated_quote(0.2, 0.2, 3)
    assert wing.bid == 0 and wing.ask == 0.4
    assert model.match(Direction.SHORT, 0.2, 1, wing).no_fill is NoFill.NO_TOUCH


def test_a_limit_short_of_the_touch_is_not_marketable_and_an_exhausted_minute_gives_nothing():
    model = FillModel(FillSettings(participation=0.5))
    quote = Quote(10.0, 10.4, 4, 4)
    assert model.match(Direction.LONG, 10.2, 3, quote).no_fill is NoFill.NOT_MARKETABLE
    assert model.match(Direction.SHORT, 10.2, 3, quote).no_fill is NoFill.NOT_MARKETABLE
    first = model.match(Direction.LONG, 10.4, 3, quote)
    assert (first.volume, first.price) == (2, 10.4)
    assert model.match(Direction.LONG, 10.4, 1, quote, used=2).no_fill is NoFill.CAPACITY_USED


def test_bad_settings_and_quotes_are_refused():
    with pytest.raises(ValueError):
        FillSettings(participation=0)
    with pytest.raises(ValueError):
        FillSettings(participation=1.5)
    with pytest.raises(ValueError):
        Quote(10.4, 10.0, 1, 1)
    with pytest.raises(ValueError):
        Quote(-1.0, 10.0, 1, 1)


def test_statistics_count_far_touch_fills_against_a_reference():
    stats = FillStatistics()
    reference = Quote(10.0, 10.4, 5, 5)
    stats.record_fill("a", Direction.SHORT, 10.4, 1, FillSource.BAR, None, 0.2, 100, printed=True, complete=True,
                      reference=reference)
    stats.record_fill("b", Direction.SHORT, 10.0, 1, FillSource.QUOTE, reference, 0.2, 100, printed=False,
                      complete=True, reference=reference)
    summary = stats.summary()
    assert summary["far_touch_fills"] == 1 and summary["fills_checked_against_quotes"] == 2
    assert summary["fills_on_no_print_minutes"] == 1
    assert summary["average_spread_paid_ticks"] == 1.0  # only b has a quote: mid 10.2, sold at 10.0
    assert summary["spread_cost"] == 20.0


@given(side=sides, bid_ticks=st.integers(1, 3_000), width=st.integers(1, 25), at_ask=st.booleans(),
       traded=st.integers(1, 300), is_option=st.booleans())
def test_a_bar_fill_is_never_at_the_far_touch_of_the_true_quote(side, bid_ticks, width, at_ask, traded, is_option):
    """Whatever the true quote was, if the minute's first print was at its bid or its ask, the fill on the
    estimated quote is strictly inside the true far touch."""
    true = Quote(round(bid_ticks * TICK, 10), round((bid_ticks + width) * TICK, 10), 10, 10)
    print_price = true.ask if at_ask else true.bid
    decision = FillModel().match_bar(side, None, 1, print_price, traded, TICK, is_option=is_option)
    if decision.filled:
        assert not is_at_or_beyond_far_touch(side, decision.price, true)


@st.composite
def bars(draw):
    """(open, high, low, close) in ticks, high and low bounding the other two."""
    low = draw(st.integers(1, 3_000))
    high = low + draw(st.integers(0, 40))
    open_, close = draw(st.integers(low, high)), draw(st.integers(low, high))
    return tuple(round(t * TICK, 10) for t in (open_, high, low, close))


@given(bar=bars())
def test_a_bar_path_runs_from_open_to_close_through_high_and_low(bar):
    open_, high, low, close = bar
    path = bar_path(open_, high, low, close)
    assert path[0] == open_ and path[-1] == close
    assert set(path) == {open_, high, low, close}
    assert all(a != b for a, b in zip(path, path[1:]))
    assert len(path) <= 4
    # a bar closing up dips before it peaks; one closing down peaks first
    if low != high and len(path) == 4:
        assert path.index(low) < path.index(high) if close >= open_ else path.index(high) < path.index(low)


def test_an_order_working_through_a_minute_meets_every_print_of_its_bar():
    """A sell whose limit is above the open's estimated bid fills on the minute's high, as the replay's tick
    at the high would fill it; all prints share the minute's cap."""
    model = FillModel(FillSettings(participation=0.25))
    quotes = model.bar_quotes(40.0, 41.0, 39.8, 40.8, 8.0, TICK)   # closing up: open, low, high, close
    assert [q.bid for q in quotes] == [39.8, 39.6, 40.8, 40.6]    # two ticks wide: one tick below each print
    used, fills = 0, []
    for quote in quotes:
        decision = model.match(Direction.SHORT, 40.4, 5, quote, used)
        if decision.filled:
            fills.append((decision.price, decision.volume))
            used += decision.volume
    assert fills == [(40.8, 2)]                                    # a quarter of 8 lots, on the high only
    assert model.bar_quotes(40.0, 41.0, 39.8, 40.8, 0.0, TICK) == ()  # no print, no market
