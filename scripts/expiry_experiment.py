"""Holding through an expiry (issue 14): the 15-minute variant with every close rule off.

    .venv/bin/python scripts/expiry_experiment.py [--start 2026-01-12 --end 2026-01-23]

Runs vnpy_portfoliostrategy's BacktestingEngine over the sample market (created when
missing, in the configured database) with a strategy whose close checks never fire, so
whatever it sells near the 2026-01-16 expiry is held through it. Prints what the book
holds after the expiry, the settlements (domain events and the engine's SETTLE- trades), the
expiry risk events raised before it (in the money or pinned, from the last day before it),
the largest margin reserved, the margin still reserved at the end for expired contracts,
and the openings after the expiry (the strategy trades again once the book is freed).
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date, datetime, time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from vnpy.trader.constant import Offset  # noqa: E402

from src.backtesting.config import BacktestConfig  # noqa: E402
from src.backtesting.runner import BacktestRunner  # noqa: E402
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config  # noqa: E402
from src.core.database_factory import create_database, database_settings_from_environment  # noqa: E402
from src.datafeed.sample_market import ensure_sample_market  # noqa: E402
from src.paths import CONFIG_DIR  # noqa: E402
from src.strategy.domain.event.base import DomainEvent  # noqa: E402
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE  # noqa: E402
from src.strategy.strategy_entry import StrategyEntry  # noqa: E402

OVERRIDE = CONFIG_DIR / "timeframe" / "15m.yaml"
EXPIRY = date(2026, 1, 16)


class HoldThroughExpiry(StrategyEntry):
    """StrategyEntry with its close checks switched off; records the largest margin reserved."""

    def on_init(self) -> None:
        super().on_init()
        self.cycle.services.signal_service.check_close_signal = lambda *args, **kwargs: None
        self.largest_margin = 0.0

    def on_bars(self, bars) -> None:
        super().on_bars(bars)
        if bars:
            self.largest_margin = max(self.largest_margin, self.cycle.account(self.clock.now()).frozen)


def run(database, start: date, end: date, expiry: date = EXPIRY) -> dict:
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, OVERRIDE)
    events: list[DomainEvent] = []
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=start, end=end), database,
                            DEFAULT_STRATEGY_CONFIG, OVERRIDE, event_handlers=((DomainEvent, events.append),))
    engine = runner.prepare_engine(strategy_class=HoldThroughExpiry)
    engine.run_backtesting()
    if engine.strategy_failure:
        raise SystemExit(f"the strategy raised:\n{engine.strategy_failure}")
    strategy = engine.strategy
    cycle = strategy.cycle
    end_time = datetime.combine(end, time(15, 0), EXCHANGE_TIMEZONE)
    registry = runner.registry
    expired_held = [p for p in cycle.positions.positions()
                    if (registry.get(p.vt_symbol).expiry or date.max) <= expiry]
    margin_end = cycle.account(end_time).frozen
    settled = [e for e in events if type(e).__name__ == "PositionSettledEvent"]
    trades = engine.get_all_trades()
    openings_after = [t for t in trades if t.offset is Offset.OPEN and t.datetime.date() > expiry]
    daily = engine.calculate_result()
    vnpy_total = float(daily["total_pnl"].sum()) if daily is not None else 0.0
    marks = cycle.last_prices
    domain_total = cycle.positions.realized_pnl() + sum(
        p.unrealized_pnl(marks.get(p.vt_symbol, p.avg_price)) for p in cycle.positions.positions())
    return {
        "expired_positions_held_at_end": [(p.vt_symbol, p.direction.value, p.volume, marks.get(p.vt_symbol))
                                          for p in expired_held],
        "settled": [(e.vt_symbol, e.direction.value, e.volume, round(e.settlement_price, 4),
                     round(e.realized_pnl, 2)) for e in settled],
        "settled_pnl": sum(e.realized_pnl for e in settled),
        "engine_settlement_trades": len(getattr(engine, "settlement_trades", [])),
        "largest_margin": strategy.largest_margin,
        "margin_at_end": margin_end,
        "openings_after_expiry": len(openings_after),
        "open_positions_at_end": cycle.open_position_count(),
        "vnpy_total_pnl": vnpy_total,
        "domain_total_pnl": domain_total,
        "expiry_risk_events": [(e.occurred_at.strftime("%m-%d %H:%M"), e.vt_symbol, e.direction.value, e.lots,
                                e.underlying_price, e.strike, f"{e.moneyness:+.2%}", e.days_left,
                                "ITM" if e.in_the_money else "", "pinned" if e.pinned else "")
                               for e in events if type(e).__name__ == "ExpiryRiskEvent"],
        "close_escalations": sum(1 for e in events if type(e).__name__ == "CloseEscalatedEvent"),
        "refusals_after_expiry": sum(1 for e in events if type(e).__name__ == "DecisionRefusedEvent"
                                     and e.occurred_at.date() > expiry),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=date(2026, 1, 12))
    parser.add_argument("--end", type=date.fromisoformat, default=date(2026, 1, 23))
    args = parser.parse_args()
    database = create_database(database_settings_from_environment())
    ensure_sample_market(database, date(2026, 1, 5), args.end)
    with tempfile.TemporaryDirectory():
        result = run(database, args.start, args.end)
    for key, value in result.items():
        if isinstance(value, list):
            print(f"{key}: {len(value)}")
            for item in value:
                print(f"    {item}")
        else:
            print(f"{key}: {value:,.2f}" if isinstance(value, float) else f"{key}: {value}")


if __name__ == "__main__":
    main()
