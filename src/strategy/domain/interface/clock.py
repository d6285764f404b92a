"""The port that tells the cycle what time it is.

Domain and application code never read the machine's clock: a backtest's
"now" is the replayed bar's time, a live process's is the exchange's wall time.
"""
from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable


@runtime_checkable
class IClock(Protocol):
    def now(self) -> datetime:
        """An aware datetime (exchange time zone)."""
        ...
