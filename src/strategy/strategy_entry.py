"""StrategyEntry: the vnpy portfolio strategy that runs the domain (interface and application layer).

It translates vnpy callbacks into domain values, wires the services once in
``on_init`` (the composition root) and runs the flow of one bar:

    1-minute bars -> BarPipeline window bars -> InstrumentManager -> IndicatorService
    -> SignalService (close checks, then opening signal) -> OptionSelectorService
    -> PositionSizingService -> order instruction -> VnpyTradeExecutionGateway -> vnpy

Every refused decision becomes a ``DecisionRefusedEvent`` with its reason; the
aggregates' events are collected after each change and published (log now,
monitor and notifications where configured).

Settings: the vnpy parameters below are the spec's ``strategies[].setting`` keys;
``config_file`` / ``override_config_file`` name the YAML files holding the other
sections (risk, execution). Empty means the project's ``config/strategy_config.yaml``.
"""
from __future__ import annotations

import dataclasses
import logging
import math
from collections import defaultdict
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np

from vnpy.trader.constant import Interval
from vnpy.trader.constant import OptionType as VnpyOptionType
from vnpy.trader.object import BarData, OrderData, TickData, TradeData
from vnpy_portfoliostrategy import StrategyTemplate
from vnpy_portfoliostrategy.base import EngineType

from src.core.contract.contract_registry import ContractFactory, ContractInfo
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.schema import StrategyConfig, StrategyDefinition, StrategySetting
from src.core.config.typed_builder import OriginMap, build
from src.strategy.domain.aggregate.instrument_manager import InstrumentManager
from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.advanced_order_scheduler import AdvancedOrderScheduler
from src.strategy.domain.domain_service.base_future_selector import BaseFutureSelector
from src.strategy.domain.domain_service.delta_hedging_engine import DeltaHedgingEngine
from src.strategy.domain.domain_service.gamma_scalping_engine import GammaScalpingEngine
from src.strategy.domain.domain_service.portfolio_delta import DeltaBandTracker, portfolio_delta_lots
from src.strategy.domain.domain_service.smart_order_executor import SmartOrderExecutor
from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.domain_service.indicator_service import IndicatorService, IndicatorSettings
from src.strategy.domain.domain_service.option_selector_service import (
    OptionSelectorService,
    OptionSelectorSettings,
)
from src.strategy.domain.domain_service.portfolio_risk_aggregator import PortfolioRiskAggregator
from src.strategy.domain.domain_service.position_sizing_service import PositionSizingService, SizingSettings
from src.strategy.domain.domain_service.greeks_calculator import GreeksCalculator
from src.strategy.domain.domain_service.signal_service import SignalService
from src.strategy.domain.entity.position import Position
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.hedge_events import DeltaOutsideBandEvent, HedgeRefusedEvent
from src.strategy.domain.event.order_events import OrderOverfilledEvent, OrderTimeoutEvent
from src.strategy.domain.event.risk_events import GreeksRiskBreachEvent
from src.strategy.domain.event.decision_events import (
    STAGE_EXECUTION,
    STAGE_OPTION_SELECTION,
    STAGE_RISK,
    STAGE_SIZING,
    DecisionRefusedEvent,
    SignalEvent,
)
from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.advanced_order import AdvancedOrderSettings
from src.strategy.domain.value_object.execution_settings import ExecutionSettings
from src.strategy.domain.value_object.hedging_config import HedgingConfig
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.future_quote import FutureQuote
from src.strategy.domain.value_object.market import BarSnapshot, Direction, Offset, OptionQuote
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType
from src.strategy.domain.value_object.order_instruction import OrderInstruction, align_price
from src.strategy.domain.value_object.order_status import OrderStatus
from src.strategy.domain.value_object.risk import PositionGreeks, RiskThresholds
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType
from src.strategy.domain.value_object.trading_calendar import act365_year_fraction
from src.strategy.infrastructure.bar_pipeline import BarPipeline
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
from src.strategy.infrastructure.gateway.vnpy_converters import (
    from_vnpy_direction,
    from_vnpy_offset,
    from_vnpy_status,
    to_bar_snapshot,
)
from src.strategy.infrastructure.gateway.vnpy_trade_execution_gateway import VnpyTradeExecutionGateway
from src.strategy.infrastructure.persistence.auto_save_service import AutoSaveService

logger = logging.getLogger(__name__)

TRADING_MINUTES_PER_DAY = 240
EXCHANGE_TIMEZONE = ZoneInfo("Asia/Shanghai")
OPTION_EXPIRY_TIME = time(15, 0)
HISTORY_KEPT_DAYS = 5
COUNTERS = ("signal_count", "order_count", "refusal_count", "risk_breach_count", "hedge_trade_count")
_OPTION_TYPES = {VnpyOptionType.CALL: OptionType.CALL, VnpyOptionType.PUT: OptionType.PUT}


