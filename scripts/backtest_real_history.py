"""The default strategy's signals traded in the IF future on the real IF 5-minute history, 2015-2019, with its figures.

    .venv/bin/python scripts/backtest_real_history.py [--start 2015-01-05] [--end 2019-10-31] [--capital 5000000]
                                                      [--database F]

1. imports ../shared/data/cn_index_futures_bars/CFFEX.IF.HOT_m5_2014_2019.csv.gz into the
   database (default data/real_history.db, kept apart from the sample market) under dated
   contracts (``import-bars --main-contract-roll 5``) unless it is there already;
2. runs ``python -m src.backtesting.cli --futures-only`` with
   config/examples/real_history_if_5m.yaml (trade_instrument: futures) over the dates;
3. prints the import time, the backtest's run time, the bars replayed, bars/s, the trades and
   the net P&L, the peak memory (maximum resident set size) of the backtest process, the
   machine load, and the rolls: how far the spliced series moved between each roll's close of
   the old month (at its last print) and its opening of the new one, times the lots held —
   what the book did not take across the roll windows (README, "The five-year backtest").
"""
from __future__ import annotations

import json
import os
import re
import resource
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from src.core.cli import OneLineArgumentParser, iso_date, positive_number  # noqa: E402
IF_MULTIPLIER = 300
HISTORY = ROOT.parent / "shared" / "data" / "cn_index_futures_bars" / "CFFEX.IF.HOT_m5_2014_2019.csv.gz"


def main() -> int:
    parser = OneLineArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--start", type=iso_date, default=iso_date("2015-01-05"))
    parser.add_argument("--end", type=iso_date, default=iso_date("2019-10-31"))
    parser.add_argument("--database", type=Path, default=ROOT / "data" / "real_history.db")
    parser.add_argument("--file", type=Path, default=HISTORY)
    parser.add_argument("--output-dir", type=Path, default=None)
    parser.add_argument("--capital", type=positive_number, default=5_000_000.0)
    args = parser.parse_args()
    env = dict(os.environ, VNPY_DATABASE_DRIVER="sqlite", VNPY_DATABASE_DATABASE=str(args.database.resolve()))

    imported = not _has_if_bars(args.database)
    if imported:
        if not args.file.is_file():
            print(f"the IF history is not at {args.file}; give --file", file=sys.stderr)
            return 2
        started = time.monotonic()
        subprocess.run([sys.executable, "-m", "src.main.data", "import-bars", "--file", str(args.file),
                        "--symbol", "IF", "--exchange", "CFFEX", "--layout",
                        "config/examples/import_bars/wondertrader_5m.yaml", "--main-contract-roll", "5",
                        "--no-progress"], cwd=ROOT, env=env, check=True)
        print(f"import: {time.monotonic() - started:.1f} s")

    command = [sys.executable, "-m", "src.backtesting.cli", "--override-config",
               "config/examples/real_history_if_5m.yaml", "--trading-target",
               "config/examples/trading_target_if.yaml", "--futures-only", "--start", f"{args.start}", "--end", f"{args.end}",
               "--capital", f"{args.capital:g}", "--no-progress",
               # One spliced series: the old month has no print after a roll, so only vnpy's crossing (at its
               # last price) can close it; the quote-aware model rightly never fills without a print.
               "--fills", "vnpy"]
    if args.output_dir is not None:
        command += ["--output-dir", str(args.output_dir)]
    started = time.monotonic()
    result = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    sys.stdout.write(result.stdout)
    sys.stderr.write(result.stderr)
    if result.returncode != 0:
        return result.returncode
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    run_time = float(re.search(r"Run time: ([\d.]+) s", result.stdout).group(1))
    report = Path(re.search(r"Report: (\S+)", result.stdout).group(1))
    report = report if report.is_absolute() else ROOT / report
    log = (report / "backtest.log").read_text(encoding="utf-8")
    bars = sum(int(n) for n in re.findall(r"replay finished: (\d+) bars read", log))
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    print(f"\nbars replayed (warm-up included): {bars:,}; backtest run time {run_time:.1f} s "
          f"({bars / run_time:,.0f} bars/s), process wall time {wall:.1f} s, "
          f"peak memory {peak_kib / 1024:.0f} MiB{' (of the import or the backtest: run again for the backtest alone)' if imported else ''}; "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"trades {summary['trade_count']:,}, net P&L {summary['total_net_pnl']:,.0f} CNY "
          f"(commission {summary['total_commission']:,.0f}, of which close-today {summary.get('close_today_fees', 0):,.0f}; "
          f"slippage {summary['total_slippage']:,.0f}), max drawdown {summary['max_ddpercent']:.1f}%, "
          f"signals {summary['signal_count']:,}, refusals {summary['refusal_count']:,}")
    rolls = [(float(close), float(opened), int(lots), direction) for direction, lots, close, opened in re.findall(
        r"StrategyEntry FuturesRolledEvent .*?direction=(\w+), lots=(\d+), close_price=([\d.]+), "
        r"open_price=([\d.]+)", log)]
    gap = sum((opened - close) * lots * (1 if direction == "LONG" else -1) * IF_MULTIPLIER
              for close, opened, lots, direction in rolls)
    print(f"rolls of a held position: {len(rolls)}; the series' moves across them, not booked: {gap:,.0f} CNY")
    return 0


def _has_if_bars(database: Path) -> bool:
    if not database.is_file():
        return False
    with sqlite3.connect(database) as connection:
        try:
            count = connection.execute("select count(*) from dbbardata where symbol like 'IF1%'").fetchone()[0]
        except sqlite3.Error:
            return False
    return count > 0


if __name__ == "__main__":
    sys.exit(main())
