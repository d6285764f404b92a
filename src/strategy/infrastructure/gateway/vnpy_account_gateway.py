"""The account's capital on a vnpy portfolio strategy engine.

Both engines say it as ``engine.capital``: vnpy's backtester holds the run's
capital there; our live/paper ``OptionStrategyEngine`` answers the paper
capital, or the sum of the gateways' account balances live. An engine with
neither answers zero, which refuses every opening order rather than sizing
against a capital nobody stated.
"""
from __future__ import annotations

from src.strategy.domain.interface.account_gateway import IAccountGateway


class VnpyAccountGateway(IAccountGateway):
    def __init__(self, strategy_engine: object) -> None:
        self._engine = strategy_engine

    def capital(self) -> float:
        return float(getattr(self._engine, "capital", 0.0) or 0.0)
