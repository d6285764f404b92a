"""Backtest run ids: exchange time to the millisecond, and never two runs in one folder."""
from __future__ import annotations

import threading
from datetime import datetime, timezone

from hypothesis import given, settings, strategies as st

from src.backtesting.cli import new_run_folder, run_id


def test_run_id_is_exchange_time_to_the_millisecond():
    utc = datetime(2026, 11, 21, 12, 15, 24, 123456, tzinfo=timezone.utc)
    assert run_id("volatility_strategy", utc) == "20261121-201524-123-volatility_strategy"  # UTC+8


def test_two_runs_in_the_same_millisecond_get_two_folders(tmp_path):
    now = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)
    first = new_run_folder(tmp_path, "s", now)
    second = new_run_folder(tmp_path, "s", now)
    assert first != second and first.is_dir() and second.is_dir()
    assert second.name == f"{first.name}-2"


def test_concurrent_runs_never_share_a_folder(tmp_path):
    now = datetime(2026, 1, 5, 9, 30, tzinfo=timezone.utc)
    folders: list = []
    lock = threading.Lock()

    def start_a_run() -> None:
        folder = new_run_folder(tmp_path, "s", now)
        with lock:
            folders.append(folder)

    threads = [threading.Thread(target=start_a_run) for _ in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(folders) == 16 and len(set(folders)) == 16


@settings(max_examples=50, deadline=None)
@given(st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(timezone.utc)),
       st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2099, 12, 31), timezones=st.just(timezone.utc)))
def test_run_ids_sort_like_their_times(a, b):
    a, b = a.replace(microsecond=a.microsecond // 1000 * 1000), b.replace(microsecond=b.microsecond // 1000 * 1000)
    assert (run_id("s", a) < run_id("s", b)) == (a < b)
