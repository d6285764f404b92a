"""Builds vnpy's engines for a strategy or recorder process: EventEngine -> MainEngine -> apps.

``create_engines`` returns an ``Engines`` bundle:

- a ``TrackedEventEngine`` (vnpy's EventEngine that can tell when everything
  put on it has been handled) and ``MainEngine`` (with vnpy's own loguru
  output switched off: ``VnpyLogBridge`` sends vnpy's log events to Python
  logging, where the rotating file and the secret masking are);
- the gateways asked for, added before any app, so a gateway that matches
  orders on ticks (``ReplayGateway``) sees each tick before the strategies do;
- vnpy_portfoliostrategy's app, with ``OptionStrategyEngine`` as its engine
  and ``StrategyEntry`` registered in its ``classes``, so
  ``add_strategy("StrategyEntry", ...)`` works;
- vnpy_paperaccount's app for paper trading on live market data.

``OptionStrategyEngine`` is vnpy's portfolio strategy engine with what our
processes need on top:

- the strategies come from the typed configuration, not from vnpy's
  ``portfolio_strategy_setting.json``, and their state from our state
  repository, not from ``portfolio_strategy_data.json``: ``start`` skips both
  loads, and the two files vnpy still writes are named after the process's
  strategy (``portfolio_strategy_setting.<name>.json``) so that the processes
  of several timeframes, which share vnpy's folder, never read or overwrite
  each other's;
- ``capital``: what ``StrategyEntry`` sizes positions against: the paper
  capital in paper trading, the gateways' account balance live;
- ``datetime``: the replayed market time in a replay (None live: the strategy
  then uses the wall clock);
- in a replay the history a strategy loads in ``on_init`` (``load_bars``) is
  empty: its warm-up days arrive as ticks through the replay gateway, like the
  backtester's warm-up, and a history read from the database by wall-clock
  time would belong to other dates.
"""
from __future__ import annotations

import contextlib
import dataclasses
import io
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Interval
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_LOG, EVENT_TIMER
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import BarData, LogData
from vnpy_portfoliostrategy import PortfolioStrategyApp, StrategyEngine, StrategyTemplate
from vnpy_portfoliostrategy.base import EVENT_PORTFOLIO_LOG

from src.core.config.errors import UserInputError
from src.core.config.schema import StrategyDefinition
from src.main.gateway.event_flow import TrackedEventEngine
from src.strategy.strategy_entry import STRATEGY_CLASSES

logger = logging.getLogger(__name__)

# vnpy_portfoliostrategy's engine reports a strategy callback that raised with this in the log message.
STRATEGY_TRACEBACK_MARK = "Traceback (most recent call last)"


class OptionStrategyEngine(StrategyEngine):
    def __init__(self, main_engine: MainEngine, event_engine: EventEngine) -> None:
        super().__init__(main_engine, event_engine)
        self.paper_capital: float | None = None
        self.market_clock: Callable[[], datetime | None] | None = None
        self.history_from_stream = False
        self._gateways_connected: dict[str, bool] = {}

    def use_files_of(self, name: str) -> None:
        """Name vnpy's two JSON files after this process's strategy (see the module doc)."""
        self.setting_filename = f"portfolio_strategy_setting.{name}.json"
        self.data_filename = f"portfolio_strategy_data.{name}.json"

    def start(self, classes: dict[str, type[StrategyTemplate]]) -> None:
        """vnpy's ``init_engine`` without loading strategies and state from vnpy's JSON files."""
        self.init_datafeed()
        self.classes.update(classes)
        self.register_event()
        self.event_engine.register(EVENT_TIMER, self.process_timer_event)
        self.write_log(f"strategy engine ready: classes {', '.join(sorted(self.classes))}")

    def process_timer_event(self, _event: Event) -> None:
        """Every second: each gateway's connection (reported to the strategies when it changes), then the
        strategies' ``on_timer`` (the kill switch's poll, order timeouts, stale quotes), vnpy-guarded."""
        for name, connected, detail in self.gateway_connections():
            if self._gateways_connected.get(name, True) != connected:
                self._gateways_connected[name] = connected
                for strategy in list(self.strategies.values()):
                    report = getattr(strategy, "gateway_status", None)
                    if report is not None and strategy.inited:
                        self.call_strategy_func(strategy, lambda r=report: r(name, connected, detail))
        for strategy in list(self.strategies.values()):
            on_timer = getattr(strategy, "on_timer", None)
            if on_timer is not None and strategy.inited:
                self.call_strategy_func(strategy, on_timer)

    def gateway_connections(self) -> list[tuple[str, bool, str]]:
        """(name, connected, detail) of each gateway that says whether it is logged in (CTP and SOPT: their
        trading and market data fronts; vnpy_ctp clears ``login_status`` on a front disconnect)."""
        found = []
        for name, gateway in self.main_engine.gateways.items():
            apis = {"trading": getattr(gateway, "td_api", None), "market data": getattr(gateway, "md_api", None)}
            apis = {kind: api for kind, api in apis.items() if api is not None and hasattr(api, "login_status")}
            if not apis:
                continue
            down = [kind for kind, api in apis.items() if not api.login_status]
            found.append((name, not down, f"{' and '.join(down)} front down" if down else "fronts logged in"))
        return found

    @property
    def capital(self) -> float:
        if self.paper_capital is not None:
            return self.paper_capital
        return float(sum(account.balance for account in self.main_engine.get_all_accounts()))

    def account_funds(self) -> tuple[float, float] | None:
        """Live: the gateways' (balance, available), which already include the P&L, fees and margins;
        None in paper trading, where the strategy values its account from the paper capital."""
        if self.paper_capital is not None:
            return None
        accounts = self.main_engine.get_all_accounts()
        if not accounts:
            return None
        return (float(sum(account.balance for account in accounts)),
                float(sum(account.available for account in accounts)))

    @property
    def datetime(self) -> datetime | None:
        return self.market_clock() if self.market_clock is not None else None

    def load_bar(self, vt_symbol: str, days: int, interval: Interval) -> list[BarData]:
        if self.history_from_stream:
            return []
        return super().load_bar(vt_symbol, days, interval)


