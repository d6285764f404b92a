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

from src.core.config.pre_trade_schema import PreTradeConfig
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
    # How the selector picks the strike: the liquid option whose |per-lot delta| is in
    # [target_delta_min, target_delta_max], nearest the middle (the default), or the strike_level-th
    # out-of-the-money strike (the simple mode, which needs no pricing).
    strike_selection: Literal["strike_level", "delta"] = "delta"
    target_delta_min: float = field(default=0.15, metadata=bounded(gt=0.0, lt=1.0))
    target_delta_max: float = field(default=0.25, metadata=bounded(gt=0.0, lt=1.0))
    # What the signals trade: "options" (sell puts/calls, the default) or "futures" (long/short the
    # product's dominant future; src/strategy/domain/domain_service/futures_side.py). The two ratios are
    # the futures side's stop and target, fractions of the entry price (off when null).
    trade_instrument: Literal["options", "futures"] = "options"
    futures_stop_loss_ratio: float | None = field(default=None, metadata=bounded(gt=0.0, lt=1.0))
    futures_profit_target_ratio: float | None = field(default=None, metadata=bounded(gt=0.0, lt=1.0))

    def __post_init__(self) -> None:
        if self.target_delta_min > self.target_delta_max:
            raise InvalidField("target_delta_max", f"{self.target_delta_max} is below target_delta_min "
                                                   f"{self.target_delta_min}")
        if self.trade_instrument != "futures":
            for name in ("futures_stop_loss_ratio", "futures_profit_target_ratio"):
                if getattr(self, name) is not None:
                    raise InvalidField(name, f"applies only with trade_instrument: futures (it is "
                                             f"{self.trade_instrument!r})")


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
    # A gap between two trading periods no longer than this (seconds) keeps the child running, idle
    # (src.core.process.session_gap); a longer one stops it. 0: stop at every period's end.
    keep_child_through_gap: float = field(default=7200.0, metadata=bounded(ge=0.0, le=86400.0))
    # The child's working orders at the start of a kept gap: left at the exchange, or cancelled.
    gap_working_orders: Literal["keep", "cancel"] = "keep"

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
class MoneyLimitConfig:
    """A money limit: ``soft`` refuses openings that increase the breach, ``hard`` (>= soft) sends reducing
    orders."""

    soft: float = field(metadata=bounded(gt=0.0))
    hard: float | None = field(default=None, metadata=bounded(gt=0.0))

    def __post_init__(self) -> None:
        if self.hard is not None and self.hard < self.soft:
            raise InvalidField("hard", f"must be >= soft ({self.soft}), got {self.hard}")


@dataclass(frozen=True)
class MoneyLimitSetConfig:
    """CNY: delta per 1% move, gamma (delta change) per 1% move, vega per vol point, theta per trading day;
    a metric left out is not checked."""

    delta: MoneyLimitConfig | None = None
    gamma: MoneyLimitConfig | None = None
    vega: MoneyLimitConfig | None = None
    theta: MoneyLimitConfig | None = None


@dataclass(frozen=True)
class CashLimitsConfig:
    """``greeks_risk.cash_limits``: limits in money per underlying (IF+IO, IM+MO, ...) and for the book."""

    per_underlying: MoneyLimitSetConfig
    book: MoneyLimitSetConfig
    on_hard_breach: Literal["close_largest", "hedge"] = "close_largest"


@dataclass(frozen=True)
class TimeToExpiryConfig:
    """``greeks_risk.time_to_expiry``: trading time (weekends and closures weighted) or ACT/365."""

    basis: Literal["trading", "calendar"] = "trading"
    non_trading_day_weight: float = field(default=0.1, metadata=bounded(ge=0.0, le=1.0))
    trading_days_per_year: int = field(default=244, metadata=bounded(ge=200, le=366))


@dataclass(frozen=True)
class GreeksRiskConfig:
    risk_free_rate: float = field(metadata=bounded(gt=-0.1, lt=1.0))
    # The former limits per option lot (no multiplier, no price: they add CSI 300 to CSI 1000 deltas).
    # Still honoured when given (one alone leaves the other scope unchecked); cash_limits are the ones in
    # money. README "Risk in money" translates the former into the latter.
    position_limits: GreeksLimits | None = None
    portfolio_limits: GreeksLimits | None = None
    cash_limits: CashLimitsConfig | None = None
    time_to_expiry: TimeToExpiryConfig = field(default_factory=TimeToExpiryConfig)

