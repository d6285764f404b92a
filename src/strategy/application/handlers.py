"""The handlers the cycle's message bus starts with: the log, the counters and the monitor.

More subscribe through ``TradingCycle.bus`` (the Feishu notifier is one).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Protocol

from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent, SignalEvent
from src.strategy.domain.event.hedge_events import DeltaOutsideBandEvent, HedgeRefusedEvent
from src.strategy.domain.event.expiry_events import ExpiryRiskEvent
from src.strategy.domain.event.order_events import CloseEscalatedEvent, OrderTimeoutEvent
from src.strategy.domain.event.risk_events import GreeksRiskBreachEvent
from src.strategy.domain.interface.event_gateway import IEventGateway
from src.strategy.domain.value_object.signal_type import SignalType

logger = logging.getLogger(__name__)

# Logged to the run's log and written to the monitor, but not to the platform's strategy log,
# where a line a minute would bury the ones a trader needs.
FREQUENT_EVENTS = (DecisionRefusedEvent, SignalEvent, DeltaOutsideBandEvent, HedgeRefusedEvent, OrderTimeoutEvent,
                   GreeksRiskBreachEvent)


def describe_event(event: DomainEvent) -> str:
    details = ", ".join(f"{name}={_short(value)}" for name, value in vars(event).items()
                        if name not in ("occurred_at", "indicators") and value is not None)
    return f"{event.event_type} at {event.occurred_at:%Y-%m-%d %H:%M}: {details}"


def _short(value) -> str:
    return value.value if hasattr(value, "value") else str(value)


@dataclass
class StrategyCounters:
    """What the strategy did, for vnpy's variables and the backtest's summary.

    Signals, refusals and risk breaches are counted from the events (each once);
    orders and hedge fills by the cycle as it registers them.
    """

    signal_count: int = 0
    order_count: int = 0
    refusal_count: int = 0
    risk_breach_count: int = 0
    hedge_trade_count: int = 0
    pin_risk_count: int = 0  # ExpiryRiskEvent: options in the money or pinned in their last days
    close_escalation_count: int = 0  # CloseEscalatedEvent: resends of closes that did not fill

    def on_event(self, event: DomainEvent) -> None:
        if isinstance(event, SignalEvent):
            if isinstance(event.signal, SignalType):  # a close reason is not a new signal
                self.signal_count += 1
        elif isinstance(event, DecisionRefusedEvent):
            self.refusal_count += 1
        elif isinstance(event, GreeksRiskBreachEvent):
            self.risk_breach_count += 1
        elif isinstance(event, ExpiryRiskEvent):
            self.pin_risk_count += 1
        elif isinstance(event, CloseEscalatedEvent):
            self.close_escalation_count += 1

    def as_dict(self) -> dict[str, int]:
        return {field.name: getattr(self, field.name) for field in fields(self)}

    def restore(self, saved: Mapping[str, object]) -> None:
        for field in fields(self):
            if field.name in saved:
                setattr(self, field.name, int(saved[field.name]))


class EventLogHandler:
    def __init__(self, strategy_name: str, gateway: IEventGateway) -> None:
        self.strategy_name = strategy_name
        self.gateway = gateway

    def __call__(self, event: DomainEvent) -> None:
        message = describe_event(event)
        logger.info("%s %s", self.strategy_name, message)
        if not isinstance(event, FREQUENT_EVENTS):
            self.gateway.write_log(message)


class EventRecorder(Protocol):
    def record_events(self, strategy_name: str, events: list[DomainEvent]) -> None: ...


class MonitorEventHandler:
    """Every publication goes to the monitor's ``strategy_event`` table as one batch."""

    def __init__(self, strategy_name: str, monitor: EventRecorder) -> None:
        self.strategy_name = strategy_name
        self.monitor = monitor

    def __call__(self, events: Sequence[DomainEvent]) -> None:
        self.monitor.record_events(self.strategy_name, list(events))
