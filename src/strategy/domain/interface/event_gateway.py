"""The port for lines the trader reads in the platform's strategy log."""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class IEventGateway(Protocol):
    def write_log(self, message: str) -> None:
        ...
