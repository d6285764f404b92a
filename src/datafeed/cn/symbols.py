"""vnpy symbols <-> vendor codes, both ways, for the contracts this project trades.

| contract | vnpy (symbol.exchange) | Tushare ts_code | AKShare |
| --- | --- | --- | --- |
| CFFEX index future | IF2602.CFFEX | IF2602.CFX | IF2602 |
| CFFEX main continuous | IF888.CFFEX | IF.CFX | IF0 |
| CFFEX index option | IO2602-C-4600.CFFEX | IO2602-C-4600.CFX | io2602C4600 |
| SSE / SZSE ETF option | 10005000.SSE / 90000001.SZSE | 10005000.SH / 90000001.SZ | 10005000 |
| SHFE/DCE/INE/GFEX future | rb2405.SHFE | RB2405.SHF | RB2405 |
| CZCE future | SR405.CZCE | SR2405.ZCE | SR405 |

vnpy's CZCE symbols carry a one-digit year; the vendors' carry two (``SR2405``). Going
from vnpy to a vendor the decade is the one that puts the contract closest to the
``reference_year`` given (the request's start year), so ``SR405`` asked about in 2023
means 2024, not 2034.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum

from vnpy.trader.constant import Exchange


class ContractKind(Enum):
    FUTURE = "future"
    CONTINUOUS = "continuous"
    INDEX_OPTION = "index_option"
    ETF_OPTION = "etf_option"


class UnknownSymbolError(ValueError):
    """A symbol this module cannot translate; the message names it."""


TUSHARE_SUFFIX = {
    Exchange.CFFEX: "CFX", Exchange.SHFE: "SHF", Exchange.DCE: "DCE", Exchange.CZCE: "ZCE",
    Exchange.INE: "INE", Exchange.GFEX: "GFE", Exchange.SSE: "SH", Exchange.SZSE: "SZ",
}
_EXCHANGE_OF_SUFFIX = {suffix: exchange for exchange, suffix in TUSHARE_SUFFIX.items()}
CONTINUOUS_SUFFIX = "888"

_FUTURE = re.compile(r"^([A-Za-z]{1,2})(\d{3,4})$")
_CONTINUOUS = re.compile(r"^([A-Za-z]{1,2})888$")
_INDEX_OPTION = re.compile(r"^([A-Z]{2})(\d{4})-([CP])-(\d+(?:\.\d+)?)$")
_AK_INDEX_OPTION = re.compile(r"^([a-zA-Z]{2})(\d{4})([CPcp])(\d+(?:\.\d+)?)$")
_ETF_OPTION = re.compile(r"^\d{8}$")


@dataclass(frozen=True)
class Contract:
    """One contract as vnpy names it, and what kind it is."""

    symbol: str
    exchange: Exchange
    kind: ContractKind

    @property
    def vt_symbol(self) -> str:
        return f"{self.symbol}.{self.exchange.value}"

    @property
    def product(self) -> str:
        match = re.match(r"[A-Za-z]+", self.symbol)
        return match.group(0) if match else ""


def classify(symbol: str, exchange: Exchange) -> Contract:
    if exchange in (Exchange.SSE, Exchange.SZSE):
        if _ETF_OPTION.match(symbol):
            return Contract(symbol, exchange, ContractKind.ETF_OPTION)
    elif exchange is Exchange.CFFEX and _INDEX_OPTION.match(symbol):
        return Contract(symbol, exchange, ContractKind.INDEX_OPTION)
    elif exchange in TUSHARE_SUFFIX:
        if _CONTINUOUS.match(symbol):
            return Contract(symbol, exchange, ContractKind.CONTINUOUS)
        if _FUTURE.match(symbol):
            return Contract(symbol, exchange, ContractKind.FUTURE)
    raise UnknownSymbolError(
        f"{symbol}.{exchange.value}: not a contract the CN datafeeds know (futures like IF2602.CFFEX, "
        f"IF888.CFFEX for the main contract, CFFEX options like IO2602-C-4600.CFFEX, ETF options like "
        f"10005000.SSE)")


def parse_vt_symbol(vt_symbol: str) -> Contract:
    symbol, _, exchange_text = vt_symbol.strip().rpartition(".")
    try:
        exchange = Exchange(exchange_text.upper())
    except ValueError:
        raise UnknownSymbolError(f"{vt_symbol}: unknown exchange {exchange_text!r}") from None
    if not symbol:
        raise UnknownSymbolError(f"{vt_symbol}: expected SYMBOL.EXCHANGE")
    return classify(symbol, exchange)


def _czce_vendor_year(digits: str, reference_year: int) -> str:
    """'405' -> '2405' (the decade closest to the reference year)."""
    year_digit = int(digits[0])
    candidates = [decade + year_digit for decade in range(reference_year // 10 * 10 - 10,
                                                          reference_year // 10 * 10 + 20, 10)]
    best = min(candidates, key=lambda year: abs(year - reference_year))
    return f"{best % 100:02d}{digits[1:]}"


def to_tushare(contract: Contract, reference_year: int = 2025) -> str:
    suffix = TUSHARE_SUFFIX[contract.exchange]
    if contract.kind is ContractKind.CONTINUOUS:
        return f"{contract.product.upper()}.{suffix}"
    if contract.kind is ContractKind.FUTURE and contract.exchange is Exchange.CZCE:
        digits = contract.symbol[len(contract.product):]
        if len(digits) == 3:
            digits = _czce_vendor_year(digits, reference_year)
        return f"{contract.product.upper()}{digits}.{suffix}"
    if contract.kind is ContractKind.FUTURE:
        return f"{contract.symbol.upper()}.{suffix}"
    return f"{contract.symbol}.{suffix}"


def from_tushare(ts_code: str) -> Contract:
    """A Tushare ts_code as vnpy names it (lower-case products for SHFE/DCE/INE/GFEX, 3-digit CZCE years)."""
    code, _, suffix = ts_code.strip().rpartition(".")
    exchange = _EXCHANGE_OF_SUFFIX.get(suffix.upper())
    if exchange is None or not code:
        raise UnknownSymbolError(f"{ts_code}: unknown Tushare code")
    if exchange in (Exchange.SSE, Exchange.SZSE) or _INDEX_OPTION.match(code):
        return classify(code, exchange)
    if re.fullmatch(r"[A-Za-z]{1,2}", code):
        return classify(f"{code.upper()}{CONTINUOUS_SUFFIX}", exchange)
    match = _FUTURE.match(code)
    if not match:
        raise UnknownSymbolError(f"{ts_code}: unknown Tushare code")
    product, digits = match.groups()
    if exchange is Exchange.CZCE:
        return classify(f"{product.upper()}{digits[-3:]}", exchange)
    if exchange in (Exchange.SHFE, Exchange.DCE, Exchange.INE, Exchange.GFEX):
        return classify(f"{product.lower()}{digits}", exchange)
    return classify(f"{product.upper()}{digits}", exchange)


def to_akshare(contract: Contract) -> str:
    """AKShare's names: futures as the exchange lists them, CFFEX options as Sina's 'io2602C4600'."""
    if contract.kind is ContractKind.INDEX_OPTION:
        product, month, right, strike = _INDEX_OPTION.match(contract.symbol).groups()
        return f"{product.lower()}{month}{right}{strike}"
    if contract.kind is ContractKind.CONTINUOUS:
        return f"{contract.product.upper()}0"
    if contract.kind is ContractKind.FUTURE:
        return contract.symbol.upper()
    return contract.symbol


def from_akshare(code: str, exchange: Exchange) -> Contract:
    code = code.strip()
    match = _AK_INDEX_OPTION.match(code)
    if match and exchange is Exchange.CFFEX:
        product, month, right, strike = match.groups()
        return classify(f"{product.upper()}{month}-{right.upper()}-{strike}", exchange)
    if exchange is not Exchange.CZCE and exchange in (Exchange.SHFE, Exchange.DCE, Exchange.INE, Exchange.GFEX):
        code = code.lower()
    if re.fullmatch(r"[A-Za-z]{1,2}0", code):
        return classify(f"{code[:-1].upper()}{CONTINUOUS_SUFFIX}", exchange)
    return classify(code, exchange)
