"""Holding through the 2026-01-16 expiry of the sample market, in vnpy_portfoliostrategy's real engine.

The 15-minute variant with its close checks off: what it sold before the expiry is
held through it. After the expiry nothing expired is on the book (domain nor vnpy),
the settlement is booked as an engine trade at the settlement price, vnpy's own P&L
equals the domain's, the margin is released and the strategy opens again.
"""
from __future__ import annotations

from datetime import date, datetime, time

import pytest
from vnpy.trader.constant import Offset

from src.backtesting.config import BacktestConfig
from src.backtesting.engine import is_settlement
from src.backtesting.runner import BacktestRunner
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.core.database_factory import create_database
from src.datafeed.sample_market import DEFAULT_END, DEFAULT_START, ensure_sample_market
from src.paths import CONFIG_DIR
from src.strategy.domain.domain_service.expiry_settlement import intrinsic_value
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.expiry_events import ExpiryRiskEvent
from src.strategy.domain.event.position_events import ManualCloseDetectedEvent, PositionSettledEvent
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.strategy_entry import StrategyEntry

START, END = date(2026, 1, 9), date(2026, 1, 23)  # trading from 01-09: positions are held into the 01-16 expiry
EXPIRY = date(2026, 1, 16)
OVERRIDE = CONFIG_DIR / "timeframe" / "15m.yaml"


class HoldThroughExpiry(StrategyEntry):
    def on_init(self) -> None:
        super().on_init()
        self.cycle.services.signal_service.check_close_signal = lambda *args, **kwargs: None
        self.margin_by_day: dict[date, float] = {}

    def on_bars(self, bars) -> None:
        super().on_bars(bars)
        if bars:
            now = self.clock.now()
            self.margin_by_day[now.date()] = self.cycle.account(now).frozen


@pytest.fixture(scope="module")
def held_through_expiry(tmp_path_factory):
    folder = tmp_path_factory.mktemp("expiry")
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "s.db")}))
    # The whole sample market (its paths depend on the dates generated): the run's numbers are the README's.
    ensure_sample_market(database, DEFAULT_START, DEFAULT_END)
    # The strike by level, as when this scenario was built: the book it holds into the expiry is larger than
    # what it holds a week later (the delta default opens more after the expiry, and the last check, margin
    # at the end below margin on the expiry day, would then measure the new openings, not the release).
    # Every option held into its last days raises its expiry risk event (the events change no decision).
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, OVERRIDE,
                                  assignments={"strategies[0].setting.strike_selection": "strike_level",
                                               "expiry.pin_distance": 0.99})
    events: list[DomainEvent] = []
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END), database,
                            DEFAULT_STRATEGY_CONFIG, OVERRIDE, event_handlers=((DomainEvent, events.append),))
    engine = runner.prepare_engine(strategy_class=HoldThroughExpiry)
    engine.run_backtesting()
    assert engine.strategy_failure is None
    engine.daily = engine.calculate_result()  # once: vnpy adds the trades to its days again on each call
    return runner, engine, events


def test_nothing_expired_is_left_on_either_book(held_through_expiry):
    runner, engine, events = held_through_expiry
    strategy = engine.strategy
    expired = {info.vt_symbol for info in runner.registry if info.expiry is not None and info.expiry <= EXPIRY}
    assert not [p for p in strategy.cycle.positions.positions() if p.vt_symbol in expired]
    assert not {vt: v for vt, v in strategy.pos_data.items() if v and vt in expired}
    assert not [vt for vt in engine.bars if vt in expired]  # no longer forward-filled
    assert not any(isinstance(e, ManualCloseDetectedEvent) for e in events)


