"""Real option chains from the Cboe ``quotedata.csv`` downloads in ../shared/data (see its README).

Each row of a file holds one strike of one expiry with the call block and the put
block side by side; this turns it into one record per listed option, with the
OCC root as the trading class (SPX = AM-settled monthly, SPXW = PM-settled) and a
deterministic conId, so the local TWS serves the real market structure.
"""
from __future__ import annotations

import math
import re
import zlib
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import pandas as pd

SPX_2022_06_10 = Path("cboe_index_option_chains") / "spx_quotedata_2022-06-10.csv"
SPY_2025_08_29 = Path("cboe_spy_option_chains") / "spy_quotedata_2025-08-29.csv"

# The real IB conIds of the underlyings (public, stable for decades).
UNDERLYING_CONIDS = {"SPX": 416904, "SPY": 756733, "NDX": 416843, "QQQ": 320227571}
UNDERLYING_SECTYPES = {"SPX": ("IND", "CBOE"), "NDX": ("IND", "NASDAQ"), "SPY": ("STK", "SMART"),
                       "QQQ": ("STK", "SMART")}
_OCC = re.compile(r"^(?P<root>[A-Z]+)(?P<date>\d{6})(?P<right>[CP])(?P<strike>\d{8})$")


@dataclass(frozen=True)
class ListedOption:
    """One option of a Cboe chain file, as the local TWS lists it."""

    con_id: int
    symbol: str           # the underlying: SPX
    trading_class: str    # the OCC root: SPX or SPXW
    expiry: date
    strike: float
    right: str            # "C" or "P"
    local_symbol: str     # OCC symbol
    bid: float
    ask: float
    last: float
    volume: float
    open_interest: float
    iv: float             # Cboe's, decimal; 0 means none
    delta: float
    gamma: float

    @property
    def expiry_text(self) -> str:
        return self.expiry.strftime("%Y%m%d")


@dataclass(frozen=True)
class CboeChain:
    symbol: str
    underlying_con_id: int
    underlying_sec_type: str
    underlying_exchange: str
    spot: float
    quote_time: str
    trade_date: date
    options: tuple[ListedOption, ...]

    def expiries(self) -> list[str]:
        return sorted({option.expiry_text for option in self.options})


def con_id_for(local_symbol: str) -> int:
    """A deterministic conId in IB's range (positive 31-bit) from the OCC symbol."""
    return 100_000_000 + zlib.crc32(local_symbol.encode()) % 1_900_000_000


def load_cboe_chain(path: Path, symbol: str, trade_date: date) -> CboeChain:
    lines = path.read_text().splitlines()
    spot = float(re.search(r"Last:\s*([0-9.]+)", lines[1]).group(1))
    quote_time = lines[2].split(",Bid")[0].strip('"')
    frame = pd.read_csv(path, skiprows=3)
    options: list[ListedOption] = []
    seen: dict[int, str] = {}
    for row in frame.itertuples(index=False):
        strike = float(row[11])
        expiry = datetime.strptime(row[0], "%a %b %d %Y").date()
        for offset, right in ((1, "C"), (12, "P")):
            local = str(row[offset]).strip()
            match = _OCC.match(local)
            if match is None:
                continue
            con_id = con_id_for(local)
            if seen.setdefault(con_id, local) != local:
                raise ValueError(f"conId collision between {seen[con_id]} and {local}")
            options.append(ListedOption(
                con_id=con_id, symbol=symbol, trading_class=match["root"], expiry=expiry, strike=strike,
                right=right, local_symbol=local, bid=_number(row[offset + 3]), ask=_number(row[offset + 4]),
                last=_number(row[offset + 1]), volume=_number(row[offset + 5]), iv=_number(row[offset + 6]),
                delta=_number(row[offset + 7]), gamma=_number(row[offset + 8]),
                open_interest=_number(row[offset + 9])))
    sec_type, exchange = UNDERLYING_SECTYPES[symbol]
    return CboeChain(symbol, UNDERLYING_CONIDS[symbol], sec_type, exchange, spot, quote_time, trade_date,
                     tuple(options))


def _number(value) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return math.nan
    return number if math.isfinite(number) else math.nan


def load_spx_2022_06_10(shared_data: Path) -> CboeChain:
    return load_cboe_chain(shared_data / SPX_2022_06_10, "SPX", date(2022, 6, 10))


def load_spy_2025_08_29(shared_data: Path) -> CboeChain:
    return load_cboe_chain(shared_data / SPY_2025_08_29, "SPY", date(2025, 8, 29))
