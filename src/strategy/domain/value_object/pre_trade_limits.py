"""The pre-trade gate's limits: exchange budgets per product and day, opening and position limits,
the daily loss, and what a hedge does when its contract is locked at a price limit.

The defaults are the configuration's (``pre_trade:`` in ``config/strategy_config.yaml``, dated and
sourced there); these values only say what a limit is and check it.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType

from src.strategy.domain.value_object.validation import require_int, require_text


class LockedHedgePolicy(StrEnum):
    """A hedge whose contract is locked at its limit against it: use the next listed month, or wait."""

    NEXT_MONTH = "next_month"
    WAIT = "wait"


@dataclass(frozen=True)
class ProductLimits:
    """Per product and trading day: orders sent, cancels sent, lots opened; and lots held (both sides)."""

    max_orders_per_day: int
    max_cancels_per_day: int
    max_open_lots_per_day: int
    max_position_lots: int

    def __post_init__(self) -> None:
        for name in ("max_orders_per_day", "max_cancels_per_day", "max_open_lots_per_day", "max_position_lots"):
            object.__setattr__(self, name, require_int("ProductLimits", name, getattr(self, name), 1))


@dataclass(frozen=True)
class PreTradeLimits:
    """``warning_share``: the share of an order or cancel budget at which openings stop (and an event
    says so); at the whole budget only closing orders pass. ``max_daily_loss``: the loss of the day
    (CNY, from the day's first mark) at which reduce-only starts; None for none."""

    option_limits: ProductLimits
    future_limits: ProductLimits
    products: Mapping[str, ProductLimits] = field(default_factory=dict)
    warning_share: float = 0.8
    max_daily_loss: float | None = None
    locked_hedge: LockedHedgePolicy = LockedHedgePolicy.NEXT_MONTH
    enabled: bool = True

    def __post_init__(self) -> None:
        if not 0.0 < self.warning_share <= 1.0:
            raise ValueError(f"PreTradeLimits.warning_share must be in (0, 1], got {self.warning_share!r}")
        if self.max_daily_loss is not None and not self.max_daily_loss > 0:
            raise ValueError(f"PreTradeLimits.max_daily_loss must be > 0 or None, got {self.max_daily_loss!r}")
        for product in self.products:
            require_text("PreTradeLimits", "products", product)
        object.__setattr__(self, "products", MappingProxyType(dict(self.products)))
        object.__setattr__(self, "locked_hedge", LockedHedgePolicy(self.locked_hedge))

    def for_product(self, product: str, is_option: bool) -> ProductLimits:
        found = self.products.get(product)
        if found is not None:
            return found
        return self.option_limits if is_option else self.future_limits

    def warning_level(self, budget: int) -> int:
        """The count at which a budget's warning starts (at least 1, at most the budget)."""
        return max(1, min(budget, int(budget * self.warning_share)))
