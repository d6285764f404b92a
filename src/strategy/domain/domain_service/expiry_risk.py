"""Options held into their last days: in the money, or pinned near the strike.

From the last trading day before an option's expiry (the calendar's previous
trading day) until its settlement (15:00 of the expiry day), every held option
whose underlying is beyond its strike (in the money) or within
``pin_distance`` of it (a share of the strike: 0.01 is 1%) raises one
``ExpiryRiskEvent`` per contract, side and day, with the figures a trader
needs to decide: underlying, strike, moneyness, lots, trading days left.
A short option in the money settles at a loss; one pinned at the strike may
land on either side of it in the last two hours' average.

The underlying's price is the option's mapped future's (``underlying_vt_symbol``),
as in the settlement itself. Nothing is checked without a price of it. Time is
passed in; the service is pure.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date, datetime

from src.strategy.domain.domain_service.expiry_settlement import intrinsic_value, is_expired
from src.strategy.domain.entity.position import Position
from src.strategy.domain.event.expiry_events import ExpiryRiskEvent
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType
from src.strategy.domain.value_object.trading_calendar import TradingCalendar
from src.strategy.domain.value_object.validation import require_aware, require_non_negative


@dataclass(frozen=True)
class ExpiryRiskSettings:
    """``enabled``: raise the events at all; ``pin_distance``: |S - K| / K at or below which an
    option is pinned (0 keeps only the in-the-money events)."""

    enabled: bool = True
    pin_distance: float = 0.01

    def __post_init__(self) -> None:
        value = require_non_negative("ExpiryRiskSettings", "pin_distance", self.pin_distance)
        if value >= 1.0:
            raise ValueError(f"ExpiryRiskSettings: pin_distance is a share of the strike, below 1, got {value}")
        object.__setattr__(self, "pin_distance", value)


class ExpiryRiskWatch:
    def __init__(self, settings: ExpiryRiskSettings = ExpiryRiskSettings(),
                 calendar: TradingCalendar | None = None) -> None:
        if not isinstance(settings, ExpiryRiskSettings):
            raise TypeError(f"ExpiryRiskWatch.settings must be ExpiryRiskSettings, got {type(settings).__name__}")
        self.settings = settings
        self.calendar = calendar or TradingCalendar()
        self._raised: set[tuple[str, str, date]] = set()  # (vt_symbol, direction, day) already reported
        self._day: date | None = None

    def in_window(self, expiry: date, now: datetime) -> bool:
        """True from the start of the last trading day before ``expiry`` until its settlement."""
        today = now.astimezone(EXCHANGE_TIMEZONE).date()
        return self.calendar.previous_trading_day(expiry) <= today <= expiry and not is_expired(expiry, now)

    def check(self, positions: Iterable[Position], options: Mapping[str, OptionContract],
              prices: Mapping[str, float], now: datetime) -> list[ExpiryRiskEvent]:
        """The events due at ``now`` for the held ``positions`` (futures and flat ones are skipped)."""
        require_aware("ExpiryRiskWatch.check", "now", now)
        if not self.settings.enabled:
            return []
        today = now.astimezone(EXCHANGE_TIMEZONE).date()
        if today != self._day:
            self.forget_before(today)
            self._day = today
        events = []
        for position in positions:
            option = options.get(position.vt_symbol)
            if option is None or position.is_flat or not self.in_window(option.expiry, now):
                continue
            key = (position.vt_symbol, position.direction.value, today)
            if key in self._raised:
                continue
            price = prices.get(option.underlying_vt_symbol)
            if price is None or price <= 0:
                continue
            event = self._event(position, option, float(price), now, today)
            if event is not None:
                self._raised.add(key)
                events.append(event)
        return events

    def _event(self, position: Position, option: OptionContract, price: float, now: datetime,
               today: date) -> ExpiryRiskEvent | None:
        strike = option.strike
        signed = (price - strike) if option.option_type is OptionType.CALL else (strike - price)
        moneyness, distance = signed / strike, abs(price - strike) / strike
        in_the_money = signed > 0
        pinned = distance <= self.settings.pin_distance
        if not (in_the_money or pinned):
            return None
        days_left = self.calendar.trading_days_between(today, option.expiry)
        what = " and ".join(part for part, on in (("in the money", in_the_money), ("pinned", pinned)) if on)
        detail = (f"{position.direction.value} {position.volume} {position.vt_symbol} {what}: "
                  f"{option.underlying_vt_symbol} {price:g} vs strike {strike:g} ({moneyness:+.2%}), "
                  f"{days_left} trading day(s) to the {option.expiry.isoformat()} expiry")
        return ExpiryRiskEvent(
            now, vt_symbol=position.vt_symbol, direction=position.direction, lots=position.volume,
            underlying_vt_symbol=option.underlying_vt_symbol, underlying_price=price, strike=strike,
            option_type=option.option_type.value, moneyness=moneyness, distance=distance,
            intrinsic=intrinsic_value(option, price), in_the_money=in_the_money, pinned=pinned,
            expiry=option.expiry, days_left=days_left, detail=detail)

    def forget_before(self, today: date) -> None:
        """Drops what was reported on earlier days (it is due again today, if still so)."""
        self._raised = {key for key in self._raised if key[2] >= today}
