"""The replay's progress lines inside a day, and the setting that paces them."""
from __future__ import annotations

import logging
from datetime import datetime

import pytest

from src.core.config.errors import UserInputError
from src.main.gateway.replay_gateway import DayProgress
from src.main.process.child_process import REPLAY_PROGRESS_VARIABLE, _replay_progress_seconds


def test_one_line_per_interval_with_the_market_time_and_the_share_done(caplog):
    progress = DayProgress("replay day 2026-01-12 (1 of 2)", 1000, 30.0, started=100.0)
    at = datetime(2026, 1, 12, 10, 5)
    with caplog.at_level(logging.INFO, logger="src.main.gateway.replay_gateway"):
        reported = [progress.report(at, published, now)
                    for published, now in ((10, 110.0), (250, 130.0), (260, 140.0), (900, 161.0))]
    assert reported == [False, True, False, True]
    lines = [record.getMessage() for record in caplog.records]
    assert lines == ["replay day 2026-01-12 (1 of 2): at 10:05, 250 of 1000 ticks (25%), 30 s so far",
                     "replay day 2026-01-12 (1 of 2): at 10:05, 900 of 1000 ticks (90%), 61 s so far"]


def test_an_empty_day_says_nothing():
    assert not DayProgress("replay day", 0, 1.0, started=0.0).report(datetime(2026, 1, 12, 9, 30), 0, 99.0)


def test_the_interval_comes_from_the_environment_when_set(monkeypatch):
    monkeypatch.delenv(REPLAY_PROGRESS_VARIABLE, raising=False)
    assert _replay_progress_seconds(30.0) == 30.0
    monkeypatch.setenv(REPLAY_PROGRESS_VARIABLE, " 2.5 ")
    assert _replay_progress_seconds(30.0) == 2.5


@pytest.mark.parametrize("text", ["0", "-1", "soon", "nan", "inf"])
def test_a_bad_interval_is_one_line_naming_the_variable(monkeypatch, text):
    monkeypatch.setenv(REPLAY_PROGRESS_VARIABLE, text)
    with pytest.raises(UserInputError, match=REPLAY_PROGRESS_VARIABLE):
        _replay_progress_seconds(30.0)
