"""Prints what VolSurfaceBuilder makes of a Cboe index option chain download (quotedata.csv).

    .venv/bin/python scripts/report_vol_surface.py [path/to/spx_quotedata_2022-06-10.csv]

Defaults to the SPX chain of 2022-06-10 in ../shared/data. Valuation time is
16:00 ET on the trade date; ``SPX`` roots settle at 09:30 ET (AM), ``SPXW``
and other roots at 16:00 ET (PM). Figures: quotes read, build time, median
|mid IV - Cboe IV| over out-of-the-money quotes within +-10 % log-moneyness,
the share of two-sided quotes (both sides > 0) whose bid/ask vol band contains
the fitted smile (SVI plus correction) and the SVI backbone alone: the
out-of-the-money ones (what the smiles are fitted to), and every two-sided
quote, calls and puts, in the money too; the same share for strikes left out
of a second fit (``--holdout``); and the arbitrage report of the fitted smiles.

American/ETF chains (``cboe_spy_option_chains``): pass ``--rate`` (and
``--dividend-yield``), since put-call parity is biased by early exercise and the
builder otherwise discounts at 0 % where parity fails (it warns).
"""
from __future__ import annotations

import argparse
import re
import sys
import time as clock
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


# Cboe has written the download time as "June 11, 2022, 8:47 PM EDT", "February 5 2022, 8:09 PM EST" and
# "January 7, 2024 at 10:52 AM EST"; the time zone is always US Eastern, so its name is not needed.
_DOWNLOAD_TIME = re.compile(r"Date:\s*([A-Za-z]+)\s+(\d{1,2}),?\s+(\d{4})(?:,|\s+at)?\s+(\d{1,2}:\d{2}\s*[AP]M)",
                            re.IGNORECASE)


def session_date(header_line: str) -> date:
    """The trade date of a download: its own date after 16:00 ET on a weekday, else the weekday before."""
    match = _DOWNLOAD_TIME.search(header_line)
    if match is None:
        raise ValueError(f"no download time in {header_line!r}; pass --trade-date")
    month, day_of_month, year, clock_time = match.groups()
    clock_time = re.sub(r"\s*([AaPp][Mm])$", r" \1", clock_time).upper()
    downloaded = datetime.strptime(f"{month} {day_of_month} {year} {clock_time}", "%B %d %Y %I:%M %p")
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
    """IV error against Cboe, and the shares of two-sided quotes whose bid/ask vol band holds the fitted smile.

    Groups: "otm" (two-sided out-of-the-money quotes, the ones fitted), "within_10pct" (those with
    |k| <= 10 %), "every" (every two-sided quote, calls and puts, in the money too; a bid below the
    option's intrinsic value bounds nothing from below, see ``QuoteVol.band_contains``). Each for the
    fitted smile and for the SVI backbone alone ("svi_...").
    """
    errors = []
    counts = {f"{model}{group}": [0, 0] for model in ("", "svi_") for group in ("otm", "within_10pct", "every")}
    for qv in build.quotes:
        reference = cboe_iv.get((qv.quote.expiry, qv.quote.strike, qv.quote.option_type), np.nan)
        if qv.out_of_the_money and abs(qv.log_moneyness) <= 0.10 and np.isfinite(qv.iv_mid) and reference > 0:
            errors.append(abs(qv.iv_mid - reference))
        fit = build.svi_for(qv.quote.expiry)
        if fit is None or not qv.quote.is_two_sided:
            continue
        for model, vol in (("", float(fit.implied_vol(qv.log_moneyness))),
                           ("svi_", float(fit.svi_implied_vol(qv.log_moneyness)))):
            groups = ["every"]
            if qv.out_of_the_money and np.isfinite(qv.iv_bid) and np.isfinite(qv.iv_ask):
                groups.append("otm")
                if abs(qv.log_moneyness) <= 0.10:
                    groups.append("within_10pct")
            inside = qv.band_contains(vol)
            for group in groups:
                counts[model + group][0] += inside
                counts[model + group][1] += 1
    errors = np.array(errors)
    result = {
        "quotes": len(build.quotes),
        "compared": errors.size,
        "median_abs_iv_error": float(np.median(errors)) if errors.size else float("nan"),
        "p90_abs_iv_error": float(np.percentile(errors, 90)) if errors.size else float("nan"),
    }
    for group, (inside, total) in counts.items():
        result[f"inside_{group}"] = inside / total if total else float("nan")
        result[f"banded_{group}"] = total
    return result


