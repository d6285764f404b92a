"""The cycle raises the expiry risk events of what it holds, counts them and shows the count to the monitor."""
from __future__ import annotations

from datetime import datetime, timedelta

from src.strategy.domain.event.expiry_events import ExpiryRiskEvent
from tests.unit.application.test_trading_cycle import (  # noqa: F401  (config is a fixture)
    CST,
    START,
    config,
    make_cycle,
    minute,
)

LAST_DAY = datetime(2025, 2, 20, 10, 0, tzinfo=CST)  # the trading day before IO2502's 2025-02-21 expiry


def test_a_short_put_in_the_money_on_its_last_day_is_reported_once_and_counted(config):
    cycle, gateway, published = make_cycle(config)
    minute(cycle, START)
    gateway.fill(gateway.last_id(), price=24.0)
    (held,) = cycle.positions.positions()
    minute(cycle, START + timedelta(minutes=1), future_close=3600.0)  # in the money, but weeks before expiry
    assert not [e for e in published if isinstance(e, ExpiryRiskEvent)]

    strike = cycle.options[held.vt_symbol].strike
    for i in range(3):
        minute(cycle, LAST_DAY + timedelta(minutes=i), future_close=strike - 50.0)
    (event,) = [e for e in published if isinstance(e, ExpiryRiskEvent)]
    assert event.vt_symbol == held.vt_symbol and event.lots == held.volume and event.in_the_money
    assert event.underlying_price == strike - 50.0 and event.days_left == 1
    assert cycle.counters.pin_risk_count == 1
    assert cycle.monitor_view(LAST_DAY)["counters"]["pin_risk_count"] == 1