class StrategyEntry(StrategyTemplate):
    author = "vol-strategy-framework"

    max_positions: int = 5
    position_ratio: float = 0.1
    strike_level: int = 4
    bar_window: int = 1
    bar_interval: str = "MINUTE"
    config_file: str = ""
    override_config_file: str = ""
    warmup_days: int = 0

    parameters = ["max_positions", "position_ratio", "strike_level", "bar_window", "bar_interval",
                  "config_file", "override_config_file", "warmup_days"]
    variables = ["active_contracts", "open_position_count", "signal_count", "order_count", "refusal_count",
                 "risk_breach_count", "hedge_trade_count"]

    def __init__(self, strategy_engine, strategy_name: str, vt_symbols: list[str], setting: dict) -> None:
        super().__init__(strategy_engine, strategy_name, vt_symbols, setting)
        self.active_contracts: dict[str, str] = {}
        self.open_position_count = 0
        self.signal_count = 0
        self.order_count = 0
        self.refusal_count = 0
        self.risk_breach_count = 0
        self.hedge_trade_count = 0
        self.published_events: list[DomainEvent] = []
        self._pending_events: list[DomainEvent] = []
        self._given_setting = dict(setting)
        self._state_repository = None
        self._monitor = None
        self._autosave = None
        self._autosave_interval = 60.0
        self._latest_signals: dict[str, dict] = {}
        self._pumping = False
        self._history = None
        self._warmup_end: datetime | None = None

    # ------------------------------------------------------------ persistence
    def attach_persistence(self, state_repository=None, monitor=None, autosave_interval_seconds: float = 60.0,
                           history=None, warmup_end: datetime | None = None) -> None:
        """Live and paper: restore state in on_init, autosave it, write monitor snapshots and events.

        ``state_repository`` is a StateRepository (save/load/pop_events), ``monitor`` a
        StrategyMonitor (record_snapshot/record_events/flush), ``history`` a
        HistoryDataRepository whose recent bars, up to ``warmup_end`` (now by default), warm
        the indicators up through the same bar flow; any of them may be None.
        """
        self._state_repository = state_repository
        self._monitor = monitor
        self._autosave_interval = autosave_interval_seconds
        self._history = history
        self._warmup_end = warmup_end

    def state_snapshot(self) -> dict:
        """What the strategy needs to resume; indicators and bars are rebuilt from history instead."""
        return {
            "positions": self.positions.to_dict(),
            "active_contracts": dict(self.instruments.active_contracts()),
            "implied_vols": dict(self._implied_vols),
            "latest_signals": dict(self._latest_signals),
            "counters": self._counters(),
            "executor": self.executor.to_dict(),
            "scheduler": self.scheduler.to_dict(),
            "gamma_scalping": self.gamma_engine.to_dict(),
            "band_trackers": {product: tracker.to_dict() for product, tracker in self.band_trackers.items()},
            "hedge_executions": sorted(self._hedge_executions),
        }

    def _counters(self) -> dict[str, int]:
        return {name: getattr(self, name) for name in COUNTERS}

    def restore_state(self, state: dict, at: datetime) -> None:
        self.positions = PositionAggregate.from_dict(state["positions"])
        for params in self.contract_params.values():
            self.positions.register_contract(params)
        for product, vt_symbol in state.get("active_contracts", {}).items():
            if vt_symbol in self.futures and product in self.instruments.products():
                self.instruments.set_active_contract(product, vt_symbol, at)
                self.active_contracts[product] = vt_symbol
        if "executor" in state:
            self.executor = SmartOrderExecutor.from_dict(state["executor"], self.execution_gateway,
                                                         self._execution_settings, self._clocks)
            for params in self.contract_params.values():
                self.executor.register_contract(params)
            self.scheduler = AdvancedOrderScheduler.from_dict(state["scheduler"], self.executor,
                                                              self._advanced_settings, self._clocks)
            self.gamma_engine = GammaScalpingEngine.from_dict(state["gamma_scalping"], self.hedging_config)
            for product, tracker in state.get("band_trackers", {}).items():
                if product in self.band_trackers:
                    self.band_trackers[product] = DeltaBandTracker.from_dict(tracker)
            self._hedge_executions = set(state.get("hedge_executions", ()))
        self._implied_vols.update(state.get("implied_vols", {}))
        self._latest_signals.update(state.get("latest_signals", {}))
        for name, value in state.get("counters", {}).items():
            if name in COUNTERS:
                setattr(self, name, int(value))
        self.open_position_count = self.positions.open_position_count()
        self.write_log(f"state restored: {self.open_position_count} open positions, "
                       f"active contracts {self.active_contracts}")

    def reconcile_positions(self, snapshots: list, at: datetime) -> None:
        """Compare what the gateway reports with the restored book; differences raise manual events."""
        managed = [s for s in snapshots if s.vt_symbol in self.contract_params]
        skipped = self.positions.reconcile(managed, at)
        if skipped:
            self.write_log(f"reconciliation skipped {', '.join(skipped)}: orders still active")
        self.open_position_count = self.positions.open_position_count()
        self._publish()

    def monitor_snapshot(self, at: datetime) -> dict:
        """What the dashboard shows: positions, portfolio Greeks, PnL, latest signals."""
        positions, unrealized = [], 0.0
        for position in self.positions.positions():
            mark = self._last_prices.get(position.vt_symbol, position.avg_price)
            pnl = position.unrealized_pnl(mark)
            unrealized += pnl
            positions.append({"vt_symbol": position.vt_symbol, "direction": position.direction.value,
                              "volume": position.volume, "avg_price": position.avg_price, "mark": mark,
                              "unrealized_pnl": pnl})
        total = self.risk_aggregator.aggregate(self._position_greeks(at)).total
        realized = self.positions.realized_pnl()
        return {
            "positions": positions,
            "greeks": {"delta": total.delta, "gamma": total.gamma, "vega": total.vega, "theta": total.theta},
            "pnl": {"realized": realized, "unrealized": unrealized, "total": realized + unrealized},
            "signals": dict(self._latest_signals),
            "active_contracts": dict(self.instruments.active_contracts()),
            "hedging": self.hedging_summary(),
            "counters": self._counters(),
        }

    # ------------------------------------------------------------------ wiring
    def on_init(self) -> None:
        self.config = self._load_config()
        self.setting = self._effective_setting(self.config)
        self._wire(self.config, self.setting)
        if self._state_repository is not None:
            self._restore_from_repository()
        self.write_log(f"initialised: {len(self.futures)} futures, {len(self.options)} options, "
                       f"products {', '.join(self.instruments.products())}, "
                       f"{self.setting.bar_window} {self.setting.bar_interval.lower()} bars")
        if self._history is not None and self.get_engine_type() is not EngineType.BACKTESTING:
            self._warm_up_from_history()
        else:
            self.load_bars(self._warmup_days())

    def _warm_up_from_history(self) -> None:
        """Replay the recent bars of the database through the bar flow (not trading: no orders)."""
        end = self._warmup_end or self._now()
        slices = self._history.load_bar_slices(self.vt_symbols, end, days=self._warmup_days())
        for _moment, bars in slices:
            self.on_bars(bars)
        self.write_log(f"warmed up on {len(slices)} minutes of history up to {end:%Y-%m-%d %H:%M}")

    def _restore_from_repository(self) -> None:
        state = self._state_repository.load(self.strategy_name)
        for event in self._state_repository.pop_events():
            self._record(event)
        if state is not None:
            self.restore_state(state, self._now())
        self._autosave = AutoSaveService(self._state_repository, self.strategy_name, self.state_snapshot,
                                         interval_seconds=self._autosave_interval)

    def _load_config(self) -> StrategyConfig:
        global_file = Path(self.config_file) if self.config_file else DEFAULT_STRATEGY_CONFIG
        override = Path(self.override_config_file) if self.override_config_file else None
        return load_strategy_config(global_file, override)

    def _definition(self, config: StrategyConfig) -> StrategyDefinition:
        for definition in config.strategies:
            if definition.strategy_name == self.strategy_name:
                return definition
        return config.strategies[0]

    def _effective_setting(self, config: StrategyConfig) -> StrategySetting:
        """The file's setting, with the parameters vnpy was given over it, checked like the file."""
        values = dataclasses.asdict(self._definition(config).setting)
        values.update({name: self._given_setting[name] for name in values if name in self._given_setting})
        return build(StrategySetting, values, OriginMap(f"strategy {self.strategy_name} setting"))

    def _wire(self, config: StrategyConfig, setting: StrategySetting) -> None:
        calendar = load_cn_calendar()
        factory = ContractFactory(ExpiryCalculator(calendar))
        contracts = [factory.info(vt_symbol.rsplit(".", 1)[0]) for vt_symbol in self.vt_symbols]
        self.futures: dict[str, ContractInfo] = {c.vt_symbol: c for c in contracts if not c.is_option}
        self.options: dict[str, OptionContract] = {
            c.vt_symbol: _option_contract(c) for c in contracts if c.is_option}
        self.contract_params: dict[str, ContractParams] = {
            c.vt_symbol: ContractParams(c.vt_symbol, c.size, c.pricetick, c.margin_ratio) for c in contracts}

        products = sorted({info.product for info in self.futures.values()})
        self.instruments = InstrumentManager(products, bar_history=max(200, self._bars_needed() * 2))
        self.positions = PositionAggregate()
        for params in self.contract_params.values():
            self.positions.register_contract(params)

        interval = Interval.HOUR if setting.bar_interval == "HOUR" else Interval.MINUTE
        self.pipeline = BarPipeline(window=setting.bar_window, interval=interval)
        self.indicator_service = IndicatorService(IndicatorSettings())
        self.signal_service = SignalService()
        self.option_selector = OptionSelectorService(OptionSelectorSettings(strike_level=setting.strike_level))
        self.sizing_service = PositionSizingService(
            SizingSettings(max_positions=setting.max_positions, position_ratio=setting.position_ratio))
        self.future_selector = BaseFutureSelector()
        self.greeks_calculator = GreeksCalculator("black76")
        self.risk_free_rate = config.greeks_risk.risk_free_rate
        self.risk_aggregator = PortfolioRiskAggregator(RiskThresholds.from_mapping(
            dataclasses.asdict(config.greeks_risk.position_limits),
            dataclasses.asdict(config.greeks_risk.portfolio_limits)))
        self._implied_vols: dict[str, float] = {}
        self.tick_pipeline = BarPipeline(window=1, interval=Interval.MINUTE)
        self.execution_gateway = VnpyTradeExecutionGateway(self)
        self._clocks = TradingClocks(calendar=calendar)
        execution = config.order_execution
        self._execution_settings = ExecutionSettings(execution.timeout_seconds, execution.max_retries,
                                                     execution.slippage_ticks)
        self._advanced_settings = AdvancedOrderSettings(**dataclasses.asdict(config.advanced_orders))
        self.executor = SmartOrderExecutor(self.execution_gateway, self._execution_settings, self._clocks)
        for params in self.contract_params.values():
            self.executor.register_contract(params)
        self.scheduler = AdvancedOrderScheduler(self.executor, self._advanced_settings, self._clocks)
        delta_hedging, gamma_scalping = config.hedging.delta_hedging, config.hedging.gamma_scalping
        self.hedging_config = HedgingConfig(
            target_delta=delta_hedging.target_delta, hedging_band=delta_hedging.hedging_band,
            rebalance_threshold=gamma_scalping.rebalance_threshold,
            delta_hedging_enabled=delta_hedging.enabled, gamma_scalping_enabled=gamma_scalping.enabled,
            max_hedge_lots=delta_hedging.max_hedge_lots)
        self.delta_engine = DeltaHedgingEngine(self.hedging_config)
        self.gamma_engine = GammaScalpingEngine(self.hedging_config)
        self.band_trackers = {product: DeltaBandTracker(delta_hedging.target_delta, delta_hedging.hedging_band)
                              for product in products}
        self._hedge_executions: set[str] = set()

        self._daily_volume: dict[str, float] = defaultdict(float)
        self._open_interest: dict[str, float] = {}
        self._volume_day: date | None = None
        self._last_prices: dict[str, float] = {}

    @staticmethod
    def _bars_needed() -> int:
        settings = IndicatorSettings()
        return max(settings.macd_slow + settings.macd_signal, settings.ema_slow) + 2

    @classmethod
    def warmup_days_for(cls, setting: StrategySetting) -> int:
        """Trading days of history the indicators need before the first signal can be trusted."""
        minutes_per_bar = setting.bar_window * (60 if setting.bar_interval == "HOUR" else 1)
        return math.ceil(cls._bars_needed() * minutes_per_bar / TRADING_MINUTES_PER_DAY) + 1

    def _warmup_days(self) -> int:
        return int(self.warmup_days) if self.warmup_days > 0 else self.warmup_days_for(self.setting)

    # -------------------------------------------------------------- callbacks
    def on_start(self) -> None:
        if self.get_engine_type() is not EngineType.BACKTESTING:
            self._resume_restored_orders()
        self.write_log("started")

    def _resume_restored_orders(self) -> None:
        """Orders restored from the saved state belong to this strategy again.

        vnpy routes an order's updates by ``orderid_strategy_map``, which a new process
        starts empty; an order the gateway no longer knows (a new trading day) is over,
        with what it had filled.
        """
        main_engine = getattr(self.strategy_engine, "main_engine", None)
        routes = getattr(self.strategy_engine, "orderid_strategy_map", None)
        now = self._now()
        for vt_orderid in self.executor.active_vt_orderids():
            if routes is not None:
                routes[vt_orderid] = self
            known = main_engine.get_order(vt_orderid) if main_engine is not None else None
            order = self.positions.order(vt_orderid)
            if known is not None:
                self.executor.on_order_update(vt_orderid, from_vnpy_status(known.status), int(known.traded), now)
            else:
                traded = order.traded if order is not None else 0
                self.executor.on_order_update(vt_orderid, OrderStatus.CANCELLED, traded, now)
                if order is not None and order.is_active:
                    self.positions.update_order(vt_orderid, OrderStatus.CANCELLED, traded, now)
        self._pump(now)
        self._publish()

    def on_stop(self) -> None:
        now = self._now()
        self.scheduler.cancel_all(now)
        self.executor.cancel_all(now)
        self._register_sent()
        if self._autosave is not None:
            self._autosave.stop()
            self.write_log(f"state saved ({self._autosave.saves} snapshots this run)")
        self._publish()
        if self._monitor is not None:
            self._monitor.flush(timeout=5.0)
        self.write_log("stopped")

    def on_tick(self, tick: TickData) -> None:
        """Live and paper trading: ticks become session-aware 1-minute bars, then the bar flow."""
        self.executor.update_price(tick.vt_symbol, bid=tick.bid_price_1, ask=tick.ask_price_1,
                                   last=tick.last_price, limit_up=tick.limit_up, limit_down=tick.limit_down)
        self._pump(tick.datetime)
        for bar in self.tick_pipeline.update_tick(tick):
            self.on_bars({bar.vt_symbol: bar})

    def on_bars(self, bars: dict[str, BarData]) -> None:
        if not bars:
            return
        bar_time = max(bar.datetime for bar in bars.values())
        now = self._now()  # live, a minute bar arrives when the next minute's first tick does
        future_bars = {vt: bar for vt, bar in bars.items() if vt in self.futures}
        self._track_future_activity(future_bars, bar_time)
        self._choose_active_contracts(bar_time)
        replaying_bars = self.get_engine_type() is EngineType.BACKTESTING
        for vt_symbol, bar in bars.items():
            self._last_prices[vt_symbol] = bar.close_price
            if replaying_bars:  # live, the ticks already gave the executor bid and ask
                self.executor.update_price(vt_symbol, last=bar.close_price)
            option = self.options.get(vt_symbol)
            if option is not None:
                self.instruments.update_option_quote(OptionQuote(
                    contract=option, last_price=bar.close_price, volume=bar.volume,
                    open_interest=bar.open_interest))
        self._pump(now)
        for window_bar in self.pipeline.update_bars(future_bars).values():
            self._on_window_bar(to_bar_snapshot(window_bar))
        if self.trading:
            self._hedge(now)
        self._publish()
        if self._autosave is not None and self.inited:
            self._autosave.tick()

    def update_order(self, order: OrderData) -> None:
        super().update_order(order)
        at = order.datetime or self._now()
        status = from_vnpy_status(order.status)
        if self.positions.order(order.vt_orderid) is not None:
            self.positions.update_order(order.vt_orderid, status, int(order.traded), at)
        self.executor.on_order_update(order.vt_orderid, status, int(order.traded), at)
        self._pump(self._now())
        self._publish()

    def update_trade(self, trade: TradeData) -> None:
        super().update_trade(trade)
        at = trade.datetime or self._now()
        direction = from_vnpy_direction(trade.direction)
        self.positions.update_trade(trade.vt_orderid, trade.vt_tradeid, trade.vt_symbol, direction,
                                    from_vnpy_offset(trade.offset), trade.price, int(trade.volume), at)
        self.executor.on_trade(trade.vt_orderid, trade.vt_tradeid, int(trade.volume), trade.price, at)
        if self.executor.execution_id_of(trade.vt_orderid) in self._hedge_executions:
            self.hedge_trade_count += 1
            self.gamma_engine.record_fill(trade.vt_tradeid, trade.vt_symbol, direction, int(trade.volume),
                                          trade.price, self.contract_params[trade.vt_symbol].multiplier, at)
        self.open_position_count = self.positions.open_position_count()
        self._pump(self._now())
        self._publish()

    # ------------------------------------------------------------ bar flow
    def _on_window_bar(self, bar: BarSnapshot) -> None:
        instrument = self.instruments.update_bar(bar)
        if instrument is None:
            return
        # A window bar is stamped with its start; decisions and orders happen now, at its end.
        now = self._now()
        self._decide(instrument, bar, now)
        if self._monitor is not None and self.inited:
            self._monitor.record_snapshot(self.strategy_name, self.monitor_snapshot(now), now)

    def _decide(self, instrument, bar: BarSnapshot, now: datetime) -> None:
        self.indicator_service.calculate_bar(instrument, bar)
        if not self.trading:
            return
        _portfolio, breaches = self.risk_aggregator.evaluate(self._position_greeks(now), now)
        self.risk_breach_count += len(breaches)
        for breach in breaches:
            self._record(breach)
        self._check_closes(instrument, bar, now)
        signal = self.signal_service.check_open_signal(instrument, bar)
        if signal is None:
            return
        self.signal_count += 1
        self._record(SignalEvent(now, product=instrument.product, signal=signal, bar_time=bar.datetime,
                                 indicators=dict(instrument.indicators), vt_symbol=bar.vt_symbol))
        self._latest_signals[instrument.product] = {"signal": signal.value, "bar_time": bar.datetime.isoformat()}
        self._open(instrument, bar, signal, now)

    def _check_closes(self, instrument, bar: BarSnapshot, now: datetime) -> None:
        for position in self.positions.positions():
            option = self.options.get(position.vt_symbol)
            if option is None or option.product != instrument.option_product:
                continue
            if position.vt_symbol in self._symbols_being_worked():
                continue
            reason = self.signal_service.check_close_signal(position, instrument, bar)
            if reason is not None:
                self._record(SignalEvent(now, product=instrument.product, signal=reason,
                                         bar_time=bar.datetime, vt_symbol=position.vt_symbol))
                self._close(position, reason, now)

    def _open(self, instrument, bar: BarSnapshot, signal: SignalType, now: datetime) -> None:
        today = now.date()
        chain = self.instruments.chain(instrument.product)
        selection = self.option_selector.select_option(chain, signal, bar.close, today)
        if not selection.is_selected:
            self._refuse(now, STAGE_OPTION_SELECTION, None, selection.reason, instrument.product)
            return
        contract = selection.contract
        quote = selection.quote or instrument.option_quote(contract.vt_symbol)
        price = quote.mark_price if quote is not None else self._last_prices.get(contract.vt_symbol)
        if not price or price <= 0:
            self._refuse(now, STAGE_OPTION_SELECTION, contract.vt_symbol, "no price for the selected option",
                         instrument.product)
            return
        sizing = self.sizing_service.size(contract, price, bar.close, self.contract_params[contract.vt_symbol],
                                          self._account(now), self.positions.open_position_count())
        if not sizing.is_sized:
            self._refuse(now, STAGE_SIZING, contract.vt_symbol, sizing.reason, instrument.product)
            return
        candidate = self._candidate_greeks(contract, price, -sizing.volume, now)
        if candidate is None:
            self._refuse(now, STAGE_RISK, contract.vt_symbol,
                         "no implied volatility reproduces the option's price: its Greeks are unknown",
                         instrument.product)
            return
        decision = self.risk_aggregator.check_open(self._position_greeks(now), candidate, now)
        if not decision.approved:
            for event in decision.events:
                self._record(event)
            self._refuse(now, STAGE_RISK, contract.vt_symbol, decision.reason, instrument.product)
            return
        # The executor prices the order from the touch plus slippage; this is the reference price.
        self._send(OrderInstruction(
            vt_symbol=contract.vt_symbol, direction=Direction.SHORT, offset=Offset.OPEN, volume=sizing.volume,
            price=align_price(price, contract.pricetick), reason=f"open {signal.value}", signal=signal),
            now)

    def _close(self, position: Position, reason: CloseReason, at: datetime) -> None:
        params = self.contract_params[position.vt_symbol]
        mark = self._last_prices.get(position.vt_symbol)
        if mark is None:
            self._refuse(at, STAGE_EXECUTION, position.vt_symbol, "no price to close at", None)
            return
        self._send(OrderInstruction(
            vt_symbol=position.vt_symbol, direction=position.direction.opposite, offset=Offset.CLOSE,
            volume=position.volume, price=align_price(mark, params.pricetick), reason=f"close {reason.value}"), at)

    def _send(self, instruction: OrderInstruction, at: datetime, hedge: bool = False) -> None:
        """Every order is worked by the executor; a large one as an iceberg of visible batches."""
        if not hedge and instruction.volume > self._advanced_settings.default_iceberg_batch_size:
            self.scheduler.submit_iceberg(instruction, at)
        else:
            execution_id = self.executor.submit(instruction, at)
            if hedge:
                self._hedge_executions.add(execution_id)
        self._register_sent()
        self.write_log(f"{instruction.reason}: {instruction.direction.value} {instruction.offset.value} "
                       f"{instruction.volume} {instruction.vt_symbol} @ {instruction.price}")

    def _register_sent(self) -> None:
        """Orders the executor placed join the position book before any of their fills can arrive."""
        for sent in self.executor.pop_sent_orders():
            self.positions.register_order(sent.vt_orderid, sent.instruction, sent.sent_at)
            self.order_count += 1

    def _pump(self, now: datetime) -> None:
        """Time passes for the scheduler and the executor (timeouts, retries, slices)."""
        if self._pumping:  # a callback of an order sent while pumping must not re-enter
            return
        self._pumping = True
        try:
            self.scheduler.on_time(now)
            self.executor.on_time(now)
            self._register_sent()
        finally:
            self._pumping = False

    def _correct_overfill(self, event: OrderOverfilledEvent) -> None:
        """A cancel lost to a fill left more than asked: close the excess of an opening order."""
        if event.offset != Offset.OPEN.value or event.excess <= 0:
            return
        price = self._last_prices.get(event.vt_symbol)
        if price is None:
            self._refuse(event.occurred_at, STAGE_EXECUTION, event.vt_symbol, "no price to close an overfill at",
                         None)
            return
        params = self.contract_params[event.vt_symbol]
        self._send(OrderInstruction(
            vt_symbol=event.vt_symbol, direction=Direction(event.direction).opposite, offset=Offset.CLOSE,
            volume=event.excess, price=align_price(price, params.pricetick), reason="close overfill"),
            event.occurred_at)

    def _symbols_being_worked(self) -> set[str]:
        working = {view.instruction.vt_symbol for view in self.executor.working_executions()}
        working.update(order.vt_symbol for order in self.positions.active_orders())
        return working

    # ------------------------------------------------------------ hedging
    def _hedge(self, now: datetime) -> None:
        """Measure each product's delta in lots of its future; hedge it when an engine is enabled."""
        config = self.hedging_config
        engine = self.gamma_engine if config.gamma_scalping_enabled else (
            self.delta_engine if config.delta_hedging_enabled else None)
        for product in self.instruments.products():
            hedge_symbol = self.instruments.active_contract(product)
            price = self._last_prices.get(hedge_symbol) if hedge_symbol else None
            if hedge_symbol is None or price is None:
                continue
            delta = self._product_delta(product, hedge_symbol, now)
            self.band_trackers[product].observe(delta)
            if engine is None:
                continue
            long_lots, short_lots, pending = self._hedge_book(hedge_symbol)
            instruction = engine.evaluate(portfolio_delta=delta, hedge_symbol=hedge_symbol, reference_price=price,
                                          at=now, long_lots=long_lots, short_lots=short_lots,
                                          pending_lots=pending)
            if instruction is not None:
                self._send(instruction, now, hedge=True)

    def _product_delta(self, product: str, hedge_symbol: str, now: datetime) -> float:
        option_product = self.instruments.get(product).option_product
        held = [p for p in self.positions.positions()
                if p.vt_symbol in self.options and self.options[p.vt_symbol].product == option_product]
        contracts = [self.options[p.vt_symbol] for p in held]
        greeks = self._option_greeks(contracts, [self._last_prices.get(p.vt_symbol, p.avg_price) for p in held],
                                     now)
        future_lots = sum(p.volume * p.direction.sign for p in self.positions.positions()
                          if p.vt_symbol in self.futures and self.futures[p.vt_symbol].product == product)
        return float(portfolio_delta_lots(
            [p.volume * p.direction.sign for p in held],
            [g[0] if g is not None else math.nan for g in greeks],
            [self.contract_params[p.vt_symbol].multiplier for p in held],
            self.contract_params[hedge_symbol].multiplier, future_lots))

    def _hedge_book(self, hedge_symbol: str) -> tuple[int, int, int]:
        """Lots held long and short in the hedge future that no working close already takes, and the
        signed lots of hedges still working."""
        long_held = self.positions.position(hedge_symbol, Direction.LONG)
        short_held = self.positions.position(hedge_symbol, Direction.SHORT)
        long_lots = long_held.volume if long_held else 0
        short_lots = short_held.volume if short_held else 0
        pending = 0
        for view in self.executor.working_executions():
            instruction = view.instruction
            if instruction.vt_symbol != hedge_symbol:
                continue
            if view.execution_id in self._hedge_executions:
                pending += view.remaining * instruction.direction.sign
            if instruction.offset is Offset.CLOSE:
                if instruction.direction is Direction.SHORT:
                    long_lots -= view.remaining
                else:
                    short_lots -= view.remaining
        return max(long_lots, 0), max(short_lots, 0), pending

    def hedging_summary(self) -> dict:
        trackers = self.band_trackers.values()
        observations = sum(t.observations for t in trackers)
        return {
            "hedge_trade_count": self.hedge_trade_count,
            "max_abs_portfolio_delta": max((t.max_abs_delta for t in trackers), default=0.0),
            "share_of_bars_outside_band": sum(t.outside for t in trackers) / observations if observations else 0.0,
            "scalping_pnl": self.gamma_engine.scalping_pnl,
        }

    # --------------------------------------------------- futures universe
    def _track_future_activity(self, future_bars: dict[str, BarData], now: datetime) -> None:
        today = now.date()
        if today != self._volume_day:
            self._daily_volume.clear()
            self._volume_day = today
            # Old fills and finished orders are not needed to resume: keep the saved state small.
            horizon = now - timedelta(days=HISTORY_KEPT_DAYS)
            self.positions.prune_history(horizon)
            self.scheduler.prune(horizon)
            self.executor.prune(horizon, keep=self.scheduler.execution_ids_in_use())
            self._hedge_executions &= {view.execution_id for view in self.executor.executions()}
        for vt_symbol, bar in future_bars.items():
            self._daily_volume[vt_symbol] += bar.volume
            self._open_interest[vt_symbol] = bar.open_interest

    def _future_quotes(self, product: str) -> list[FutureQuote]:
        return [FutureQuote(vt_symbol=vt, product=info.product, expiry=info.expiry,
                            volume=self._daily_volume.get(vt, 0.0), open_interest=self._open_interest[vt])
                for vt, info in self.futures.items() if info.product == product and vt in self._open_interest]

    def _choose_active_contracts(self, now: datetime) -> None:
        check_rollover = self.future_selector.should_check_rollover(now)
        for product in self.instruments.products():
            current = self.instruments.active_contract(product)
            if current is not None and not check_rollover:
                continue
            candidates = self._future_quotes(product)
            if current is None:
                chosen = self.future_selector.select_dominant(candidates, now.date())
                target = chosen.vt_symbol if chosen is not None else None
            else:
                target = self.future_selector.check_rollover(current, candidates, now.date())
            if target is not None and target != current:
                self.instruments.set_active_contract(product, target, now)
                self.active_contracts[product] = target
                self.write_log(f"{product}: active contract {current or '-'} -> {target}")

    # ------------------------------------------------------------- Greeks
    def _option_greeks(self, contracts: list[OptionContract], prices: list[float], now: datetime) -> list:
        """Per-lot Greeks of each option (None where unknown), in the units of the risk limits.

        Units: delta and gamma per lot in underlying points, vega in points per 1 vol point,
        theta in points per calendar day; times the contract multiplier they are CNY.
        Volatility is implied from the option's price on its mapped future (Black-76); when
        no volatility reproduces the price (a print below intrinsic) the last good one is used.
        """
        if not contracts:
            return []
        underlying = np.array([self._last_prices.get(c.underlying_vt_symbol, np.nan) for c in contracts])
        strikes = np.array([c.strike for c in contracts])
        kinds = np.array([1 if c.option_type is OptionType.CALL else -1 for c in contracts])
        years = np.array([max(act365_year_fraction(now, datetime.combine(c.expiry, OPTION_EXPIRY_TIME,
                                                                          EXCHANGE_TIMEZONE)), 1e-6)
                          for c in contracts])
        implied = self.greeks_calculator.implied_volatility_batch(
            np.array(prices, dtype=float), kinds, underlying, strikes, years, self.risk_free_rate)
        for index, contract in enumerate(contracts):
            if np.isfinite(implied[index]):
                self._implied_vols[contract.vt_symbol] = float(implied[index])
            else:
                implied[index] = self._implied_vols.get(contract.vt_symbol, np.nan)
        greeks = self.greeks_calculator.calculate_batch(kinds, underlying, strikes, years, self.risk_free_rate,
                                                        implied)
        result = []
        for index in range(len(contracts)):
            values = (greeks.delta[index], greeks.gamma[index], greeks.vega[index] / 100.0,
                      greeks.theta[index] / 365.0)
            result.append(values if all(np.isfinite(v) for v in values) else None)
        return result

    def _position_greeks(self, now: datetime) -> list[PositionGreeks]:
        held = [p for p in self.positions.positions() if p.vt_symbol in self.options]
        contracts = [self.options[p.vt_symbol] for p in held]
        prices = [self._last_prices.get(p.vt_symbol, p.avg_price) for p in held]
        found = []
        for position, greeks in zip(held, self._option_greeks(contracts, prices, now)):
            if greeks is not None:
                found.append(PositionGreeks(position.vt_symbol, position.volume * position.direction.sign, 1.0,
                                            *greeks))
        return found

    def _candidate_greeks(self, contract: OptionContract, price: float, lots: int,
                          now: datetime) -> PositionGreeks | None:
        (greeks,) = self._option_greeks([contract], [price], now)
        return None if greeks is None else PositionGreeks(contract.vt_symbol, lots, 1.0, *greeks)

    # ------------------------------------------------------------ helpers
    def _account(self, now: datetime) -> AccountSnapshot:
        """Capital plus PnL, less the margin the open short options hold."""
        capital = float(getattr(self.strategy_engine, "capital", 0.0) or 0.0)
        unrealized = 0.0
        margin = 0.0
        for position in self.positions.positions():
            mark = self._last_prices.get(position.vt_symbol, position.avg_price)
            unrealized += position.unrealized_pnl(mark)
            option = self.options.get(position.vt_symbol)
            if option is not None and position.direction is Direction.SHORT:
                underlying = self._last_prices.get(option.underlying_vt_symbol, option.strike)
                margin += position.volume * self.sizing_service.short_option_margin(
                    option, mark, underlying, self.contract_params[position.vt_symbol])
        balance = capital + self.positions.realized_pnl() + unrealized
        return AccountSnapshot(balance=balance, available=max(balance - margin, 0.0), frozen=margin, taken_at=now)

    def _now(self) -> datetime:
        """Engine time in backtests (once the replay started), wall time otherwise."""
        engine_time = getattr(self.strategy_engine, "datetime", None)
        if isinstance(engine_time, datetime) and engine_time.tzinfo is not None:
            return engine_time
        return datetime.now(EXCHANGE_TIMEZONE)

    def _refuse(self, at: datetime, stage: str, vt_symbol: str | None, reason: str, product: str | None) -> None:
        self.refusal_count += 1
        self._record(DecisionRefusedEvent(at, stage=stage, vt_symbol=vt_symbol, reason=reason, product=product))

    def _record(self, event: DomainEvent) -> None:
        self._pending_events.append(event)

    def _publish(self) -> None:
        events = self._pending_events
        if hasattr(self, "instruments"):
            for source in (self.instruments, self.positions, self.executor, self.scheduler, self.delta_engine,
                           self.gamma_engine):
                events.extend(source.pop_events())
        if not events:
            return
        for event in list(events):
            if isinstance(event, DecisionRefusedEvent) and event.stage == STAGE_EXECUTION:
                self.refusal_count += 1
            if isinstance(event, OrderOverfilledEvent):
                self._correct_overfill(event)
        for event in events:
            message = describe_event(event)
            logger.info("%s %s", self.strategy_name, message)
            if isinstance(event, FREQUENT_EVENTS):
                continue  # in the run log and the monitor, not in vnpy's strategy log
            self.write_log(message)
        if self._monitor is not None:
            self._monitor.record_events(self.strategy_name, list(events))
        self.published_events.extend(events)
        events.clear()


FREQUENT_EVENTS = (DecisionRefusedEvent, SignalEvent, DeltaOutsideBandEvent, HedgeRefusedEvent, OrderTimeoutEvent,
                   GreeksRiskBreachEvent)


def describe_event(event: DomainEvent) -> str:
    fields = {name: value for name, value in vars(event).items() if name not in ("occurred_at", "indicators")}
    details = ", ".join(f"{name}={_short(value)}" for name, value in fields.items() if value is not None)
    return f"{event.event_type} at {event.occurred_at:%Y-%m-%d %H:%M}: {details}"


def _short(value) -> str:
    return value.value if hasattr(value, "value") else str(value)


def _option_contract(info: ContractInfo) -> OptionContract:
    return OptionContract(
        vt_symbol=info.vt_symbol, symbol=info.symbol, exchange=info.exchange.value, product=info.product,
        underlying_vt_symbol=info.underlying_vt_symbol, option_type=_OPTION_TYPES[info.option_type],
        strike=info.strike, expiry=info.expiry, multiplier=info.size, pricetick=info.pricetick)
