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

from src.backtesting.contract.contract_registry import ContractFactory, ContractInfo
from src.backtesting.contract.expiry_calculator import ExpiryCalculator
from src.main.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.main.config.schema import StrategyConfig, StrategyDefinition, StrategySetting
from src.main.config.typed_builder import OriginMap, build
from src.strategy.domain.aggregate.instrument_manager import InstrumentManager
from src.strategy.domain.aggregate.position_aggregate import PositionAggregate
from src.strategy.domain.domain_service.base_future_selector import BaseFutureSelector
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
from src.strategy.domain.event.decision_events import (
    STAGE_EXECUTION,
    STAGE_OPTION_SELECTION,
    STAGE_RISK,
    STAGE_SIZING,
    DecisionRefusedEvent,
    SignalEvent,
)
from src.strategy.domain.value_object.account_snapshot import AccountSnapshot
from src.strategy.domain.value_object.contract_params import ContractParams
from src.strategy.domain.value_object.future_quote import FutureQuote
from src.strategy.domain.value_object.market import BarSnapshot, Direction, Offset, OptionQuote
from src.strategy.domain.value_object.option_contract import OptionContract, OptionType
from src.strategy.domain.value_object.order_instruction import OrderInstruction, align_price
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

logger = logging.getLogger(__name__)

