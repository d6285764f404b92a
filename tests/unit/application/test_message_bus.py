"""The message bus: subscription by type, batches, isolation of a failing handler, nothing kept."""
from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.strategy.application.handlers import EventLogHandler, StrategyCounters
from src.strategy.application.message_bus import MessageBus
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent, SignalEvent
from src.strategy.domain.event.risk_events import GreeksRiskBreachEvent
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType

AT = datetime(2026, 1, 12, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))


def refusal(reason: str = "no price") -> DecisionRefusedEvent:
    return DecisionRefusedEvent(AT, stage="execution", vt_symbol="IO2602-P-4000.CFFEX", reason=reason)


def test_handlers_receive_the_types_they_subscribed_to_in_order():
    bus, refusals, everything = MessageBus(), [], []
    bus.subscribe(DecisionRefusedEvent, refusals.append)
    bus.subscribe_all(everything.append)
    signal = SignalEvent(AT, product="IF", signal=SignalType.SELL_PUT, bar_time=AT)
    bus.publish([refusal("a"), signal, refusal("b")])
    assert [e.reason for e in refusals] == ["a", "b"]
    assert everything == [refusals[0], signal, refusals[1]]


def test_a_batch_handler_gets_each_publication_whole_and_empty_ones_are_not_published():
    bus, batches = MessageBus(), []
    bus.subscribe_batch(batches.append)
    bus.publish([])
    bus.publish([refusal("a"), refusal("b")])
    assert [[e.reason for e in batch] for batch in batches] == [["a", "b"]]


def test_a_failing_handler_is_logged_and_does_not_stop_the_others(caplog):
    bus, received = MessageBus(), []

    def broken(event):
        raise RuntimeError("webhook down")

    bus.subscribe_all(broken)
    bus.subscribe_all(received.append)
    bus.publish([refusal()])
    assert len(received) == 1 and bus.handler_failures == 1
    assert "webhook down" in caplog.text


def test_only_event_types_can_be_subscribed_to():
    with pytest.raises(TypeError):
        MessageBus().subscribe(str, print)


@given(st.lists(st.sampled_from(["open", "close", "refusal", "breach"]), max_size=60))
def test_counters_count_each_event_once(kinds):
    bus, counters = MessageBus(), StrategyCounters()
    bus.subscribe_all(counters.on_event)
    events: list[DomainEvent] = []
    for kind in kinds:
        if kind == "open":
            events.append(SignalEvent(AT, product="IF", signal=SignalType.SELL_CALL, bar_time=AT))
        elif kind == "close":
            events.append(SignalEvent(AT, product="IF", signal=CloseReason.STOP_LOSS, bar_time=AT,
                                      vt_symbol="IO2602-C-4600.CFFEX"))
        elif kind == "refusal":
            events.append(refusal())
        else:
            events.append(GreeksRiskBreachEvent(AT, "portfolio", "delta", 6.0, 5.0))
    bus.publish(events)
    assert counters.signal_count == kinds.count("open")
    assert counters.refusal_count == kinds.count("refusal")
    assert counters.risk_breach_count == kinds.count("breach")
    assert counters.as_dict()["order_count"] == 0
    assert not hasattr(bus, "events") and not hasattr(bus, "published_events")


def test_the_log_handler_keeps_frequent_events_out_of_the_platform_log(caplog):
    lines: list[str] = []

    class Gateway:
        def write_log(self, message):
            lines.append(message)

    handler = EventLogHandler("s1", Gateway())
    with caplog.at_level("INFO"):
        handler(refusal("no price"))
        handler(GreeksRiskBreachEvent(AT, "portfolio", "delta", 6.0, 5.0))
    assert lines == []
    assert "DecisionRefusedEvent" in caplog.text and "reason=no price" in caplog.text
