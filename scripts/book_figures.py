"""The book's figures of one backtest (issue 14): net P&L, fees, settlements, largest margin use.

    .venv/bin/python scripts/book_figures.py [--override-config config/examples/15m_delta_hedged.yaml]
                                             [--start 2026-01-05 --end 2026-02-06]

Runs the backtest through vnpy_portfoliostrategy's BacktestingEngine on the sample market
(created when missing, in the configured database) with StrategyEntry, recording after every
minute the margin the strategy's own account holds, and prints one JSON line: net P&L,
total commission, commission per option lot (options' fees / option lots traded, settlements
excluded), close-today fees, settled positions, the largest margin held.
"""
from __future__ import annotations

import argparse
import json
import sys
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.backtesting.config import BacktestConfig  # noqa: E402
from src.backtesting.runner import BacktestRunner  # noqa: E402
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config  # noqa: E402
from src.core.database_factory import create_database, database_settings_from_environment  # noqa: E402
from src.datafeed.sample_market import DEFAULT_END, DEFAULT_START, ensure_sample_market  # noqa: E402
from src.strategy.strategy_entry import StrategyEntry  # noqa: E402


class MarginRecorder(StrategyEntry):
    def on_init(self) -> None:
        super().on_init()
        self.largest_margin = 0.0

    def on_bars(self, bars) -> None:
        super().on_bars(bars)
        if bars and self.trading:
            self.largest_margin = max(self.largest_margin, self.cycle.account(self.clock.now()).frozen)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--override-config", type=Path, default=None)
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END)
    args = parser.parse_args()
    database = create_database(database_settings_from_environment())
    ensure_sample_market(database, DEFAULT_START, DEFAULT_END)
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, args.override_config)
    runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=args.start, end=args.end), database,
                            DEFAULT_STRATEGY_CONFIG, args.override_config)
    engine = runner.prepare_engine(strategy_class=MarginRecorder)
    engine.run_backtesting()
    if engine.strategy_failure:
        raise SystemExit(f"the strategy raised:\n{engine.strategy_failure}")
    daily = engine.calculate_result()
    statistics = engine.calculate_statistics(daily, output=False)
    registry = runner.registry
    trades = engine.get_all_trades()
    settlements = [t for t in trades if t.orderid.startswith("SETTLE-")]
    option_trades = [t for t in trades if registry.get(t.vt_symbol).is_option and t not in settlements]
    option_lots = sum(t.volume for t in option_trades)
    totals = getattr(engine, "fee_totals", {}) or {}
    if totals:
        option_fees = totals["option_fees"] + sum(  # vnpy's own rate on options, when the schedule does not cover them
            t.price * t.volume * engine.sizes[t.vt_symbol] * engine.rates[t.vt_symbol] for t in option_trades)
        close_today = totals["close_today_fees"]
    else:
        option_fees = sum(t.price * t.volume * engine.sizes[t.vt_symbol] * engine.rates[t.vt_symbol]
                          for t in option_trades)
        close_today = 0.0  # no such fee before the schedule
    print(json.dumps({
        "override": str(args.override_config or ""),
        "total_net_pnl": round(statistics.get("total_net_pnl", 0.0), 2),
        "total_commission": round(statistics.get("total_commission", 0.0), 2),
        "option_lots": option_lots,
        "commission_per_option_lot": round(option_fees / option_lots, 2) if option_lots else 0.0,
        "close_today_fees": round(close_today, 2),
        "future_trades": sum(1 for t in trades if not registry.get(t.vt_symbol).is_option),
        "settled_positions": len(settlements),
        "largest_margin": round(engine.strategy.largest_margin, 2),
        "open_positions_at_end": engine.strategy.cycle.open_position_count(),
    }))


if __name__ == "__main__":
    main()
