"""Contract metadata for backtests (``ContractRegistry``) and vnpy ``ContractData`` (``ContractFactory``).

The factory derives everything from the symbol: product and month through
``ContractHelper``, the exchange through ``ExchangeResolver``, multiplier,
tick and margin from the product specs of ``src.backtesting.config``, and an
option's expiry through ``ExpiryCalculator``. Option expiries are stamped at
15:00 exchange time, the end of the last trading session.
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime, time

from vnpy.trader.constant import Exchange, OptionType, Product
from vnpy.trader.object import ContractData

from src.core.contract.product_spec import DEFAULT_PRODUCT_SPECS, ProductSpec
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.core.contract.exchange_resolver import (
    ExchangeResolver,
    UnsupportedProductError,
)
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.core.config.errors import UserInputError
from src.core.contract.contract_helper import ContractHelper, ContractMonth

GATEWAY_NAME = "BACKTESTING"
EXPIRY_TIME = time(15, 0)


class UnknownContractError(UserInputError):
    """A vt_symbol that is not in the registry."""


@dataclass(frozen=True)
class ContractInfo:
    """What a backtest needs to know about one contract; option fields are None for futures."""

    symbol: str
    exchange: Exchange
    product: str
    size: float
    pricetick: float
    margin_ratio: float
    contract_month: ContractMonth
    expiry: date | None = None
    option_type: OptionType | None = None
    strike: float | None = None
    underlying_vt_symbol: str | None = None

    def __post_init__(self) -> None:
        if not self.symbol or not isinstance(self.exchange, Exchange):
            raise ValueError(f"contract needs a symbol and a vnpy Exchange, got {self.symbol!r}, {self.exchange!r}")
        for name in ("size", "pricetick", "margin_ratio"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
                raise ValueError(f"{self.vt_symbol}: {name} must be positive, got {value!r}")
        option_fields = (self.option_type, self.strike, self.underlying_vt_symbol, self.expiry)
        if self.option_type is not None:
            if any(value is None for value in option_fields):
                raise ValueError(f"{self.vt_symbol}: an option needs option_type, strike, underlying and expiry")
            if not isinstance(self.option_type, OptionType):
                raise TypeError(f"{self.vt_symbol}: option_type must be a vnpy OptionType")
            if not self.strike > 0:
                raise ValueError(f"{self.vt_symbol}: strike must be positive, got {self.strike}")
        elif self.strike is not None or self.underlying_vt_symbol is not None:
            raise ValueError(f"{self.vt_symbol}: strike/underlying given without an option_type")

    @property
    def vt_symbol(self) -> str:
        return f"{self.symbol}.{self.exchange.value}"

    @property
    def is_option(self) -> bool:
        return self.option_type is not None

    @property
    def expiry_datetime(self) -> datetime | None:
        return None if self.expiry is None else datetime.combine(self.expiry, EXPIRY_TIME, EXCHANGE_TIMEZONE)


class ContractRegistry:
    """vt_symbol -> ContractInfo; registering the same contract twice is allowed, a conflicting one is not."""

    def __init__(self, contracts: Iterable[ContractInfo] = ()) -> None:
        self._contracts: dict[str, ContractInfo] = {}
        for info in contracts:
            self.register(info)

    def register(self, info: ContractInfo) -> ContractInfo:
        if not isinstance(info, ContractInfo):
            raise TypeError(f"register expects a ContractInfo, got {type(info).__name__}")
        existing = self._contracts.get(info.vt_symbol)
        if existing is not None and existing != info:
            raise ValueError(f"{info.vt_symbol} is already registered with different terms: {existing} vs {info}")
        self._contracts[info.vt_symbol] = info
        return info

    def get(self, vt_symbol: str) -> ContractInfo:
        info = self._contracts.get(vt_symbol)
        if info is None:
            raise UnknownContractError(f"contract {vt_symbol!r} is not registered for this backtest")
        return info

    def find(self, vt_symbol: str) -> ContractInfo | None:
        return self._contracts.get(vt_symbol)

    def all(self) -> list[ContractInfo]:
        return list(self._contracts.values())

    def futures(self) -> list[ContractInfo]:
        return [info for info in self._contracts.values() if not info.is_option]

    def options_of(self, underlying_vt_symbol: str) -> list[ContractInfo]:
        return [info for info in self._contracts.values() if info.underlying_vt_symbol == underlying_vt_symbol]

    def sizes(self) -> dict[str, float]:
        return {vt: info.size for vt, info in self._contracts.items()}

    def priceticks(self) -> dict[str, float]:
        return {vt: info.pricetick for vt, info in self._contracts.items()}

    def __contains__(self, vt_symbol: object) -> bool:
        return vt_symbol in self._contracts

    def __len__(self) -> int:
        return len(self._contracts)

    def __iter__(self) -> Iterator[ContractInfo]:
        return iter(list(self._contracts.values()))


class ContractFactory:
    """Builds ContractInfo from symbols and vnpy ContractData from ContractInfo."""

    def __init__(self, expiry_calculator: ExpiryCalculator,
                 product_specs: Mapping[str, ProductSpec] = DEFAULT_PRODUCT_SPECS,
                 resolver: ExchangeResolver | None = None,
                 helper: ContractHelper | None = None) -> None:
        self.expiry_calculator = expiry_calculator
        self.product_specs = product_specs
        self.resolver = resolver or expiry_calculator.resolver
        self.helper = helper or ContractHelper()

    def info(self, symbol: str) -> ContractInfo:
        """The ContractInfo of a futures or option symbol (``IF2601``, ``IO2601-C-4000``)."""
        if self.helper.is_option(symbol):
            return self._option_info(symbol)
        return self._future_info(symbol)

    def register(self, registry: ContractRegistry, symbols: Iterable[str]) -> list[ContractInfo]:
        return [registry.register(self.info(symbol)) for symbol in symbols]

    def _spec(self, product: str) -> ProductSpec:
        spec = self.product_specs.get(product)
        if spec is None:
            raise UnsupportedProductError(
                f"no product spec (multiplier, tick, margin) for {product}; known: {', '.join(sorted(self.product_specs))}")
        return spec

    def _future_info(self, symbol: str) -> ContractInfo:
        parsed = self.helper.parse_future(symbol)
        product = self.resolver.normalize(parsed.product)
        spec = self._spec(product)
        return ContractInfo(
            symbol=symbol,
            exchange=self.resolver.resolve(product),
            product=product,
            size=spec.multiplier,
            pricetick=spec.pricetick,
            margin_ratio=spec.margin_ratio,
            contract_month=parsed.contract_month,
            expiry=self.expiry_calculator.expiry_date(product, parsed.contract_month),
        )

    def _option_info(self, symbol: str) -> ContractInfo:
        parsed = self.helper.parse_option(symbol)
        product = self.resolver.normalize(parsed.product)
        spec = self._spec(product)
        exchange = self.resolver.resolve(product)
        underlying_exchange = self.resolver.resolve(parsed.underlying_product)
        return ContractInfo(
            symbol=symbol,
            exchange=exchange,
            product=product,
            size=spec.multiplier,
            pricetick=spec.pricetick,
            margin_ratio=spec.margin_ratio,
            contract_month=parsed.contract_month,
            expiry=self.expiry_calculator.expiry_date(product, parsed.contract_month),
            option_type=parsed.option_type,
            strike=parsed.strike,
            underlying_vt_symbol=f"{parsed.underlying_symbol}.{underlying_exchange.value}",
        )

    @staticmethod
    def contract_data(info: ContractInfo) -> ContractData:
        """vnpy's ContractData; options carry strike, underlying vt_symbol, type, expiry, portfolio, index."""
        is_option = info.is_option
        contract = ContractData(
            symbol=info.symbol,
            exchange=info.exchange,
            name=info.symbol,
            product=Product.OPTION if is_option else Product.FUTURES,
            size=info.size,
            pricetick=info.pricetick,
            history_data=True,
            gateway_name=GATEWAY_NAME,
        )
        if is_option:
            contract.option_strike = info.strike
            contract.option_underlying = info.underlying_vt_symbol
            contract.option_type = info.option_type
            contract.option_expiry = info.expiry_datetime
            # vnpy's option apps group a chain by portfolio (product) and pair a call with its put by index.
            contract.option_portfolio = info.product
            contract.option_index = _strike_text(info.strike)
        return contract

    def create(self, symbol: str) -> ContractData:
        return self.contract_data(self.info(symbol))


def _strike_text(strike: float) -> str:
    return format(float(strike), "f").rstrip("0").rstrip(".")
