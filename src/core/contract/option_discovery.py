"""Finds in the database the options priced on each futures contract.

The database's bar overview (one row per symbol, exchange and interval) is read
once per call; every symbol that parses as an option is matched to its
futures contract: CFFEX index options by month (IO2601-C-4000 -> IF2601,
MO -> IM, HO -> IH), commodity options by their own underlying symbol
(m2605-C-3000 -> m2605). Symbols that are not options are skipped.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from vnpy.trader.constant import Exchange, Interval, OptionType
from vnpy.trader.database import BaseDatabase

from src.core.contract.exchange_resolver import (
    ExchangeResolver,
    UnknownProductError,
)
from src.core.config.errors import UserInputError
from src.core.contract.contract_helper import (
    ContractHelper,
    ContractMonth,
    ParsedOption,
)


class InvalidFutureSymbolError(UserInputError):
    """A futures vt_symbol the discovery was asked about cannot be read."""


@dataclass(frozen=True)
class DiscoveredOption:
    """An option found in the database, with its parsed fields and where its bars lie."""

    vt_symbol: str
    exchange: Exchange
    underlying_vt_symbol: str
    parsed: ParsedOption
    bar_count: int
    first_bar: datetime | None
    last_bar: datetime | None

    @property
    def symbol(self) -> str:
        return self.parsed.symbol

    @property
    def option_type(self) -> OptionType:
        return self.parsed.option_type

    @property
    def strike(self) -> float:
        return self.parsed.strike

    @property
    def contract_month(self) -> ContractMonth:
        return self.parsed.contract_month


class OptionDiscoveryService:
    def __init__(self, database: BaseDatabase, resolver: ExchangeResolver | None = None,
                 helper: ContractHelper | None = None, interval: Interval = Interval.MINUTE) -> None:
        self.database = database
        self.resolver = resolver or ExchangeResolver()
        self.helper = helper or ContractHelper()
        self.interval = interval

    def all_options(self) -> list[DiscoveredOption]:
        """Every option with bars of the service's interval, sorted by underlying, month, type, strike."""
        found: list[DiscoveredOption] = []
        for overview in self.database.get_bar_overview():
            if overview.interval != self.interval:
                continue
            try:
                parsed = self.helper.parse_option(overview.symbol)
                underlying_exchange = self.resolver.resolve(parsed.underlying_product)
            except (ValueError, UnknownProductError):
                continue
            found.append(DiscoveredOption(
                vt_symbol=f"{overview.symbol}.{overview.exchange.value}",
                exchange=overview.exchange,
                underlying_vt_symbol=f"{parsed.underlying_symbol}.{underlying_exchange.value}",
                parsed=parsed,
                bar_count=overview.count,
                first_bar=overview.start,
                last_bar=overview.end,
            ))
        found.sort(key=lambda option: (option.underlying_vt_symbol, option.contract_month,
                                       option.option_type.name, option.strike))
        return found

    def discover(self, future_vt_symbols: Iterable[str]) -> dict[str, list[DiscoveredOption]]:
        """For each futures vt_symbol, its options in the database (an empty list when there are none)."""
        wanted = {vt_symbol: [] for vt_symbol in future_vt_symbols}
        for vt_symbol in wanted:
            self._check_future(vt_symbol)
        for option in self.all_options():
            if option.underlying_vt_symbol in wanted:
                wanted[option.underlying_vt_symbol].append(option)
        return wanted

    def options_of(self, future_vt_symbol: str) -> list[DiscoveredOption]:
        return self.discover([future_vt_symbol])[future_vt_symbol]

    def _check_future(self, vt_symbol: str) -> None:
        symbol, _, exchange_text = vt_symbol.rpartition(".") if isinstance(vt_symbol, str) else ("", "", "")
        try:
            parsed = self.helper.parse_future(symbol)
            exchange = Exchange(exchange_text)
        except (ValueError, TypeError):
            raise InvalidFutureSymbolError(
                f"{vt_symbol!r} is not a futures vt_symbol such as IF2601.CFFEX") from None
        expected = self.resolver.resolve(parsed.product)
        if expected is not exchange:
            raise InvalidFutureSymbolError(f"{vt_symbol!r}: {parsed.product} trades on {expected.value}")
