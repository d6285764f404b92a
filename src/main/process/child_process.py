"""ChildProcess: one strategy process: vnpy's engines, the gateways, the strategies, until told to stop.

``python -m src.main.main --mode standalone`` runs it directly; the daemon
(``ParentProcess``) runs it as its child. The steps:

1. vnpy's engines (``create_engines``): EventEngine -> MainEngine -> gateways ->
   the portfolio strategy app (and vnpy_paperaccount for paper trading on live
   market data);
2. market data:
   - live and paper: the CTP and SOPT logins of ``.env`` (``GatewayManager``),
     waiting until they are logged in and have sent their contracts
     (``runtime.gateway_connect_timeout``; exit code 3 otherwise, so the daemon
     retries with a new process);
   - replay (``--replay``): ``ReplayGateway`` over the database (with
     ``--sample-market``, the synthetic sample market is generated there first
     when it holds no data for the dates, as the backtest does, and never
     beside real bars) or over the sample market in memory;
3. the universe (``UniverseBuilder``): the futures of
   ``config/general/trading_target.yaml`` and their options, from the
   gateways' contracts live, from the stored bars in a replay;
4. every strategy of the configuration is added with its typed setting plus
   the configuration files, state persistence is attached when the strategy
   supports it, and the strategies are initialised, then started (in a replay:
   initialised, fed the warm-up days, then started, like the backtester);
5. it runs until SIGTERM/SIGINT (or the end of a replay's data, or a strategy
   callback raising, or the daemon disappearing), then stops the strategies in
   the event engine's thread (vnpy's ``stop_strategy`` calls ``on_stop``, which
   saves the state), closes the engines and exits.

While it runs, a heartbeat thread rewrites the daemon's heartbeat file every
``runtime.heartbeat_interval`` seconds as long as vnpy's event engine answers a
ping: a callback stuck in a loop silences it and the daemon replaces the
process.

Exit codes: 0 stopped on request or replay finished; 1 a strategy raised or
an unexpected error; 2 bad input (configuration, flags, data); 3 gateways
unavailable.
"""
from __future__ import annotations

import json
import logging
import math
import os
import threading
import traceback
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from vnpy.event import Event

from src.datafeed.sample_market import (
    DEFAULT_END,
    DEFAULT_START,
    ensure_sample_market,
    regenerate_with_quotes,
    sample_codes,
)
from src.datafeed.synthetic_marker import synthetic_description
from src.core import database_factory
from src.main.bootstrap.engine_factory import (
    Engines,
    OptionStrategyEngine,
    add_strategy,
    create_engines,
    strategy_setting,
)
from src.main.bootstrap.universe import Universe, UniverseBuilder
from src.core.contract.trading_targets import load_tradable_targets
from src.core.config.env_settings import DatabaseSettings, feishu_settings_from_environment
from src.core.config.errors import UserInputError
from src.main.config.gateway_manager import GatewayManager, GatewayUnavailableError
from src.core.config.schema import StrategyConfig
from src.main.gateway.event_flow import EventEngineProbe
from src.main.gateway.replay_gateway import EVENT_REPLAY, ReplayGateway, ReplayPhase, ReplayPlan, ReplayProgress
from src.main.gateway.replay_source import (
    DatabaseReplaySource,
    QuotedReplaySource,
    ReplaySource,
    SampleMarketReplaySource,
)
from src.core.process.exit_codes import EXIT_FAILED, EXIT_GATEWAY_UNAVAILABLE, EXIT_OK
from src.core.process.heartbeat import HeartbeatWriter
from src.main.process.paper_trades import PaperTradeStore, database_location
from src.main.process.state_scope import LIVE, PAPER, REPLAY, ScopedMonitor, ScopedStateRepository, state_key
from src.main.process.state_scope import ScopedControl
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.main.utils.file_lock import exclusive_lock
from src.paths import DATA_DIR
from src.strategy.domain.value_object.trading_calendar import TradingCalendar
from src.strategy.infrastructure.calendar.holiday_loader import calendar_edge_warning, load_cn_calendar
from src.strategy.infrastructure.gateway.vnpy_converters import to_position_snapshot
from src.strategy.domain.event.base import DomainEvent
from src.strategy.infrastructure.notification.feishu_event_handler import FeishuEventHandler
from src.strategy.application.bootstrap import StrategyRuntime, warmup_trading_days

