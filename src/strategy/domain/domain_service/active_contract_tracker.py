"""Which future of each product the strategy follows (signals and hedges): its dominant (主力) one.

The tracker counts each listed future's volume over the trading day and keeps
its latest open interest; the first bars of a product choose its dominant
contract, and once a day, from the selector's rollover time on, it moves
forward to the next one when the market has (see ``BaseFutureSelector``).
The choice is recorded on the ``InstrumentManager``, which raises an
``ActiveContractChangedEvent``.
"""
from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime

from src.strategy.domain.aggregate.instrument_manager import InstrumentManager
from src.strategy.domain.domain_service.base_future_selector import BaseFutureSelector
from src.strategy.domain.value_object.future_quote import FutureQuote
from src.strategy.domain.value_object.validation import require_text


@dataclass(frozen=True)
class ListedFuture:
    vt_symbol: str
    product: str
    expiry: date

    def __post_init__(self) -> None:
        require_text("ListedFuture", "vt_symbol", self.vt_symbol)
        require_text("ListedFuture", "product", self.product)
        if not isinstance(self.expiry, date):
            raise TypeError(f"ListedFuture({self.vt_symbol!r}).expiry must be a date")


@dataclass(frozen=True)
class ActiveContractChange:
    product: str
    previous: str | None
    current: str


class ActiveContractTracker:
    def __init__(self, futures: Mapping[str, ListedFuture], selector: BaseFutureSelector,
                 instruments: InstrumentManager) -> None:
        self.futures = dict(futures)
        self.selector = selector
        self.instruments = instruments
        self._daily_volume: dict[str, float] = defaultdict(float)
        self._open_interest: dict[str, float] = {}
        self._volume_day: date | None = None

    def record(self, vt_symbol: str, volume: float, open_interest: float) -> None:
        """One minute of a listed future."""
        self._daily_volume[vt_symbol] += volume
        self._open_interest[vt_symbol] = open_interest

    def traded_today(self, vt_symbol: str) -> bool:
        """Whether the future printed volume today (what the hedge month choice asks)."""
        return self._daily_volume.get(vt_symbol, 0.0) > 0

    def start_day_if_new(self, at: datetime) -> bool:
        """True when ``at`` begins a new day: the day's volumes start again from zero."""
        today = at.date()
        if today == self._volume_day:
            return False
        self._daily_volume.clear()
        self._volume_day = today
        return True

    def choose(self, now: datetime) -> list[ActiveContractChange]:
        check_rollover = self.selector.should_check_rollover(now)
        changes = []
        for product in self.instruments.products():
            current = self.instruments.active_contract(product)
            if current is not None and not check_rollover:
                continue
            candidates = self._quotes(product)
            if current is None:
                chosen = self.selector.select_dominant(candidates, now.date())
                target = chosen.vt_symbol if chosen is not None else None
            else:
                target = self.selector.check_rollover(current, candidates, now.date())
            if target is not None and target != current:
                self.instruments.set_active_contract(product, target, now)
                changes.append(ActiveContractChange(product, current, target))
        return changes

    def _quotes(self, product: str) -> list[FutureQuote]:
        return [FutureQuote(vt_symbol=vt, product=info.product, expiry=info.expiry,
                            volume=self._daily_volume.get(vt, 0.0), open_interest=self._open_interest[vt])
                for vt, info in self.futures.items() if info.product == product and vt in self._open_interest]
