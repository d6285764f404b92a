"""The pre-trade gate in vnpy_portfoliostrategy's real BacktestingEngine on the sample market: a cancel budget
far below what the 1-minute strategy uses stops its openings at the warning level, with an event."""
from __future__ import annotations

import dataclasses
import json
from datetime import date, timedelta

import pytest
from vnpy.trader.constant import Offset as VnpyOffset

from src.backtesting.config import BacktestConfig
from src.backtesting.runner import BacktestRunner
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.core.config.pre_trade_schema import BudgetConfig
from src.core.database_factory import create_database
from src.datafeed.sample_market import ensure_sample_market
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.safeguard_events import OrderBudgetWarningEvent, PreTradeRefusedEvent

START, END = date(2026, 1, 7), date(2026, 1, 13)
TINY = BudgetConfig(max_orders_per_day=1000, max_cancels_per_day=6, max_open_lots_per_day=200, max_position_lots=5000)


@pytest.fixture(scope="module")
def tiny_budget_run(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gate")
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "s.db")}))
    ensure_sample_market(database, date(2026, 1, 5), END)
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG)
    config = dataclasses.replace(config, pre_trade=dataclasses.replace(config.pre_trade, options=TINY))
    published: list[DomainEvent] = []
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END), database,
                            DEFAULT_STRATEGY_CONFIG, None, event_handlers=((DomainEvent, published.append),))
    result = runner.run(folder / "report")
    return result, runner.last_engine, published, folder / "report"


def test_openings_stop_at_the_warning_level_with_an_event_and_the_summary_counts_them(tiny_budget_run):
    result, engine, events, report = tiny_budget_run
    warnings = [e for e in events if isinstance(e, OrderBudgetWarningEvent) and e.kind == "cancels"]
    assert warnings, "the 1-minute strategy cancels more than 4 times a day on a product"
    strategy = engine.strategy
    option_product = {vt: strategy.cycle.options[vt].product for vt in strategy.cycle.options}
    orders = engine.get_all_orders()
    for warning in (w for w in warnings if w.level == "warning"):
        assert (warning.count, warning.warning_at, warning.budget) == (4, 4, 6)
        later_openings = [o for o in orders if option_product.get(o.vt_symbol) == warning.product
                          and o.offset is VnpyOffset.OPEN and o.datetime.date() == warning.occurred_at.date()
                          and o.datetime > warning.occurred_at]
        assert later_openings == [], f"{warning.product} opened after its warning at {warning.occurred_at}"
    refused = [e for e in events if isinstance(e, PreTradeRefusedEvent)]
    assert any(e.rule == "cancel_budget_warning" and e.offset == "OPEN" for e in refused)
    summary = json.loads((report / "summary.json").read_text())
    assert summary["pre_trade_refusals"].get("cancel_budget_warning", 0) == sum(
        1 for e in refused if e.rule == "cancel_budget_warning")
    assert summary["pre_trade_refusal_total"] == len(refused)
    peaks = summary["orders_cancels_peak_per_day"]
    print("tiny budget:", summary["pre_trade_refusals"], peaks)
    # Cancels of working orders are never refused: the count may pass the budget, openings never resume that day.
    assert max(peak["cancels"] for product, peak in peaks.items() if product in ("IO", "MO")) >= 4


OUTAGE_START, OUTAGE_END = "2026-01-08 10:00:00", "2026-01-08 10:09:00"


@pytest.fixture(scope="module")
def outage_run(tmp_path_factory):
    """The IF/IO feed goes silent for ten minutes (its bars deleted) while IM/MO keep printing."""
    import sqlite3

    folder = tmp_path_factory.mktemp("outage")
    path = folder / "s.db"
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(path)}))
    ensure_sample_market(database, date(2026, 1, 5), END)
    with sqlite3.connect(path) as connection:
        deleted = connection.execute(
            "DELETE FROM dbbardata WHERE (symbol LIKE 'IF%' OR symbol LIKE 'IO%') AND datetime BETWEEN ? AND ?",
            (OUTAGE_START, OUTAGE_END)).rowcount
    assert deleted > 10
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG)
    published: list[DomainEvent] = []
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END), database,
                            DEFAULT_STRATEGY_CONFIG, None, event_handlers=((DomainEvent, published.append),))
    runner.run(folder / "report")
    return runner.last_engine, published


def test_a_silent_feed_switches_to_reduce_only_and_back(outage_run):
    from datetime import datetime

    from src.strategy.domain.event.safeguard_events import ReduceOnlyChangedEvent

    engine, events = outage_run
    changes = [e for e in events if isinstance(e, ReduceOnlyChangedEvent)]
    entered = [e for e in changes if e.active and e.reason.startswith("stale:IO")]
    assert entered, "an IO position was held through the outage"
    first = entered[0]
    assert datetime.fromisoformat(OUTAGE_START).replace(tzinfo=first.occurred_at.tzinfo) < first.occurred_at
    left = [e for e in changes if not e.active and e.occurred_at > first.occurred_at]
    assert left and "quotes again" in left[0].reason
    assert left[0].occurred_at <= datetime.fromisoformat(OUTAGE_END).replace(
        tzinfo=first.occurred_at.tzinfo) + timedelta(minutes=3)
    openings = [o for o in engine.get_all_orders() if o.offset is VnpyOffset.OPEN
                and first.occurred_at < o.datetime < left[0].occurred_at]
    assert openings == [], "no opening while reduce-only"
    print(f"outage: reduce-only {first.occurred_at:%H:%M} -> {left[0].occurred_at:%H:%M} ({first.reason})")
