"""What a ticker becomes in the quote table: TWS's placeholders are missing values, never prices."""
from __future__ import annotations

import math
from datetime import date, datetime, timezone

from hypothesis import given
from hypothesis import strategies as st
from ib_async import Contract, OptionComputation, Ticker

from src.datafeed.ib.snapshot import RunItem, clean_price, quote_row

ITEM = RunItem(123, "SPX", "OPT", "SMART", date(2022, 6, 17), 3900.0, "C")
NOW = datetime(2022, 6, 10, 20, 0, tzinfo=timezone.utc)
def ticker_with(**values) -> Ticker:
    """A Ticker as the wrapper fills it (its constructor resets the quote fields to unset)."""
    ticker = Ticker(contract=Contract(conId=123))
    for name, value in values.items():
        setattr(ticker, name, value)
    return ticker


placeholders = st.sampled_from([math.nan, -1.0, float("inf"), 1.7976931348623157e308])
prices = st.one_of(placeholders, st.floats(0, 1e5))


@given(bid=prices, ask=prices, last=prices, close=prices, und=prices)
def test_prices_are_finite_non_negative_or_missing(bid, ask, last, close, und):
    greeks = OptionComputation(0, 0.2, 0.5, 10.0, 0.0, 0.001, -2.0, -2.0, und)
    ticker = ticker_with(bid=bid, ask=ask, last=last, close=close, modelGreeks=greeks, bidSize=5, askSize=6,
                         lastSize=1, marketDataType=1)
    row = quote_row(ITEM, ticker, recorded_at=NOW)
    for name in ("bid", "ask", "last", "close", "underlying_price"):
        value = row[name]
        assert value is None or (math.isfinite(value) and 0 <= value <= 1e5)
    assert row["vega"] is None and row["theta"] is None
    assert (row["bid"] is None) == (not (math.isfinite(bid) and 0 <= bid <= 1e5))


def test_greeks_come_from_the_first_source_that_has_them():
    empty = OptionComputation(0, None, None, None, None, None, -2.0, -2.0, None)
    bid = OptionComputation(0, 0.25, 0.4, 5.0, 0.0, 0.002, 1.5, -0.3, 3900.0)
    ticker = ticker_with(modelGreeks=empty, bidGreeks=bid, marketDataType=2)
    row = quote_row(ITEM, ticker, recorded_at=NOW)
    assert row["greeks_source"] == "bid" and row["iv"] == 0.25 and row["vega"] == 1.5
    assert row["market_data_type"] == 2 and row["underlying_price"] == 3900.0


def test_placeholder_helpers():
    assert clean_price(-1) is None and clean_price(math.nan) is None and clean_price(None) is None
    assert clean_price(0.0) == 0.0 and clean_price("1.5") == 1.5
