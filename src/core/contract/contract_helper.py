"""Parses and formats Chinese futures and option symbols into typed fields.

An option's identity (underlying, type, strike, month) is read here once, at
the boundary, so no other code looks for a "C" inside a symbol string.

Symbol formats, as the exchanges (and CTP) spell them
-----------------------------------------------------
========  ==================  =================  ===============================
exchange  futures             options            notes
========  ==================  =================  ===============================
CFFEX     ``IF2601``          ``IO2601-C-4000``  index options (IO, MO, HO) are
                                                 mapped to the index future of
                                                 the same month (IO -> IF)
SHFE/INE  ``au2606``          ``au2606C560``     no separator
DCE/GFEX  ``m2605``           ``m2605-C-3000``   dash separators
CZCE      ``SR605``           ``SR605C5000``     one-digit year (YMM)
========  ==================  =================  ===============================

A CZCE year digit is ambiguous by itself; it is resolved against a reference
year to the year in ``[reference - 5, reference + 4]`` that ends in that digit.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import Enum

from vnpy.trader.constant import Exchange, OptionType

# CFFEX index options settle on the index; the framework prices and hedges them
# with the index future of the same month, so the option product maps to it.
INDEX_OPTION_FUTURES: dict[str, str] = {"IO": "IF", "MO": "IM", "HO": "IH"}

_SYMBOL_PATTERN = re.compile(
    r"^(?P<product>[A-Za-z]{1,2})(?P<month>\d{3,4})"
    r"(?:(?P<sep>-?)(?P<type>[CP])(?P=sep)(?P<strike>\d+(?:\.\d+)?))?$"
)
_OPTION_TYPE_LETTERS = {"C": OptionType.CALL, "P": OptionType.PUT}


@dataclass(frozen=True, order=True)
class ContractMonth:
    """A delivery (or expiry) month, e.g. ``ContractMonth(2026, 1)`` for ``2601``."""

    year: int
    month: int

    def __post_init__(self) -> None:
        for name in ("year", "month"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"ContractMonth.{name} must be an int, got {type(value).__name__}")
        if not 2000 <= self.year <= 2099:
            raise ValueError(f"contract year must be in 2000-2099, got {self.year}")
        if not 1 <= self.month <= 12:
            raise ValueError(f"contract month must be in 1-12, got {self.month}")

    @classmethod
    def of(cls, day: date) -> ContractMonth:
        return cls(day.year, day.month)

    @property
    def code(self) -> str:
        """The four-digit YYMM code used by CFFEX, SHFE, DCE, INE and GFEX."""
        return f"{self.year % 100:02d}{self.month:02d}"

    @property
    def czce_code(self) -> str:
        """The three-digit YMM code used by CZCE."""
        return f"{self.year % 10}{self.month:02d}"

    @property
    def first_day(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def is_quarter_month(self) -> bool:
        return self.month in (3, 6, 9, 12)

    def shifted(self, months: int) -> ContractMonth:
        index = self.year * 12 + self.month - 1 + months
        return ContractMonth(index // 12, index % 12 + 1)

    def __str__(self) -> str:
        return self.code


class SymbolStyle(Enum):
    """How an exchange spells months and option suffixes."""

    DASHED = "dashed"            # CFFEX, DCE, GFEX: IO2601-C-4000, m2605-C-3000
    COMPACT = "compact"          # SHFE, INE: au2606C560
    CZCE = "czce"                # CZCE: SR605C5000, one-digit year

    @classmethod
    def of(cls, exchange: Exchange) -> SymbolStyle:
        style = _EXCHANGE_STYLES.get(exchange)
        if style is None:
            raise ValueError(f"no futures/option symbol format known for exchange {exchange.value}")
        return style


_EXCHANGE_STYLES = {
    Exchange.CFFEX: SymbolStyle.DASHED,
    Exchange.DCE: SymbolStyle.DASHED,
    Exchange.GFEX: SymbolStyle.DASHED,
    Exchange.SHFE: SymbolStyle.COMPACT,
    Exchange.INE: SymbolStyle.COMPACT,
    Exchange.CZCE: SymbolStyle.CZCE,
}


@dataclass(frozen=True)
class ParsedFuture:
    symbol: str
    product: str
    contract_month: ContractMonth


@dataclass(frozen=True)
class ParsedOption:
    """One option symbol's fields; ``underlying_symbol`` is the futures contract it is priced on."""

    symbol: str
    product: str
    underlying_product: str
    underlying_symbol: str
    option_type: OptionType
    strike: float
    contract_month: ContractMonth

    @property
    def is_call(self) -> bool:
        return self.option_type is OptionType.CALL


