"""StrategyEntry with a real StateRepository and StrategyMonitor: save, restore, reconcile, monitor."""
from __future__ import annotations

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest

from src.backtesting.config import BacktestConfig
from src.backtesting.runner import BacktestRunner
from src.datafeed.sample_market import ensure_sample_market
from src.core.database_factory import create_database
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.paths import CONFIG_DIR
from src.strategy.application.bootstrap import StrategyRuntime
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.position_events import ManualCloseDetectedEvent, ManualOpenDetectedEvent
from src.strategy.domain.value_object.market import Direction
from src.strategy.domain.value_object.position_snapshot import PositionSnapshot
from src.strategy.infrastructure.monitoring.strategy_monitor import StrategyMonitor
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.state_repository import StateRepository

START, END = date(2026, 1, 5), date(2026, 1, 12)
OVERRIDE = CONFIG_DIR / "timeframe" / "15m.yaml"
CHINA = ZoneInfo("Asia/Shanghai")


@pytest.fixture(scope="module")
def runner(tmp_path_factory):
    folder = tmp_path_factory.mktemp("persist")
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "s.db")}))
    ensure_sample_market(database, START, END)
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, OVERRIDE)
    return BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END), database,
                          DEFAULT_STRATEGY_CONFIG, OVERRIDE)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    location = DatabaseLocation.sqlite(tmp_path_factory.mktemp("stores") / "state.db")
    repository = StateRepository.open(location)
    monitor = StrategyMonitor.open(location)
    yield repository, monitor
    monitor.close()
    repository.close()


@pytest.fixture(scope="module")
def finished(runner, stores):
    repository, monitor = stores
    engine = runner.prepare_engine()
    engine.strategy.configure(StrategyRuntime(runner.strategy_config, state_repository=repository, monitor=monitor,
                                              autosave_interval_seconds=3600))
    engine.run_backtesting()
    assert not engine.strategy_failure, engine.strategy_failure
    engine.strategy.on_stop()
    return engine.strategy


def test_stop_saves_the_state_and_a_new_strategy_restores_it(runner, stores, finished):
    repository, monitor = stores
    saved = repository.load(finished.strategy_name)
    assert saved is not None
    assert saved["positions"] == finished.cycle.positions.to_dict()
    assert finished.cycle.positions.trades(), "the run should have traded"

    engine = runner.prepare_engine()
    restored = engine.strategy
    restored.configure(StrategyRuntime(runner.strategy_config, state_repository=repository, monitor=monitor))
    restored.on_init()
    assert restored.cycle.positions.to_dict() == finished.cycle.positions.to_dict()
    assert restored.active_contracts == finished.active_contracts
    assert restored.order_count == finished.order_count


def test_reconciliation_reports_manual_changes_instead_of_overwriting(runner, stores, finished):
    repository, monitor = stores
    engine = runner.prepare_engine()
    strategy = engine.strategy
    published: list[DomainEvent] = []
    strategy.configure(StrategyRuntime(runner.strategy_config, state_repository=repository, monitor=monitor,
                                       event_handlers=((DomainEvent, published.append),)))
    strategy.on_init()
    held = strategy.cycle.positions.positions()
    at = datetime(2026, 1, 13, 9, 31, tzinfo=CHINA)
    reported = [PositionSnapshot(p.vt_symbol, p.direction, p.volume, p.avg_price) for p in held[1:]]
    extra = next(vt for vt in strategy.cycle.options if vt not in {p.vt_symbol for p in held})
    reported.append(PositionSnapshot(extra, Direction.SHORT, 2, 10.0))
    before = len(published)
    strategy.reconcile_positions(reported, at)
    events = published[before:]
    opened = [e for e in events if isinstance(e, ManualOpenDetectedEvent)]
    closed = [e for e in events if isinstance(e, ManualCloseDetectedEvent)]
    assert [e.vt_symbol for e in opened] == [extra]
    if held:
        assert [e.vt_symbol for e in closed] == [held[0].vt_symbol]


def test_monitor_holds_snapshots_and_events(stores, finished):
    _repository, monitor = stores
    assert monitor.flush(timeout=10)
    assert monitor.count_snapshots(finished.strategy_name) > 10
    latest = monitor.latest_snapshot(finished.strategy_name)
    payload = latest["payload"]
    assert set(payload) >= {"positions", "greeks", "pnl", "signals", "active_contracts"}
    event_types = {row["event_type"] for row in monitor.events(finished.strategy_name, limit=1000)}
    assert "SignalEvent" in event_types
    assert monitor.stats().dropped == 0


def test_live_warmup_replays_history_up_to_the_given_end(runner):
    from src.strategy.infrastructure.persistence.history_data_repository import HistoryDataRepository
    from vnpy_portfoliostrategy.base import EngineType

    engine = runner.prepare_engine()
    strategy = engine.strategy
    engine.engine_type = EngineType.LIVE  # the entry decides how to warm up by the engine it runs in
    strategy.configure(StrategyRuntime(runner.strategy_config, history=HistoryDataRepository(runner.database),
                                       warmup_end=datetime(2026, 1, 9, 15, 0, tzinfo=CHINA)))
    strategy.on_init()
    assert not strategy.trading and strategy.order_count == 0
    for product in ("IF", "IM"):
        instrument = strategy.cycle.instruments.get(product)
        assert instrument.latest_bar is not None
        assert instrument.latest_bar.datetime <= datetime(2026, 1, 9, 15, 0, tzinfo=CHINA)
        assert instrument.indicators.get("macd_hist") is not None


def test_live_warmup_through_the_gap_filling_history_warms_the_same_way(runner):
    from src.strategy.domain.domain_service.trading_clock import TradingClocks
    from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar
    from src.strategy.infrastructure.persistence.warmup_history import WarmupHistory
    from vnpy_portfoliostrategy.base import EngineType

    engine = runner.prepare_engine()
    strategy = engine.strategy
    engine.engine_type = EngineType.LIVE
    history = WarmupHistory(runner.database, [], TradingClocks(calendar=load_cn_calendar()),
                            fill=lambda vt_symbol: "-" not in vt_symbol)
    strategy.configure(StrategyRuntime(runner.strategy_config, history=history,
                                       warmup_end=datetime(2026, 1, 9, 15, 0, tzinfo=CHINA)))
    strategy.on_init()
    assert not strategy.trading and strategy.order_count == 0
    assert history.last_report.bars_by_source["database"] > 0
    for product in ("IF", "IM"):
        instrument = strategy.cycle.instruments.get(product)
        assert instrument.latest_bar.datetime <= datetime(2026, 1, 9, 15, 0, tzinfo=CHINA)
        assert instrument.indicators.get("macd_hist") is not None
