"""Checks on arriving rows: each kind of damage refused under its own reason, gaps listed."""
from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from src.datafeed.futu import checks
from src.datafeed.futu.checks import check_window
from src.datafeed.futu.statistics import RawStatisticRow

BEGIN, END = date(2018, 1, 1), date(2018, 1, 31)


def weekdays(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)
            if (first + timedelta(days=n)).weekday() < 5]


def row(day: date, call: int = 1000, put: int = 800) -> RawStatisticRow:
    return RawStatisticRow(day.isoformat(), None, call, put, call + put, put / call if call else None)


def good_rows() -> list[RawStatisticRow]:
    return [row(day, 1000 + day.day, 700 + 3 * day.day) for day in reversed(weekdays(BEGIN, END))]


def test_clean_rows_are_all_accepted_in_ascending_order_with_no_gap():
    result = check_window("HK_INDEX", "VOLUME", BEGIN, END, good_rows(), weekdays)
    assert not result.rejected and not result.gaps
    assert [s.trade_date for s in result.accepted] == weekdays(BEGIN, END)
    assert all(s.total_value == s.call_value + s.put_value for s in result.accepted)


def test_each_kind_of_damage_is_refused_under_its_reason_and_leaves_a_gap():
    rows = good_rows()
    damaged = [
        replace(rows[0], total_value=rows[0].total_value + 5),
        replace(rows[1], ratio=rows[1].ratio * 1.5),
        rows[1],  # duplicate of the row above (the damaged one was refused, so this one is kept)
        rows[2], rows[2],
        replace(rows[3], put_value=-1),
        replace(rows[4], time="2018-02-30"),
        replace(rows[5], time="2018-01-06"),  # a Saturday
        replace(rows[6], time="2017-12-29"),
        replace(rows[7], call_value=None),
        replace(rows[8], call_value=0, total_value=rows[8].put_value, ratio=1.0),
        *rows[9:],
    ]
    result = check_window("US_INDEX", "VOLUME", BEGIN, END, damaged, weekdays)
    assert result.rejected == {checks.TOTAL_MISMATCH: 1, checks.RATIO_MISMATCH: 1, checks.DUPLICATE: 1,
                               checks.NEGATIVE: 1, checks.BAD_DATE: 1, checks.NOT_TRADING_DAY: 1,
                               checks.OUTSIDE_WINDOW: 1, checks.MISSING_VALUE: 1,
                               checks.RATIO_WITH_ZERO_CALL: 1}
    refused_days = {date.fromisoformat(r.time) for r in (rows[0], rows[3], rows[4], rows[5], rows[6], rows[7],
                                                         rows[8])}
    assert set(result.gaps) == refused_days


def test_a_missing_total_or_ratio_is_computed_and_noted_and_ratio_is_none_when_call_is_zero():
    rows = [replace(row(date(2018, 1, 2)), total_value=None), replace(row(date(2018, 1, 3)), ratio=None),
            RawStatisticRow("2018-01-04", None, 0, 50, 50, None)]
    result = check_window("US_SECURITY", "VOLUME", date(2018, 1, 2), date(2018, 1, 4), rows, None)
    assert not result.rejected
    assert result.notes == {checks.NOTE_TOTAL_MISSING: 1, checks.NOTE_RATIO_MISSING: 1}
    assert [s.ratio for s in result.accepted] == [0.8, 0.8, None]


@given(st.lists(st.tuples(st.integers(0, 30), st.integers(0, 10 ** 9), st.integers(0, 10 ** 9),
                          st.sampled_from(["ok", "total", "ratio", "date"])), max_size=60))
def test_every_row_is_either_accepted_or_refused_once_and_accepted_rows_are_consistent(specs):
    rows = []
    for offset, call, put, damage in specs:
        day = BEGIN + timedelta(days=offset)
        base = row(day, call, put)
        if damage == "total":
            base = replace(base, total_value=call + put + 1)
        elif damage == "ratio" and call:
            base = replace(base, ratio=put / call + 1.0)
        elif damage == "date":
            base = replace(base, time="not a date")
        rows.append(base)
    result = check_window("HK_SECURITY", "VOLUME", BEGIN, END, rows, None)
    assert len(result.accepted) + sum(result.rejected.values()) == len(rows)
    assert len({s.trade_date for s in result.accepted}) == len(result.accepted)
    for stored in result.accepted:
        assert stored.total_value == stored.call_value + stored.put_value
        assert stored.ratio == (stored.put_value / stored.call_value if stored.call_value else None)