class OptionStrategyApp(PortfolioStrategyApp):
    engine_class = OptionStrategyEngine


class VnpyLogBridge:
    """vnpy's log events (MainEngine, gateways, strategies, paper account) into Python logging.

    It also notices when vnpy's strategy engine reports that a strategy callback
    raised (vnpy then stops the strategy and carries on): ``strategy_failure``
    holds the report, so the process can exit and be restarted rather than run
    on without its strategy.
    """

    def __init__(self, event_engine: EventEngine) -> None:
        self.strategy_failure: str | None = None
        event_engine.register(EVENT_LOG, self._process)
        event_engine.register(EVENT_PORTFOLIO_LOG, self._process)

    def _process(self, event: Event) -> None:
        log: LogData = event.data
        try:
            message = str(log.msg)
            if event.type == EVENT_PORTFOLIO_LOG and STRATEGY_TRACEBACK_MARK in message:
                self.strategy_failure = message
                logging.getLogger("vnpy.strategy").error("a strategy callback raised; vnpy stopped the strategy:\n%s",
                                                         message)
                return
            level = log.level if isinstance(log.level, int) else logging.INFO
            logging.getLogger(f"vnpy.{log.gateway_name or 'main'}").log(level, "%s", message)
        except Exception:  # never let logging end vnpy's event thread
            logger.exception("cannot log a vnpy log event")


@dataclass
class Engines:
    event_engine: TrackedEventEngine
    main_engine: MainEngine
    log_bridge: VnpyLogBridge
    strategy_engine: OptionStrategyEngine | None = None
    paper_engine: object | None = None
    gateways: dict[str, BaseGateway] = field(default_factory=dict)

    def close(self) -> None:
        """Stop the event engine, then close the apps and gateways (vnpy's order, which no timer outlives)."""
        self.main_engine.close()


def create_engines(*, gateway_classes: Mapping[str, type[BaseGateway]] | None = None, strategies: bool = True,
                   paper_account: bool = False, files_tag: str = "default",
                   event_engine: TrackedEventEngine | None = None) -> Engines:
    """``gateway_classes``: gateway name -> class, added in that order before any app.

    The event engine is a ``TrackedEventEngine`` (vnpy's, able to say when all it was given is handled): a
    replay paces itself on it, and a process waits on it for the contracts a gateway sent to reach the OMS.
    """
    event_engine = event_engine or TrackedEventEngine()
    previous_folder = os.getcwd()
    main_engine = MainEngine(event_engine)
    os.chdir(previous_folder)  # MainEngine moves into vnpy's folder; our paths are absolute, but users' need not be
    log_engine = main_engine.get_engine("log")
    if log_engine is not None:
        log_engine.active = False  # loguru's console and file output: ours replaces them
    engines = Engines(event_engine, main_engine, VnpyLogBridge(event_engine))
    for name, gateway_class in (gateway_classes or {}).items():
        engines.gateways[name] = main_engine.add_gateway(gateway_class, name)
    if strategies:
        # vnpy prints "the datafeed is not configured" when none is: no datafeed is needed, keep it off the console.
        with contextlib.redirect_stdout(io.StringIO()) as printed:
            strategy_engine: OptionStrategyEngine = main_engine.add_app(OptionStrategyApp)
        if printed.getvalue().strip():
            logger.debug("vnpy: %s", printed.getvalue().strip())
        strategy_engine.use_files_of(files_tag)
        strategy_engine.start(STRATEGY_CLASSES)
        engines.strategy_engine = strategy_engine
    if paper_account:
        engines.paper_engine = main_engine.add_app(_paper_account_app(files_tag))
    return engines


def _paper_account_app(files_tag: str):
    """vnpy_paperaccount's app whose positions file is this process's own (see the module doc)."""
    from vnpy_paperaccount import PaperAccountApp
    from vnpy_paperaccount.engine import PaperEngine

    engine_class = type("PaperEngine", (PaperEngine,), {
        "setting_filename": f"paper_account_setting.{files_tag}.json",
        "data_filename": f"paper_account_data.{files_tag}.json",
    })
    return type("PaperAccountApp", (PaperAccountApp,), {"engine_class": engine_class})


def strategy_setting(definition: StrategyDefinition) -> dict:
    """The vnpy setting of a strategy: the configuration's ``setting`` (vnpy shows and saves it)."""
    return dataclasses.asdict(definition.setting)


def add_strategy(engine: OptionStrategyEngine, definition: StrategyDefinition, vt_symbols: Sequence[str],
                 setting: dict) -> StrategyTemplate:
    if definition.class_name not in engine.classes:
        raise UserInputError(f"unknown strategy class {definition.class_name!r} "
                             f"(known: {', '.join(sorted(engine.classes))})")
    engine.add_strategy(definition.class_name, definition.strategy_name, list(vt_symbols), setting)
    strategy = engine.strategies.get(definition.strategy_name)
    if strategy is None:
        raise UserInputError(f"vnpy refused to add strategy {definition.strategy_name!r}: see the log")
    return strategy
