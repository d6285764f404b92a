"""What the strategy decided on a bar: signals, and every refusal with its reason."""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from types import MappingProxyType

from src.strategy.domain.event.base import DomainEvent, coerce_enum
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType


class DecisionStage(StrEnum):
    """Where a decision was refused; string-valued, so ``DecisionStage.RISK == "risk"``."""

    SIGNAL = "signal"
    OPTION_SELECTION = "option_selection"
    SIZING = "sizing"
    RISK = "risk"
    EXECUTION = "execution"


STAGE_SIGNAL = DecisionStage.SIGNAL
STAGE_OPTION_SELECTION = DecisionStage.OPTION_SELECTION
STAGE_SIZING = DecisionStage.SIZING
STAGE_RISK = DecisionStage.RISK
STAGE_EXECUTION = DecisionStage.EXECUTION


@dataclass(frozen=True)
class DecisionRefusedEvent(DomainEvent):
    """A decision that was not carried out: ``stage`` says where, ``reason`` why."""

    stage: DecisionStage
    vt_symbol: str | None
    reason: str
    product: str | None = None

    def __post_init__(self) -> None:
        coerce_enum(self, "stage", DecisionStage)


@dataclass(frozen=True)
class SignalEvent(DomainEvent):
    """A signal a bar produced: an opening ``SignalType`` for a product, or a
    ``CloseReason`` for the position in ``vt_symbol``."""

    product: str
    signal: SignalType | CloseReason
    bar_time: datetime
    indicators: Mapping[str, float | int | None] = field(default_factory=dict, hash=False)
    vt_symbol: str | None = None

    def __post_init__(self) -> None:
        # A read-only copy: the instrument's cache keeps changing after the event.
        object.__setattr__(self, "indicators", MappingProxyType(dict(self.indicators)))
