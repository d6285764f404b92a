"""Whatever a snapshot payload holds, the reader turns it into a view (never raises) with consistent desk rows."""
from __future__ import annotations

import json
from datetime import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from src.web.reader import desk_row, snapshot_view

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True, allow_infinity=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20)
positions = st.fixed_dictionaries({}, optional={
    "vt_symbol": st.text(max_size=30), "direction": st.sampled_from(["LONG", "SHORT", "", "x"]),
    "volume": st.integers(0, 10_000) | st.floats(allow_nan=True), "mark": json_values, "iv": json_values,
    "delta": json_values, "unrealized_pnl": json_values})


@settings(max_examples=200, deadline=None)
@given(payload=st.dictionaries(st.sampled_from(["positions", "pnl", "signals", "smile", "greeks", "other"]),
                               json_values | st.lists(positions, max_size=3), max_size=6))
def test_any_payload_becomes_a_view_with_only_finite_numbers(payload):
    row = {"id": 1, "strategy_name": "v", "bar_time": datetime(2026, 1, 12, 9, 30),
           "recorded_at": datetime(2026, 1, 12, 9, 30, 1), "position_count": None, "delta": None, "gamma": None,
           "vega": None, "theta": None, "pnl": None, "latest_signal": None,
           "payload": json.dumps(payload, allow_nan=True)}
    view = snapshot_view(row)
    text = json.dumps(view, allow_nan=False)  # the API would refuse NaN/inf: none may get through
    assert view["variant"] == "v" and isinstance(view["positions"], list) and text


@settings(max_examples=200, deadline=None)
@given(position=positions)
def test_desk_rows_have_net_equal_to_long_minus_short(position):
    row = desk_row(position)
    assert row["net"] == row["long"] - row["short"]
    assert row["long"] == 0 or row["short"] == 0