TRADING_MINUTES_PER_DAY = 240
EXCHANGE_TIMEZONE = ZoneInfo("Asia/Shanghai")
OPTION_EXPIRY_TIME = time(15, 0)
HISTORY_KEPT_DAYS = 5
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
                 "risk_breach_count"]

    def __init__(self, strategy_engine, strategy_name: str, vt_symbols: list[str], setting: dict) -> None:
        super().__init__(strategy_engine, strategy_name, vt_symbols, setting)
        self.active_contracts: dict[str, str] = {}
        self.open_position_count = 0
        self.signal_count = 0
        self.order_count = 0
        self.refusal_count = 0
        self.risk_breach_count = 0
        self.published_events: list[DomainEvent] = []
        self._pending_events: list[DomainEvent] = []
        self._given_setting = dict(setting)
        self._state_repository = None
        self._monitor = None
        self._autosave = None
        self._autosave_interval = 60.0
        self._latest_signals: dict[str, dict] = {}

    # ------------------------------------------------------------ persistence
    def attach_persistence(self, state_repository=None, monitor=None,
                           autosave_interval_seconds: float = 60.0) -> None:
        """Live and paper: restore state in on_init, autosave it, write monitor snapshots and events.

        ``state_repository`` is a StateRepository (save/load/pop_events), ``monitor`` a
        StrategyMonitor (record_snapshot/record_events/flush); either may be None.
        """
        self._state_repository = state_repository
        self._monitor = monitor
        self._autosave_interval = autosave_interval_seconds

    def state_snapshot(self) -> dict:
        """What the strategy needs to resume; indicators and bars are rebuilt from history instead."""
        return {
            "positions": self.positions.to_dict(),
            "active_contracts": dict(self.instruments.active_contracts()),
            "implied_vols": dict(self._implied_vols),
            "latest_signals": dict(self._latest_signals),
            "counters": {"signal_count": self.signal_count, "order_count": self.order_count,
                         "refusal_count": self.refusal_count, "risk_breach_count": self.risk_breach_count},
        }

    def restore_state(self, state: dict, at: datetime) -> None:
        self.positions = PositionAggregate.from_dict(state["positions"])
        for params in self.contract_params.values():
            self.positions.register_contract(params)
        for product, vt_symbol in state.get("active_contracts", {}).items():
            if vt_symbol in self.futures and product in self.instruments.products():
                self.instruments.set_active_contract(product, vt_symbol, at)
                self.active_contracts[product] = vt_symbol
        self._implied_vols.update(state.get("implied_vols", {}))
        self._latest_signals.update(state.get("latest_signals", {}))
        for name, value in state.get("counters", {}).items():
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
            "counters": {"signal_count": self.signal_count, "order_count": self.order_count,
                         "refusal_count": self.refusal_count, "risk_breach_count": self.risk_breach_count},
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
        self.load_bars(self._warmup_days())

    def _restore_from_repository(self) -> None:
        from src.strategy.infrastructure.persistence.auto_save_service import AutoSaveService

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
        self.order_timeout = timedelta(seconds=config.order_execution.timeout_seconds)
        self.slippage_ticks = config.order_execution.slippage_ticks

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
        self.write_log("started")

    def on_stop(self) -> None:
        if self._autosave is not None:
            self._autosave.stop()
            self.write_log(f"state saved ({self._autosave.saves} snapshots this run)")
        self._publish()
        if self._monitor is not None:
            self._monitor.flush(timeout=5.0)
        self.write_log("stopped")

    def on_tick(self, tick: TickData) -> None:
        """Live and paper trading: ticks become session-aware 1-minute bars, then the bar flow."""
        for bar in self.tick_pipeline.update_tick(tick):
            self.on_bars({bar.vt_symbol: bar})

    def on_bars(self, bars: dict[str, BarData]) -> None:
        if not bars:
            return
        now = max(bar.datetime for bar in bars.values())
        future_bars = {vt: bar for vt, bar in bars.items() if vt in self.futures}
        self._track_future_activity(future_bars, now)
        self._choose_active_contracts(now)
        for vt_symbol, bar in bars.items():
            self._last_prices[vt_symbol] = bar.close_price
            option = self.options.get(vt_symbol)
            if option is not None:
                self.instruments.update_option_quote(OptionQuote(
                    contract=option, last_price=bar.close_price, volume=bar.volume,
                    open_interest=bar.open_interest))
        self._cancel_stale_orders(now)
        for window_bar in self.pipeline.update_bars(future_bars).values():
            self._on_window_bar(to_bar_snapshot(window_bar))
        self._publish()
        if self._autosave is not None and self.inited:
            self._autosave.tick()

    def update_order(self, order: OrderData) -> None:
        super().update_order(order)
        if self.positions.order(order.vt_orderid) is not None:
            self.positions.update_order(order.vt_orderid, from_vnpy_status(order.status), int(order.traded),
                                        order.datetime or self._now())
        self._publish()

    def update_trade(self, trade: TradeData) -> None:
        super().update_trade(trade)
        self.positions.update_trade(trade.vt_orderid, trade.vt_tradeid, trade.vt_symbol,
                                    from_vnpy_direction(trade.direction), from_vnpy_offset(trade.offset),
                                    trade.price, int(trade.volume), trade.datetime or self._now())
        self.open_position_count = self.positions.open_position_count()
        self._publish()

    # ------------------------------------------------------------ bar flow
    def _on_window_bar(self, bar: BarSnapshot) -> None:
        instrument = self.instruments.update_bar(bar)
        if instrument is None:
            return
        self._decide(instrument, bar)
        if self._monitor is not None and self.inited:
            self._monitor.record_snapshot(self.strategy_name, self.monitor_snapshot(bar.datetime), bar.datetime)

    def _decide(self, instrument, bar: BarSnapshot) -> None:
        self.indicator_service.calculate_bar(instrument, bar)
        if not self.trading:
            return
        _portfolio, breaches = self.risk_aggregator.evaluate(self._position_greeks(bar.datetime), bar.datetime)
        self.risk_breach_count += len(breaches)
        for breach in breaches:
            self._record(breach)
        self._check_closes(instrument, bar)
        signal = self.signal_service.check_open_signal(instrument, bar)
        if signal is None:
            return
        self.signal_count += 1
        self._record(SignalEvent(bar.datetime, product=instrument.product, signal=signal, bar_time=bar.datetime,
                                 indicators=dict(instrument.indicators), vt_symbol=bar.vt_symbol))
        self._latest_signals[instrument.product] = {"signal": signal.value, "bar_time": bar.datetime.isoformat()}
        self._open(instrument, bar, signal)

    def _check_closes(self, instrument, bar: BarSnapshot) -> None:
        for position in self.positions.positions():
            option = self.options.get(position.vt_symbol)
            if option is None or option.product != instrument.option_product:
                continue
            if self.positions.active_orders(position.vt_symbol):
                continue
            reason = self.signal_service.check_close_signal(position, instrument, bar)
            if reason is not None:
                self._record(SignalEvent(bar.datetime, product=instrument.product, signal=reason,
                                         bar_time=bar.datetime, vt_symbol=position.vt_symbol))
                self._close(position, reason, bar.datetime)

    def _open(self, instrument, bar: BarSnapshot, signal: SignalType) -> None:
        today = bar.datetime.date()
        chain = self.instruments.chain(instrument.product)
        selection = self.option_selector.select_option(chain, signal, bar.close, today)
        if not selection.is_selected:
            self._refuse(bar.datetime, STAGE_OPTION_SELECTION, None, selection.reason, instrument.product)
            return
        contract = selection.contract
        quote = selection.quote or instrument.option_quote(contract.vt_symbol)
        price = quote.mark_price if quote is not None else self._last_prices.get(contract.vt_symbol)
        if not price or price <= 0:
            self._refuse(bar.datetime, STAGE_OPTION_SELECTION, contract.vt_symbol, "no price for the selected option",
                         instrument.product)
            return
        sizing = self.sizing_service.size(contract, price, bar.close, self.contract_params[contract.vt_symbol],
                                          self._account(bar.datetime), self.positions.open_position_count())
        if not sizing.is_sized:
            self._refuse(bar.datetime, STAGE_SIZING, contract.vt_symbol, sizing.reason, instrument.product)
            return
        candidate = self._candidate_greeks(contract, price, -sizing.volume, bar.datetime)
        if candidate is None:
            self._refuse(bar.datetime, STAGE_RISK, contract.vt_symbol,
                         "no implied volatility reproduces the option's price: its Greeks are unknown",
                         instrument.product)
            return
        decision = self.risk_aggregator.check_open(self._position_greeks(bar.datetime), candidate, bar.datetime)
        if not decision.approved:
            for event in decision.events:
                self._record(event)
            self._refuse(bar.datetime, STAGE_RISK, contract.vt_symbol, decision.reason, instrument.product)
            return
        limit = max(price - self.slippage_ticks * contract.pricetick, contract.pricetick)
        self._send(OrderInstruction(
            vt_symbol=contract.vt_symbol, direction=Direction.SHORT, offset=Offset.OPEN, volume=sizing.volume,
            price=align_price(limit, contract.pricetick, Direction.SHORT), reason=f"open {signal.value}",
            signal=signal), bar.datetime)

    def _close(self, position: Position, reason: CloseReason, at: datetime) -> None:
        params = self.contract_params[position.vt_symbol]
        mark = self._last_prices.get(position.vt_symbol)
        if mark is None:
            self._refuse(at, STAGE_EXECUTION, position.vt_symbol, "no price to close at", None)
            return
        direction = position.direction.opposite
        tick_shift = self.slippage_ticks * params.pricetick * (1 if direction is Direction.LONG else -1)
        limit = max(mark + tick_shift, params.pricetick)
        self._send(OrderInstruction(
            vt_symbol=position.vt_symbol, direction=direction, offset=Offset.CLOSE, volume=position.volume,
            price=align_price(limit, params.pricetick, direction), reason=f"close {reason.value}"), at)

    def _send(self, instruction: OrderInstruction, at: datetime) -> None:
        vt_orderids = self.execution_gateway.send_order(instruction)
        if not vt_orderids:
            self._refuse(at, STAGE_EXECUTION, instruction.vt_symbol, "the engine refused the order (not trading)",
                         None)
            return
        for vt_orderid in vt_orderids:
            self.positions.register_order(vt_orderid, instruction, at)
        self.order_count += len(vt_orderids)
        self.write_log(f"{instruction.reason}: {instruction.direction.value} {instruction.offset.value} "
                       f"{instruction.volume} {instruction.vt_symbol} @ {instruction.price}")

    def _cancel_stale_orders(self, now: datetime) -> None:
        for order in self.positions.active_orders():
            if now - order.created_at >= self.order_timeout:
                self.execution_gateway.cancel_order(order.vt_orderid)

    # --------------------------------------------------- futures universe
    def _track_future_activity(self, future_bars: dict[str, BarData], now: datetime) -> None:
        today = now.date()
        if today != self._volume_day:
            self._daily_volume.clear()
            self._volume_day = today
            # Old fills and finished orders are not needed to resume: keep the saved state small.
            self.positions.prune_history(now - timedelta(days=HISTORY_KEPT_DAYS))
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
            events.extend(self.instruments.pop_events())
            events.extend(self.positions.pop_events())
        if not events:
            return
        for event in events:
            message = describe_event(event)
            logger.info("%s %s", self.strategy_name, message)
            if isinstance(event, DecisionRefusedEvent | SignalEvent):
                continue  # frequent: in the run log, not in vnpy's strategy log
            self.write_log(message)
        if self._monitor is not None:
            self._monitor.record_events(self.strategy_name, list(events))
        self.published_events.extend(events)
        events.clear()


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
