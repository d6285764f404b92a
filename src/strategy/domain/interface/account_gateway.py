"""The port for the account's capital: what sizing measures positions against."""
from __future__ import annotations

from typing import Protocol, runtime_checkable


@runtime_checkable
class IAccountGateway(Protocol):
    def capital(self) -> float:
        """The capital the strategy trades with, before its own P&L and margin."""
        ...

# A gateway may also offer ``funds() -> AccountFunds | None`` (see account_valuation): live, the
# broker's balance and available funds, which already hold the P&L, fees and margins; None when the
# strategy must value its account itself (backtest, paper).
