"""The contracts a live or paper strategy process trades: what its selectors can choose from.

``BaseFutureSelector`` picks each product's dominant future among the listed
ones, and ``OptionSelectorService`` an option of that future. The process
therefore subscribes, for every product of ``config/general/trading_target.yaml``:

- replay (``from_history``): the futures ``SymbolGenerator`` lists over the
  dates that have 1-minute bars in the replay's source, and their options that
  ``OptionDiscoveryService`` finds there with bars over the dates: the rule of
  the backtest, so a replay and a backtest of the same dates trade the same
  contracts;
- live (``from_contracts``): the futures the gateways list (CTP sends every
  contract after login) and, among the gateways' options on those futures,
  the ones expiring within ``OptionSelectorSettings.max_days_to_expiry`` days
  (longer-dated options can be neither opened nor held). The process restarts
  every trading day, so the list follows the listings.

Contract terms (multiplier, tick, expiry) come from ``ContractFactory``, the
same place the strategy and the backtest take them from.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Protocol

from vnpy.trader.constant import Product
from vnpy.trader.database import BarOverview
from vnpy.trader.object import ContractData

from src.core.contract.product_spec import DEFAULT_PRODUCT_SPECS
from src.core.contract.contract_registry import ContractFactory, ContractInfo
from src.core.contract.exchange_resolver import ExchangeResolver, UnsupportedProductError
from src.core.contract.trading_targets import NotTradableError, tradable_product
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.core.contract.option_discovery import OptionDiscoveryService
from src.core.contract.symbol_generator import SymbolGenerator
from src.core.config.errors import UserInputError
from src.strategy.domain.domain_service.option_selector_service import OptionSelectorSettings
from src.strategy.domain.value_object.trading_calendar import TradingCalendar

logger = logging.getLogger(__name__)


class BarOverviewSource(Protocol):
    def get_bar_overview(self) -> list[BarOverview]: ...


@dataclass(frozen=True)
class Universe:
    futures: tuple[ContractInfo, ...]
    options: tuple[ContractInfo, ...]

    @property
    def contracts(self) -> tuple[ContractInfo, ...]:
        return self.futures + self.options

    @property
    def vt_symbols(self) -> list[str]:
        return sorted(info.vt_symbol for info in self.contracts)

    def describe(self) -> str:
        return (f"{len(self.futures)} futures ({', '.join(sorted(f.vt_symbol for f in self.futures))}) "
                f"and {len(self.options)} options")


class UniverseBuilder:
    def __init__(self, products: Sequence[str], calendar: TradingCalendar,
                 resolver: ExchangeResolver | None = None) -> None:
        self.resolver = resolver or ExchangeResolver()
        self.expiry_calculator = ExpiryCalculator(calendar, self.resolver)
        self.factory = ContractFactory(self.expiry_calculator, DEFAULT_PRODUCT_SPECS, self.resolver)
        self.generator = SymbolGenerator(self.expiry_calculator)
        self.products = tuple(self._checked(product) for product in products)

    def _checked(self, product: str) -> str:
        try:
            return tradable_product(product, self.resolver)
        except NotTradableError as error:
            raise UserInputError(f"trading_target.yaml: {error}") from None

    # ----------------------------------------------------------------- replay
    def from_history(self, source: BarOverviewSource, start: date, end: date, where: str) -> Universe:
        """Futures listed over ``[start, end]`` with bars in ``source``, and their options with bars then."""
        overview = source.get_bar_overview()
        with_bars = {f"{o.symbol}.{o.exchange.value}" for o in overview
                     if o.exchange is not None and o.start is not None and o.end is not None
                     and o.start.date() <= end and o.end.date() >= start}
        futures: list[str] = []
        for product in self.products:
            try:
                listed = [self.resolver.vt_symbol(s) for s in self.generator.symbols(product, start, end)]
            except UnsupportedProductError as error:
                raise UserInputError(f"trading_target.yaml: {error}") from None
            found = [vt for vt in listed if vt in with_bars]
            if not found:
                raise UserInputError(
                    f"no 1-minute bars of {product} futures ({', '.join(listed)}) between {start} and {end} in "
                    f"{where}; import history with python -m src.main.data import-ticks, or replay the sample "
                    f"market dates (2026-01-05 to 2026-02-06)")
            futures.extend(found)
        window_start, window_end = datetime.combine(start, time.min), datetime.combine(end, time.max)
        options: list[str] = []
        for found in OptionDiscoveryService(source, self.resolver).discover(futures).values():
            options.extend(o.parsed.symbol for o in found
                           if o.first_bar is not None and o.last_bar is not None
                           and o.first_bar.replace(tzinfo=None) <= window_end
                           and o.last_bar.replace(tzinfo=None) >= window_start)
        if not options:
            raise UserInputError(f"no option bars for {', '.join(futures)} between {start} and {end} in {where}: "
                                 "the strategy trades options")
        return Universe(
            futures=tuple(self.factory.info(vt.rsplit(".", 1)[0]) for vt in futures),
            options=tuple(self.factory.info(symbol) for symbol in options),
        )

    # ------------------------------------------------------------------- live
    def from_contracts(self, contracts: Iterable[ContractData], today: date,
                       max_days_to_expiry: int = OptionSelectorSettings().max_days_to_expiry) -> Universe:
        """The gateways' futures of the products and their options expiring within ``max_days_to_expiry``."""
        contracts = list(contracts)
        futures: dict[str, ContractInfo] = {}
        skipped = 0
        for contract in contracts:
            if contract.product is not Product.FUTURES:
                continue
            info = self._info(contract.symbol)
            if info is None or info.is_option or info.product not in self.products:
                skipped += info is None
                continue
            if info.expiry is not None and info.expiry >= today:
                futures[info.vt_symbol] = info
        last_expiry = today + timedelta(days=max_days_to_expiry)
        options: list[ContractInfo] = []
        for contract in contracts:
            if contract.product is not Product.OPTION:
                continue
            info = self._info(contract.symbol)
            if info is None or not info.is_option:
                skipped += info is None
                continue
            if info.underlying_vt_symbol in futures and today <= info.expiry <= last_expiry:
                options.append(info)
        missing = [p for p in self.products if not any(f.product == p for f in futures.values())]
        if missing:
            raise UserInputError(f"the gateways list no futures of {', '.join(missing)} "
                                 f"({len(contracts)} contracts received): check trading_target.yaml")
        if skipped:
            logger.debug("universe: %d gateway contracts have no contract specification here and were skipped",
                         skipped)
        return Universe(futures=tuple(sorted(futures.values(), key=lambda f: f.vt_symbol)),
                        options=tuple(sorted(options, key=lambda o: o.vt_symbol)))

    def _info(self, symbol: str) -> ContractInfo | None:
        try:
            return self.factory.info(symbol)
        except (ValueError, UserInputError):
            return None
