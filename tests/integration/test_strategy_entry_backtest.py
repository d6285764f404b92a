"""StrategyEntry inside vnpy_portfoliostrategy's real BacktestingEngine, on the sample market."""
from __future__ import annotations

from collections import defaultdict
from datetime import date

import pytest

from src.backtesting.config import BacktestConfig
from src.backtesting.runner import BacktestRunner
from src.datafeed.sample_market import ensure_sample_market
from src.core.database_factory import create_database
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.paths import CONFIG_DIR
from src.strategy.domain.domain_service.fill_model import FillSettings
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent, SignalEvent
from src.strategy.domain.value_object.market import Direction

START, END = date(2026, 1, 5), date(2026, 1, 14)
OVERRIDE = CONFIG_DIR / "timeframe" / "15m.yaml"


@pytest.fixture(scope="module")
def sample_database(tmp_path_factory):
    folder = tmp_path_factory.mktemp("entry")
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "s.db")}))
    ensure_sample_market(database, START, END)
    return database


@pytest.fixture(scope="module")
def finished_run(sample_database, tmp_path_factory):
    folder = tmp_path_factory.mktemp("run")
    database = sample_database
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, OVERRIDE)
    published: list[DomainEvent] = []
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END), database,
                            DEFAULT_STRATEGY_CONFIG, OVERRIDE, event_handlers=((DomainEvent, published.append),))
    result = runner.run(folder / "report")
    return result, runner.last_engine, published


def test_domain_positions_agree_with_vnpy_accounting(finished_run):
    result, engine, _published = finished_run
    strategy = engine.strategy
    assert result.counts.options > 0
    domain_net = defaultdict(int)
    for position in strategy.cycle.positions.positions():
        domain_net[position.vt_symbol] += position.volume * (1 if position.direction is Direction.LONG else -1)
    vnpy_net = {vt: volume for vt, volume in strategy.pos_data.items() if volume}
    assert dict((vt, v) for vt, v in domain_net.items() if v) == vnpy_net
    # Fills older than the kept history are pruned from the state; the recent ones are all there.
    kept = {trade.vt_tradeid for trade in strategy.cycle.positions.trades()}
    engine_trades = sorted(engine.get_all_trades(), key=lambda trade: trade.datetime)
    assert kept and kept <= {trade.vt_tradeid for trade in engine_trades}
    assert engine_trades[-1].vt_tradeid in kept


def test_every_opening_order_follows_a_signal_and_refusals_have_reasons(finished_run):
    _result, engine, events = finished_run
    strategy = engine.strategy
    signals = [e for e in events if isinstance(e, SignalEvent)]
    refusals = [e for e in events if isinstance(e, DecisionRefusedEvent)]
    # One instruction may take several orders (timeouts, re-priced resends): count the executions.
    openings = [view for view in strategy.cycle.executor.executions() if view.instruction.offset.value == "OPEN"]
    assert signals and openings
    assert len(openings) <= sum(1 for s in signals if s.signal.value.startswith("SELL_"))
    assert all(view.instruction.reason.startswith("open SELL_") for view in openings)
    assert all(refusal.reason.strip() for refusal in refusals)
    assert set(strategy.active_contracts) == {"IF", "IM"}
    assert strategy.open_position_count <= strategy.setting.max_positions


def test_no_trade_before_warmup_and_all_inside_the_window(finished_run):
    result, engine, _published = finished_run
    trade_days = {trade.datetime.date() for trade in engine.get_all_trades()}
    assert trade_days and min(trade_days) > START and max(trade_days) <= END


def test_tight_greeks_limits_refuse_every_opening_order(tmp_path, sample_database):
    tight = tmp_path / "tight.yaml"
    tight.write_text(OVERRIDE.read_text(encoding="utf-8") + (
        "greeks_risk:\n  position_limits:\n    delta: 0.001\n    gamma: 0.1\n    vega: 50.0\n"), encoding="utf-8")
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, tight)
    published: list[DomainEvent] = []
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END), sample_database,
                            DEFAULT_STRATEGY_CONFIG, tight, event_handlers=((DomainEvent, published.append),))
    result = runner.run(tmp_path / "report")
    risk_refusals = [e for e in published
                     if isinstance(e, DecisionRefusedEvent) and e.stage == "risk"]
    assert result.counts.total == 0
    assert risk_refusals
    assert all("delta" in e.reason and "exceeds limit 0.001" in e.reason for e in risk_refusals)


