"""Validation of AllTick pushes: every bad record counted by its reason, nothing raised, gaps found by seq."""
from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.datafeed.hk.validation import RejectReason, Validator, parse_tick_time

NOW = 1_765_000_000.0  # a receive time (s)
NOW_MS = int(NOW * 1000)


def trade(n=1, **changes):
    data = {"code": "700.HK", "seq": str(n), "tick_time": str(NOW_MS - 1000 + n), "price": "380.20",
            "volume": "200", "turnover": "76040.00", "trade_direction": 1}
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def depth(seq=1, bids=((380.0, 100),), asks=((380.2, 100),), **changes):
    data = {"code": "700.HK", "seq": str(seq), "tick_time": str(NOW_MS),
            "bids": [{"price": str(p), "volume": str(v)} for p, v in bids],
            "asks": [{"price": str(p), "volume": str(v)} for p, v in asks]}
    data.update(changes)
    return data


def test_a_good_trade_is_accepted_with_numbers_parsed():
    validator = Validator(["700.HK"])
    accepted = validator.trade(trade(), NOW)
    assert (accepted.code, accepted.seq, accepted.price, accepted.volume, accepted.direction) == \
        ("700.HK", 1, 380.2, 200.0, 1)
    assert accepted.tick_time_ms == NOW_MS - 999 and validator.rejected_total == 0


@pytest.mark.parametrize("changes, reason", [
    ({"price": None}, RejectReason.MISSING_FIELD),
    ({"code": None}, RejectReason.MISSING_FIELD),
    ({"code": ["700.HK"]}, RejectReason.MISSING_FIELD),
    ({"price": "abc"}, RejectReason.NON_NUMERIC),
    ({"volume": ""}, RejectReason.NON_NUMERIC),
    ({"price": "0"}, RejectReason.BAD_PRICE),
    ({"price": "-1"}, RejectReason.BAD_PRICE),
    ({"price": "inf"}, RejectReason.BAD_PRICE),
    ({"price": "nan"}, RejectReason.BAD_PRICE),
    ({"volume": "-100"}, RejectReason.NEGATIVE_VOLUME),
    ({"turnover": "nan"}, RejectReason.NON_NUMERIC),
    ({"tick_time": "12"}, RejectReason.BAD_TIME),
    ({"tick_time": str(NOW_MS + 3 * 86400 * 1000)}, RejectReason.BAD_TIME),
    ({"tick_time": "soon"}, RejectReason.NON_NUMERIC),
    ({"seq": "x"}, RejectReason.BAD_SEQ),
    ({"seq": "-5"}, RejectReason.BAD_SEQ),
    ({"code": "9988.HK"}, RejectReason.UNSUBSCRIBED_CODE),
])
def test_each_bad_trade_is_counted_by_its_reason(changes, reason):
    validator = Validator(["700.HK"])
    assert validator.trade(trade(**changes), NOW) is None
    assert validator.rejects == {reason: 1}


def test_tick_time_in_seconds_is_accepted_as_well_as_milliseconds():
    assert parse_tick_time(str(int(NOW)), NOW_MS) == int(NOW) * 1000
    assert parse_tick_time(str(NOW_MS), NOW_MS) == NOW_MS


def test_duplicates_time_going_backwards_and_gaps_per_code():
    validator = Validator(["700.HK", "9988.HK"])
    assert validator.trade(trade(1), NOW)
    assert validator.trade(trade(1), NOW) is None
    assert validator.trade(trade(2, tick_time=str(NOW_MS - 5000)), NOW) is None
    assert validator.trade(trade(5), NOW)
    assert validator.trade(trade(1, code="9988.HK"), NOW)  # its own sequence
    assert validator.rejects == {RejectReason.DUPLICATE_SEQ: 1, RejectReason.TIME_BACKWARDS: 1}
    gaps = validator.take_gaps()
    assert [(g.code, g.first_missing, g.last_missing) for g in gaps] == [("700.HK", 2, 4)]


def test_a_checkpoint_makes_a_restart_continue_the_sequence():
    validator = Validator(["700.HK"], checkpoint={"700.HK": (10, NOW_MS - 2000)})
    assert validator.trade(trade(10), NOW) is None
    assert validator.trade(trade(13), NOW)
    assert [(g.first_missing, g.last_missing) for g in validator.take_gaps()] == [(11, 12)]


@pytest.mark.parametrize("book, reason", [
    (depth(bids=((380.4, 100),), asks=((380.2, 100),)), RejectReason.CROSSED_BOOK),
    (depth(bids=((380.2, 100),), asks=((380.2, 100),)), RejectReason.CROSSED_BOOK),
    (depth(bids=(), asks=()), RejectReason.EMPTY_BOOK),
    (depth(bids=((-1, 100),)), RejectReason.BAD_PRICE),
    (depth(asks=((381, -1),)), RejectReason.NEGATIVE_VOLUME),
    ({"code": "700.HK", "seq": "1", "tick_time": str(NOW_MS), "bids": [{"price": "1"}], "asks": []},
     RejectReason.MISSING_FIELD),
    ({"code": "700.HK", "seq": "1", "tick_time": str(NOW_MS), "bids": "none", "asks": []},
     RejectReason.MISSING_FIELD),
    (depth(code="5.HK"), RejectReason.UNSUBSCRIBED_CODE),
])
def test_each_bad_book_is_counted_by_its_reason(book, reason):
    validator = Validator(["700.HK"])
    assert validator.depth(book, NOW) is None
    assert validator.rejects == {reason: 1}


def test_a_good_book_keeps_its_levels_best_first():
    validator = Validator(["700.HK"])
    book = validator.depth(depth(bids=((380.0, 100), (379.8, 300)), asks=((380.2, 50),)), NOW)
    assert book.bids == ((380.0, 100.0), (379.8, 300.0)) and book.asks == ((380.2, 50.0),)
    assert validator.depth(depth(), NOW) is None  # same seq again
    assert validator.rejects == {RejectReason.DUPLICATE_SEQ: 1}


json_values = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=8),
                           lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner,
                                                                                       max_size=3), max_leaves=8)


@given(st.lists(st.one_of(json_values, st.fixed_dictionaries(
    {"code": st.sampled_from(["700.HK", "5.HK", 7]), "seq": json_values | st.integers(0, 50).map(str),
     "tick_time": json_values | st.just(str(NOW_MS)), "price": json_values | st.just("1.5"),
     "volume": json_values | st.just("100"), "turnover": json_values | st.just("150"),
     "bids": json_values, "asks": json_values})), max_size=30))
def test_any_input_is_either_accepted_or_counted_never_raised(messages):
    validator = Validator(["700.HK"])
    accepted = 0
    for message in messages:
        accepted += validator.trade(message, NOW) is not None
        accepted += validator.depth(message, NOW) is not None
    assert accepted + validator.rejected_total == 2 * len(messages)


@given(st.lists(st.integers(1, 10_000), min_size=1, max_size=200, unique=True).map(sorted))
def test_gaps_and_accepted_trades_cover_the_whole_range(seqs):
    validator = Validator(["700.HK"])
    for seq in seqs:
        assert validator.trade(trade(1, seq=str(seq)), NOW) is not None
    gaps = validator.take_gaps()
    assert validator.trades_accepted + sum(g.size for g in gaps) == seqs[-1] - seqs[0] + 1
