"""The port for the account's capital: what sizing measures positions against."""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class IAccountGateway(Protocol):
    def capital(self) -> float:
        """The capital the strategy trades with, before its own P&L and margin."""
        ...
