"""Hedged and unhedged backtests of the same dates, side by side (issue: dynamic hedging, measured).

    .venv/bin/python scripts/compare_hedging.py [--start 2026-01-05 --end 2026-02-06]
                                                [--capital 5000000] [--limit-scale 5] [--band 0.5]
                                                [--fills quotes|vnpy]

Both runs use the 15-minute variant on the sample market (created when missing) with
the money limits (greeks_risk.cash_limits) scaled by --limit-scale so that a larger book
can be built. Variants: unhedged; "before" (the band as configured, 0.5 lot, in the dominant
month); "floor+month" (the band never under one futures lot, hedged in the options' month);
"whalley-wilmott" (the cost-aware band, same floor and month). Printed: trades,
hedge trades, the largest |portfolio delta| seen on a minute bar (in lots of the hedge
future, before that minute's hedge), the share of minutes outside target +- band, the
hedges' P&L marked to market (from the P&L attribution), breaches, the fills at or beyond the far
touch of the sample's true quotes and on minutes without a print, the spread paid per lot, net PnL,
and the hedge round trips (futures lots opened then closed, FIFO), those closed the same day, per day.
"""
from __future__ import annotations

import argparse
import csv
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

FIGURES = ("option_trade_count", "hedge_trade_count", "hedge_round_trips", "same_day_round_trips",
           "round_trips_per_day", "max_abs_portfolio_delta", "share_of_bars_outside_band", "hedge_pnl",
           "risk_breach_count", "far_touch_fills", "fills_on_no_print_minutes", "average_spread_paid_ticks",
           "total_commission", "total_net_pnl", "max_drawdown")

# name -> hedging.delta_hedging of the run (None: unhedged). "before" is the former behaviour: the band as
# configured (0.5 lot), the dominant month.
VARIANTS = {
    "unhedged": None,
    "before": {"min_band_lots": 0.0, "hedge_month": "dominant"},
    "floor+month": {"min_band_lots": 1.0, "hedge_month": "options"},
    "whalley-wilmott": {"min_band_lots": 1.0, "hedge_month": "options", "band_model": "whalley_wilmott"},
}


def override_file(folder: Path, name: str, band: float, limit_scale: float) -> Path:
    base = yaml.safe_load((CONFIG_DIR / "timeframe" / "15m.yaml").read_text(encoding="utf-8"))
    limits = load_strategy_config().greeks_risk.cash_limits

    def scaled(section) -> dict:
        return {metric: {"soft": limit.soft * limit_scale,
                         **({"hard": limit.hard * limit_scale} if limit.hard is not None else {})}
                for metric, limit in vars(section).items() if limit is not None}

    base["greeks_risk"] = {"cash_limits": {"per_underlying": scaled(limits.per_underlying),
                                           "book": scaled(limits.book)}}
    variant = VARIANTS[name]
    base["hedging"] = {"delta_hedging": {"enabled": variant is not None, "target_delta": 0.0, "hedging_band": band,
                                         **(variant or {})}}
    path = folder / f"{name}.yaml"
    path.write_text(yaml.safe_dump(base), encoding="utf-8")
    return path


def round_trips(trades_csv: Path) -> dict:
    """Futures lots opened then closed (first in, first out per contract); how many closed the same day."""
    open_lots: dict[str, list[list]] = {}
    trips = same_day = 0
    days = set()
    with trades_csv.open(encoding="utf-8") as stream:
        for row in csv.DictReader(stream):
            days.add(row["datetime"][:10])
            if row["kind"] != "future" or row["vt_orderid"].startswith("SETTLE"):
                continue
            sign = 1 if row["direction"].strip().lower() in ("long", "多") else -1
            lots = sign * int(float(row["volume"]))
            queue = open_lots.setdefault(row["vt_symbol"], [])
            while lots and queue and (queue[0][0] > 0) != (lots > 0):
                matched = min(abs(lots), abs(queue[0][0]))
                trips += matched
                same_day += matched if queue[0][1] == row["datetime"][:10] else 0
                queue[0][0] += matched if queue[0][0] < 0 else -matched
                lots += matched if lots < 0 else -matched
                if queue[0][0] == 0:
                    queue.pop(0)
            if lots:
                queue.append([lots, row["datetime"][:10]])
    return {"hedge_round_trips": trips, "same_day_round_trips": same_day,
            "round_trips_per_day": trips / len(days) if days else 0.0}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=date.fromisoformat, default=DEFAULT_START)
    parser.add_argument("--end", type=date.fromisoformat, default=DEFAULT_END)
    parser.add_argument("--capital", type=float, default=5_000_000.0)
    parser.add_argument("--limit-scale", type=float, default=5.0)
    parser.add_argument("--band", type=float, default=0.5)
    parser.add_argument("--fills", choices=("quotes", "vnpy"), default="quotes",
                        help="the fill model (default) or vnpy's crossing, as the backtest's --fills")
    args = parser.parse_args()

    database = create_database()
    ensure_sample_market(database, args.start, args.end)
    folder = Path(tempfile.mkdtemp(prefix="compare-hedging-"))
    results = {}
    for name in VARIANTS:
        override = override_file(folder, name, args.band, args.limit_scale)
        config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, override)
        runner = BacktestRunner(config, ("IF", "IM"), BacktestConfig(start=args.start, end=args.end,
                                                                      capital=args.capital),
                                database, DEFAULT_STRATEGY_CONFIG, override, fills=args.fills,
                                sample_quotes="check")  # fills measured against the sample's true quotes
        result = runner.run(folder / name)
        results[name] = {**result.summary, **round_trips(folder / name / "trades.csv")}
        print(f"{name}: done ({folder / name})", flush=True)
    print(f"{args.start}..{args.end}, capital {args.capital:,.0f}, money limits x{args.limit_scale}, "
          f"configured band {args.band} lots, fills: {args.fills} (reports in {folder})")
    print(f"{'figure':<28}" + "".join(f"{name:>17}" for name in VARIANTS))
    for figure in FIGURES:
        row = [results[name].get(figure, 0) for name in VARIANTS]
        print(f"{figure:<28}" + "".join(f"{value:>17,.4f}" if isinstance(value, float)
                                        else f"{'-' if value is None else value:>17}" for value in row))


if __name__ == "__main__":
    main()
