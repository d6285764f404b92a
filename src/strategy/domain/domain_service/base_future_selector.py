"""Chooses a product's dominant (主力) future and decides when to roll over to a new one.

The dominant contract is the candidate with the most volume, then the most
open interest (then the nearer expiry, then the vt_symbol, so the choice is
deterministic), among contracts with more than ``min_days_to_expiry``
calendar days left.

Rollover is checked once per trading day at or after ``rollover_check_time``
(14:50 exchange time, before the 15:00 close). The strategy moves only
forward in time: to a contract expiring after the current one, or to the
dominant one when the current contract is no longer eligible (near expiry or
no longer listed); a dominant contract that flips back for a day is ignored.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time

from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.domain.value_object.future_quote import FutureQuote
from src.strategy.domain.value_object.validation import require_aware, require_int


@dataclass(frozen=True)
class FutureSelectorSettings:
    min_days_to_expiry: int = 5
    rollover_check_time: time = time(14, 50)

    def __post_init__(self) -> None:
        require_int("FutureSelectorSettings", "min_days_to_expiry", self.min_days_to_expiry, 0)
        if not isinstance(self.rollover_check_time, time):
            raise TypeError("FutureSelectorSettings.rollover_check_time must be a datetime.time")


class BaseFutureSelector:
    def __init__(self, settings: FutureSelectorSettings = FutureSelectorSettings()) -> None:
        self.settings = settings
        self._last_check_day: date | None = None

    def eligible(self, candidates: Iterable[FutureQuote], today: date) -> list[FutureQuote]:
        return [quote for quote in candidates if quote.days_to_expiry(today) > self.settings.min_days_to_expiry]

    def select_dominant(self, candidates: Iterable[FutureQuote], today: date) -> FutureQuote | None:
        """The dominant eligible contract, or None when none is eligible."""
        candidates = list(candidates)
        products = {quote.product for quote in candidates}
        if len(products) > 1:
            raise ValueError(f"BaseFutureSelector: candidates of several products {sorted(products)}; pass one product")
        eligible = self.eligible(candidates, today)
        if not eligible:
            return None
        return min(eligible, key=lambda q: (-q.volume, -q.open_interest, q.expiry, q.vt_symbol))

    def should_check_rollover(self, now: datetime) -> bool:
        """True on the first call at or after the check time of each day, False otherwise.

        A True answer is remembered, so call it once per bar and check when it
        says so. ``now`` is converted to exchange time.
        """
        local = require_aware("BaseFutureSelector.should_check_rollover", "now", now).astimezone(EXCHANGE_TIMEZONE)
        if local.time() < self.settings.rollover_check_time or local.date() == self._last_check_day:
            return False
        self._last_check_day = local.date()
        return True

    def check_rollover(self, current: str | None, candidates: Iterable[FutureQuote], today: date) -> str | None:
        """The vt_symbol to switch to, or None to keep ``current``."""
        candidates = list(candidates)
        dominant = self.select_dominant(candidates, today)
        if dominant is None or dominant.vt_symbol == current:
            return None
        held = next((quote for quote in self.eligible(candidates, today) if quote.vt_symbol == current), None)
        if held is None or dominant.expiry > held.expiry:
            return dominant.vt_symbol
        return None