@dataclass(frozen=True)
class OrderExecutionConfig:
    timeout_seconds: float = field(metadata=bounded(gt=0.0))
    max_retries: int = field(metadata=bounded(ge=0))
    slippage_ticks: int = field(metadata=bounded(ge=0))
    # A close that times out is sent again at the far touch, then this many ticks through it (0: no escalation).
    close_escalation_ticks: int = field(default=5, metadata=bounded(ge=0, le=1000))


@dataclass(frozen=True)
class DeltaHedgingConfig:
    target_delta: float
    hedging_band: float = field(metadata=bounded(ge=0.0))
    enabled: bool = False
    max_hedge_lots: int | None = field(default=None, metadata=bounded(ge=1))
    # Less churn (README "Hedging with less churn"): the band's floor in lots of the hedge future, a
    # cost-aware band, and which month hedges.
    min_band_lots: float = field(default=1.0, metadata=bounded(ge=0.0))
    band_model: Literal["fixed", "whalley_wilmott"] = "fixed"
    cost_rate: float = field(default=0.0001, metadata=bounded(ge=0.0, lt=0.01))
    risk_aversion: float = field(default=1e-6, metadata=bounded(gt=0.0))
    hedge_month: Literal["options", "dominant"] = "options"


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
            gamma_scalping_enabled=gamma.enabled, max_hedge_lots=delta.max_hedge_lots,
            min_band_lots=delta.min_band_lots, band_model=delta.band_model, cost_rate=delta.cost_rate,
            risk_aversion=delta.risk_aversion, hedge_month=delta.hedge_month)


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
class ExpiryConfig:
    """``expiry:``: an option's last days. ``close_days_before``: the EXPIRY close rule (close when this
    many calendar days or fewer are left); ``risk_alerts``: an ``ExpiryRiskEvent`` from the last trading
    day before the expiry for every held option in the money or within ``pin_distance`` (a share of the
    strike) of it."""

    close_days_before: int = field(default=2, metadata=bounded(ge=0, le=365))
    risk_alerts: bool = True
    pin_distance: float = field(default=0.01, metadata=bounded(ge=0.0, lt=1.0))


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
class WarmupConfig:
    """``warmup:``: where a live warm-up takes the 1-minute bars of the futures the recorder did not write
    (``src/strategy/infrastructure/persistence/warmup_history.py``), in order; the database comes first."""

    fallback: tuple[Literal["gateway", "datafeed"], ...] = ("gateway", "datafeed")
    datafeed: Literal["", "tushare", "akshare"] = ""  # "": vnpy's datafeed.name setting
    min_gap_minutes: int = field(default=5, metadata=bounded(ge=1, le=1440))

    def __post_init__(self) -> None:
        for index, name in enumerate(self.fallback):
            if self.fallback.index(name) != index:
                raise InvalidField(f"fallback[{index}]", f"{name!r} is listed twice")


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
    warmup: WarmupConfig = field(default_factory=WarmupConfig)
    expiry: ExpiryConfig = field(default_factory=ExpiryConfig)
    pre_trade: PreTradeConfig = field(default_factory=PreTradeConfig)

    def __post_init__(self) -> None:
        if not self.strategies:
            raise InvalidField("strategies", "needs at least one strategy")
        names = [s.strategy_name for s in self.strategies]
        for index, name in enumerate(names):
            if names.index(name) != index:
                raise InvalidField(f"strategies[{index}].strategy_name",
                                   f"strategy_name {name!r} is already used by strategies[{names.index(name)}]")
        hedging = self.hedging.delta_hedging.enabled or self.hedging.gamma_scalping.enabled
        for index, strategy in enumerate(self.strategies):
            if strategy.setting.trade_instrument == "futures" and hedging:
                raise InvalidField(f"strategies[{index}].setting.trade_instrument",
                                   "futures trades the signals in the future itself, with hedging off: set "
                                   "hedging.delta_hedging.enabled and hedging.gamma_scalping.enabled to false")
