"""The data recorder: ticks and session-aware 1-minute bars of the contracts in data_recorder_setting.json.

``config/general/data_recorder_setting.json`` is vnpy_datarecorder's format:
``{"tick": {vt_symbol: {symbol, exchange, gateway_name}}, "bar": {...}}``. A
contract in ``tick`` has its ticks stored; one in ``bar`` has 1-minute bars
built from its ticks by ``BarPipeline`` (the project's session rules: the
auction print joins the first minute, the closing print the last one, breaks
and settlement records make no bars) and stored. The contract is subscribed on
the gateway that lists it (the setting's ``gateway_name`` is informative).

Why not vnpy_datarecorder itself: its bars come from vnpy's ``BarGenerator``,
which knows no trading sessions (a 09:29 auction bar, a separate 15:00 bar);
it drops every tick stamped more than a minute away from the machine's clock
(so it cannot record a replay, nor a feed whose clock differs a little); and it
imports vnpy_spreadtrading. ``MarketDataRecorder`` is small: a vnpy engine that
buffers ticks and bars and writes them from its own thread every
``flush_interval`` seconds through vnpy's database (``save_tick_data`` and
``save_bar_data`` with ``stream=True``, as vnpy_datarecorder does). A failed
write is logged and retried with the next batch; nothing is dropped.

``RecorderProcess`` runs it with the CTP/SOPT gateways of ``.env``, or with
``ReplayGateway`` (``--replay``) to record stored or generated data again: the
recorder's end-to-end test replays the sample market and compares the stored
bars with the generated ones.
"""
from __future__ import annotations

import logging
import os
import threading
import traceback
from collections import defaultdict
from copy import copy
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from vnpy.event import Event, EventEngine
from vnpy.trader.database import BaseDatabase
from vnpy.trader.engine import BaseEngine, MainEngine
from vnpy.trader.event import EVENT_CONTRACT, EVENT_TICK
from vnpy.trader.object import BarData, ContractData, SubscribeRequest, TickData

from src.core.contract.contract_registry import ContractFactory
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.core import database_factory
from src.main.bootstrap.engine_factory import Engines, create_engines
from src.core.config.config_loader import RecorderSetting, load_recorder_setting
from src.core.config.errors import UserInputError
from src.main.config.gateway_manager import GatewayManager, GatewayUnavailableError
from src.core.config.schema import RuntimeConfig
from src.main.gateway.event_flow import EventEngineProbe
from src.main.gateway.replay_gateway import EVENT_REPLAY, ReplayGateway, ReplayPhase, ReplayPlan, ReplayProgress
from src.main.gateway.replay_source import DatabaseReplaySource, SampleMarketReplaySource
from src.core.process.exit_codes import EXIT_FAILED, EXIT_GATEWAY_UNAVAILABLE, EXIT_OK
from src.core.process.heartbeat import HeartbeatWriter
from src.strategy.infrastructure.bar_pipeline import BarPipeline
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar

logger = logging.getLogger("recorder")

ENGINE_NAME = "MarketDataRecorder"
DEFAULT_FLUSH_INTERVAL = 1.0


