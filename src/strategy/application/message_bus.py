"""The domain events' message bus: aggregates record, the cycle publishes, handlers subscribe.

The cycle publishes once per step, after the step changed the state: its own
events (signals, refusals) first, then each aggregate's and service's, each
source's in the order they happened.
A handler subscribes to an event type (its subclasses included) or to every
event; a batch handler receives each publication whole (the monitor writes one
batch per step). Nothing is kept: the bus holds handlers, not events.

A handler that raises does not stop the others: a broken notification must
not stop trading. Its failure is logged with the handler's name and counted.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

from src.strategy.domain.event.base import DomainEvent

logger = logging.getLogger(__name__)

EventHandler = Callable[[DomainEvent], None]
BatchHandler = Callable[[Sequence[DomainEvent]], None]


class MessageBus:
    def __init__(self) -> None:
        self._handlers: list[tuple[type[DomainEvent], EventHandler]] = []
        self._batch_handlers: list[BatchHandler] = []
        self.handler_failures = 0

    def subscribe(self, event_type: type[DomainEvent], handler: EventHandler) -> None:
        if not (isinstance(event_type, type) and issubclass(event_type, DomainEvent)):
            raise TypeError(f"can only subscribe to DomainEvent types, got {event_type!r}")
        self._handlers.append((event_type, handler))

    def subscribe_all(self, handler: EventHandler) -> None:
        self.subscribe(DomainEvent, handler)

    def subscribe_batch(self, handler: BatchHandler) -> None:
        self._batch_handlers.append(handler)

    def publish(self, events: Sequence[DomainEvent]) -> None:
        if not events:
            return
        for event in events:
            for event_type, handler in self._handlers:
                if isinstance(event, event_type):
                    self._call(handler, event)
        for handler in self._batch_handlers:
            self._call(handler, events)

    def _call(self, handler, argument) -> None:
        try:
            handler(argument)
        except Exception:  # noqa: BLE001 - one handler's failure must not silence the others
            self.handler_failures += 1
            logger.exception("event handler %s failed", getattr(handler, "__qualname__", repr(handler)))
