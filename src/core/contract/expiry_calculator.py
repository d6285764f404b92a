"""Last trading days (expiry dates) of CFFEX futures and options.

Rules implemented (CFFEX contract specifications):

- Index futures IF, IH, IC, IM and index options IO, HO, MO: the third Friday of
  the contract month; when that day is not a trading day (a holiday), the next
  trading day. E.g. IF2601 -> 2026-01-16; IF2602 -> the third Friday is
  2026-02-20, inside the Spring Festival closure, so it expires on 2026-02-24.
- Treasury futures TS, TF, T, TL: the second Friday of the contract month,
  shifted the same way.

Commodity exchanges (SHFE, DCE, CZCE, INE, GFEX) count trading days around the
delivery month with product-specific rules; they are not implemented and raise
``UnsupportedProductError``.
"""
from __future__ import annotations

import logging

from datetime import date, timedelta
from typing import Protocol

from src.core.contract.exchange_resolver import (
    ExchangeResolver,
    UnsupportedProductError,
)
from src.core.contract.contract_helper import ContractMonth

FRIDAY = 4
# Bounds the search for the next trading day; the longest Chinese market closure is about 10 days.
_MAX_CLOSED_DAYS = 31
logger = logging.getLogger(__name__)

CFFEX_THIRD_FRIDAY_PRODUCTS = frozenset({"IF", "IH", "IC", "IM", "IO", "HO", "MO"})
CFFEX_SECOND_FRIDAY_PRODUCTS = frozenset({"TS", "TF", "T", "TL"})


class TradingDayCalendar(Protocol):
    def is_trading_day(self, day: date) -> bool: ...


def nth_weekday(month: ContractMonth, weekday: int, n: int) -> date:
    """The n-th given weekday (Monday = 0) of a month."""
    first = month.first_day
    offset = (weekday - first.weekday()) % 7
    return first + timedelta(days=offset + 7 * (n - 1))


class ExpiryCalculator:
    def __init__(self, calendar: TradingDayCalendar, resolver: ExchangeResolver | None = None) -> None:
        self.calendar = calendar
        self.resolver = resolver or ExchangeResolver()
        self._provisional_reported: set[tuple[str, ContractMonth]] = set()

    def is_provisional(self, product: str, month: ContractMonth) -> bool:
        """True when the expiry falls past the calendar's known closures (a later holiday could move it)."""
        provisional = getattr(self.calendar, "is_provisional", None)
        return bool(provisional is not None and provisional(self.expiry_date(product, month)))

    def expiry_date(self, product: str, month: ContractMonth) -> date:
        """The last trading day of a product's contract of this month."""
        code = self.resolver.normalize(product)
        if code in CFFEX_THIRD_FRIDAY_PRODUCTS:
            return self._flagged(code, month, self.on_or_after(nth_weekday(month, FRIDAY, 3)))
        if code in CFFEX_SECOND_FRIDAY_PRODUCTS:
            return self._flagged(code, month, self.on_or_after(nth_weekday(month, FRIDAY, 2)))
        raise UnsupportedProductError(
            f"no expiry rule for product {code} ({self.resolver.resolve(code).value}): only CFFEX "
            f"index futures/options and treasury futures are implemented")

    def _flagged(self, code: str, month: ContractMonth, expiry: date) -> date:
        """An expiry past the calendar's known closures is logged once as provisional."""
        provisional = getattr(self.calendar, "is_provisional", None)
        if provisional is not None and provisional(expiry) and (code, month) not in self._provisional_reported:
            self._provisional_reported.add((code, month))
            logger.warning("expiry of %s %s computed as %s is provisional: the trading calendar knows closures "
                           "only up to %s", code, month, expiry, getattr(self.calendar, "known_until", None))
        return expiry

    def is_expired(self, product: str, month: ContractMonth, on: date) -> bool:
        """Whether the contract has stopped trading on ``on`` (it still trades on its expiry day)."""
        return on > self.expiry_date(product, month)

    def front_month(self, product: str, on: date) -> ContractMonth:
        """The nearest monthly contract still trading on ``on``: this month until it expires, then the next."""
        month = ContractMonth.of(on)
        return month if not self.is_expired(product, month, on) else month.shifted(1)

    def on_or_after(self, day: date) -> date:
        """``day`` if it is a trading day, else the next trading day."""
        candidate = day
        for _ in range(_MAX_CLOSED_DAYS):
            if self.calendar.is_trading_day(candidate):
                return candidate
            candidate += timedelta(days=1)
        raise ValueError(f"the trading calendar has no trading day within {_MAX_CLOSED_DAYS} days after {day}")