class MarketDataRecorder(BaseEngine):
    def __init__(self, main_engine: MainEngine, event_engine: EventEngine) -> None:
        super().__init__(main_engine, event_engine, ENGINE_NAME)
        self.setting = RecorderSetting(tick=(), bar=())
        self.database: BaseDatabase | None = None
        self.flush_interval = DEFAULT_FLUSH_INTERVAL
        self.pipeline = BarPipeline()
        self.ticks_recorded = 0
        self.bars_recorded = 0
        self.write_failures = 0
        self.subscribed: set[str] = set()
        self._tick_symbols: frozenset[str] = frozenset()
        self._bar_symbols: frozenset[str] = frozenset()
        self._ticks: list[TickData] = []
        self._bars: list[BarData] = []
        self._lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._closed = False

    def configure(self, setting: RecorderSetting, database: BaseDatabase,
                  flush_interval: float = DEFAULT_FLUSH_INTERVAL) -> None:
        self.setting = setting
        self.database = database
        self.flush_interval = flush_interval
        self._tick_symbols = frozenset(c.vt_symbol for c in setting.tick)
        self._bar_symbols = frozenset(c.vt_symbol for c in setting.bar)
        self.event_engine.register(EVENT_CONTRACT, self._process_contract_event)
        self.event_engine.register(EVENT_TICK, self._process_tick_event)
        self._thread = threading.Thread(target=self._write_loop, name="recorder-writer", daemon=True)
        self._thread.start()

    @property
    def wanted(self) -> frozenset[str]:
        return self._tick_symbols | self._bar_symbols

    def _process_contract_event(self, event: Event) -> None:
        contract: ContractData = event.data
        if contract.vt_symbol in self.wanted and contract.vt_symbol not in self.subscribed:
            self.subscribed.add(contract.vt_symbol)
            self.main_engine.subscribe(SubscribeRequest(contract.symbol, contract.exchange), contract.gateway_name)

    def _process_tick_event(self, event: Event) -> None:
        tick: TickData = event.data
        vt_symbol = tick.vt_symbol
        try:
            if vt_symbol in self._tick_symbols:
                # vnpy's database rewrites what it saves (timezone, exchange as text): store a copy.
                with self._lock:
                    self._ticks.append(copy(tick))
            if vt_symbol in self._bar_symbols:
                bars = self.pipeline.update_tick(tick)
                if bars:
                    with self._lock:
                        self._bars.extend(bars)
        except Exception:  # an exception here would end vnpy's event thread
            logger.exception("recorder failed on a tick of %s", vt_symbol)

    def _write_loop(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def flush(self) -> None:
        """Write what is buffered; on failure keep it for the next attempt."""
        with self._write_lock:
            with self._lock:
                ticks, self._ticks = self._ticks, []
                bars, self._bars = self._bars, []
            if not ticks and not bars:
                return
            try:
                for group in _by_symbol(ticks).values():
                    self.database.save_tick_data(group, stream=True)
                for group in _by_symbol(bars).values():
                    self.database.save_bar_data(group, stream=True)
            except Exception as error:
                self.write_failures += 1
                logger.error("cannot write %d ticks and %d bars (kept for the next attempt): %s: %s",
                             len(ticks), len(bars), type(error).__name__, error)
                with self._lock:
                    self._ticks[:0] = ticks
                    self._bars[:0] = bars
                return
            self.ticks_recorded += len(ticks)
            self.bars_recorded += len(bars)

    def close(self) -> None:
        """Emit the minute bars still being built, write everything, stop the writer (idempotent)."""
        if self._closed or self.database is None:
            return
        self._closed = True
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.flush_interval + 30)
        with self._lock:
            self._bars.extend(self.pipeline.flush_ticks())
        self.flush()
        stats = self.pipeline.stats
        logger.info("recorder closed: %d ticks and %d 1-minute bars written; %d ticks accepted by the bar builder, "
                    "%d discarded (%s)", self.ticks_recorded, self.bars_recorded, stats.ticks_accepted,
                    stats.ticks_discarded_total,
                    ", ".join(f"{reason.value} {count}" for reason, count in stats.ticks_discarded.items() if count)
                    or "none")


def _by_symbol(items: list) -> dict[str, list]:
    groups: dict[str, list] = defaultdict(list)
    for item in items:
        groups[item.vt_symbol].append(item)
    return groups


@dataclass(frozen=True)
class RecorderReplay:
    start: date
    end: date
    speed: float = 0.0
    source: str = "database"


