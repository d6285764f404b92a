"""The account's capital on a vnpy portfolio strategy engine.

Both engines say it as ``engine.capital``: vnpy's backtester holds the run's
capital there; our live/paper ``OptionStrategyEngine`` answers the paper
capital, or the sum of the gateways' account balances live. An engine with
neither answers zero, which refuses every opening order rather than sizing
against a capital nobody stated.
"""
from __future__ import annotations

from src.strategy.domain.domain_service.account_valuation import AccountFunds
from src.strategy.domain.interface.account_gateway import IAccountGateway


class VnpyAccountGateway(IAccountGateway):
    def __init__(self, strategy_engine: object) -> None:
        self._engine = strategy_engine

    def capital(self) -> float:
        return float(getattr(self._engine, "capital", 0.0) or 0.0)

    def funds(self) -> AccountFunds | None:
        """Live: the gateways' balance and available funds (the engine's ``account_funds``);
        None for the backtester and paper trading, whose capital is a starting figure."""
        account_funds = getattr(self._engine, "account_funds", None)
        reported = account_funds() if callable(account_funds) else None
        if reported is None:
            return None
        balance, available = reported
        return AccountFunds(float(balance), float(available))
