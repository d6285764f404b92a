"""Hedged and unhedged backtests of the same dates, side by side (issue: dynamic hedging, measured).

    .venv/bin/python scripts/compare_hedging.py [--start 2026-01-05 --end 2026-02-06]
                                                [--capital 5000000] [--limit-scale 5] [--band 0.5]

Both runs use the 15-minute variant on the sample market (created when missing) with
the money limits (greeks_risk.cash_limits) scaled by --limit-scale so that a larger book
can be built; the hedged run enables delta hedging with the given band. Printed: trades,
hedge trades, the largest |portfolio delta| seen on a minute bar (in lots of the hedge
future, before that minute's hedge), the share of minutes outside target +- band, the
hedges' P&L marked to market (from the P&L attribution), breaches, net PnL.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from src.backtesting.config import BacktestConfig  # noqa: E402
from src.backtesting.runner import BacktestRunner  # noqa: E402
from src.datafeed.sample_market import DEFAULT_END, DEFAULT_START, ensure_sample_market  # noqa: E402
from src.core.database_factory import create_database  # noqa: E402
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config  # noqa: E402
from src.paths import CONFIG_DIR  # noqa: E402

FIGURES = ("option_trade_count", "hedge_trade_count", "max_abs_portfolio_delta", "share_of_bars_outside_band",
           "hedge_pnl", "risk_breach_count", "total_net_pnl", "max_drawdown")


def override_file(folder: Path, hedged: bool, band: float, limit_scale: float) -> Path:
    base = yaml.safe_load((CONFIG_DIR / "timeframe" / "15m.yaml").read_text(encoding="utf-8"))
    limits = load_strategy_config().greeks_risk.cash_limits

    def scaled(section) -> dict:
        return {name: {"soft": limit.soft * limit_scale,
                       **({"hard": limit.hard * limit_scale} if limit.hard is not None else {})}
                for name, limit in vars(section).items() if limit is not None}

    base["greeks_risk"] = {"cash_limits": {"per_underlying": scaled(limits.per_underlying),
                                           "book": scaled(limits.book)}}
    base["hedging"] = {"delta_hedging": {"enabled": hedged, "target_delta": 0.0, "hedging_band": band}}
    path = folder / f"{'hedged' if hedged else 'unhedged'}.yaml"
    path.write_text(yaml.safe_dump(base), encoding="utf-8")
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END)
    parser.add_argument("--capital", type=float, default=5_000_000.0)
    parser.add_argument("--limit-scale", type=float, default=5.0)
    parser.add_argument("--band", type=float, default=0.5)
    args = parser.parse_args()

    database = create_database()
    ensure_sample_market(database, args.start, args.end)
    folder = Path(tempfile.mkdtemp(prefix="compare-hedging-"))
    results = {}
    for hedged in (False, True):
        override = override_file(folder, hedged, args.band, args.limit_scale)
        config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, override)
        runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=args.start, end=args.end,
                                                                      capital=args.capital),
                                database, DEFAULT_STRATEGY_CONFIG, override)
        results["hedged" if hedged else "unhedged"] = runner.run(folder / ("hedged" if hedged else "unhedged"),
                                                                  ).summary
    print(f"{args.start}..{args.end}, capital {args.capital:,.0f}, Greeks limits x{args.limit_scale}, "
          f"band {args.band} lots (reports in {folder})")
    print(f"{'figure':<30}{'unhedged':>16}{'hedged':>16}")
    for figure in FIGURES:
        row = [results[name].get(figure, 0) for name in ("unhedged", "hedged")]
        print(f"{figure:<30}" + "".join(f"{value:>16,.4f}" if isinstance(value, float) else f"{value:>16}"
                                        for value in row))
    bound = args.band + 1.0
    print(f"hedged max |delta| {results['hedged']['max_abs_portfolio_delta']:.3f} <= band + one lot "
          f"({bound}): {'yes' if results['hedged']['max_abs_portfolio_delta'] <= bound else 'NO'}")


if __name__ == "__main__":
    main()
