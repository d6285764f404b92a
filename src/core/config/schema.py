"""The typed shape of ``config/strategy_config.yaml`` (and its timeframe overrides).

Every key of the specification is here. Required keys have no default: the
shipped file holds them all, and a file that loses one is refused rather than
silently filled in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import time
import typing
from typing import Literal

from src.core.config.typed_builder import InvalidField, bounded
from src.strategy.domain.value_object.fee_schedule import FeeSchedule, ProductFees
from src.strategy.domain.value_object.hedging_config import HedgingConfig

# A period whose end is before its start is a night session crossing midnight:
# it must start in the evening and end in the early morning.
NIGHT_START_EARLIEST = time(18, 0)
NIGHT_END_LATEST = time(6, 0)


@dataclass(frozen=True)
class StrategySetting:
    max_positions: int = field(metadata=bounded(ge=1))
    position_ratio: float = field(metadata=bounded(gt=0.0, le=1.0))
    strike_level: int = field(metadata=bounded(ge=1))
    bar_window: int = field(metadata=bounded(ge=1))
    bar_interval: Literal["MINUTE", "HOUR"]
    # The liquidity filter of the option selector (OptionSelectorSettings).
    min_volume: float = field(default=10.0, metadata=bounded(ge=0.0))
    min_open_interest: float = field(default=100.0, metadata=bounded(ge=0.0))
    max_spread_ratio: float = field(default=0.1, metadata=bounded(gt=0.0))


# The strategy classes the framework ships; src.strategy.strategy_entry.STRATEGY_CLASSES maps each to its class
# (a test keeps the two equal). A new strategy class is added in both.
StrategyClassName = Literal["StrategyEntry"]
STRATEGY_CLASS_NAMES: tuple[str, ...] = typing.get_args(StrategyClassName)


@dataclass(frozen=True)
class StrategyDefinition:
    class_name: StrategyClassName
    setting: StrategySetting
    strategy_name: str = field(default="volatility_strategy", metadata=bounded(pattern=r"[A-Za-z0-9_\-]+"))


@dataclass(frozen=True)
class TradingPeriod:
    start: time
    end: time

    def __post_init__(self) -> None:
        if self.end == self.start:
            raise InvalidField("end", f"period {self.start:%H:%M}-{self.end:%H:%M} is empty")
        if self.end < self.start and not (self.start >= NIGHT_START_EARLIEST and self.end <= NIGHT_END_LATEST):
            raise InvalidField(
                "end",
                f"end {self.end:%H:%M} is before start {self.start:%H:%M}; only a night period "
                f"(start at or after {NIGHT_START_EARLIEST:%H:%M}, end by {NIGHT_END_LATEST:%H:%M}) may cross midnight",
            )

    @property
    def crosses_midnight(self) -> bool:
        return self.end < self.start

    def contains(self, moment: time) -> bool:
        if self.crosses_midnight:
            return moment >= self.start or moment < self.end
        return self.start <= moment < self.end


@dataclass(frozen=True)
class RuntimeConfig:
    """How the daemon supervises its child process (``src/core/process/parent_process.py``).

    Times are seconds. The keys after ``trading_periods`` have defaults, so an
    older configuration file keeps working; the shipped file spells them out.
    """

    max_restart_count: int = field(metadata=bounded(ge=0))
    restart_delay: float = field(metadata=bounded(gt=0.0))
    trading_periods: tuple[TradingPeriod, ...]
    # The restart delay doubles after each failure up to this cap.
    max_restart_delay: float = field(default=300.0, metadata=bounded(gt=0.0))
    # A child that ran this long without failing resets the restart count (and the delay).
    healthy_reset_seconds: float = field(default=3600.0, metadata=bounded(gt=0.0))
    # The child proves it is alive this often; the daemon replaces a child silent for heartbeat_timeout.
    heartbeat_interval: float = field(default=5.0, metadata=bounded(gt=0.0))
    heartbeat_timeout: float = field(default=60.0, metadata=bounded(gt=0.0))
    # After asking a child to stop (SIGTERM), wait this long before killing it (SIGKILL).
    stop_timeout: float = field(default=30.0, metadata=bounded(gt=0.0))
    # A live child that cannot log in to its gateways within this time exits (code 3) to be restarted.
    gateway_connect_timeout: float = field(default=120.0, metadata=bounded(gt=0.0))
    # Run the child only on exchange trading days (night periods: on the evening before one).
    trading_days_only: bool = True

    def __post_init__(self) -> None:
        if not self.trading_periods:
            raise InvalidField("trading_periods", "needs at least one period")
        if self.max_restart_delay < self.restart_delay:
            raise InvalidField("max_restart_delay", f"must be >= restart_delay ({self.restart_delay}), "
                                                    f"got {self.max_restart_delay}")
        if self.heartbeat_timeout < 2 * self.heartbeat_interval:
            raise InvalidField("heartbeat_timeout", f"must be at least twice heartbeat_interval "
                                                    f"({2 * self.heartbeat_interval}) so one late beat is "
                                                    f"not taken for a hang, got {self.heartbeat_timeout}")


@dataclass(frozen=True)
class GreeksLimits:
    delta: float = field(metadata=bounded(ge=0.0))
    gamma: float = field(metadata=bounded(ge=0.0))
    vega: float = field(metadata=bounded(ge=0.0))


@dataclass(frozen=True)
class GreeksRiskConfig:
    risk_free_rate: float = field(metadata=bounded(gt=-0.1, lt=1.0))
    position_limits: GreeksLimits
    portfolio_limits: GreeksLimits


@dataclass(frozen=True)
class OrderExecutionConfig:
    timeout_seconds: float = field(metadata=bounded(gt=0.0))
    max_retries: int = field(metadata=bounded(ge=0))
    slippage_ticks: int = field(metadata=bounded(ge=0))


@dataclass(frozen=True)
class DeltaHedgingConfig:
    target_delta: float
    hedging_band: float = field(metadata=bounded(ge=0.0))
    enabled: bool = False
    max_hedge_lots: int | None = field(default=None, metadata=bounded(ge=1))


@dataclass(frozen=True)
class GammaScalpingConfig:
    rebalance_threshold: float = field(metadata=bounded(gt=0.0))
    enabled: bool = False


@dataclass(frozen=True)
class HedgingSection:
    delta_hedging: DeltaHedgingConfig
    gamma_scalping: GammaScalpingConfig

    def __post_init__(self) -> None:
        # The domain's rules (one engine at a time) checked here, so the error names the key.
        try:
            self.to_domain()
        except ValueError as exc:
            raise InvalidField("gamma_scalping.enabled", str(exc)) from None

    def to_domain(self) -> HedgingConfig:
        delta, gamma = self.delta_hedging, self.gamma_scalping
        return HedgingConfig(
            target_delta=delta.target_delta, hedging_band=delta.hedging_band,
            rebalance_threshold=gamma.rebalance_threshold, delta_hedging_enabled=delta.enabled,
            gamma_scalping_enabled=gamma.enabled, max_hedge_lots=delta.max_hedge_lots)


@dataclass(frozen=True)
class AdvancedOrdersConfig:
    default_iceberg_batch_size: int = field(metadata=bounded(ge=1))
    default_twap_slices: int = field(metadata=bounded(ge=1))
    default_time_window_seconds: float = field(metadata=bounded(gt=0.0))


@dataclass(frozen=True)
class PutCallFilterConfig:
    """Optional: withhold SELL_PUT while the market's put/call ratio percentile is above max_percentile."""

    enabled: bool = False
    market: str = "US_INDEX"
    data_type: Literal["VOLUME", "OPEN_INTEREST"] = "VOLUME"
    window: int = field(default=252, metadata=bounded(ge=1))
    min_observations: int = field(default=60, metadata=bounded(ge=1))
    max_percentile: float = field(default=90.0, metadata=bounded(gt=0.0, le=100.0))


