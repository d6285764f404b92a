"""The daemon's rules: restart backoff and the trading window, with times given explicitly."""
from __future__ import annotations

from datetime import datetime, time

import pytest

from src.core.config.schema import TradingPeriod
from src.core.process.supervision import RestartBackoff, TradingWindow
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

DAY = TradingPeriod(time(8, 40), time(11, 30))
AFTERNOON = TradingPeriod(time(13, 0), time(15, 30))
NIGHT = TradingPeriod(time(21, 0), time(2, 30))


def at(year: int, month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=EXCHANGE_TIMEZONE)


# ------------------------------------------------------------------------------------------ backoff
def test_delays_double_from_restart_delay_up_to_the_cap():
    backoff = RestartBackoff(restart_delay=5.0, max_restart_delay=300.0, max_restart_count=10,
                             healthy_reset_seconds=3600.0)
    delays = [backoff.next_delay(uptime=1.0) for _ in range(10)]
    assert delays == [5, 10, 20, 40, 80, 160, 300, 300, 300, 300]
    assert backoff.next_delay(uptime=1.0) is None  # the 11th failure: give up


def test_zero_restarts_allowed_gives_up_at_once():
    backoff = RestartBackoff(1.0, 1.0, 0, 60.0)
    assert backoff.next_delay(uptime=0.0) is None


def test_an_hour_of_healthy_running_resets_the_count_and_the_delay():
    backoff = RestartBackoff(5.0, 300.0, 3, healthy_reset_seconds=3600.0)
    assert [backoff.next_delay(10.0) for _ in range(3)] == [5, 10, 20]
    # The fourth child ran for an hour before failing: it is a fresh start, not the 4th failure in a row.
    assert backoff.next_delay(uptime=3600.0) == 5
    assert backoff.restarts == 1


def test_note_running_resets_once_while_the_child_runs():
    backoff = RestartBackoff(1.0, 8.0, 5, healthy_reset_seconds=100.0)
    backoff.next_delay(1.0)
    backoff.next_delay(1.0)
    assert not backoff.note_running(99.0)
    assert backoff.note_running(100.0)
    assert backoff.restarts == 0
    assert not backoff.note_running(200.0)  # nothing left to reset


def test_huge_restart_numbers_stay_at_the_cap():
    backoff = RestartBackoff(0.5, 300.0, 10_000, 3600.0)
    assert backoff.delay_for(5000) == 300.0


@pytest.mark.parametrize("args", [(0.0, 1.0, 1, 1.0), (2.0, 1.0, 1, 1.0), (1.0, 2.0, -1, 1.0)])
def test_backoff_refuses_nonsense(args):
    with pytest.raises(ValueError):
        RestartBackoff(*args)


# ------------------------------------------------------------------------------------ trading window
def test_day_periods_every_day_without_a_calendar():
    window = TradingWindow([DAY, AFTERNOON])
    assert window.is_open(at(2026, 1, 10, 9))        # a Saturday: no calendar, so open
    assert not window.is_open(at(2026, 1, 12, 8, 39))
    assert window.is_open(at(2026, 1, 12, 8, 40))
    assert not window.is_open(at(2026, 1, 12, 11, 30))  # the end is excluded
    assert not window.is_open(at(2026, 1, 12, 12, 0))
    assert window.is_open(at(2026, 1, 12, 15, 29))


def test_day_periods_only_on_trading_days():
    window = TradingWindow([DAY, AFTERNOON], load_cn_calendar())
    assert window.is_open(at(2026, 1, 12, 9))         # Monday
    assert not window.is_open(at(2026, 1, 10, 9))     # Saturday
    assert not window.is_open(at(2026, 1, 1, 9))      # New Year
    assert not window.is_open(at(2026, 2, 17, 9))     # Spring Festival


def test_night_period_crossing_midnight():
    window = TradingWindow([NIGHT], load_cn_calendar())
    assert window.is_open(at(2026, 1, 12, 23))        # Monday night
    assert window.is_open(at(2026, 1, 13, 1))         # ... after midnight, still Monday's session
    assert not window.is_open(at(2026, 1, 13, 2, 30))
    assert window.is_open(at(2026, 1, 9, 22))         # Friday night trades for Monday
    assert window.is_open(at(2026, 1, 10, 2))         # Saturday 02:00: Friday's session
    assert not window.is_open(at(2026, 1, 10, 22))    # Saturday night: no session
    # No night session on the evening before a holiday: 2026-02-13 (Friday) before the Spring Festival.
    assert not window.is_open(at(2026, 2, 13, 22))
    assert window.is_open(at(2026, 2, 12, 22))


def test_next_open():
    window = TradingWindow([DAY, AFTERNOON], load_cn_calendar())
    assert window.next_open(at(2026, 1, 12, 12)) == at(2026, 1, 12, 13)
    assert window.next_open(at(2026, 1, 9, 16)) == at(2026, 1, 12, 8, 40)       # Friday afternoon -> Monday
    assert window.next_open(at(2026, 2, 13, 16)) == at(2026, 2, 24, 8, 40)      # over the Spring Festival
    night = TradingWindow([NIGHT], load_cn_calendar())
    assert night.next_open(at(2026, 1, 12, 3)) == at(2026, 1, 12, 21)


def test_window_reads_times_in_exchange_time():
    window = TradingWindow([DAY])
    assert window.is_open(datetime.fromisoformat("2026-01-12T01:00:00+00:00"))  # 09:00 in Shanghai
    assert not window.is_open(datetime.fromisoformat("2026-01-12T09:00:00+00:00"))  # 17:00 in Shanghai