def test_delta_hedging_keeps_the_book_within_band_plus_one_lot(tmp_path, sample_database):
    import yaml
    band = 0.5
    summaries = {}
    for hedged in (False, True):
        override = yaml.safe_load(OVERRIDE.read_text(encoding="utf-8"))
        override["greeks_risk"] = {"position_limits": {"delta": 4.0, "gamma": 0.5, "vega": 250.0},
                                   "portfolio_limits": {"delta": 25.0, "gamma": 5.0, "vega": 2500.0},
                                   "cash_limits": None}  # the per-lot limits alone, as this test was written
        # No one-lot floor under the band: the small book of these days stays within one lot otherwise.
        override["hedging"] = {"delta_hedging": {"enabled": hedged, "target_delta": 0.0, "hedging_band": band,
                                                 "min_band_lots": 0.0}}
        path = tmp_path / f"hedged_{hedged}.yaml"
        path.write_text(yaml.safe_dump(override), encoding="utf-8")
        # The whole printed volume may fill (the fill model's participation cap at 1), so the book grows
        # large enough in these days to need hedges.
        runner = BacktestRunner(load_strategy_config(DEFAULT_STRATEGY_CONFIG, path), ("IF", "IM"),
                                BacktestConfig(start=START, end=END, capital=5_000_000), sample_database,
                                DEFAULT_STRATEGY_CONFIG, path, fill_settings=FillSettings(participation=1.0))
        summaries[hedged] = runner.run(tmp_path / f"report_{hedged}").summary
    unhedged, hedged = summaries[False], summaries[True]
    assert unhedged["hedge_trade_count"] == 0 and unhedged["future_trade_count"] == 0
    assert hedged["hedge_trade_count"] > 0
    assert hedged["future_trade_count"] == hedged["hedge_trade_count"]
    assert unhedged["max_abs_portfolio_delta"] > band
    assert hedged["max_abs_portfolio_delta"] <= band + 1.0
    assert hedged["share_of_bars_outside_band"] < unhedged["share_of_bars_outside_band"]


def test_summary_carries_risk_in_money_and_an_attribution_that_adds_up(finished_run):
    result, _engine, published = finished_run
    summary = result.summary
    attribution = summary["attribution"]
    assert abs(attribution["difference"]) <= attribution["tolerance"]
    assert attribution["total"]["total"] == pytest.approx(attribution["book_pnl"], abs=0.01)
    assert attribution["total"]["fees"] == pytest.approx(-summary["strategy_fees"])
    assert attribution["trade_count"] > 0 and attribution["by_day"]
    risk = summary["risk"]
    assert risk["breach_count"] == summary["risk_breach_count"]
    assert set(risk["units"]) == {"delta", "gamma", "vega", "theta"}
    assert risk["worst_stress"] is not None and risk["worst_stress"]["pnl"] < 0
    assert "hedge_pnl" in summary and "scalping_pnl" not in summary
    html = (result.output_dir / "chart.html").read_text(encoding="utf-8")
    assert "P&amp;L attribution" in html or "P&L attribution" in html


def test_the_warm_up_is_whole_days_and_trading_starts_on_the_start_day(tmp_path, sample_database):
    """vnpy counts its first minute as a day change (its clock starts at 1970-01-01), so its warm-up ended a
    day early and a backtest from --start traded on the last warm-up day. Ours reads the warm-up days whole."""
    start = date(2026, 1, 9)
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG)
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=start, end=start), sample_database,
                            DEFAULT_STRATEGY_CONFIG)
    result = runner.run(tmp_path / "report")
    engine = runner.last_engine
    first_read = start
    for _ in range(engine.days):
        first_read = runner.calendar.previous_trading_day(first_read)
    assert engine.days >= 2 and result.warmup_start == first_read
    trade_days = {trade.datetime.date() for trade in engine.get_all_trades()}
    assert trade_days == {start}
    assert list(engine.daily_results) == [start]