logger = logging.getLogger("child")

EVENT_CHILD_STOP = "eChildStop"
AUTOSAVE_INTERVAL_SECONDS = 60
STOP_IN_EVENT_THREAD_TIMEOUT = 30.0
SAMPLE_MARKET_LOCK = DATA_DIR / ".sample_market.lock"
LOOP_POLL_SECONDS = 0.2


@dataclass(frozen=True)
class ReplayOptions:
    start: date
    end: date
    speed: float = 0.0
    source: str = "database"        # "database" or "sample"
    warmup_days: int | None = None  # None: what the strategies' indicators need
    sample_market: bool = False     # create the synthetic sample market when the database has no bars
    quotes: bool = False            # the sample's quote table on the replayed ticks (regenerated in memory)


@dataclass(frozen=True)
class ChildOptions:
    config_file: Path
    override_config_file: Path | None
    trading_target_file: Path
    variant: str
    paper: bool = False
    replay: ReplayOptions | None = None
    capital: float = 1_000_000.0
    ui: bool = False


class ChildProcess:
    def __init__(self, options: ChildOptions, config: StrategyConfig, stop: threading.Event,
                 heartbeat: HeartbeatWriter | None = None) -> None:
        self.options = options
        self.config = config
        self.stop = stop
        self.heartbeat = heartbeat
        self.engines: Engines | None = None
        self.strategies: list = []
        self.trade_store: PaperTradeStore | None = None
        self.replay_gateway: ReplayGateway | None = None
        self._closeables: list = []
        self._database = None
        self._finished = threading.Event()
        self._replay_failure: str | None = None
        self._parent_pid = os.getppid() if heartbeat is not None else None
        self._gap_follower = None  # live and paper under the daemon: follows its session gap notices
        self._history = None  # live and paper: the warm-up's bars (database, then gateway or datafeed)

    # ------------------------------------------------------------------ run
    def _mode(self) -> str:
        return REPLAY if self.options.replay else PAPER if self.options.paper else LIVE

    def run(self) -> int:
        mode = self._mode()
        logger.info("child pid %d starting: %s mode, variant %s, config %s%s", os.getpid(), mode,
                    self.options.variant, self.options.config_file,
                    f" + {self.options.override_config_file}" if self.options.override_config_file else "")
        try:
            code = self._run()
        except GatewayUnavailableError as error:
            logger.error("gateways unavailable: %s", error)
            code = EXIT_GATEWAY_UNAVAILABLE
        except UserInputError:
            self._shutdown()
            raise
        except Exception:
            logger.error("child failed:\n%s", traceback.format_exc())
            code = EXIT_FAILED
        self._shutdown()
        logger.info("child pid %d exits with code %d", os.getpid(), code)
        return code

    def _run(self) -> int:
        settings = database_factory.database_settings_from_environment()
        self._database_description = settings.describe()
        database = self._database = database_factory.create_database(settings)
        products = load_tradable_targets(self.options.trading_target_file)
        calendar = load_cn_calendar()
        builder = UniverseBuilder(products, calendar)
        replay = self.options.replay
        last_day = replay.end if replay else datetime.now(EXCHANGE_TIMEZONE).date()
        edge = calendar_edge_warning(calendar, last_day)
        if edge:
            logger.warning("%s", edge)
        manager = None if replay else GatewayManager.from_environment()
        if manager is not None and not manager.configured:
            raise UserInputError(
                "live and paper trading need market data: set CTP_* (and SOPT_* for ETF options) in .env, "
                "or replay stored data offline with --paper --replay")

        gateway_classes = {"REPLAY": ReplayGateway} if replay else manager.classes_in_use()
        engines = self.engines = create_engines(gateway_classes=gateway_classes,
                                                paper_account=self.options.paper and not replay,
                                                files_tag=self._files_tag())
        strategy_engine = engines.strategy_engine
        if self.heartbeat is not None:
            self.heartbeat.set_probe(EventEngineProbe(engines.event_engine, self.heartbeat.interval))
        if self.options.paper:
            strategy_engine.paper_capital = self.options.capital
            self.trade_store = PaperTradeStore(database_location(settings), self.options.variant,
                                               self._mode())
            self.trade_store.listen(engines.main_engine, engines.event_engine)
            logger.info("paper trades go to table paper_trade of %s, run_id %s", settings.describe(),
                        self.trade_store.run_id)

        if replay:
            universe = self._prepare_replay(engines, strategy_engine, builder, calendar, database, settings)
        else:
            manager.bind(engines.gateways)
            manager.connect(engines.main_engine)
            if not manager.wait_until_ready(self.config.runtime.gateway_connect_timeout, self.stop):
                return EXIT_OK
            engines.event_engine.wait_until_idle(self.stop)  # every contract the gateways sent is in the OMS
            universe = builder.from_contracts(engines.main_engine.get_all_contracts(),
                                              datetime.now(EXCHANGE_TIMEZONE).date())
            from src.main.process.warmup_sources import warmup_history

            self._history = warmup_history(self.config.warmup, database, engines.main_engine,
                                           [future.vt_symbol for future in universe.futures], calendar)
        logger.info("universe: %s", universe.describe())
        if self.stop.is_set():
            return EXIT_OK

        for definition in self.config.strategies:
            strategy = add_strategy(strategy_engine, definition, universe.vt_symbols, strategy_setting(definition))
            self._configure(strategy, settings)
            self.strategies.append(strategy)
        if not self._initialise(strategy_engine):
            return self._exit_code_after_start()

        if replay:
            engines.event_engine.register(EVENT_REPLAY, self._on_replay_progress)
            self.replay_gateway.start_replay()
        else:
            self._reconcile(engines.main_engine)
            strategy_engine.start_all_strategies()
            logger.info("strategies started: %s", ", ".join(s.strategy_name for s in self.strategies))
        if self.heartbeat is not None:  # under the daemon: follow its session gap notices
            from src.core.process.session_gap import notice_file_for
            from src.main.process.session_gap import GapFollower

            self._gap_follower = GapFollower(notice_file_for(self.heartbeat.path), engines.event_engine,
                                             self.strategies)
        self._wait()
        return self._exit_code_after_start()

    # -------------------------------------------------------------- replay
    def _prepare_replay(self, engines: Engines, strategy_engine: OptionStrategyEngine, builder: UniverseBuilder,
                        calendar: TradingCalendar, database, settings: DatabaseSettings) -> Universe:
        replay = self.options.replay
        if replay.start > replay.end:
            raise UserInputError(f"--replay-start {replay.start} is after --replay-end {replay.end}")
        replay_days = _trading_days(calendar, replay.start, replay.end)
        if not replay_days:
            raise UserInputError(f"no trading day between {replay.start} and {replay.end}")
        warmup_count = replay.warmup_days if replay.warmup_days is not None else max(
            warmup_trading_days(definition.setting) for definition in self.config.strategies)
        warmup_days = _previous_trading_days(calendar, replay_days[0], warmup_count)
        first_day = warmup_days[0] if warmup_days else replay_days[0]
        source = self._replay_source(database, settings, first_day, replay_days[-1])
        universe = builder.from_history(source, first_day, replay_days[-1], source.describe())

        gateway: ReplayGateway = engines.gateways["REPLAY"]
        gateway.progress_interval_seconds = _replay_progress_seconds(gateway.progress_interval_seconds)
        gateway.prepare(source, universe.contracts,
                        ReplayPlan(tuple(warmup_days), tuple(replay_days), replay.speed), calendar,
                        self.options.capital, fees=self.config.fees.to_domain(),
                        margin_multiplier=self.config.account.broker_margin_multiplier)
        strategy_engine.market_clock = lambda: gateway.market_time
        strategy_engine.history_from_stream = True
        engines.main_engine.connect({"speed": replay.speed}, "REPLAY")
        engines.event_engine.wait_until_idle(self.stop)  # the contracts are in the OMS before strategies subscribe
        self.replay_gateway = gateway
        return universe

    def _replay_source(self, database, settings: DatabaseSettings, first: date, last: date) -> ReplaySource:
        if self.options.replay.source == "sample":
            return SampleMarketReplaySource(first, last, quotes=self.options.replay.quotes)
        # Several paper processes may start at once (one per timeframe): one generates, the others wait.
        with exclusive_lock(SAMPLE_MARKET_LOCK):
            if not _has_any_bars(database, first, last):
                if not self.options.replay.sample_market:
                    raise UserInputError(
                        f"no bars between {first} and {last} in {settings.describe()}: import history "
                        f"(python -m src.main.data) or add --sample-market to create the synthetic sample market")
                window = (DEFAULT_START, DEFAULT_END) if DEFAULT_START <= first and last <= DEFAULT_END \
                    else (first, last)
                logger.info("no bars for %s..%s in %s: creating the synthetic sample market %s..%s", first, last,
                            settings.describe(), *window)
                ensure_sample_market(database, *window, where=settings.describe(), report=logger.info)
        synthetic = synthetic_description(database, sample_codes(), first, last)
        if synthetic is not None:
            logger.warning("replaying %s", synthetic)
        source = DatabaseReplaySource(database, settings.describe())
        if self.options.replay.quotes:
            market = regenerate_with_quotes(database, first, last)
            if market is None:
                raise UserInputError(f"--replay-quotes: no sample market generation in {settings.describe()} covers "
                                     f"{first} to {last}")
            logger.info("replay on the quote table of the sample market %s..%s (seed %d)", market.start, market.end,
                        market.seed)
            return QuotedReplaySource(source, market)
        return source

    def _on_replay_progress(self, event: Event) -> None:
        progress: ReplayProgress = event.data
        if progress.phase is ReplayPhase.WARMUP_DONE:
            # In the event thread, after every warm-up tick: the strategies trade from the first replay day on.
            self.engines.strategy_engine.start_all_strategies()
            logger.info("warm-up done (%d ticks): strategies started", progress.ticks_published)
        elif progress.phase is ReplayPhase.FINISHED:
            logger.info("replay finished: %d ticks", progress.ticks_published)
            self._finished.set()
        else:
            self._replay_failure = progress.message
            self._finished.set()

    # ------------------------------------------------------------ strategies
    def _configure(self, strategy, settings: DatabaseSettings) -> None:
        """The process's configuration tree, and state and monitor snapshots in the configured database,
        keyed per mode."""
        mode = self._mode()
        repository = ScopedStateRepository(database_factory.create_state_repository(settings), mode)
        monitor = ScopedMonitor(database_factory.create_strategy_monitor(settings), mode)
        control = ScopedControl(database_factory.create_control_repository(settings), mode)  # the kill switch
        self._closeables.extend([monitor, repository, control])
        # Live: warm up on the database's last trading days, the recorder's gaps filled from the gateway or a
        # datafeed (warmup_sources.py). A replay streams its warm-up days instead.
        history = self._history if mode != REPLAY else None
        strategy.configure(StrategyRuntime(self.config, state_repository=repository, monitor=monitor,
                                           autosave_interval_seconds=AUTOSAVE_INTERVAL_SECONDS, history=history,
                                           control=control,
                                           event_handlers=self._notification_handlers(strategy.strategy_name,
                                                                                      mode)))
        logger.info("%s: state persistence attached: saved as %s%s, autosave every %d s", strategy.strategy_name,
                    state_key(strategy.strategy_name, mode), "" if mode != REPLAY else " (a replay starts empty)",
                    AUTOSAVE_INTERVAL_SECONDS)

    def _notification_handlers(self, strategy_name: str, mode: str) -> tuple:
        """Feishu alerts for the strategy's events when FEISHU_WEBHOOK_URL is set (.env or environment)."""
        settings = feishu_settings_from_environment()
        if settings is None:
            return ()
        handler = FeishuEventHandler(settings, state_key(strategy_name, mode))
        self._closeables.append(handler)
        logger.info("%s: Feishu alerts on (webhook set%s)", strategy_name,
                    ", signed" if settings.secret is not None else "")
        return ((DomainEvent, handler),)

    def _reconcile(self, main_engine) -> None:
        """The gateway's positions against each strategy's restored book: differences become events."""
        snapshots = [snapshot for snapshot in map(to_position_snapshot, main_engine.get_all_positions()) if snapshot]
        now = datetime.now(EXCHANGE_TIMEZONE)
        for strategy in self.strategies:
            strategy.reconcile_positions(snapshots, now)
        logger.info("positions reconciled: %d reported by the gateways", len(snapshots))

    def _initialise(self, engine: OptionStrategyEngine) -> bool:
        """Run every strategy's on_init (vnpy does it on its own thread); False if stopped or failed."""
        for strategy in self.strategies:
            engine.init_strategy(strategy.strategy_name)
        while not all(strategy.inited for strategy in self.strategies):
            if self.stop.is_set() or self.engines.log_bridge.strategy_failure:
                return False
            self.stop.wait(0.05)
        if self.engines.log_bridge.strategy_failure:
            return False
        logger.info("strategies initialised: %s", ", ".join(s.strategy_name for s in self.strategies))
        return True

    def _wait(self) -> None:
        """Until stopped, finished or failed: in vnpy's window when asked for one and possible, else headless."""
        if self.options.ui:
            from src.main.process.window import display_available, run_window

            if display_available():
                run_window(self.engines, self._should_leave, self.stop.set)
                return
            logger.info("no display: running without a window (as with --no-ui)")
        while not self._should_leave():
            self.stop.wait(LOOP_POLL_SECONDS)

    def _should_leave(self) -> bool:
        if self._gap_follower is not None:
            self._gap_follower.poll()
        if self.stop.is_set() or self._finished.is_set() or self.engines.log_bridge.strategy_failure:
            return True
        if self._parent_pid is not None and os.getppid() != self._parent_pid:
            logger.error("the daemon (pid %d) is gone: stopping", self._parent_pid)
            return True
        return False

    def _exit_code_after_start(self) -> int:
        if self.engines.log_bridge.strategy_failure:
            logger.error("a strategy raised: exiting with code %d so the daemon restarts the process", EXIT_FAILED)
            return EXIT_FAILED
        if self._replay_failure:
            logger.error("the replay failed: %s", self._replay_failure.strip().splitlines()[-1])
            return EXIT_FAILED
        return EXIT_OK

    # ------------------------------------------------------------ shutdown
    def _shutdown(self) -> None:
        engines = self.engines
        if engines is None:
            return
        if self.replay_gateway is not None:
            self.replay_gateway.close()  # no more ticks
        if engines.strategy_engine is not None and any(s.trading for s in self.strategies):
            self._stop_strategies(engines)
        if self.trade_store is not None:
            logger.info("paper trades recorded by this run: %d (run_id %s)", self.trade_store.trades_recorded,
                        self.trade_store.run_id)
        if self.replay_gateway is not None:
            self._log_replay_summary()
        engines.close()
        for closeable in self._closeables:
            try:
                closeable.close()
            except Exception:
                logger.exception("closing %s failed", type(closeable).__name__)
        if self.trade_store is not None:
            self.trade_store.close()
        self.engines = None

    def _log_replay_summary(self) -> None:
        """What a replay did, like the backtest's table: per strategy its P&L and book, then where the fills are."""
        at = self.replay_gateway.market_time or datetime.now(EXCHANGE_TIMEZONE)
        for strategy in self.strategies:
            cycle = getattr(strategy, "cycle", None)
            if cycle is None:
                continue
            view = cycle.monitor_view(at)
            counters = view["counters"]
            logger.info("replay summary %s: P&L realized %.2f, open %.2f (marked at the last prices), total %.2f; "
                        "%d positions open; %d signals, %d orders, %d refusals, %d risk breaches",
                        strategy.strategy_name, view["pnl"]["realized"], view["pnl"]["unrealized"],
                        view["pnl"]["total"], len(view["positions"]), counters["signal_count"],
                        counters["order_count"], counters["refusal_count"], counters["risk_breach_count"])
            safeguards = view.get("safeguards")
            if safeguards is not None:
                logger.info("replay summary %s: pre-trade gate refusals %s; reduce-only at the end: %s",
                            strategy.strategy_name, safeguards["refusals"] or "none",
                            ", ".join(safeguards["reduce_only"]) or "no")
        if self.trade_store is not None:
            logger.info("replay summary: %d fills in table paper_trade of %s, run_id %s",
                        self.trade_store.trades_recorded, self._database_description, self.trade_store.run_id)
        logger.info("replay fills: %s; opening orders rejected for margin: %d",
                    json.dumps(self.replay_gateway.fill_summary(), sort_keys=True),
                    self.replay_gateway.margin_rejections)

    def _stop_strategies(self, engines: Engines) -> None:
        """vnpy's stop_strategy (on_stop: state saved; orders cancelled), run in the event thread.

        In that thread no tick callback of the strategy can run at the same time.
        If the event thread does not get to it (it is stuck: that may be why we
        stop), the strategies are stopped from here instead.
        """
        done = threading.Event()

        def stop_all(_event: Event) -> None:
            try:
                engines.strategy_engine.stop_all_strategies()
            finally:
                done.set()

        engines.event_engine.register(EVENT_CHILD_STOP, stop_all)
        engines.event_engine.put(Event(EVENT_CHILD_STOP))
        if not done.wait(STOP_IN_EVENT_THREAD_TIMEOUT):
            logger.error("the event engine did not stop the strategies within %.0f s: stopping them from the "
                         "main thread", STOP_IN_EVENT_THREAD_TIMEOUT)
            engines.strategy_engine.stop_all_strategies()
        logger.info("strategies stopped: %s", ", ".join(s.strategy_name for s in self.strategies))

    def _files_tag(self) -> str:
        names = "+".join(definition.strategy_name for definition in self.config.strategies)
        return f"{self.options.variant}.{names}"


