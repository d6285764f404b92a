"""Put/call sentiment: a market's daily put/call ratio and where it stands among its recent values.

No look-ahead: each day's figures carry ``available_at``, the moment they may be used (after that
market's close, when the day's statistics are published). The sentiment as of a moment uses only the
days available by then, so a backtest at 10:00 on day D sees day D-1's ratio, never day D's.

``percentile`` is the share (0-100) of the window's ratios at or below the latest one: 95 means the
latest put/call ratio is higher than almost all of the last ``window`` days (heavy put buying, fear).
"""
from __future__ import annotations

import bisect
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime

from src.strategy.domain.value_object.validation import (
    require_aware,
    require_int,
    require_non_negative,
    require_real,
    require_text,
)


@dataclass(frozen=True)
class DailyPutCall:
    trade_date: date
    call_value: int
    put_value: int
    available_at: datetime

    def __post_init__(self) -> None:
        owner = "DailyPutCall"
        if not isinstance(self.trade_date, date) or isinstance(self.trade_date, datetime):
            raise TypeError(f"{owner}.trade_date must be a date, got {self.trade_date!r}")
        require_int(owner, "call_value", self.call_value, 0)
        require_int(owner, "put_value", self.put_value, 0)
        require_aware(owner, "available_at", self.available_at)
        if self.available_at.date() < self.trade_date:
            raise ValueError(f"{owner}: {self.trade_date} cannot be available before its own day "
                             f"({self.available_at})")

    @property
    def ratio(self) -> float | None:
        return self.put_value / self.call_value if self.call_value else None


@dataclass(frozen=True)
class PutCallSentiment:
    market: str
    data_type: str
    trade_date: date      # the day whose ratio this is (the last one available at ``as_of``)
    ratio: float
    percentile: float     # 0-100
    window: int           # days asked for
    observations: int     # days with a ratio actually in the window (<= window)
    as_of: datetime

    def __post_init__(self) -> None:
        owner = "PutCallSentiment"
        require_text(owner, "market", self.market)
        require_text(owner, "data_type", self.data_type)
        require_non_negative(owner, "ratio", self.ratio)
        percentile = require_real(owner, "percentile", self.percentile)
        if not 0 < percentile <= 100:
            raise ValueError(f"{owner}.percentile must be in (0, 100], got {percentile}")
        require_int(owner, "window", self.window, 1)
        require_int(owner, "observations", self.observations, 1)
        if self.observations > self.window:
            raise ValueError(f"{owner}: {self.observations} observations exceed the window of {self.window}")
        require_aware(owner, "as_of", self.as_of)


@dataclass(frozen=True)
class PutCallHistory:
    """One market's daily figures, ascending by date, with ``available_at`` never going backwards."""

    market: str
    data_type: str
    days: tuple[DailyPutCall, ...]

    def __post_init__(self) -> None:
        owner = "PutCallHistory"
        require_text(owner, "market", self.market)
        require_text(owner, "data_type", self.data_type)
        for earlier, later in zip(self.days, self.days[1:], strict=False):
            if later.trade_date <= earlier.trade_date:
                raise ValueError(f"{owner}: days must be strictly ascending ({earlier.trade_date}, {later.trade_date})")
            if later.available_at < earlier.available_at:
                raise ValueError(f"{owner}: {later.trade_date} is available before {earlier.trade_date}")
        object.__setattr__(self, "_available", tuple(day.available_at for day in self.days))
        object.__setattr__(self, "_ratios", tuple(day.ratio for day in self.days))

    @classmethod
    def of(cls, market: str, data_type: str, days: Iterable[DailyPutCall]) -> PutCallHistory:
        return cls(market, data_type, tuple(sorted(days, key=lambda day: day.trade_date)))

    def sentiment(self, as_of: datetime, window: int, min_observations: int = 1) -> PutCallSentiment | None:
        """The sentiment from the days available at ``as_of``; None with fewer than ``min_observations``."""
        require_aware("PutCallHistory.sentiment", "as_of", as_of)
        require_int("PutCallHistory.sentiment", "window", window, 1)
        require_int("PutCallHistory.sentiment", "min_observations", min_observations, 1)
        end = bisect.bisect_right(self._available, as_of)
        recent = [ratio for ratio in self._ratios[max(0, end - window):end] if ratio is not None]
        if end == 0 or self._ratios[end - 1] is None or len(recent) < min(min_observations, window):
            return None
        latest = self._ratios[end - 1]
        percentile = 100.0 * sum(1 for ratio in recent if ratio <= latest) / len(recent)
        return PutCallSentiment(self.market, self.data_type, self.days[end - 1].trade_date, latest, percentile,
                                window, len(recent), as_of)


@dataclass(frozen=True)
class PutCallFilter:
    """Refuse selling puts while put/call sentiment is extreme. Off by default."""

    enabled: bool = False
    market: str = "US_INDEX"
    data_type: str = "VOLUME"
    window: int = 252
    min_observations: int = 60
    max_percentile: float = 90.0

    def __post_init__(self) -> None:
        owner = "PutCallFilter"
        if not isinstance(self.enabled, bool):
            raise TypeError(f"{owner}.enabled must be true or false, got {self.enabled!r}")
        require_text(owner, "market", self.market)
        require_text(owner, "data_type", self.data_type)
        require_int(owner, "window", self.window, 1)
        require_int(owner, "min_observations", self.min_observations, 1)
        if self.min_observations > self.window:
            raise ValueError(f"{owner}.min_observations ({self.min_observations}) exceeds window ({self.window})")
        percentile = require_real(owner, "max_percentile", self.max_percentile)
        if not 0 < percentile <= 100:
            raise ValueError(f"{owner}.max_percentile must be in (0, 100], got {percentile}")

    def refusal(self, sentiment: PutCallSentiment | None) -> str | None:
        """Why selling a put is refused now, or None. Without a sentiment (no data yet) nothing is refused."""
        if not self.enabled or sentiment is None:
            return None
        if sentiment.percentile > self.max_percentile:
            return (f"put/call {sentiment.market} {sentiment.data_type} of {sentiment.trade_date} is "
                    f"{sentiment.ratio:.3f}, percentile {sentiment.percentile:.1f} > {self.max_percentile:g} "
                    f"over {sentiment.observations} days")
        return None
