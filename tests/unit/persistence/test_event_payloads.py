"""Event fields that became string-valued enums serialize exactly as the strings they replaced.

The expected texts were produced by the code before the change (fields holding plain strings).
"""
from __future__ import annotations

import dataclasses
from datetime import datetime, timedelta, timezone

import pytest

from src.strategy.domain.entity.order import Order
from src.strategy.domain.event.decision_events import STAGE_EXECUTION, STAGE_RISK, DecisionRefusedEvent, DecisionStage
from src.strategy.domain.event.hedge_events import HedgeOrderEvent
from src.strategy.domain.event.order_events import AdvancedOrderFinishedEvent, OrderOverfilledEvent
from src.strategy.domain.event.position_events import ManualOpenDetectedEvent
from src.strategy.domain.value_object.advanced_order import AdvancedOrderKind, AdvancedOrderStatus
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.infrastructure.monitoring.strategy_monitor import display_json
from src.strategy.infrastructure.persistence.json_serializer import JsonSerializer

AT = datetime(2024, 12, 23, 10, 0, tzinfo=timezone(timedelta(hours=8)))

EVENTS = [
    (DecisionRefusedEvent(AT, stage=STAGE_RISK, vt_symbol="IO2501-C-4000.CFFEX", reason="delta 0.9 exceeds limit 0.8",
                          product="IO"),
     '{"stage":"risk","vt_symbol":"IO2501-C-4000.CFFEX","reason":"delta 0.9 exceeds limit 0.8","product":"IO"}'),
    (OrderOverfilledEvent(AT, order_id="E1", vt_symbol="IF2501.CFFEX", direction=Direction.LONG, offset=Offset.OPEN,
                          volume=5, filled=7, excess=2),
     '{"order_id":"E1","vt_symbol":"IF2501.CFFEX","direction":"LONG","offset":"OPEN","volume":5,"filled":7,'
     '"excess":2}'),
    (AdvancedOrderFinishedEvent(AT, order_id="A1", kind=AdvancedOrderKind.TWAP, vt_symbol="IF2501.CFFEX", volume=10,
                                filled=8, status=AdvancedOrderStatus.INCOMPLETE, reason="ended short"),
     '{"order_id":"A1","kind":"TWAP","vt_symbol":"IF2501.CFFEX","volume":10,"filled":8,"status":"INCOMPLETE",'
     '"reason":"ended short"}'),
    (HedgeOrderEvent(AT, engine="delta_hedging", vt_symbol="IF2501.CFFEX", lots=-2, offset=Offset.CLOSE,
                     portfolio_delta=2.3, expected_delta=0.3, reason="delta hedge"),
     '{"engine":"delta_hedging","vt_symbol":"IF2501.CFFEX","lots":-2,"offset":"CLOSE","portfolio_delta":2.3,'
     '"expected_delta":0.3,"reason":"delta hedge"}'),
    (ManualOpenDetectedEvent(AT, vt_symbol="IF2501.CFFEX", direction=Direction.SHORT, volume=1, detail="manual"),
     '{"vt_symbol":"IF2501.CFFEX","direction":"SHORT","volume":1,"detail":"manual"}'),
]


def _payload(event) -> str:
    """The monitor's event payload (StrategyMonitor._event_row)."""
    fields = {field.name: getattr(event, field.name) for field in dataclasses.fields(event)}
    fields.pop("occurred_at")
    return display_json(fields)


@pytest.mark.parametrize("event, expected", EVENTS, ids=[type(e).__name__ for e, _ in EVENTS])
def test_monitor_payload_is_byte_identical(event, expected):
    assert _payload(event) == expected


def test_fields_still_equal_and_format_as_the_old_strings():
    refused, overfilled, finished, hedge, _ = (event for event, _ in EVENTS)
    assert refused.stage == "risk" and f"{refused.stage}" == "risk" and str(refused.stage) == "risk"
    assert (overfilled.direction, overfilled.offset) == ("LONG", "OPEN")
    assert f"{overfilled.direction} {overfilled.offset}" == "LONG OPEN"
    assert overfilled.offset == Offset.OPEN.value and Direction(overfilled.direction) is Direction.LONG
    assert (finished.kind, finished.status) == ("TWAP", "INCOMPLETE")
    assert hedge.offset == "CLOSE"
    assert STAGE_EXECUTION == "execution" and isinstance(STAGE_EXECUTION, DecisionStage)


def test_strings_are_accepted_and_converted():
    event = OrderOverfilledEvent(AT, "E1", "IF2501.CFFEX", "SHORT", "CLOSE", 1, 2, 1)
    assert event.direction is Direction.SHORT and event.offset is Offset.CLOSE
    assert DecisionRefusedEvent(AT, "sizing", None, "no funds").stage is DecisionStage.SIZING
    assert OrderOverfilledEvent(AT, "E1", "IF2501.CFFEX", "SHORT", "CLOSE", 1, 2, 1) == event


def test_unknown_text_is_refused_naming_the_field():
    with pytest.raises(ValueError, match=r"DecisionRefusedEvent\.stage must be one of signal, .*got 'riks'"):
        DecisionRefusedEvent(AT, "riks", None, "typo")


def test_state_written_by_the_serializer_is_unchanged():
    order = Order("FAKE.1", "IF2501.CFFEX", Direction.LONG, Offset.OPEN, 4000.0, 5, AT, AT)
    assert JsonSerializer().serialize(order.to_dict()) == (
        b'{"schema_version":1,"state":{"vt_orderid":"FAKE.1","vt_symbol":"IF2501.CFFEX","direction":"LONG",'
        b'"offset":"OPEN","price":4000.0,"volume":5,"traded":0,"status":"SUBMITTING",'
        b'"created_at":"2024-12-23T10:00:00+08:00","updated_at":"2024-12-23T10:00:00+08:00","reason":"",'
        b'"signal":null}}')
    assert type(order.to_dict()["direction"]) is str