class ContractHelper:
    """Parses futures/option symbols; ``reference_year`` resolves CZCE's one-digit years."""

    def __init__(self, reference_year: int | None = None) -> None:
        self.reference_year = date.today().year if reference_year is None else reference_year

    def parse_future(self, symbol: str) -> ParsedFuture:
        match = self._match(symbol)
        if match["type"]:
            raise ValueError(f"{symbol!r} is an option symbol, not a futures symbol")
        product = match["product"]
        if product.upper() in INDEX_OPTION_FUTURES:
            raise ValueError(
                f"{symbol!r}: {product} is an option product; its symbols look like {product}2601-C-4000")
        return ParsedFuture(symbol, product, self._month(symbol, match["month"]))

    def parse_option(self, symbol: str) -> ParsedOption:
        match = self._match(symbol)
        if not match["type"]:
            raise ValueError(f"{symbol!r} is not an option symbol (expected e.g. IO2601-C-4000, "
                             f"au2606C560, m2605-C-3000, SR605C5000)")
        product = match["product"]
        month_text = match["month"]
        strike = float(match["strike"])
        if strike <= 0:
            raise ValueError(f"{symbol!r}: the strike must be positive")
        underlying_product = INDEX_OPTION_FUTURES.get(product, product)
        return ParsedOption(
            symbol=symbol,
            product=product,
            underlying_product=underlying_product,
            underlying_symbol=f"{underlying_product}{month_text}",
            option_type=_OPTION_TYPE_LETTERS[match["type"]],
            strike=strike,
            contract_month=self._month(symbol, month_text),
        )

    def is_option(self, symbol: str) -> bool:
        try:
            self.parse_option(symbol)
        except ValueError:
            return False
        return True

    def _match(self, symbol: str) -> re.Match[str]:
        if not isinstance(symbol, str):
            raise TypeError(f"a symbol must be a str, got {type(symbol).__name__}")
        match = _SYMBOL_PATTERN.match(symbol)
        if match is None:
            raise ValueError(
                f"cannot parse symbol {symbol!r}: expected a product code, a YYMM (CZCE: YMM) month "
                f"and, for options, C/P and a strike, e.g. IF2601, IO2601-C-4000, SR605C5000")
        return match

    def _month(self, symbol: str, digits: str) -> ContractMonth:
        month = int(digits[-2:])
        if not 1 <= month <= 12:
            raise ValueError(f"{symbol!r}: month {digits[-2:]} is not in 01-12")
        if len(digits) == 4:
            return ContractMonth(2000 + int(digits[:2]), month)
        year_digit = int(digits[0])
        low = self.reference_year - 5
        year = low + (year_digit - low) % 10
        return ContractMonth(year, month)

    @staticmethod
    def format_future(product: str, month: ContractMonth, exchange: Exchange) -> str:
        style = SymbolStyle.of(exchange)
        return f"{product}{month.czce_code if style is SymbolStyle.CZCE else month.code}"

    @staticmethod
    def format_option(product: str, month: ContractMonth, option_type: OptionType, strike: float,
                      exchange: Exchange) -> str:
        style = SymbolStyle.of(exchange)
        if strike <= 0:
            raise ValueError(f"the strike must be positive, got {strike}")
        letter = "C" if option_type is OptionType.CALL else "P"
        strike_text = format(float(strike), "f").rstrip("0").rstrip(".")
        if style is SymbolStyle.DASHED:
            return f"{product}{month.code}-{letter}-{strike_text}"
        if style is SymbolStyle.COMPACT:
            return f"{product}{month.code}{letter}{strike_text}"
        return f"{product}{month.czce_code}{letter}{strike_text}"
