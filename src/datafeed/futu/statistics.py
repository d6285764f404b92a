"""What one call of ``get_option_market_statistic`` returns, in our own plain types (no futu import)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date, time
from typing import Protocol
from zoneinfo import ZoneInfo

MARKETS = ("US_SECURITY", "US_INDEX", "HK_SECURITY", "HK_INDEX")
DATA_TYPES = ("VOLUME", "OPEN_INTEREST")


@dataclass(frozen=True)
class MarketHours:
    """Where a market trades and when its day's statistics can be taken as final."""

    exchange_calendar: str  # exchange_calendars name
    timezone: ZoneInfo
    close: time             # regular close
    published: time         # when the day's statistics are taken as final (after the close)


US_HOURS = MarketHours("XNYS", ZoneInfo("America/New_York"), time(16, 0), time(17, 0))
HK_HOURS = MarketHours("XHKG", ZoneInfo("Asia/Hong_Kong"), time(16, 0), time(16, 30))
MARKET_HOURS = {"US_SECURITY": US_HOURS, "US_INDEX": US_HOURS, "HK_SECURITY": HK_HOURS, "HK_INDEX": HK_HOURS}


@dataclass(frozen=True)
class RawStatisticRow:
    """One row as the client handed it over, before any check (``None`` where futu says N/A)."""

    time: str
    timestamp: float | None
    call_value: int | None
    put_value: int | None
    total_value: int | None
    ratio: float | None


@dataclass(frozen=True)
class PageResult:
    """One page: ``ok`` with rows and the next key (None: last page), or not ``ok`` with the message."""

    ok: bool
    rows: tuple[RawStatisticRow, ...] = ()
    next_page_key: bytes | None = None
    message: str = ""


class StatisticsSource(Protocol):
    def fetch_page(self, market: str, data_type: str, begin: date, end: date,
                   page_key: bytes | None) -> PageResult: ...


def parse_choice(text: str, allowed: tuple[str, ...], what: str) -> tuple[str, ...]:
    """``"VOLUME,OPEN_INTEREST"`` -> the names, each checked against ``allowed`` (ValueError otherwise)."""
    names = tuple(dict.fromkeys(part.strip().upper() for part in text.split(",") if part.strip()))
    if not names:
        raise ValueError(f"no {what} given (expected some of: {', '.join(allowed)})")
    unknown = [name for name in names if name not in allowed]
    if unknown:
        raise ValueError(f"unknown {what} {', '.join(unknown)} (expected some of: {', '.join(allowed)})")
    return names