def test_settlement_is_booked_at_intrinsic_value_by_the_domain_and_the_engine(held_through_expiry):
    runner, engine, events = held_through_expiry
    settled = [e for e in events if isinstance(e, PositionSettledEvent)]
    assert settled, "the run must hold a position through the expiry"
    trades = [t for t in engine.get_all_trades() if is_settlement(t)]
    assert len(trades) == len(settled) == len(engine.settlement_trades)
    for event, trade in zip(settled, trades):
        info = runner.registry.get(event.vt_symbol)
        assert info.expiry == EXPIRY and event.occurred_at == datetime.combine(EXPIRY, time(15), EXCHANGE_TIMEZONE)
        option = engine.strategy.cycle.options[event.vt_symbol]
        assert event.settlement_price == pytest.approx(intrinsic_value(option, event.underlying_price))
        assert trade.vt_symbol == event.vt_symbol and trade.volume == event.volume
        assert trade.price == pytest.approx(event.settlement_price) and trade.datetime.date() == EXPIRY
        assert trade.offset is Offset.CLOSE


def test_vnpy_daily_pnl_equals_the_domain_book(held_through_expiry):
    _runner, engine, _events = held_through_expiry
    cycle = engine.strategy.cycle
    daily = engine.daily
    domain_total = cycle.positions.realized_pnl() + sum(
        p.unrealized_pnl(cycle.last_prices.get(p.vt_symbol, p.avg_price)) for p in cycle.positions.positions())
    assert float(daily["total_pnl"].sum()) == pytest.approx(domain_total, abs=0.01)


def test_margin_released_and_the_strategy_trades_again(held_through_expiry):
    runner, engine, events = held_through_expiry
    strategy = engine.strategy
    settled = {e.vt_symbol for e in events if isinstance(e, PositionSettledEvent)}
    now = datetime.combine(END, time(15), EXCHANGE_TIMEZONE)
    held = {p.vt_symbol for p in strategy.cycle.positions.positions()}
    assert not held & settled
    assert strategy.cycle.account(now).frozen < strategy.margin_by_day[EXPIRY]
    openings_after = [t for t in engine.get_all_trades() if t.offset is Offset.OPEN and t.datetime.date() > EXPIRY]
    assert openings_after


def test_fees_follow_the_schedule_in_vnpy_and_in_the_strategy(held_through_expiry):
    """Options pay 15 CNY a lot (no exercise: what settled expired out of the money), futures none
    here; vnpy's commission is the schedule's, and the strategy's balance is net of the same fees."""
    _runner, engine, _events = held_through_expiry
    totals = engine.fee_totals
    assert totals["option_lots_traded"] > 0
    assert totals["option_fees"] == pytest.approx(15.0 * totals["option_lots_traded"])
    assert float(engine.daily["commission"].sum()) == pytest.approx(totals["schedule_fees"])
    assert engine.strategy.cycle.fees.total == pytest.approx(totals["schedule_fees"])


def test_what_is_held_into_its_last_days_raises_one_expiry_risk_event_a_day(held_through_expiry):
    """From the last trading day before the expiry to the settlement: one event per contract, side and
    day, with the settlement's underlying, and none before or after."""
    runner, engine, events = held_through_expiry
    settled = {(e.vt_symbol, e.direction) for e in events if isinstance(e, PositionSettledEvent)}
    risks = [e for e in events if isinstance(e, ExpiryRiskEvent)]
    last_day = runner.calendar.previous_trading_day(EXPIRY)
    by_key = {}
    for event in risks:
        key = (event.vt_symbol, event.direction, event.occurred_at.date())
        assert key not in by_key, f"twice the same day: {event.detail}"
        by_key[key] = event
        assert event.expiry == EXPIRY and last_day <= event.occurred_at.date() <= EXPIRY
        assert event.occurred_at < datetime.combine(EXPIRY, time(15), EXCHANGE_TIMEZONE)
        assert event.days_left == (1 if event.occurred_at.date() == last_day else 0)
        option = engine.strategy.cycle.options[event.vt_symbol]
        assert event.underlying_vt_symbol == option.underlying_vt_symbol and event.strike == option.strike
        assert event.pinned  # within 99% of the strike
    for vt_symbol, direction in settled:  # held on both days, so raised on both
        assert {day for (vt, side, day) in by_key if (vt, side) == (vt_symbol, direction)} == {last_day, EXPIRY}
    assert engine.strategy.cycle.counters.pin_risk_count == len(risks)