class RecorderProcess:
    def __init__(self, setting_file: Path, runtime: RuntimeConfig, stop: threading.Event,
                 replay: RecorderReplay | None = None, heartbeat: HeartbeatWriter | None = None,
                 flush_interval: float = DEFAULT_FLUSH_INTERVAL) -> None:
        self.setting_file = setting_file
        self.runtime = runtime
        self.stop = stop
        self.replay = replay
        self.heartbeat = heartbeat
        self.flush_interval = flush_interval
        self.engines: Engines | None = None
        self.recorder: MarketDataRecorder | None = None
        self._finished = threading.Event()
        self._failure: str | None = None
        self._parent_pid = os.getppid() if heartbeat is not None else None

    def run(self) -> int:
        setting = load_recorder_setting(self.setting_file)
        if not setting.tick and not setting.bar:
            raise UserInputError(f"{self.setting_file}: nothing to record (tick and bar are both empty)")
        logger.info("recorder pid %d: %d tick and %d bar subscriptions from %s", os.getpid(), len(setting.tick),
                    len(setting.bar), self.setting_file)
        try:
            code = self._run(setting)
        except GatewayUnavailableError as error:
            logger.error("gateways unavailable: %s", error)
            code = EXIT_GATEWAY_UNAVAILABLE
        except UserInputError:
            self._shutdown()
            raise
        except Exception:
            logger.error("recorder failed:\n%s", traceback.format_exc())
            code = EXIT_FAILED
        self._shutdown()
        return code

    def _run(self, setting: RecorderSetting) -> int:
        settings = database_factory.database_settings_from_environment()
        database = database_factory.create_database(settings)
        manager = None if self.replay else GatewayManager.from_environment()
        if manager is not None and not manager.configured:
            raise UserInputError("the recorder needs market data: set CTP_* (and SOPT_*) in .env, "
                                 "or record a replay with --replay")
        engines = self.engines = create_engines(
            gateway_classes={"REPLAY": ReplayGateway} if self.replay else manager.classes_in_use(),
            strategies=False, files_tag="recorder")
        if self.heartbeat is not None:
            self.heartbeat.set_probe(EventEngineProbe(engines.event_engine, self.heartbeat.interval))
        recorder = self.recorder = engines.main_engine.add_engine(MarketDataRecorder)
        recorder.configure(setting, database, self.flush_interval)
        logger.info("recording into %s", settings.describe())
        if self.replay:
            self._start_replay(engines, setting, database, settings.describe())
        else:
            manager.bind(engines.gateways)
            manager.connect(engines.main_engine)
            if not manager.wait_until_ready(self.runtime.gateway_connect_timeout, self.stop):
                return EXIT_OK
            missing = sorted(recorder.wanted - recorder.subscribed)
            if missing:
                logger.warning("not listed by the gateways, not recorded: %s", ", ".join(missing))
        while not self.stop.is_set() and not self._finished.is_set():
            if self._parent_pid is not None and os.getppid() != self._parent_pid:
                logger.error("the daemon (pid %d) is gone: stopping", self._parent_pid)
                break
            self.stop.wait(0.2)
        if self._failure:
            logger.error("the replay failed")
            return EXIT_FAILED
        return EXIT_OK

    def _start_replay(self, engines: Engines, setting: RecorderSetting, database, where: str) -> None:
        calendar = load_cn_calendar()
        days = [self.replay.start + timedelta(days=n) for n in range((self.replay.end - self.replay.start).days + 1)]
        days = [day for day in days if calendar.is_trading_day(day)]
        if not days:
            raise UserInputError(f"no trading day between {self.replay.start} and {self.replay.end}")
        factory = ContractFactory(ExpiryCalculator(calendar))
        try:
            contracts = [factory.info(symbol) for symbol in sorted({c.symbol for c in setting.tick + setting.bar})]
        except (ValueError, UserInputError) as error:
            raise UserInputError(f"{self.setting_file}: {error}") from None
        source = SampleMarketReplaySource(days[0], days[-1]) if self.replay.source == "sample" \
            else DatabaseReplaySource(database, where)
        gateway: ReplayGateway = engines.gateways["REPLAY"]
        gateway.prepare(source, contracts, ReplayPlan((), tuple(days), self.replay.speed), calendar, 0.0)
        engines.event_engine.register(EVENT_REPLAY, self._on_replay_progress)
        engines.main_engine.connect({"speed": self.replay.speed}, "REPLAY")
        engines.event_engine.wait_until_idle(self.stop)  # the recorder has subscribed to the contracts it wants
        gateway.start_replay()

    def _on_replay_progress(self, event: Event) -> None:
        progress: ReplayProgress = event.data
        if progress.phase is ReplayPhase.FINISHED:
            logger.info("replay finished: %d ticks", progress.ticks_published)
            self._finished.set()
        elif progress.phase is ReplayPhase.FAILED:
            self._failure = progress.message
            self._finished.set()

    def _shutdown(self) -> None:
        engines = self.engines
        if engines is None:
            return
        gateway = engines.gateways.get("REPLAY")
        if gateway is not None:
            gateway.close()
        if self.recorder is not None:
            self.recorder.close()
        engines.close()
        self.engines = None
