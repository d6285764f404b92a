"""Session plans follow the NYSE calendar: holidays, early closes and weekends, not the wall clock."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from src.datafeed.ib.sessions import (
    PLANS,
    Session,
    Task,
    last_close_before,
    next_wakeup,
    parse_session,
    session_window,
    snapshot_due,
)

NY = ZoneInfo("America/New_York")


def ny(*args) -> datetime:
    return datetime(*args, tzinfo=NY)


@pytest.mark.parametrize("moment, session", [
    (ny(2022, 6, 10, 8, 0), Session.PRE),
    (ny(2022, 6, 10, 9, 30), Session.OPEN),
    (ny(2022, 6, 10, 15, 59), Session.OPEN),
    (ny(2022, 6, 10, 16, 0), Session.POST),
    (ny(2022, 6, 11, 12, 0), Session.WEEKEND),          # Saturday
    (ny(2022, 7, 4, 11, 0), Session.WEEKEND),           # Independence Day: a holiday is no trading day
    (ny(2022, 11, 25, 13, 30), Session.POST),           # the day after Thanksgiving closes at 13:00
    (ny(2022, 11, 25, 12, 59), Session.OPEN),
])
def test_the_calendar_decides_the_session(moment, session):
    assert session_window(moment).session is session


def test_plans_follow_the_seed():
    assert PLANS[Session.PRE].market_data_type == 2 and Task.OPEN_INTEREST in PLANS[Session.PRE].tasks
    assert PLANS[Session.OPEN].market_data_type == 1
    assert PLANS[Session.OPEN].snapshot_interval == timedelta(minutes=30)
    assert Task.STREAM in PLANS[Session.OPEN].tasks
    assert Task.PREVIOUS_CLOSE in PLANS[Session.POST].tasks
    assert Task.SCANNER in PLANS[Session.WEEKEND].tasks and Task.OPEN_INTEREST not in PLANS[Session.WEEKEND].tasks
    assert all(Task.STREAM not in plan.tasks for s, plan in PLANS.items() if s is not Session.OPEN)


def test_frozen_data_is_dated_by_the_last_close():
    assert last_close_before(ny(2022, 6, 11, 12, 0)) == datetime(2022, 6, 10, 20, 0, tzinfo=timezone.utc)
    assert last_close_before(ny(2022, 6, 13, 8, 0)) == datetime(2022, 6, 10, 20, 0, tzinfo=timezone.utc)
    assert last_close_before(ny(2022, 6, 10, 16, 0)) == datetime(2022, 6, 10, 20, 0, tzinfo=timezone.utc)


def test_forced_session_and_bad_session_name():
    window, plan = parse_session("post", ny(2022, 6, 10, 11, 0))
    assert window.session is Session.POST and plan.market_data_type == 2
    with pytest.raises(ValueError, match="--session"):
        parse_session("lunch", ny(2022, 6, 10, 11, 0))
    with pytest.raises(ValueError):
        session_window(datetime(2022, 6, 10, 11, 0))


def test_snapshots_are_due_once_per_session_or_every_30_minutes_when_open():
    open_window, open_plan = parse_session("auto", ny(2022, 6, 10, 10, 0))
    assert snapshot_due(open_plan, open_window, None, ny(2022, 6, 10, 10, 0))
    assert not snapshot_due(open_plan, open_window, ny(2022, 6, 10, 10, 0), ny(2022, 6, 10, 10, 29))
    assert snapshot_due(open_plan, open_window, ny(2022, 6, 10, 10, 0), ny(2022, 6, 10, 10, 30))
    post_window, post_plan = parse_session("auto", ny(2022, 6, 10, 17, 0))
    assert snapshot_due(post_plan, post_window, ny(2022, 6, 10, 15, 30), ny(2022, 6, 10, 17, 0))
    assert not snapshot_due(post_plan, post_window, ny(2022, 6, 10, 16, 30), ny(2022, 6, 10, 23, 0))


@settings(max_examples=200, deadline=None)
@given(st.datetimes(min_value=datetime(2010, 1, 1), max_value=datetime(2026, 6, 30)))
def test_every_moment_falls_inside_its_window(moment):
    now = moment.replace(tzinfo=timezone.utc)
    window = session_window(now)
    assert window.starts <= now < window.ends
    plan = PLANS[window.session]
    wake = next_wakeup(plan, window, None, now)
    assert now <= wake <= now + timedelta(minutes=5)


def test_today_is_the_new_york_date():
    from src.datafeed.ib.contracts import exchange_date

    assert exchange_date(datetime(2022, 6, 11, 1, 0, tzinfo=timezone.utc)).isoformat() == "2022-06-10"
    with pytest.raises(ValueError):
        exchange_date(datetime(2022, 6, 11, 1, 0))
