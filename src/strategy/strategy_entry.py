"""StrategyEntry: the vnpy portfolio strategy that runs the trading cycle.

It translates vnpy's callbacks into domain values for the ``TradingCycle``
(``src.strategy.application``) and the cycle's orders back into vnpy calls,
through the adapters of ``src.strategy.infrastructure.gateway``. It holds no
decision of its own: the flow of a bar, the hedge book, the Greeks and the
account are the cycle's and the domain's.

The process that creates the strategy hands it its configuration tree and
persistence with ``configure(runtime)`` before vnpy initialises it; the
strategy reads no file. vnpy's parameters below are the spec's
``strategies[].setting`` keys: given to the strategy, they override the
file's values (a parameter sweep changes them), checked like the file.
"""
from __future__ import annotations

import logging
from datetime import datetime, timedelta

from vnpy.trader.constant import Interval
from vnpy.trader.object import BarData, OrderData, TickData, TradeData
from vnpy_portfoliostrategy import StrategyTemplate
from vnpy_portfoliostrategy.base import EngineType

from src.core.config.schema import StrategySetting
from src.strategy.application import cycle_state
from src.strategy.application.bootstrap import (
    StrategyRuntime,
    attach_runtime,
    build_cycle,
    effective_setting,
    load_runtime,
    warmup_trading_days,
)
from src.strategy.application.trading_cycle import CyclePorts, TradingCycle
from src.strategy.domain.domain_service.option_selector_service import OptionSelectorSettings
from src.strategy.domain.domain_service.position_sizing_service import SizingSettings
from src.strategy.domain.event.position_events import PositionSettledEvent
from src.strategy.domain.value_object.market_input import TopOfBook
from src.strategy.infrastructure.bar_pipeline import BarPipeline
from src.strategy.infrastructure.gateway.vnpy_account_gateway import VnpyAccountGateway
from src.strategy.infrastructure.gateway.vnpy_clock import VnpyClock
from src.strategy.infrastructure.gateway.vnpy_converters import (
    from_vnpy_status,
    to_bar_print,
    to_bar_snapshot,
    to_top_of_book,
    to_trade_fill,
)
from src.strategy.infrastructure.gateway.vnpy_event_gateway import VnpyEventGateway
from src.strategy.infrastructure.gateway.vnpy_order_gateway import VnpyOrderGateway
from src.strategy.infrastructure.gateway.vnpy_trade_execution_gateway import VnpyTradeExecutionGateway
from src.strategy.infrastructure.persistence.auto_save_service import AutoSaveService

logger = logging.getLogger(__name__)

COUNTERS = ("signal_count", "order_count", "refusal_count", "risk_breach_count", "hedge_trade_count")


