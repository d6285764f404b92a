"""The monitor's JSON for the dashboard accepts what frozen domain events carry."""
from __future__ import annotations

import json
from datetime import datetime
from types import MappingProxyType
from zoneinfo import ZoneInfo

from src.strategy.domain.event.decision_events import SignalEvent
from src.strategy.domain.value_object.signal_type import SignalType
from src.strategy.infrastructure.monitoring.strategy_monitor import display_json


def test_read_only_mappings_and_enums_become_plain_json():
    at = datetime(2026, 1, 6, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
    event = SignalEvent(at, product="IF", signal=SignalType.SELL_PUT, bar_time=at,
                        indicators={"macd_hist": 0.5, "td_buy_count": 9})
    assert isinstance(event.indicators, MappingProxyType)
    decoded = json.loads(display_json({"event": event, "nested": MappingProxyType({"a": float("nan")})}))
    assert decoded["event"]["indicators"] == {"macd_hist": 0.5, "td_buy_count": 9}
    assert decoded["event"]["signal"] == "SELL_PUT"
    assert decoded["nested"] == {"a": None}
