"""The calendar comes from exchange_calendars' XSHG, with a local override, and says where it ends."""
from __future__ import annotations

import logging
from datetime import date

from src.core.contract.contract_helper import ContractMonth
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.strategy.infrastructure.calendar import holiday_loader
from src.strategy.infrastructure.calendar.holiday_loader import (
    CN_HOLIDAYS_FILE,
    calendar_edge_warning,
    load_cn_calendar,
    read_holidays,
    xshg_closures,
)


def test_xshg_equals_the_former_hand_made_list_on_every_weekday_2015_2026():
    closures, last = xshg_closures()
    hand_made = {day for day in read_holidays(CN_HOLIDAYS_FILE) if day.weekday() < 5}
    assert set(closures) == hand_made
    assert last == date(2026, 12, 31)


def test_the_calendar_knows_where_its_closures_end():
    calendar = load_cn_calendar()
    assert calendar.known_until == date(2026, 12, 31)
    assert not calendar.is_trading_day(date(2026, 2, 17))  # Spring Festival 2026
    assert not calendar.is_provisional(date(2026, 12, 31)) and calendar.is_provisional(date(2027, 1, 4))
    assert calendar_edge_warning(calendar, date(2026, 6, 1)) is None
    warning = calendar_edge_warning(calendar, date(2027, 3, 19))
    assert "2026-12-31" in warning and "provisional" in warning


def test_the_local_override_adds_closures(tmp_path, monkeypatch):
    override = tmp_path / "override.csv"
    override.write_text("# test\ndate,holiday\n2026-06-03,exceptional closure\n", encoding="utf-8")
    monkeypatch.setattr(holiday_loader, "CN_OVERRIDE_FILE", override)
    calendar = holiday_loader._load.__wrapped__(None)
    assert not calendar.is_trading_day(date(2026, 6, 3))
    assert load_cn_calendar().is_trading_day(date(2026, 6, 3))


def test_an_expiry_past_the_calendar_is_flagged_provisional(caplog):
    calculator = ExpiryCalculator(load_cn_calendar())
    assert not calculator.is_provisional("IO", ContractMonth(2026, 12))
    with caplog.at_level(logging.WARNING):
        assert calculator.expiry_date("IO", ContractMonth(2027, 3)) == date(2027, 3, 19)
        calculator.expiry_date("IO", ContractMonth(2027, 3))
    assert calculator.is_provisional("IO", ContractMonth(2027, 3))
    assert sum("provisional" in record.message for record in caplog.records) == 1
