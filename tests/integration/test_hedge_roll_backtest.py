"""A hedge held across a roll of its contract, in vnpy_portfoliostrategy's real engine, and closes that escalate.

The 15-minute delta-hedged variant on the sample market, with a book large enough to need
hedges (capital 5,000,000, Greeks limits x5, band 0.3 lots): at 14:50 on 2026-01-12 the active
contracts move from IF2601/IM2601 to IF2602/IM2602 while short IM2601 hedge lots are held. The
test reads the engine's own trades: the old month's lots are closed and the same lots opened in
the new month at the next minute, nothing of the old month is left for its 2026-01-16 expiry, and
the hedge futures never count towards max_positions. The same run's close orders that timed out
were resent at the escalated prices the executor reported.
"""
from __future__ import annotations

import dataclasses
from datetime import date, datetime, timedelta

import pytest
from vnpy.trader.constant import Direction as VnpyDirection
from vnpy.trader.constant import Offset as VnpyOffset

from src.backtesting.config import BacktestConfig
from src.backtesting.engine import is_settlement
from src.backtesting.runner import BacktestRunner
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.env_settings import DatabaseSettings
from src.core.config.schema import MoneyLimitConfig, MoneyLimitSetConfig
from src.core.database_factory import create_database
from src.datafeed.sample_market import DEFAULT_END, DEFAULT_START, ensure_sample_market
from src.paths import CONFIG_DIR
from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.decision_events import DecisionRefusedEvent
from src.strategy.domain.event.instrument_events import ActiveContractChangedEvent
from src.strategy.domain.event.order_events import CloseEscalatedEvent
from src.strategy.domain.value_object.market import Offset
from src.strategy.strategy_entry import StrategyEntry

START, END = date(2026, 1, 5), date(2026, 1, 16)  # through the January expiry
OVERRIDE = CONFIG_DIR / "examples" / "15m_delta_hedged.yaml"
ROLL_WITHIN = timedelta(minutes=5)


class CountingPositions(StrategyEntry):
    """Records, each minute, the options held or being opened, the futures held or being opened, and
    what the strategy counts towards max_positions."""

    def on_init(self) -> None:
        super().on_init()
        self.minutes: list[tuple[datetime, int, int, int]] = []

    def on_bars(self, bars) -> None:
        super().on_bars(bars)
        cycle = self.cycle
        keys = {(p.vt_symbol, p.direction) for p in cycle.positions.positions()}
        keys |= {(o.vt_symbol, o.direction) for o in cycle.positions.active_orders() if o.offset is Offset.OPEN}
        options = sum(1 for vt_symbol, _ in keys if vt_symbol in cycle.options)
        futures = sum(1 for vt_symbol, _ in keys if vt_symbol in cycle.futures)
        self.minutes.append((self.clock.now(), options, futures, cycle.open_position_count()))


def hedged_config():
    """The 15-minute hedged variant with a book large enough to need hedges: money limits x5, a 0.3-lot band
    (no one-lot floor) and hedges in the dominant month, so a hedge is held when the dominant month rolls."""
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, OVERRIDE)
    risk = config.greeks_risk

    def times5(limits: MoneyLimitSetConfig) -> MoneyLimitSetConfig:
        def scaled(limit: MoneyLimitConfig | None) -> MoneyLimitConfig | None:
            return None if limit is None else MoneyLimitConfig(5 * limit.soft, limit.hard and 5 * limit.hard)
        return MoneyLimitSetConfig(*(scaled(getattr(limits, field.name)) for field in dataclasses.fields(limits)))

    cash = risk.cash_limits
    hedging = dataclasses.replace(config.hedging, delta_hedging=dataclasses.replace(
        config.hedging.delta_hedging, hedging_band=0.3, min_band_lots=0.0, hedge_month="dominant"))
    return dataclasses.replace(config, hedging=hedging, greeks_risk=dataclasses.replace(
        risk, cash_limits=dataclasses.replace(cash, per_underlying=times5(cash.per_underlying),
                                              book=times5(cash.book))))


@pytest.fixture(scope="module")
def rolled(tmp_path_factory):
    folder = tmp_path_factory.mktemp("roll")
    database = create_database(DatabaseSettings.from_environment({"VNPY_DATABASE_DATABASE": str(folder / "s.db")}))
    ensure_sample_market(database, DEFAULT_START, DEFAULT_END)
    events: list[DomainEvent] = []
    config = hedged_config()
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=START, end=END, capital=5_000_000), database,
                            DEFAULT_STRATEGY_CONFIG, OVERRIDE, event_handlers=((DomainEvent, events.append),))
    engine = runner.prepare_engine(strategy_class=CountingPositions)
    engine.run_backtesting()
    assert engine.strategy_failure is None
    return runner, engine, events, config


