"""Small factories of domain values for the tests (exchange time, IF/IO contracts)."""
from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from src.strategy.domain.entity.target_instrument import TargetInstrument
from src.strategy.domain.value_object.market import BarSnapshot, OptionQuote
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType

CST = ZoneInfo("Asia/Shanghai")
FUTURE = "IF2501.CFFEX"
TODAY = date(2024, 12, 23)


def at(day: int = 23, hour: int = 10, minute: int = 0, month: int = 12, year: int = 2024) -> datetime:
    return datetime(year, month, day, hour, minute, tzinfo=CST)


def option(strike: float, option_type: OptionType = OptionType.PUT, expiry: date = date(2025, 1, 17),
           product: str = "IO", underlying: str = FUTURE) -> OptionContract:
    letter = "C" if option_type is OptionType.CALL else "P"
    symbol = f"{product}{expiry:%y%m}-{letter}-{strike:g}"
    return OptionContract(vt_symbol=f"{symbol}.CFFEX", symbol=symbol, exchange="CFFEX", product=product,
                          underlying_vt_symbol=underlying, option_type=option_type, strike=strike, expiry=expiry,
                          multiplier=100, pricetick=0.2)


def quote(contract: OptionContract, last: float = 20.0, volume: float = 100, open_interest: float = 500,
          bid: float | None = None, ask: float | None = None) -> OptionQuote:
    return OptionQuote(contract=contract, last_price=last, volume=volume, open_interest=open_interest,
                       bid=bid, ask=ask)


def bar(close: float, when: datetime, vt_symbol: str = FUTURE, spread: float = 1.0) -> BarSnapshot:
    return BarSnapshot(vt_symbol=vt_symbol, datetime=when, open=close, high=close + spread, low=close - spread,
                       close=close, volume=100, turnover=close * 100 * 300, open_interest=1000)


def bars(closes: Sequence[float], start: datetime | None = None, vt_symbol: str = FUTURE) -> list[BarSnapshot]:
    start = start or at(hour=9, minute=30)
    return [bar(close, start + timedelta(minutes=15 * i), vt_symbol) for i, close in enumerate(closes)]


def instrument_with(closes: Sequence[float] = (), max_bars: int = 200) -> TargetInstrument:
    instrument = TargetInstrument("IF", "IO", max_bars=max_bars)
    instrument.set_active_contract(FUTURE)
    for item in bars(closes):
        instrument.append_bar(item)
    return instrument
