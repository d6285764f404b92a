"""``pre_trade:`` of ``config/strategy_config.yaml``: the pre-trade gate's limits, reduce-only and the
kill switch's polling. The shipped file dates its defaults and names their sources."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from src.core.config.typed_builder import InvalidField, bounded
from src.strategy.domain.value_object.pre_trade_limits import PreTradeLimits, ProductLimits


@dataclass(frozen=True)
class BudgetConfig:
    """Per product and trading day (``max_position_lots``: held, both sides, at any time)."""

    max_orders_per_day: int = field(metadata=bounded(ge=1))
    max_cancels_per_day: int = field(metadata=bounded(ge=1))
    max_open_lots_per_day: int = field(metadata=bounded(ge=1))
    max_position_lots: int = field(metadata=bounded(ge=1))

    def to_domain(self) -> ProductLimits:
        return ProductLimits(self.max_orders_per_day, self.max_cancels_per_day, self.max_open_lots_per_day,
                             self.max_position_lots)


@dataclass(frozen=True)
class ProductBudgetConfig(BudgetConfig):
    product: str = field(default="", metadata=bounded(pattern=r"[A-Za-z]{1,4}"))


_DEFAULT_OPTIONS = BudgetConfig(1000, 500, 200, 5000)
_DEFAULT_FUTURES = BudgetConfig(1000, 400, 500, 5000)


@dataclass(frozen=True)
class PreTradeConfig:
    enabled: bool = True
    as_of: str = ""
    source: str = ""
    warning_share: float = field(default=0.8, metadata=bounded(gt=0.0, le=1.0))
    options: BudgetConfig = _DEFAULT_OPTIONS
    futures: BudgetConfig = _DEFAULT_FUTURES
    products: tuple[ProductBudgetConfig, ...] = ()
    max_daily_loss: float | None = field(default=None, metadata=bounded(gt=0.0))
    locked_hedge: Literal["next_month", "wait"] = "next_month"
    stale_quote_seconds: float = field(default=180.0, metadata=bounded(gt=0.0))
    stale_quote_scope: Literal["underlying", "contract"] = "underlying"
    control_poll_seconds: float = field(default=1.0, metadata=bounded(gt=0.0))

    def __post_init__(self) -> None:
        names = [entry.product for entry in self.products]
        for index, name in enumerate(names):
            if not name:
                raise InvalidField(f"products[{index}].product", "a product code is needed (IO, IF, ...)")
            if names.index(name) != index:
                raise InvalidField(f"products[{index}].product", f"product {name!r} is listed twice")

    def to_domain(self) -> PreTradeLimits:
        return PreTradeLimits(option_limits=self.options.to_domain(), future_limits=self.futures.to_domain(),
                              products={entry.product: entry.to_domain() for entry in self.products},
                              warning_share=self.warning_share, max_daily_loss=self.max_daily_loss,
                              locked_hedge=self.locked_hedge, enabled=self.enabled)
