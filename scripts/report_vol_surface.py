"""Prints what VolSurfaceBuilder makes of a Cboe index option chain download (quotedata.csv).

    .venv/bin/python scripts/report_vol_surface.py [path/to/spx_quotedata_2022-06-10.csv]

Defaults to the SPX chain of 2022-06-10 in ../shared/data. Valuation time is
16:00 ET on the trade date; ``SPX`` roots settle at 09:30 ET (AM), ``SPXW``
and other roots at 16:00 ET (PM). Figures: quotes read, median |mid IV - Cboe
IV| over out-of-the-money quotes within +-10 % log-moneyness, the share of
two-sided out-of-the-money quotes whose bid/ask vol band contains the SVI fit,
and the arbitrage report of the fits.
"""
from __future__ import annotations

import argparse
import re
import sys
from datetime import date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from src.strategy.domain.domain_service.vol_surface_builder import VolSurfaceBuilder  # noqa: E402
from src.strategy.domain.value_object.vol_surface import (  # noqa: E402
    OptionChainSnapshot,
    OptionQuote,
    OptionType,
)

DEFAULT_FILE = ROOT.parent / "shared" / "data" / "cboe_index_option_chains" / "spx_quotedata_2022-06-10.csv"
EASTERN = ZoneInfo("America/New_York")
AM_SETTLED_ROOTS = {"SPX", "NDX"}  # SPXW and NDXP settle at the close


def session_date(header_line: str) -> date:
    """The trade date of a download: its own date after 16:00 ET on a weekday, else the weekday before."""
    match = re.search(r"Date:\s*([A-Za-z]+) (\d+),? (\d{4}), (\d+:\d+ [AP]M)", header_line)
    if match is None:
        raise ValueError(f"no download time in {header_line!r}; pass --trade-date")
    downloaded = datetime.strptime(" ".join(match.groups()), "%B %d %Y %I:%M %p")
    day = downloaded.date()
    if downloaded.time() < time(16, 0) or day.weekday() >= 5:
        day -= timedelta(days=1)
        while day.weekday() >= 5:
            day -= timedelta(days=1)
    return day


def load_chain(path: Path, trade_date: date | None = None):
    """(snapshot, {(expiry, strike, type): Cboe IV}) from a Cboe quotedata.csv."""
    header = path.read_text(encoding="utf-8").splitlines()[:3]
    spot = float(re.search(r"Last:\s*([0-9.]+)", header[1]).group(1))
    if trade_date is None:
        trade_date = session_date(header[2])
    valuation = datetime.combine(trade_date, time(16, 0), EASTERN)
    frame = pd.read_csv(path, skiprows=3)
    expiry_dates = pd.to_datetime(frame["Expiration Date"], format="%a %b %d %Y").dt.date
    quotes, cboe_iv = [], {}
    for record, expiry_date in zip(frame.to_dict("records"), expiry_dates):
        root = re.match(r"[A-Z]+", record["Calls"]).group(0)
        settle = time(9, 30) if root in AM_SETTLED_ROOTS else time(16, 0)
        expiry = datetime.combine(expiry_date, settle, EASTERN)
        strike = float(record["Strike"])
        for kind, suffix in ((OptionType.CALL, ""), (OptionType.PUT, ".1")):
            quote = OptionQuote(expiry, strike, kind, float(record["Bid" + suffix]), float(record["Ask" + suffix]),
                                float(record["Last Sale" + suffix]), float(record["Volume" + suffix]))
            quotes.append(quote)
            cboe_iv[(expiry, strike, kind)] = float(record["IV" + suffix])
    return OptionChainSnapshot(valuation, spot, tuple(quotes)), cboe_iv