REPLAY_PROGRESS_VARIABLE = "VOL_STRATEGY_REPLAY_PROGRESS_SECONDS"


def _replay_progress_seconds(default: float) -> float:
    """Seconds between the replay's progress lines inside a day: the environment may shorten them (tests, a
    watched run) or lengthen them (a quiet log)."""
    text = os.environ.get(REPLAY_PROGRESS_VARIABLE, "").strip()
    if not text:
        return default
    try:
        seconds = float(text)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds <= 0:
        raise UserInputError(f"{REPLAY_PROGRESS_VARIABLE}={text!r}: expected a positive number of seconds")
    return seconds


def _trading_days(calendar: TradingCalendar, start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)
            if calendar.is_trading_day(start + timedelta(days=n))]


def _previous_trading_days(calendar: TradingCalendar, day: date, count: int) -> list[date]:
    days: list[date] = []
    for _ in range(count):
        day = calendar.previous_trading_day(day)
        days.append(day)
    return sorted(days)


def _has_any_bars(database, first: date, last: date) -> bool:
    """Bars of any contract within the dates: the user's own history, not to be mixed with the sample."""
    for overview in database.get_bar_overview():
        if overview.start is not None and overview.end is not None \
                and overview.start.date() <= last and overview.end.date() >= first:
            return True
    return False