@dataclass(frozen=True)
class AccountConfig:
    """``account:``: the share of the account this process's strategies size against, so that several
    timeframe processes on one account never count the same money (their shares should sum to <= 1),
    and the broker's margin as a multiple of the exchange's."""

    capital_share: float = field(default=1.0, metadata=bounded(gt=0.0, le=1.0))
    broker_margin_multiplier: float = field(default=1.0, metadata=bounded(ge=1.0, le=10.0))


@dataclass(frozen=True)
class ProductFeeEntry:
    """One product's fees: CNY per lot plus fractions of turnover (price x multiplier x lots)."""

    product: str
    open_per_lot: float = field(default=0.0, metadata=bounded(ge=0.0))
    close_per_lot: float = field(default=0.0, metadata=bounded(ge=0.0))
    close_today_per_lot: float = field(default=0.0, metadata=bounded(ge=0.0))
    exercise_per_lot: float = field(default=0.0, metadata=bounded(ge=0.0))
    open_rate: float = field(default=0.0, metadata=bounded(ge=0.0, lt=0.01))
    close_rate: float = field(default=0.0, metadata=bounded(ge=0.0, lt=0.01))
    close_today_rate: float = field(default=0.0, metadata=bounded(ge=0.0, lt=0.01))


@dataclass(frozen=True)
class FeesConfig:
    """``fees:``: the exchange's schedule per product (dated, with its source) and the broker's add-on.
    Without products, the backtest keeps the product specs' turnover rates."""

    as_of: str = ""
    source: str = ""
    broker_per_lot: float = field(default=0.0, metadata=bounded(ge=0.0))
    products: tuple[ProductFeeEntry, ...] = ()

    def __post_init__(self) -> None:
        names = [entry.product for entry in self.products]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise InvalidField(f"products[{index}].product", f"product {name!r} is listed twice")

    def to_domain(self) -> FeeSchedule:
        return FeeSchedule({e.product: ProductFees(
            e.product, open_per_lot=e.open_per_lot, close_per_lot=e.close_per_lot,
            close_today_per_lot=e.close_today_per_lot, exercise_per_lot=e.exercise_per_lot, open_rate=e.open_rate,
            close_rate=e.close_rate, close_today_rate=e.close_today_rate) for e in self.products},
            broker_per_lot=self.broker_per_lot)


@dataclass(frozen=True)
class StrategyConfig:
    """Everything ``config/strategy_config.yaml`` (merged with an override) says."""

    strategies: tuple[StrategyDefinition, ...]
    runtime: RuntimeConfig
    greeks_risk: GreeksRiskConfig
    order_execution: OrderExecutionConfig
    hedging: HedgingSection
    advanced_orders: AdvancedOrdersConfig
    put_call_filter: PutCallFilterConfig = field(default_factory=PutCallFilterConfig)
    fees: FeesConfig = field(default_factory=FeesConfig)
    account: AccountConfig = field(default_factory=AccountConfig)

    def __post_init__(self) -> None:
        if not self.strategies:
            raise InvalidField("strategies", "needs at least one strategy")
        names = [s.strategy_name for s in self.strategies]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise InvalidField(f"strategies[{index}].strategy_name",
                                   f"strategy_name {name!r} is already used by strategies[{names.index(name)}]")
