"""Builds one strategy's trading cycle from the process's configuration tree.

A process loads its configuration once (``load_runtime``) and hands the
frozen tree to each strategy it creates; the strategy never reads a file.
The strategy's setting is the file's, with the parameters the platform gave
the strategy on top (a parameter sweep changes them), checked by the same
typed builder as the file.

Defaults and rules have one home each: the configuration's shape and bounds
are in ``src.core.config.schema``; the domain's own invariants (one hedging
engine at a time, sizing and selection bounds) in its value objects, which
the schema's checks call.
"""
from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.schema import StrategyConfig, StrategyDefinition, StrategySetting
from src.core.config.typed_builder import OriginMap, build
from src.core.contract.contract_registry import ContractFactory, ContractInfo
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.strategy.application.futures_side import FuturesSide
from src.strategy.application.book_risk import BookRisk
from src.strategy.application.handlers import EventLogHandler, MonitorEventHandler, StrategyCounters
from src.strategy.application.message_bus import MessageBus
from src.strategy.application.safeguards import GatedExecutionGateway, Safeguards
from src.strategy.application.trading_cycle import CyclePorts, CycleServices, TradingCycle
from src.strategy.domain.aggregate.instrument_manager import InstrumentManager
from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.active_contract_tracker import ActiveContractTracker, ListedFuture
from src.strategy.domain.domain_service.advanced_order_scheduler import AdvancedOrderScheduler
from src.strategy.domain.domain_service.base_future_selector import BaseFutureSelector
from src.strategy.domain.domain_service.delta_hedging_engine import DeltaHedgingEngine
from src.strategy.domain.domain_service.expiry_risk import ExpiryRiskSettings, ExpiryRiskWatch
from src.strategy.domain.domain_service.gamma_scalping_engine import GammaScalpingEngine
from src.strategy.domain.domain_service.futures_side import FuturesSideService, FuturesSideSettings
from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.indicator_service import IndicatorService, IndicatorSettings
from src.strategy.domain.domain_service.option_greeks_service import OptionGreeksService
from src.strategy.domain.domain_service.option_selector_service import (
    OptionSelectorService,
    OptionSelectorSettings,
)
from src.strategy.domain.domain_service.portfolio_delta import DeltaBandTracker
from src.strategy.domain.domain_service.portfolio_risk_aggregator import PortfolioRiskAggregator
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService, SizingSettings
from src.strategy.domain.domain_service.signal_service import SignalService, SignalSettings
from src.strategy.domain.domain_service.smart_order_executor import SmartOrderExecutor
from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.interface.trade_execution_gateway import ITradeExecutionGateway
from src.strategy.domain.value_object.advanced_order import AdvancedOrderSettings
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.execution_settings import ExecutionSettings
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType
from src.strategy.domain.value_object.put_call_sentiment import PutCallFilter
from src.strategy.domain.value_object.risk import GreeksLimits, RiskThresholds
from src.strategy.domain.domain_service.time_to_expiry import TradingTimeToExpiry
from src.strategy.domain.value_object.cash_risk import CashRiskLimits, MoneyLimit, MoneyLimits
from src.strategy.domain.value_object.trading_calendar import TradingCalendar
from src.strategy.domain.value_object.exchange_time import TRADING_MINUTES_PER_DAY
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

# Enough window bars for the slowest indicator, twice over, and never fewer than this.
MIN_BAR_HISTORY = 200


@dataclass(frozen=True)
class StrategyRuntime:
    """What a process hands each strategy it creates: the configuration tree, loaded once, and the
    persistence the process wired (all optional: a backtest has none).

    ``state_repository``: StateRepository (load/save/pop_events); ``monitor``: StrategyMonitor
    (record_snapshot/record_events/flush); ``history``: HistoryDataRepository whose recent bars, up to
    ``warmup_end`` (now by default), warm the indicators up; ``event_handlers``: more subscribers of
    the cycle's message bus, as (event type, handler) pairs; ``snapshot_recorder``: where the cycle's view
    of the book goes after each window bar when there is no monitor (a backtest's report).
    """

    config: StrategyConfig
    state_repository: object | None = None
    monitor: object | None = None
    autosave_interval_seconds: float = 60.0
    history: object | None = None
    warmup_end: datetime | None = None
    event_handlers: tuple = field(default_factory=tuple)
    snapshot_recorder: object | None = None
    control: object | None = None   # the kill switch's commands: ``latest(strategy_name) -> ControlRequest``

    def with_persistence(self, **changes) -> StrategyRuntime:
        return dataclasses.replace(self, **changes)


def load_runtime(config_file: str | Path | None = None, override_file: str | Path | None = None) -> StrategyRuntime:
    """The process's one reading of the configuration files."""
    return StrategyRuntime(load_strategy_config(Path(config_file) if config_file else DEFAULT_STRATEGY_CONFIG,
                                                Path(override_file) if override_file else None))


def definition_for(config: StrategyConfig, strategy_name: str) -> StrategyDefinition:
    """The file's definition of the strategy with this name (the first one when none has it)."""
    for definition in config.strategies:
        if definition.strategy_name == strategy_name:
            return definition
    return config.strategies[0]


