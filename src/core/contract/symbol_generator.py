"""Which contracts of a product are listed on given dates (CFFEX listing rules).

Rules implemented (CFFEX contract specifications), with "this month" meaning
the calendar month of the date until its contract expires (third Friday,
shifted past holidays), then the following month:

- Index futures IF, IH, IC, IM: this month, next month, and the next two
  quarter months (Mar, Jun, Sep, Dec) after those.
  2026-01-05 -> IF2601 IF2602 IF2603 IF2606; after IF2601 expires on
  2026-01-16 the list becomes IF2602 IF2603 IF2606 IF2609.
- Index options IO, HO, MO: this month, the next two months, and the next
  three quarter months after those.
  2026-01-05 -> IO2601 IO2602 IO2603 IO2606 IO2609 IO2612.
- Treasury futures TS, TF, T, TL: the three nearest quarter months.

A new contract is listed on the trading day after a contract expires, which
is what the rules above give when evaluated on each trading day.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from vnpy.trader.constant import Exchange

from src.core.contract.exchange_resolver import (
    ExchangeResolver,
    UnsupportedProductError,
)
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.core.config.errors import UserInputError
from src.core.contract.contract_helper import ContractHelper, ContractMonth

INDEX_FUTURES = frozenset({"IF", "IH", "IC", "IM"})
INDEX_OPTIONS = frozenset({"IO", "HO", "MO"})
TREASURY_FUTURES = frozenset({"TS", "TF", "T", "TL"})


class DateRangeError(UserInputError):
    """A start date after the end date."""


@dataclass(frozen=True)
class ListedContract:
    """A contract month of a product and the trading days of the asked window on which it is listed."""

    symbol: str
    product: str
    exchange: Exchange
    contract_month: ContractMonth
    expiry: date
    first_day: date
    last_day: date

    @property
    def vt_symbol(self) -> str:
        return f"{self.symbol}.{self.exchange.value}"


class SymbolGenerator:
    def __init__(self, expiry_calculator: ExpiryCalculator) -> None:
        self.expiry_calculator = expiry_calculator
        self.resolver: ExchangeResolver = expiry_calculator.resolver

    def listed_months(self, product: str, on: date) -> tuple[ContractMonth, ...]:
        """The contract months of ``product`` listed on ``on``, nearest first."""
        code = self.resolver.normalize(product)
        if code in TREASURY_FUTURES:
            return self._nearest_quarters(code, on, 3)
        if code in INDEX_FUTURES:
            monthly, quarterly = 2, 2
        elif code in INDEX_OPTIONS:
            monthly, quarterly = 3, 3
        else:
            raise UnsupportedProductError(
                f"no listing rule for product {code} ({self.resolver.resolve(code).value}): only CFFEX index "
                f"futures, index options and treasury futures are implemented")
        front = self.expiry_calculator.front_month(code, on)
        months = [front.shifted(i) for i in range(monthly)]
        candidate = months[-1].shifted(1)
        while len(months) < monthly + quarterly:
            if candidate.is_quarter_month:
                months.append(candidate)
            candidate = candidate.shifted(1)
        return tuple(months)

    def _nearest_quarters(self, product: str, on: date, count: int) -> tuple[ContractMonth, ...]:
        months: list[ContractMonth] = []
        candidate = ContractMonth.of(on)
        while len(months) < count:
            if candidate.is_quarter_month and not self.expiry_calculator.is_expired(product, candidate, on):
                months.append(candidate)
            candidate = candidate.shifted(1)
        return tuple(months)

    def trading_days(self, start: date, end: date) -> list[date]:
        if start > end:
            raise DateRangeError(f"start date {start} is after end date {end}")
        calendar = self.expiry_calculator.calendar
        return [start + timedelta(days=offset) for offset in range((end - start).days + 1)
                if calendar.is_trading_day(start + timedelta(days=offset))]

    def contracts(self, product: str, start: date, end: date) -> list[ListedContract]:
        """Every contract listed on at least one trading day of ``[start, end]``, by month."""
        code = self.resolver.normalize(product)
        exchange = self.resolver.resolve(code)
        listed: dict[ContractMonth, list[date]] = {}
        for day in self.trading_days(start, end):
            for month in self.listed_months(code, day):
                days = listed.setdefault(month, [day, day])
                days[1] = day
        return [
            ListedContract(
                symbol=ContractHelper.format_future(code, month, exchange),
                product=code,
                exchange=exchange,
                contract_month=month,
                expiry=self.expiry_calculator.expiry_date(code, month),
                first_day=days[0],
                last_day=days[1],
            )
            for month, days in sorted(listed.items())
        ]

    def symbols(self, product: str, start: date, end: date) -> list[str]:
        """Symbols listed in the window, e.g. IF 2026-01-05..2026-02-06 -> IF2601 IF2602 IF2603 IF2606 IF2609."""
        return [contract.symbol for contract in self.contracts(product, start, end)]