class StrategyEntry(StrategyTemplate):
    author = "vol-strategy-framework"

    # vnpy shows these before the configuration's values replace them; the domain owns the defaults.
    max_positions: int = SizingSettings.max_positions
    position_ratio: float = SizingSettings.position_ratio
    strike_level: int = OptionSelectorSettings.strike_level
    bar_window: int = 1
    bar_interval: str = "MINUTE"
    warmup_days: int = 0

    parameters = ["max_positions", "position_ratio", "strike_level", "bar_window", "bar_interval", "warmup_days"]
    variables = ["active_contracts", "open_position_count", *COUNTERS]

    def __init__(self, strategy_engine, strategy_name: str, vt_symbols: list[str], setting: dict) -> None:
        super().__init__(strategy_engine, strategy_name, vt_symbols, setting)
        self.active_contracts: dict[str, str] = {}
        self.open_position_count = 0
        for name in COUNTERS:
            setattr(self, name, 0)
        self._given_setting = dict(setting)
        self._runtime: StrategyRuntime | None = None
        self.clock = VnpyClock(strategy_engine)
        self.cycle: TradingCycle | None = None

    # ------------------------------------------------------------ set-up
    def configure(self, runtime: StrategyRuntime) -> None:
        """The process's configuration tree and persistence; call before vnpy initialises the strategy."""
        self._runtime = runtime

    def on_init(self) -> None:
        if self._runtime is None:
            # Added by hand in vnpy's own UI: the project's configuration, read here once.
            self._runtime = load_runtime()
        runtime = self._runtime
        self.setting: StrategySetting = effective_setting(runtime.config, self.strategy_name, self._given_setting)
        backtesting = self.get_engine_type() is EngineType.BACKTESTING
        ports = CyclePorts(account=VnpyAccountGateway(self.strategy_engine),
                           orders=VnpyOrderGateway(self.strategy_engine, self),
                           events=VnpyEventGateway(self.write_log))
        self.cycle = build_cycle(self.strategy_name, self.vt_symbols, runtime.config, self.setting,
                                 VnpyTradeExecutionGateway(self), ports, prices_from_bars=backtesting)
        attach_runtime(self.cycle, runtime)
        self.cycle.bus.subscribe(PositionSettledEvent, self._on_settled)
        interval = Interval.HOUR if self.setting.bar_interval == "HOUR" else Interval.MINUTE
        self.pipeline = BarPipeline(window=self.setting.bar_window, interval=interval)
        self.tick_pipeline = BarPipeline(window=1, interval=Interval.MINUTE)
        if runtime.state_repository is not None:
            self._restore_from_repository(runtime)
        self._last_control_poll = None
        self._control_failed = False
        self._poll_control(self.clock.now())  # a flatten or stop written before this start holds from the start
        self._sync_variables()
        cycle = self.cycle
        self.write_log(f"initialised: {len(cycle.futures)} futures, {len(cycle.options)} options, "
                       f"products {', '.join(cycle.instruments.products())}, "
                       f"{self.setting.bar_window} {self.setting.bar_interval.lower()} bars")
        if runtime.history is not None and not backtesting:
            self._warm_up_from_history(runtime)
        else:
            self.load_bars(self._warmup_days())

    @classmethod
    def warmup_days_for(cls, setting: StrategySetting) -> int:
        return warmup_trading_days(setting)

    def _warmup_days(self) -> int:
        return int(self.warmup_days) if self.warmup_days > 0 else warmup_trading_days(self.setting)

    def _warm_up_from_history(self, runtime: StrategyRuntime) -> None:
        """Replay the recent bars of the database through the bar flow (not trading: no orders)."""
        end = runtime.warmup_end or self.clock.now()
        slices = runtime.history.load_bar_slices(self.vt_symbols, end, days=self._warmup_days())
        for _moment, bars in slices:
            self.on_bars(bars)
        self.write_log(f"warmed up on {len(slices)} minutes of history up to {end:%Y-%m-%d %H:%M}")

    def _restore_from_repository(self, runtime: StrategyRuntime) -> None:
        repository = runtime.state_repository
        state = repository.load(self.strategy_name)
        for event in repository.pop_events():
            self.cycle.record(event)
        if state is not None:
            cycle_state.restore(self.cycle, state, self.clock.now())
            self.write_log(f"state restored: {self.cycle.open_position_count()} open positions, "
                           f"active contracts {dict(self.cycle.instruments.active_contracts())}")
        self.cycle.state_saver = AutoSaveService(repository, self.strategy_name, self.state_snapshot,
                                                 interval_seconds=runtime.autosave_interval_seconds)

    def state_snapshot(self) -> dict:
        return cycle_state.capture(self.cycle)

    def monitor_snapshot(self, at: datetime) -> dict:
        return self.cycle.monitor_view(at)

    def hedging_summary(self) -> dict:
        return self.cycle.hedging_summary()

    def safeguards_summary(self) -> dict:
        """The pre-trade gate's refusals per rule and the highest daily order/cancel counts (summary.json)."""
        safeguards = self.cycle.safeguards
        return safeguards.summary() if safeguards is not None else {}

    # ------------------------------------------------------------ timer, gateways, kill switch
    def on_timer(self) -> None:
        """Every second (the strategy engine's timer): the kill switch's poll, then time passes for the cycle
        (order timeouts, stale quotes, the kill switch's closes)."""
        now = self.clock.now()
        self._poll_control(now)
        if self.trading:
            self.cycle.on_time(now)
            self._sync_variables()

    def gateway_status(self, name: str, connected: bool, detail: str = "") -> None:
        """The strategy engine's report of a gateway going down or coming back: reduce-only meanwhile."""
        now = self.clock.now()
        self.write_log(f"gateway {name} {'connected' if connected else 'DISCONNECTED'}: {detail}")
        self.cycle.safeguards.gateway_status(name, connected, now, detail)
        if self.trading:
            self.cycle.on_time(now)

    def _poll_control(self, now: datetime) -> None:
        """The newest kill-switch command written for this strategy, carried out once."""
        control = getattr(self._runtime, "control", None)
        safeguards = self.cycle.safeguards
        if control is None or safeguards is None:
            return
        last = self._last_control_poll
        interval = timedelta(seconds=self._runtime.config.pre_trade.control_poll_seconds)
        # A replay's clock starts at the wall time (on_init), then jumps back to the replayed day: poll then too.
        if last is not None and last <= now < last + interval:
            return
        self._last_control_poll = now
        try:
            request = control.latest(self.strategy_name)
        except Exception as error:  # the database away: the last command stays in force
            if not self._control_failed:
                self._control_failed = True
                self.write_log(f"kill switch: cannot read the control table ({type(error).__name__}: {error}); "
                               f"the last command stays in force")
            return
        self._control_failed = False
        if request is not None and safeguards.apply_control(request, now):
            self.write_log(f"kill switch: {request.command.value} (written {request.requested_at:%Y-%m-%d %H:%M:%S})")
            if self.trading:
                self.cycle.on_time(now)

    def reconcile_positions(self, snapshots: list, at: datetime) -> None:
        """Compare what the gateway reports with the restored book; differences raise manual events."""
        skipped = self.cycle.reconcile(snapshots, at)
        if skipped:
            self.write_log(f"reconciliation skipped {', '.join(skipped)}: orders still active")
        self._sync_variables()

    # -------------------------------------------------------------- callbacks
    def on_start(self) -> None:
        if self.get_engine_type() is not EngineType.BACKTESTING:
            self.cycle.resume_orders(self.clock.now())
            self._sync_variables()
        self.write_log("started")

    def on_stop(self) -> None:
        saves = self.cycle.stop(self.clock.now())
        if self.cycle.state_saver is not None:
            self.write_log(f"state saved ({saves} snapshots this run)")
        monitor = self._runtime.monitor if self._runtime is not None else None
        if monitor is not None:
            monitor.flush(timeout=5.0)
        self._sync_variables()
        self.write_log("stopped")

    def on_tick(self, tick: TickData) -> None:
        """Live and paper trading: ticks become session-aware 1-minute bars, then the bar flow."""
        self.cycle.on_quote(to_top_of_book(tick), tick.datetime)
        for bar in self.tick_pipeline.update_tick(tick):
            self.on_bars({bar.vt_symbol: bar})

    def on_bars(self, bars: dict[str, BarData]) -> None:
        if not bars:
            return
        cycle = self.cycle
        bar_time = max(bar.datetime for bar in bars.values())
        now = self.clock.now()  # live, a minute bar arrives when the next minute's first tick does
        prints = {vt_symbol: to_bar_print(bar) for vt_symbol, bar in bars.items()}
        future_bars = {vt_symbol: bar for vt_symbol, bar in bars.items() if vt_symbol in cycle.futures}
        window_bars = [to_bar_snapshot(bar) for bar in self.pipeline.update_bars(future_bars).values()]
        cycle.on_bars(prints, window_bars, bar_time, now, trading=self.trading, recording=self.inited,
                      touches=self._bar_touches(bars))
        self._sync_variables()

    def _bar_touches(self, bars: dict[str, BarData]) -> dict[str, TopOfBook] | None:
        """A backtest with the quote-aware fills: the touch each bar leaves, the one its fills are modelled
        on (``OptionBacktestingEngine.bar_touches``), so the strategy prices its orders and filters its
        options on the quote the replay's rebuilt ticks show it. None elsewhere: live ticks bring their own,
        and with vnpy's crossing the backtest prices off the last close, as it did."""
        bar_touches = getattr(self.strategy_engine, "bar_touches", None)
        return bar_touches(bars) if bar_touches is not None else None

    def update_order(self, order: OrderData) -> None:
        super().update_order(order)
        now = self.clock.now()
        self.cycle.on_order(order.vt_orderid, from_vnpy_status(order.status), int(order.traded),
                            order.datetime or now, now)
        self._sync_variables()

    def update_trade(self, trade: TradeData) -> None:
        super().update_trade(trade)
        now = self.clock.now()
        self.cycle.on_trade(to_trade_fill(trade, now), now)
        self._sync_variables()

    def _on_settled(self, event: PositionSettledEvent) -> None:
        """A settled position is gone from vnpy's position too; an engine that keeps the
        accounts (the backtester) books the settlement as a trade at the settlement price."""
        closing = -1 if event.direction.value == "LONG" else 1
        self.pos_data[event.vt_symbol] = self.pos_data.get(event.vt_symbol, 0) + closing * event.volume
        book = getattr(self.strategy_engine, "book_settlement", None)
        if book is not None:
            book(event.vt_symbol, event.direction.value, event.volume, event.settlement_price, event.occurred_at)

    def _sync_variables(self) -> None:
        """vnpy shows (and its UI refreshes) these attributes; the cycle holds the figures."""
        cycle = self.cycle
        self.open_position_count = cycle.open_position_count()
        self.active_contracts = dict(cycle.instruments.active_contracts())
        counters = cycle.counters
        self.signal_count = counters.signal_count
        self.order_count = counters.order_count
        self.refusal_count = counters.refusal_count
        self.risk_breach_count = counters.risk_breach_count
        self.hedge_trade_count = counters.hedge_trade_count


# The classes a configuration may name in strategies[].class_name (the schema admits exactly these names).
STRATEGY_CLASSES: dict[str, type[StrategyTemplate]] = {"StrategyEntry": StrategyEntry}