def effective_setting(config: StrategyConfig, strategy_name: str, given: Mapping[str, object]) -> StrategySetting:
    """The file's setting with the parameters the platform gave over it, checked like the file."""
    values = dataclasses.asdict(definition_for(config, strategy_name).setting)
    values.update({name: given[name] for name in values if name in given})
    return build(StrategySetting, values, OriginMap(f"strategy {strategy_name} setting"))


def bars_needed(settings: IndicatorSettings = IndicatorSettings()) -> int:
    """Window bars the indicators need before their values mean anything."""
    return max(settings.macd_slow + settings.macd_signal, settings.ema_slow) + 2


def warmup_trading_days(setting: StrategySetting) -> int:
    """Trading days of history the indicators need before the first signal can be trusted."""
    minutes_per_bar = setting.bar_window * (60 if setting.bar_interval == "HOUR" else 1)
    return math.ceil(bars_needed() * minutes_per_bar / TRADING_MINUTES_PER_DAY) + 1


@dataclass(frozen=True)
class CycleContracts:
    futures: dict[str, ListedFuture]
    options: dict[str, OptionContract]
    params: dict[str, ContractParams]


def contracts_of(vt_symbols: Sequence[str], calendar: TradingCalendar) -> CycleContracts:
    factory = ContractFactory(ExpiryCalculator(calendar))
    infos = [factory.info(vt_symbol.rsplit(".", 1)[0]) for vt_symbol in vt_symbols]
    return CycleContracts(
        futures={i.vt_symbol: ListedFuture(i.vt_symbol, i.product, i.expiry) for i in infos if not i.is_option},
        options={i.vt_symbol: option_contract_of(i) for i in infos if i.is_option},
        params={i.vt_symbol: ContractParams(i.vt_symbol, i.size, i.pricetick, i.margin_ratio) for i in infos})


def build_cycle(strategy_name: str, vt_symbols: Sequence[str], config: StrategyConfig, setting: StrategySetting,
                execution_gateway: ITradeExecutionGateway, ports: CyclePorts, prices_from_bars: bool,
                calendar: TradingCalendar | None = None) -> TradingCycle:
    calendar = calendar or load_cn_calendar()
    contracts = contracts_of(vt_symbols, calendar)
    products = sorted({future.product for future in contracts.futures.values()})
    instruments = InstrumentManager(products, bar_history=max(MIN_BAR_HISTORY, bars_needed() * 2))
    positions = PositionAggregate()
    for params in contracts.params.values():
        positions.register_contract(params)

    clocks = TradingClocks(calendar=calendar)
    # Every send and cancel of the executor passes the pre-trade gate (application/safeguards.py).
    execution_gateway = GatedExecutionGateway(execution_gateway)
    execution = config.order_execution
    execution_settings = ExecutionSettings(execution.timeout_seconds, execution.max_retries,
                                           execution.slippage_ticks, execution.close_escalation_ticks)
    advanced_settings = AdvancedOrderSettings(**dataclasses.asdict(config.advanced_orders))
    executor = SmartOrderExecutor(execution_gateway, execution_settings, clocks)
    for params in contracts.params.values():
        executor.register_contract(params)
    hedging_config = config.hedging.to_domain()
    limits = config.greeks_risk
    services = CycleServices(
        instruments=instruments,
        positions=positions,
        indicator_service=IndicatorService(IndicatorSettings()),
        signal_service=SignalService(SignalSettings(close_days_before_expiry=config.expiry.close_days_before),
                                     **put_call_filter(config)),
        option_selector=OptionSelectorService(OptionSelectorSettings(
            strike_level=setting.strike_level, min_volume=setting.min_volume,
            min_open_interest=setting.min_open_interest, max_spread_ratio=setting.max_spread_ratio,
            strike_selection=setting.strike_selection, target_delta_min=setting.target_delta_min,
            target_delta_max=setting.target_delta_max)),
        sizing_service=PositionSizingService(SizingSettings(
            max_positions=setting.max_positions, position_ratio=setting.position_ratio,
            broker_margin_multiplier=config.account.broker_margin_multiplier)),
        risk_aggregator=PortfolioRiskAggregator(per_lot_thresholds(limits)),
        greeks=OptionGreeksService(GreeksCalculator("black76"), limits.risk_free_rate,
                                   time_to_expiry=time_to_expiry_of(limits, clocks)),
        executor=executor,
        scheduler=AdvancedOrderScheduler(executor, advanced_settings, clocks),
        hedging_config=hedging_config,
        delta_engine=DeltaHedgingEngine(hedging_config),
        gamma_engine=GammaScalpingEngine(hedging_config),
        band_trackers={product: DeltaBandTracker(hedging_config.target_delta,
                                                 max(hedging_config.hedging_band, hedging_config.min_band_lots))
                       for product in products},
        contracts=ActiveContractTracker(contracts.futures, BaseFutureSelector(), instruments),
        iceberg_batch_size=advanced_settings.default_iceberg_batch_size,
        execution_gateway=execution_gateway,
        execution_settings=execution_settings,
        advanced_settings=advanced_settings,
        clocks=clocks,
        # Futures mode is a directional bet sized by position_ratio (and its stop/target): the options' Greeks
        # limits would close it as soon as it opens. Its risk is still measured (attribution, stress grid).
        book_risk=BookRisk(None, legacy_limits=False) if setting.trade_instrument == "futures" else
        BookRisk(cash_limits_of(limits), legacy_limits=limits.position_limits is not None
                 or limits.portfolio_limits is not None),
    )
    bus = MessageBus()
    cycle = TradingCycle(strategy_name, contracts.options, contracts.params, services, ports, bus=bus,
                         counters=StrategyCounters(), prices_from_bars=prices_from_bars,
                         fees=config.fees.to_domain(), capital_share=config.account.capital_share)
    if setting.trade_instrument == "futures":
        cycle.futures_side = FuturesSide(FuturesSideService(FuturesSideSettings(
            position_ratio=setting.position_ratio, stop_loss_ratio=setting.futures_stop_loss_ratio,
            profit_target_ratio=setting.futures_profit_target_ratio), services.sizing_service))
    cycle.expiry_watch = ExpiryRiskWatch(ExpiryRiskSettings(config.expiry.risk_alerts, config.expiry.pin_distance),
                                         calendar)
    bus.subscribe_all(EventLogHandler(strategy_name, ports.events))
    pre_trade = config.pre_trade
    Safeguards(pre_trade.to_domain(), pre_trade.stale_quote_seconds, pre_trade.stale_quote_scope).attach(
        cycle, execution_gateway)
    return cycle