def holdout_share(builder: VolSurfaceBuilder, snapshot: OptionChainSnapshot, every: int,
                  **rates) -> tuple[float, int]:
    """Leave every ``every``-th strike of each expiry out, fit the rest, and return the share of the left-out
    two-sided out-of-the-money quotes whose bid/ask vol band holds the fitted smile (and their number)."""
    strikes: dict = {}
    for quote in snapshot.quotes:
        strikes.setdefault(quote.expiry, set()).add(quote.strike)
    left_out = {(expiry, strike) for expiry, values in strikes.items()
                for i, strike in enumerate(sorted(values)) if i % every == 1}
    kept = tuple(q for q in snapshot.quotes if (q.expiry, q.strike) not in left_out)
    build = builder.build(OptionChainSnapshot(snapshot.valuation_time, snapshot.underlying_price, kept,
                                              snapshot.forward_hints, snapshot.rate), **rates)
    inside = []
    for estimate in build.forwards:
        fit = build.svi_for(estimate.expiry)
        if fit is None:
            continue
        held = [q for q in snapshot.quotes_for(estimate.expiry) if (q.expiry, q.strike) in left_out]
        for qv in builder.quote_vols(held, estimate):
            if qv.out_of_the_money and qv.quote.is_two_sided and np.isfinite(qv.iv_bid) and np.isfinite(qv.iv_ask):
                inside.append(qv.band_contains(float(fit.implied_vol(qv.log_moneyness))))
    return (float(np.mean(inside)) if inside else float("nan")), len(inside)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=DEFAULT_FILE)
    parser.add_argument("--trade-date", type=date.fromisoformat, default=None,
                        help="session of the quotes (default: from the download time in the file header)")
    parser.add_argument("--holdout", type=int, default=3, metavar="N",
                        help="also fit without every N-th strike and check the smile on those (0: skip; default 3)")
    parser.add_argument("--rate", type=float, default=None,
                        help="continuously compounded rate for discounting instead of the parity regression's"
                             " (American/ETF chains such as SPY, where early exercise biases parity)")
    parser.add_argument("--dividend-yield", type=float, default=None,
                        help="with --rate: forward = spot * exp((rate - yield) T), no parity")
    args = parser.parse_args(argv)
    if args.dividend_yield is not None and args.rate is None:
        parser.error("--dividend-yield needs --rate")
    rates = {"rate": args.rate, "dividend_yield": args.dividend_yield}
    if not args.path.exists():
        print(f"no such file: {args.path}", file=sys.stderr)
        return 2
    snapshot, cboe_iv = load_chain(args.path, args.trade_date)
    builder = VolSurfaceBuilder()
    started = clock.perf_counter()
    build = builder.build(snapshot, **rates)
    elapsed = clock.perf_counter() - started
    stats = figures(build, cboe_iv)
    print(f"file: {args.path.name}")
    print(f"valuation: {snapshot.valuation_time:%Y-%m-%d %H:%M %Z}, underlying {snapshot.underlying_price}")
    print(f"quotes: {stats['quotes']} in {len(build.forwards)} live expiries; build {elapsed:.1f} s"
          f" ({len(build.svi)} smile fits)")
    sources = pd.Series([f.source for f in build.forwards]).value_counts().to_dict()
    print(f"forwards by source: {sources}")
    print(f"median |mid IV - Cboe IV| (OTM, |k| <= 10%, n={stats['compared']}): {stats['median_abs_iv_error']:.5f}"
          f"  (90th pct {stats['p90_abs_iv_error']:.5f})")
    print("inside bid/ask IV: fitted smile (SVI + correction) | SVI backbone alone")
    for group, label in (("otm", "two-sided OTM quotes, all"), ("within_10pct", "two-sided OTM quotes, |k| <= 10%"),
                         ("every", "every two-sided quote, calls and puts, ITM too")):
        print(f"  {label}: {stats[f'inside_{group}']:.1%} | {stats[f'inside_svi_{group}']:.1%}"
              f" of {stats[f'banded_{group}']}")
    if args.holdout >= 2:
        share, count = holdout_share(builder, snapshot, args.holdout, **rates)
        print(f"  two-sided OTM quotes of 1 strike in {args.holdout}, left out of the fit: {share:.1%} of {count}")
    print("per expiry: expiry, T, forward, D (source), quotes, rmse vol fitted | SVI,"
          " inside fitted | SVI / two-sided, spline coefficients")
    fits = {fit.expiry: fit for fit in build.svi}
    for estimate in build.forwards:
        fit = fits.get(estimate.expiry)
        if fit is None:
            fit_text = "   - no fit"
        else:
            coefficients = fit.correction.coefficients.size if fit.correction is not None else 0
            fit_text = (f"{fit.quotes_used:4d} {fit.rmse_vol:.4f} | {fit.svi_rmse_vol:.4f}"
                        f" {fit.inside_bid_ask:4d} | {fit.svi_inside_bid_ask:4d} / {fit.banded_quotes:4d} {coefficients:4d}")
        print(f"  {estimate.expiry:%Y-%m-%d %H:%M} {estimate.t:8.5f} {estimate.forward:10.3f} "
              f"{estimate.discount:.6f} ({estimate.source}) {fit_text}")
    if build.surface is not None:
        atm = build.surface.atm_term_structure()
        print("ATM term structure (T, vol): " + ", ".join(f"{t:.3f}:{v:.3f}" for t, v in zip(atm.expiries, atm.vols)))
    print(build.arbitrage.summary())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
