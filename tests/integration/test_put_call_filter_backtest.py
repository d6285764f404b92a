"""The put/call filter inside a real backtest: statistics read from the configured database through the
sentiment adapter; every SELL_PUT withheld with a reason while put buying is extreme, SELL_CALL untouched."""
from __future__ import annotations

from datetime import date, timedelta

import pytest
import yaml

from src.backtesting.config import BacktestConfig
from src.backtesting.runner import BacktestRunner
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.core.database_factory import create_database
from src.datafeed.sample_market import ensure_sample_market
from src.paths import CONFIG_DIR
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent, SignalEvent
from src.strategy.domain.value_object.signal_type import SignalType
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.option_market_statistics import (
    OptionMarketStatisticRepository,
    StoredStatistic,
)

START, END = date(2026, 1, 5), date(2026, 1, 14)
OVERRIDE = CONFIG_DIR / "timeframe" / "15m.yaml"


@pytest.fixture(scope="module")
def sample_database(tmp_path_factory):
    folder = tmp_path_factory.mktemp("filter")
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "s.db")}))
    ensure_sample_market(database, START, END)
    return database


def store_rising_put_call(location: DatabaseLocation) -> None:
    """A year of US_INDEX volume whose put/call ratio rises every day: the latest is always the highest."""
    day, rows, ratio = date(2025, 1, 1), [], 0.6
    while day <= END:
        if day.weekday() < 5:
            ratio += 0.002
            rows.append(StoredStatistic("US_INDEX", "VOLUME", day, 1_000_000, int(1_000_000 * ratio),
                                        1_000_000 + int(1_000_000 * ratio), int(1_000_000 * ratio) / 1_000_000))
        day += timedelta(days=1)
    with OptionMarketStatisticRepository.open(location) as repository:
        repository.upsert(rows)


def run(tmp_path, database, enabled: bool):
    override = yaml.safe_load(OVERRIDE.read_text(encoding="utf-8")) or {}
    override["put_call_filter"] = {"enabled": enabled, "market": "US_INDEX", "max_percentile": 90.0}
    path = tmp_path / f"filter_{enabled}.yaml"
    path.write_text(yaml.safe_dump(override), encoding="utf-8")
    published: list[DomainEvent] = []
    runner = BacktestRunner(load_strategy_config(DEFAULT_STRATEGY_CONFIG, path), ("IF", "IM"),
                            BacktestConfig(start=START, end=END), database, DEFAULT_STRATEGY_CONFIG, path,
                            event_handlers=((DomainEvent, published.append),))
    runner.run(tmp_path / f"report_{enabled}")
    return published


def test_extreme_put_buying_withholds_every_put_sale_in_a_backtest(tmp_path, monkeypatch, sample_database):
    statistics = DatabaseLocation.sqlite(tmp_path / "statistics.db")
    monkeypatch.setenv("VNPY_DATABASE_DRIVER", "sqlite")
    monkeypatch.setenv("VNPY_DATABASE_DATABASE", statistics.database)
    store_rising_put_call(statistics)

    def signals(events, kind):
        return [e for e in events if isinstance(e, SignalEvent) and e.signal is kind]

    plain = run(tmp_path, sample_database, enabled=False)
    filtered = run(tmp_path, sample_database, enabled=True)
    withheld = [e for e in filtered if isinstance(e, DecisionRefusedEvent) and e.stage == "signal"]
    assert signals(plain, SignalType.SELL_PUT), "the sample market should give put sales to withhold"
    assert signals(filtered, SignalType.SELL_PUT) == []
    assert len(withheld) == len(signals(plain, SignalType.SELL_PUT))
    assert all(e.reason.startswith("SELL_PUT withheld: put/call US_INDEX VOLUME") and "percentile 100.0 > 90" in
               e.reason for e in withheld)
    assert not [e for e in plain if isinstance(e, DecisionRefusedEvent) and e.stage == "signal"]