# Without the former per-lot limits the aggregator only sums: its bounds are out of reach.
_UNBOUNDED = 1e300


def per_lot_thresholds(limits) -> RiskThresholds:
    """The former per-lot limits; a scope not configured is unbounded."""
    def of(section) -> GreeksLimits:
        if section is None:
            return GreeksLimits(_UNBOUNDED, _UNBOUNDED, _UNBOUNDED)
        return GreeksLimits.from_mapping(dataclasses.asdict(section))

    return RiskThresholds(of(limits.position_limits), of(limits.portfolio_limits))


def cash_limits_of(limits) -> CashRiskLimits | None:
    """``greeks_risk.cash_limits`` as the domain's limits (None when not configured)."""
    config = limits.cash_limits
    if config is None:
        return None

    def money(section) -> MoneyLimits:
        return MoneyLimits(**{name: None if value is None else MoneyLimit(value.soft, value.hard)
                              for name, value in vars(section).items()})

    return CashRiskLimits(money(config.per_underlying), money(config.book), config.on_hard_breach)


def time_to_expiry_of(limits, clocks: TradingClocks):
    """Trading time (the default) or None for ACT/365 (``greeks_risk.time_to_expiry.basis: calendar``)."""
    setting = limits.time_to_expiry
    if setting.basis == "calendar":
        return None
    return TradingTimeToExpiry(clocks, setting.non_trading_day_weight, setting.trading_days_per_year)


def attach_runtime(cycle: TradingCycle, runtime: StrategyRuntime) -> None:
    """The monitor and any extra handlers subscribe to the cycle's bus; the monitor also gets
    the window-bar snapshots."""
    if runtime.monitor is not None:
        cycle.bus.subscribe_batch(MonitorEventHandler(cycle.strategy_name, runtime.monitor))
        cycle.snapshot_recorder = runtime.monitor
    elif runtime.snapshot_recorder is not None:
        cycle.snapshot_recorder = runtime.snapshot_recorder
    for event_type, handler in runtime.event_handlers:
        cycle.bus.subscribe(event_type, handler)


_OPTION_TYPES = {"CALL": OptionType.CALL, "PUT": OptionType.PUT}


def put_call_filter(config: StrategyConfig) -> dict:
    """SignalService's put/call filter and, when it is on, its source: the configured database's statistics."""
    put_filter = PutCallFilter(**dataclasses.asdict(config.put_call_filter))
    if not put_filter.enabled:
        return {"put_call_filter": put_filter}
    from src.core.database_factory import database_location, database_settings_from_environment
    from src.strategy.infrastructure.persistence.option_market_statistics import OptionMarketStatisticRepository
    from src.strategy.infrastructure.sentiment.stored_put_call_sentiment import StoredPutCallSentiment

    repository = OptionMarketStatisticRepository.open(database_location(database_settings_from_environment()))
    return {"put_call_filter": put_filter, "sentiment_source": StoredPutCallSentiment(repository)}


def option_contract_of(info: ContractInfo) -> OptionContract:
    """The domain's OptionContract of a registered option."""
    return OptionContract(
        vt_symbol=info.vt_symbol, symbol=info.symbol, exchange=info.exchange.value, product=info.product,
        underlying_vt_symbol=info.underlying_vt_symbol, option_type=_OPTION_TYPES[info.option_type.name],
        strike=info.strike, expiry=info.expiry, multiplier=info.size, pricetick=info.pricetick)
