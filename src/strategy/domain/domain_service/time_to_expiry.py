"""Time to expiry in trading time: what IV, the Greeks, the money limits and the hedges all use.

Calendar time (ACT/365) counts a weekend, or the nine-day Spring Festival
closure, like trading days: an option expiring the first day after a long
closure keeps 11/365 of a year on the last day before it, so its implied vol,
gamma and theta are all off exactly when gap risk is largest. Here:

    T = (trading minutes left / minutes of a trading day  +  w x non-trading days left) / D
    D = 244 + w x 121

- *trading minutes left*: from ``now`` to the effective expiry, counting only the
  product's sessions on the exchange's trading days (``TradingClock``: the lunch
  break and the nights without a session count for nothing);
- *non-trading days left*: whole calendar days strictly between today and the
  expiry day that are not trading days (weekends and closures), each weighted by
  ``w`` = ``non_trading_day_weight`` (0.1 by default: a closed day carries a
  tenth of a trading day's variance; weekend news and the reopening gap are not
  nothing, but far less than a session);
- *D* makes a typical year (244 trading days, 121 closed ones) exactly 1.0, so
  vols stay annual and comparable; with ``w = 0`` T is trading days / 244.

Effective expiry: CFFEX index options (IO, MO, HO) settle on the average of the
index over the last two hours of the expiry day (13:00-15:00), so from 13:00 the
payoff is being fixed and the option is treated as expired for the Greeks (T
then sits at ``SHORTEST_YEAR_FRACTION``). Other options expire at 15:00.

Theta from a model priced in these years is per year of trading time; divide it
by ``D`` (``days_per_year``) for CNY per trading day.

IO2602 (expires 2026-02-24, after the closure of 2026-02-14..23) at the close
of 2026-02-13: 120 trading minutes (0.5 day) and 10 closed days left, T =
(0.5 + 1.0)/256.1 = 0.0059 (w = 0: 0.5/244 = 0.0020), against 11/365 = 0.030.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.option_contract import OptionContract
from src.strategy.domain.value_object.trading_calendar import TRADING_DAYS_PER_YEAR
from src.strategy.domain.value_object.validation import require_aware

CALENDAR_DAYS_PER_YEAR = 365
DEFAULT_NON_TRADING_DAY_WEIGHT = 0.1
SHORTEST_YEAR_FRACTION = 1e-6
# Options settled on an average of the index over the expiry day's last two hours.
AVERAGE_SETTLED_PRODUCTS = frozenset({"IO", "MO", "HO"})
SETTLEMENT_WINDOW_START = time(13, 0)
EXPIRY_CLOSE = time(15, 0)


def effective_expiry(contract: OptionContract) -> datetime:
    """The moment the option stops carrying time value for the Greeks (exchange time)."""
    moment = SETTLEMENT_WINDOW_START if contract.product in AVERAGE_SETTLED_PRODUCTS else EXPIRY_CLOSE
    return datetime.combine(contract.expiry, moment, EXCHANGE_TIMEZONE)


@dataclass
class TradingTimeToExpiry:
    """Year fractions of trading time per option; cached per (symbol's schedule, expiry, minute)."""

    clocks: TradingClocks
    non_trading_day_weight: float = DEFAULT_NON_TRADING_DAY_WEIGHT
    trading_days_per_year: int = TRADING_DAYS_PER_YEAR
    _cache: dict = field(default_factory=dict, repr=False)
    _cache_minute: datetime | None = field(default=None, repr=False)
    _days: dict = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        weight = float(self.non_trading_day_weight)
        if not 0.0 <= weight <= 1.0:
            raise ValueError(f"TradingTimeToExpiry.non_trading_day_weight must be in [0, 1], got {weight}")
        if self.trading_days_per_year <= 0:
            raise ValueError("TradingTimeToExpiry.trading_days_per_year must be positive")
        self.non_trading_day_weight = weight

    @property
    def days_per_year(self) -> float:
        """D: trading-day equivalents in a year (divide a per-year theta by it for per trading day)."""
        return self.trading_days_per_year + self.non_trading_day_weight * (
            CALENDAR_DAYS_PER_YEAR - self.trading_days_per_year)

    def __call__(self, contract: OptionContract, now: datetime) -> float:
        return self.year_fraction(contract, now)

    def year_fraction(self, contract: OptionContract, now: datetime) -> float:
        now = require_aware("TradingTimeToExpiry", "now", now).astimezone(EXCHANGE_TIMEZONE)
        minute = now.replace(second=0, microsecond=0)
        if minute != self._cache_minute:
            self._cache.clear()
            self._cache_minute = minute
        key = (contract.exchange, contract.product, contract.expiry, now)
        value = self._cache.get(key)
        if value is None:
            value = max(self.trading_days(contract.vt_symbol, now, effective_expiry(contract)) / self.days_per_year,
                        SHORTEST_YEAR_FRACTION)
            self._cache[key] = value
        return value

    def trading_days(self, vt_symbol: str, now: datetime, expiry: datetime) -> float:
        """Trading-day equivalents from ``now`` to ``expiry`` (0 once past): whole and partial sessions
        over the day's trading minutes, plus the weighted closed days in between."""
        if expiry <= now:
            return 0.0
        clock = self.clocks.for_symbol(vt_symbol)
        day_minutes = sum(session.duration_minutes for session in clock.schedule.sessions)
        calendar = clock.calendar
        today, last = now.date(), expiry.date()
        if today == last:
            return clock.trading_seconds_between(now, expiry) / 60.0 / day_minutes
        # Sessions run by day here (index products have no night session); a night session's
        # minutes after midnight fall in the partial-day terms. The whole days and the expiry
        # day's minutes are the same all day: kept per (schedule, day, expiry).
        key = (clock.schedule.label, today, expiry)
        fixed = self._days.get(key)
        if fixed is None:
            if len(self._days) > 4096:
                self._days.clear()
            expiry_midnight = datetime.combine(last, time(0), EXCHANGE_TIMEZONE)
            trading_between = _trading_days_strictly_between(calendar, today, last)
            closed_between = (last - today).days - 1 - trading_between
            tomorrow = datetime.combine(today + timedelta(days=1), time(0), EXCHANGE_TIMEZONE)
            today_sessions = []
            for start, end in clock.sessions_from(datetime.combine(today, time(0), EXCHANGE_TIMEZONE)):
                if start >= tomorrow:
                    break
                today_sessions.append((start, end))
            fixed = (clock.trading_seconds_between(expiry_midnight, expiry) / 60.0 / day_minutes + trading_between
                     + self.non_trading_day_weight * closed_between, tuple(today_sessions))
            self._days[key] = fixed
        whole, today_sessions = fixed
        left_today = sum(max((end - max(start, now)).total_seconds(), 0.0) for start, end in today_sessions)
        return left_today / 60.0 / day_minutes + whole


def _trading_days_strictly_between(calendar, first: date, last: date) -> int:
    if calendar is not None:
        count = calendar.trading_days_between(first, last)  # first < d <= last
        return count - (1 if calendar.is_trading_day(last) else 0)
    count, day = 0, first + timedelta(days=1)
    while day < last:
        count += day.weekday() < 5
        day += timedelta(days=1)
    return count
