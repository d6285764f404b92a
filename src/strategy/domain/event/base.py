"""The root of every domain event.

Aggregates and domain services record events as plain frozen values; the entry
layer collects them after a state change and hands them to the log, the monitor
and notifications. Time is always passed in by the caller, never read here.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum


@dataclass(frozen=True)
class DomainEvent:
    occurred_at: datetime

    @property
    def event_type(self) -> str:
        return type(self).__name__


def coerce_enum(event: DomainEvent, name: str, enum_class: type[StrEnum]) -> None:
    """Sets the field ``name`` of a frozen event to its ``enum_class`` member (from the member or its text).

    Raises ValueError naming the event and field for text that is no member's value.
    """
    value = getattr(event, name)
    if isinstance(value, enum_class):
        return
    try:
        member = enum_class(value)
    except ValueError:
        choices = ", ".join(member.value for member in enum_class)
        raise ValueError(f"{type(event).__name__}.{name} must be one of {choices}, got {value!r}") from None
    object.__setattr__(event, name, member)
