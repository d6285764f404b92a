"""The root of every domain event.

Aggregates and domain services record events as plain frozen values; the entry
layer collects them after a state change and hands them to the log, the monitor
and notifications. Time is always passed in by the caller, never read here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class DomainEvent:
    occurred_at: datetime

    @property
    def event_type(self) -> str:
        return type(self).__name__