def figures(build, cboe_iv) -> dict[str, float]:
    """IV error against Cboe, and the share of two-sided OTM quotes whose bid/ask vol band holds the SVI vol."""
    errors = []
    counts = {"fitted": [0, 0], "within_10pct": [0, 0], "all": [0, 0]}
    for qv in build.quotes:
        if not qv.out_of_the_money:
            continue
        reference = cboe_iv.get((qv.quote.expiry, qv.quote.strike, qv.quote.option_type), np.nan)
        if abs(qv.log_moneyness) <= 0.10 and np.isfinite(qv.iv_mid) and reference > 0:
            errors.append(abs(qv.iv_mid - reference))
        fit = build.svi_for(qv.quote.expiry)
        if fit is None or not (qv.quote.is_two_sided and np.isfinite(qv.iv_bid) and np.isfinite(qv.iv_ask)):
            continue
        inside = qv.iv_bid <= float(fit.implied_vol(qv.log_moneyness)) <= qv.iv_ask
        groups = ["all"]
        if fit.k_min <= qv.log_moneyness <= fit.k_max:
            groups.append("fitted")
        if abs(qv.log_moneyness) <= 0.10:
            groups.append("within_10pct")
        for group in groups:
            counts[group][0] += inside
            counts[group][1] += 1
    errors = np.array(errors)
    result = {
        "quotes": len(build.quotes),
        "compared": errors.size,
        "median_abs_iv_error": float(np.median(errors)) if errors.size else float("nan"),
        "p90_abs_iv_error": float(np.percentile(errors, 90)) if errors.size else float("nan"),
    }
    for group, (inside, total) in counts.items():
        result[f"svi_inside_{group}"] = inside / total if total else float("nan")
        result[f"svi_banded_{group}"] = total
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--trade-date", type=date.fromisoformat, default=None,
                        help="session of the quotes (default: from the download time in the file header)")
    args = parser.parse_args(argv)
    if not args.path.exists():
        print(f"no such file: {args.path}", file=sys.stderr)
        return 2
    snapshot, cboe_iv = load_chain(args.path, args.trade_date)
    build = VolSurfaceBuilder().build(snapshot)
    stats = figures(build, cboe_iv)
    print(f"file: {args.path.name}")
    print(f"valuation: {snapshot.valuation_time:%Y-%m-%d %H:%M %Z}, underlying {snapshot.underlying_price}")
    print(f"quotes: {stats['quotes']} in {len(build.forwards)} live expiries")
    sources = pd.Series([f.source for f in build.forwards]).value_counts().to_dict()
    print(f"forwards by source: {sources}")
    print(f"median |mid IV - Cboe IV| (OTM, |k| <= 10%, n={stats['compared']}): {stats['median_abs_iv_error']:.5f}"
          f"  (90th pct {stats['p90_abs_iv_error']:.5f})")
    for group, label in (("fitted", "inside each fit's window"), ("within_10pct", "within +-10% log-moneyness"),
                         ("all", "all")):
        print(f"SVI inside bid/ask IV, two-sided OTM quotes {label}: {stats[f'svi_inside_{group}']:.1%}"
              f" of {stats[f'svi_banded_{group}']}")
    print("per expiry: expiry, T, forward, D (source), SVI quotes, rmse vol, inside/two-sided")
    fits = {fit.expiry: fit for fit in build.svi}
    for estimate in build.forwards:
        fit = fits.get(estimate.expiry)
        fit_text = (f"{fit.quotes_used:4d} {fit.rmse_vol:.4f} {fit.inside_bid_ask:4d}/{fit.banded_quotes}"
                    if fit else "   - no fit")
        print(f"  {estimate.expiry:%Y-%m-%d %H:%M} {estimate.t:8.5f} {estimate.forward:10.3f} "
              f"{estimate.discount:.6f} ({estimate.source}) {fit_text}")
    if build.surface is not None:
        atm = build.surface.atm_term_structure()
        print("ATM term structure (T, vol): " + ", ".join(f"{t:.3f}:{v:.3f}" for t, v in zip(atm.expiries, atm.vols)))
    print(build.arbitrage.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
