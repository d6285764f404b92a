"""The products a process may trade: the trading-target file, checked once for every command.

A product must be a listed futures product with listed options (the strategy
sells options on it) and have a contract specification (multiplier, tick,
margin). The backtest, the live and paper processes and the configuration
checker all load the targets through ``load_tradable_targets``, so each says
the same thing, naming the file and the entry, about the same file.
"""
from __future__ import annotations

from pathlib import Path

from src.core.config.config_loader import DEFAULT_TRADING_TARGET, load_trading_targets
from src.core.config.errors import ConfigError, UserInputError
from src.core.contract.exchange_resolver import ExchangeResolver, UnknownProductError
from src.core.contract.product_spec import DEFAULT_PRODUCT_SPECS


class NotTradableError(UserInputError):
    """A product the strategy cannot trade; the message says why, without the file."""


def tradable_product(product: str, resolver: ExchangeResolver) -> str:
    """The product's code when it can be traded (see the module doc); ``NotTradableError`` otherwise."""
    try:
        code = resolver.normalize(product)
    except UnknownProductError:
        raise NotTradableError(f"unknown product {product!r} (known: {', '.join(resolver.products())})") from None
    if not resolver.option_products_of(code):
        raise NotTradableError(f"product {code} has no listed options to trade")
    if code not in DEFAULT_PRODUCT_SPECS:
        raise NotTradableError(f"no contract specification (multiplier, tick, margin) for {code}; "
                               f"known: {', '.join(sorted(DEFAULT_PRODUCT_SPECS))}")
    return code


def load_tradable_targets(path: str | Path = DEFAULT_TRADING_TARGET,
                          resolver: ExchangeResolver | None = None) -> tuple[str, ...]:
    resolver = resolver or ExchangeResolver()
    checked = []
    for index, product in enumerate(load_trading_targets(path)):
        try:
            checked.append(tradable_product(product, resolver))
        except NotTradableError as error:
            raise ConfigError(path, f"[{index}]", str(error)) from None
    return tuple(checked)
