"""Lines for the platform's strategy log: vnpy's ``write_log`` of the strategy (its UI and log file)."""
from __future__ import annotations

from collections.abc import Callable

from src.strategy.domain.interface.event_gateway import IEventGateway


class VnpyEventGateway(IEventGateway):
    def __init__(self, write_log: Callable[[str], None]) -> None:
        self._write_log = write_log

    def write_log(self, message: str) -> None:
        self._write_log(message)