def _net(trades, vt_symbol: str, before: datetime | None = None) -> int:
    """Signed lots of ``vt_symbol`` held after the trades (those before ``before`` only)."""
    lots = 0
    for trade in trades:
        if trade.vt_symbol == vt_symbol and (before is None or trade.datetime < before):
            lots += trade.volume if trade.direction is VnpyDirection.LONG else -trade.volume
    return int(lots)


def _rolls(events):
    return [e for e in events if isinstance(e, ActiveContractChangedEvent) and e.previous_vt_symbol]


def test_a_hedge_held_at_the_roll_is_closed_in_the_old_month_and_opened_in_the_new(rolled):
    _runner, engine, events, _config = rolled
    trades = sorted(engine.get_all_trades(), key=lambda t: t.datetime)
    observed = 0
    for roll in _rolls(events):
        held = _net(trades, roll.previous_vt_symbol, before=roll.occurred_at)
        if not held:
            continue
        observed += 1
        window = [t for t in trades if roll.occurred_at <= t.datetime <= roll.occurred_at + ROLL_WITHIN]
        closes = [t for t in window if t.vt_symbol == roll.previous_vt_symbol and t.offset is VnpyOffset.CLOSE]
        opens = [t for t in window if t.vt_symbol == roll.vt_symbol and t.offset is VnpyOffset.OPEN]
        assert sum(t.volume for t in closes) == abs(held), f"{roll.previous_vt_symbol} not closed at the roll"
        side = VnpyDirection.LONG if held > 0 else VnpyDirection.SHORT
        assert all(t.direction is not side for t in closes)
        rolled_in = [t for t in opens if t.direction is side and t.datetime == closes[0].datetime]
        assert sum(t.volume for t in rolled_in) >= abs(held), f"{roll.vt_symbol} not opened at the roll"
    assert observed, "no hedge lot was held at a roll: the scenario no longer tests what it should"


def test_nothing_of_the_old_month_is_held_into_its_expiry(rolled):
    runner, engine, events, _config = rolled
    trades = engine.get_all_trades()
    for roll in _rolls(events):
        old = roll.previous_vt_symbol
        expiry = runner.registry.get(old).expiry
        assert expiry <= END  # the run covers the old month's expiry day
        assert _net(trades, old) == 0
        assert not [t for t in trades if t.vt_symbol == old and is_settlement(t)]
        assert not [t for t in trades if t.vt_symbol == old and t.datetime > roll.occurred_at + ROLL_WITHIN]
    cycle = engine.strategy.cycle
    assert not [p for p in cycle.positions.positions() if p.vt_symbol in {r.previous_vt_symbol for r in _rolls(events)}]


def test_hedge_futures_do_not_count_towards_max_positions(rolled):
    _runner, engine, events, config = rolled
    minutes = engine.strategy.minutes
    with_futures = [m for m in minutes if m[2] > 0]
    assert with_futures, "no futures were ever held"
    # What the strategy counts is its options held or being opened, every minute; the futures beside them not.
    assert [counted for *_, counted in minutes] == [options for _at, options, _futures, _counted in minutes]
    limit = config.strategies[0].setting.max_positions
    full = [m for m in minutes if m[1] + m[2] >= limit and m[1] < limit]
    assert full, "options and futures never added up to max_positions together"
    refused = {e.occurred_at for e in events if isinstance(e, DecisionRefusedEvent) and "max_positions" in e.reason}
    assert not refused & {at for at, *_ in full}  # no opening refused for max_positions because of futures


def test_timed_out_closes_were_resent_at_the_escalated_prices_in_the_engine(rolled):
    _runner, engine, events, _config = rolled
    escalations = [e for e in events if isinstance(e, CloseEscalatedEvent)]
    assert escalations, "no close timed out in this run"
    orders = list(engine.limit_orders.values())
    for event in escalations:
        sent = [o for o in orders if o.vt_symbol == event.vt_symbol and o.offset is VnpyOffset.CLOSE
                and o.price == pytest.approx(event.price) and o.volume == event.volume]
        assert sent, f"no engine order for {event.detail}"
    assert {e.stage for e in escalations} >= {CloseEscalatedEvent.FAR_TOUCH}
    assert engine.strategy.cycle.counters.close_escalation_count == len(escalations)
