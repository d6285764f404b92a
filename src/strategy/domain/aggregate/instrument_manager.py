"""Aggregate root of market data: per product, its active future, window bars,
indicator cache and option chain."""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime

from src.strategy.domain.entity.target_instrument import TargetInstrument
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.instrument_events import ActiveContractChangedEvent
from src.strategy.domain.value_object.market import BarSnapshot, OptionQuote
from src.strategy.domain.value_object.validation import require_aware, require_int, require_text

# The index options listed on CFFEX, by the future product whose price stands in for their index.
CFFEX_OPTION_PRODUCTS: Mapping[str, str] = {"IF": "IO", "IM": "MO", "IH": "HO"}


class InstrumentManager:
    def __init__(self, products: Iterable[str] = (), bar_history: int = 200,
                 option_products: Mapping[str, str] = CFFEX_OPTION_PRODUCTS) -> None:
        self._bar_history = require_int("InstrumentManager", "bar_history", bar_history, 1)
        self._option_products = dict(option_products)
        self._instruments: dict[str, TargetInstrument] = {}
        self._events: list[DomainEvent] = []
        for product in products:
            self.add_product(product)

    def add_product(self, product: str) -> TargetInstrument:
        require_text("InstrumentManager", "product", product)
        if product not in self._instruments:
            self._instruments[product] = TargetInstrument(
                product, self._option_products.get(product), max_bars=self._bar_history)
        return self._instruments[product]

    def products(self) -> list[str]:
        return list(self._instruments)

    def get(self, product: str) -> TargetInstrument:
        try:
            return self._instruments[product]
        except KeyError:
            raise KeyError(f"unknown product {product!r}; known: {sorted(self._instruments)}") from None

    def active_contract(self, product: str) -> str | None:
        return self.get(product).active_vt_symbol

    def active_contracts(self) -> dict[str, str]:
        return {product: instrument.active_vt_symbol for product, instrument in self._instruments.items()
                if instrument.active_vt_symbol is not None}

    def set_active_contract(self, product: str, vt_symbol: str, at: datetime, keep_history: bool = False) -> bool:
        """Makes ``vt_symbol`` the product's future; returns False if it already was.

        A change records an ``ActiveContractChangedEvent``. The old contract's bars
        are dropped unless ``keep_history`` (see ``TargetInstrument.set_active_contract``).
        """
        require_aware("InstrumentManager.set_active_contract", "at", at)
        instrument = self.add_product(product)
        previous = instrument.active_vt_symbol
        if previous == vt_symbol:
            return False
        instrument.set_active_contract(vt_symbol, keep_history=keep_history)
        self._events.append(ActiveContractChangedEvent(
            occurred_at=at, product=product, previous_vt_symbol=previous, vt_symbol=vt_symbol))
        return True

    def product_of(self, vt_symbol: str) -> str | None:
        """The product whose active future is ``vt_symbol``."""
        for product, instrument in self._instruments.items():
            if instrument.active_vt_symbol == vt_symbol:
                return product
        return None

    def update_bar(self, bar: BarSnapshot) -> TargetInstrument | None:
        """Stores a window bar of an active future and returns its instrument.

        Returns None (bar not stored) when ``bar`` belongs to no product's active
        future (say the contract just rolled away from) or is not later than the
        last stored bar: such a bar must not reach the indicators.
        """
        product = self.product_of(bar.vt_symbol)
        if product is None:
            return None
        instrument = self._instruments[product]
        return instrument if instrument.append_bar(bar) else None

    def update_option_quote(self, quote: OptionQuote) -> TargetInstrument | None:
        """Stores the quote in the instrument of the future product its option product maps to;
        returns None (quote not stored) for an option on no managed product."""
        for instrument in self._instruments.values():
            if instrument.option_product == quote.contract.product:
                instrument.update_option_quote(quote)
                return instrument
        return None

    def chain(self, product: str) -> list[OptionQuote]:
        """The latest quotes of every option on ``product`` (the future product, "IF")."""
        return list(self.get(product).option_quotes.values())

    def prune_expired_options(self, today: date) -> list[str]:
        return [symbol for instrument in self._instruments.values()
                for symbol in instrument.prune_expired_options(today)]

    def pop_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events
