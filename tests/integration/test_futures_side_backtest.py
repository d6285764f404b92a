"""The futures side through the real backtest runner, on three weeks of the real IF 5-minute history.

March 2015 of ../shared/data/cn_index_futures_bars/CFFEX.IF.HOT_m5_2014_2019.csv.gz, imported as
the README says (``import-bars --main-contract-roll 5``: the spliced main contract relabelled to
IF1503 until 2015-03-13 and IF1504 from 2015-03-16), replayed by vnpy_portfoliostrategy's engine
through ``StrategyEntry`` with ``config/examples/real_history_if_5m.yaml`` (trade_instrument:
futures). The run trades, rolls IF1503 into IF1504 before IF1503's expiry (2015-03-20), and vnpy's
own P&L and commission equal the strategy's book and fees.
"""
from __future__ import annotations

import gzip
from datetime import date

import pytest
from vnpy.trader.constant import Offset

from src.backtesting.config import BacktestConfig
from src.backtesting.runner import FILLS_VNPY, BacktestRunner
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.core.database_factory import create_database
from src.paths import CONFIG_DIR
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent
from src.strategy.domain.event.futures_events import FuturesOpenedEvent, FuturesRolledEvent
from src.strategy.domain.event.position_events import ManualCloseDetectedEvent, ManualOpenDetectedEvent
from tests.e2e.cli import run_command

IF_HOT_5M = "cn_index_futures_bars/CFFEX.IF.HOT_m5_2014_2019.csv.gz"
OVERRIDE = CONFIG_DIR / "examples" / "real_history_if_5m.yaml"
START, END = date(2015, 3, 4), date(2015, 3, 24)


@pytest.fixture(scope="module")
def futures_run(shared_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("futures_side")
    # The days of the run and a week of warm-up before it, cut from the real file (header kept).
    part = folder / "if_2015_03.csv.gz"
    with gzip.open(shared_data / IF_HOT_5M, "rt", encoding="utf-8") as source, \
            gzip.open(part, "wt", encoding="utf-8") as target:
        for number, line in enumerate(source):
            if number == 0 or line.startswith(("2015/2/2", "2015/3/")):
                target.write(line)
    database_file = folder / "bars.db"
    imported = run_command(["-m", "src.main.data", "import-bars", "--file", str(part), "--symbol", "IF",
                            "--exchange", "CFFEX", "--layout", "config/examples/import_bars/wondertrader_5m.yaml",
                            "--main-contract-roll", "5", "--no-progress"], database=database_file, timeout=300)
    assert imported.returncode == 0, imported.stderr
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(database_file)}))
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, OVERRIDE)
    events: list[DomainEvent] = []
    runner = BacktestRunner(config, ("IF",), BacktestConfig(start=START, end=END, capital=5_000_000.0), database,
                            DEFAULT_STRATEGY_CONFIG, OVERRIDE, futures_only=True, fills=FILLS_VNPY,
                            event_handlers=((DomainEvent, events.append),))
    engine = runner.prepare_engine()
    engine.run_backtesting()
    assert engine.strategy_failure is None
    engine.daily = engine.calculate_result()  # once: vnpy adds the trades to its days again on each call
    return runner, engine, events


def test_signals_trade_the_future_and_the_position_is_rolled_before_expiry(futures_run):
    runner, engine, events = futures_run
    trades = engine.get_all_trades()
    assert len(trades) >= 4 and {t.vt_symbol for t in trades} <= {"IF1503.CFFEX", "IF1504.CFFEX"}
    assert [e for e in events if isinstance(e, FuturesOpenedEvent)]
    rolls = [e for e in events if isinstance(e, FuturesRolledEvent)]
    assert [(r.from_vt_symbol, r.to_vt_symbol) for r in rolls] == [("IF1503.CFFEX", "IF1504.CFFEX")]
    assert rolls[0].occurred_at.date() == date(2015, 3, 16)  # the roll check of the first IF1504 day
    expiry = runner.registry.get("IF1503.CFFEX").expiry
    assert expiry == date(2015, 3, 20)
    assert not [t for t in trades if t.vt_symbol == "IF1503.CFFEX" and t.datetime.date() > rolls[0].occurred_at.date()]
    assert not engine.settlement_trades  # nothing was held into an expiry
    assert not [p for p in engine.strategy.cycle.positions.positions() if p.vt_symbol == "IF1503.CFFEX"]
    assert not any(isinstance(e, (ManualOpenDetectedEvent, ManualCloseDetectedEvent)) for e in events)
    # vnpy's net position per contract equals the strategy's own.
    book = {p.vt_symbol: p.volume * p.direction.sign for p in engine.strategy.cycle.positions.positions()}
    assert {vt: v for vt, v in engine.strategy.pos_data.items() if v} == {vt: v for vt, v in book.items() if v}


def test_vnpy_pnl_and_commission_equal_the_strategy_book_and_fees(futures_run):
    _runner, engine, _events = futures_run
    cycle = engine.strategy.cycle
    daily = engine.daily
    book = cycle.positions.realized_pnl() + sum(
        p.unrealized_pnl(cycle.last_prices.get(p.vt_symbol, p.avg_price)) for p in cycle.positions.positions())
    assert float(daily["total_pnl"].sum()) == pytest.approx(book, abs=0.01)
    assert float(daily["commission"].sum()) == pytest.approx(cycle.fees.total)
    assert engine.fee_totals["close_today_fees"] > 0  # reversals within a day pay the close-today rate
    assert float(daily["net_pnl"].sum()) == pytest.approx(
        book - cycle.fees.total - float(daily["slippage"].sum()), abs=0.01)


def test_every_opening_fits_the_margin_budget(futures_run):
    _runner, engine, events = futures_run
    for opened in (e for e in events if isinstance(e, FuturesOpenedEvent)):
        assert opened.lots * opened.margin_per_lot <= opened.budget
    openings = [t for t in engine.get_all_trades() if t.offset is Offset.OPEN]
    assert max(t.volume for t in openings) <= max(e.lots for e in events if isinstance(e, FuturesOpenedEvent))
    assert not [e for e in events if isinstance(e, DecisionRefusedEvent) and e.stage == "option_selection"]
