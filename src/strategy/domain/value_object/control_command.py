"""The kill switch's commands, as an operator writes them (``python -m src.main.control``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from src.strategy.domain.value_object.validation import require_aware, require_enum


class ControlCommand(StrEnum):
    """``flatten``: cancel what works, close every position through the executor, trade no more (across
    restarts) until ``resume``; ``stop``: reduce-only without closing anything; ``resume``: back to normal."""

    FLATTEN = "flatten"
    STOP = "stop"
    RESUME = "resume"


@dataclass(frozen=True)
class ControlRequest:
    """The newest command written for a strategy; ``request_id`` grows with every command written."""

    request_id: int
    command: ControlCommand
    requested_at: datetime
    note: str = ""

    def __post_init__(self) -> None:
        require_enum("ControlRequest", "command", ControlCommand(self.command), ControlCommand)
        object.__setattr__(self, "command", ControlCommand(self.command))
        require_aware("ControlRequest", "requested_at", self.requested_at)
