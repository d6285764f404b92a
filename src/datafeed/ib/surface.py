"""A completed snapshot run → ``OptionChainSnapshot`` → ``VolSurface`` (``VolSurfaceBuilder``), stored.

- Quotes: each option row with its expiry at the settlement time of its trading class (09:30 ET
  for AM-settled SPX/NDX monthlies, 16:00 ET otherwise; from the contract cache), missing sides as
  NaN. Rows that cannot be quotes (crossed bid/ask, refused contracts, no strike) are skipped and
  counted by reason.
- Valuation time: live data (type 1) is valued when the run started; frozen data (type 2) is the
  last close, so it is never taken for a live quote. A run mixing both types is refused.
- The forward per expiry comes from put-call parity inside ``VolSurfaceBuilder``; the rate is given
  explicitly (used only where parity cannot give a discount factor).
- The stored payload (``ib_vol_surface``) has the forwards, the per-quote vols (bid/mid/ask, log-
  moneyness, out-of-the-money flag) and the gridded market surface, so the dashboard can draw the
  smile and a backtest can replay the surfaces as they were.
"""
from __future__ import annotations

import math
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, time
from typing import Any

from src.datafeed.ib.contracts import AM_SETTLED_TRADING_CLASSES, US_EASTERN
from src.datafeed.ib.sessions import last_close_before
from src.datafeed.ib.store import IbStore
from src.strategy.domain.domain_service.vol_surface_builder import VolSurfaceBuild, VolSurfaceBuilder
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.vol_surface import OptionChainSnapshot, OptionQuote


class SurfaceError(Exception):
    """The run cannot give a surface (no quotes, mixed live and frozen data, no underlying price)."""


@dataclass(frozen=True)
class ChainSnapshotResult:
    snapshot: OptionChainSnapshot
    skipped: dict[str, int]
    market_data_type: int
    quote_con_ids: tuple[int, ...]          # the conId of each quote, in the snapshot's order


def chain_snapshot(store: IbStore, run_id: int, underlying: str, *, rate: float) -> ChainSnapshotResult:
    run = store.run(run_id)
    if run is None:
        raise SurfaceError(f"no snapshot run {run_id}")
    rows = [row for row in store.quotes(run_id) if row["underlying"] == underlying.upper()]
    classes = {record.con_id: record.trading_class for record in store.contracts(underlying)}
    types = {row["market_data_type"] for row in rows if row["market_data_type"] and row["error_code"] is None}
    if not types:
        raise SurfaceError(f"run {run_id} has no quotes for {underlying}")
    if len(types) > 1:
        raise SurfaceError(f"run {run_id} mixes market data types {sorted(types)} for {underlying}: "
                           f"frozen and live quotes are never combined")
    data_type = types.pop()
    valuation = run.started_at if data_type in (1, 3) else last_close_before(run.started_at)
    skipped: Counter = Counter()
    quotes, con_ids, prices = [], [], []
    for row in rows:
        if row["underlying_price"] is not None and row["error_code"] is None:
            prices.append(row["underlying_price"])
        if row["option_right"] not in ("C", "P"):
            continue
        if row["error_code"] is not None:
            skipped[f"error {row['error_code']}"] += 1
            continue
        if row["strike"] is None or row["expiry"] is None:
            skipped["no strike or expiry"] += 1
            continue
        trading_class = classes.get(row["con_id"], "")
        settle = time(9, 30) if trading_class in AM_SETTLED_TRADING_CLASSES else time(16, 0)
        expiry = datetime.combine(row["expiry"], settle, tzinfo=US_EASTERN)
        try:
            quote = OptionQuote(expiry=expiry, strike=row["strike"],
                                option_type=OptionType.CALL if row["option_right"] == "C" else OptionType.PUT,
                                bid=_or_nan(row["bid"]), ask=_or_nan(row["ask"]), last=_or_nan(row["last"]),
                                volume=row["volume"] or 0.0)
        except ValueError as error:
            skipped["crossed quote" if "crossed" in str(error) else "invalid quote"] += 1
            continue
        quotes.append(quote)
        con_ids.append(row["con_id"])
    if not quotes:
        raise SurfaceError(f"run {run_id} has no usable option quotes for {underlying} ({dict(skipped)})")
    if not prices:
        raise SurfaceError(f"run {run_id} has no underlying price for {underlying}")
    snapshot = OptionChainSnapshot(valuation_time=valuation, underlying_price=statistics.median(prices),
                                   quotes=tuple(quotes), rate=rate)
    return ChainSnapshotResult(snapshot, dict(skipped), data_type, tuple(con_ids))


def build_surface(result: ChainSnapshotResult, builder: VolSurfaceBuilder | None = None) -> VolSurfaceBuild:
    return (builder or VolSurfaceBuilder(fit_svi=False)).build(result.snapshot)


def surface_payload(result: ChainSnapshotResult, build: VolSurfaceBuild) -> dict[str, Any]:
    snapshot = result.snapshot
    index = {id(quote): con_id for quote, con_id in zip(snapshot.quotes, result.quote_con_ids)}
    payload: dict[str, Any] = {
        "valuation_time": snapshot.valuation_time.isoformat(),
        "underlying_price": snapshot.underlying_price,
        "rate": snapshot.rate,
        "market_data_type": result.market_data_type,
        "skipped": result.skipped,
        "forwards": [dict(expiry=f.expiry.isoformat(), t=f.t, forward=f.forward, discount=f.discount,
                          source=f.source) for f in build.forwards],
        "quotes": [dict(con_id=index.get(id(v.quote)), expiry=v.quote.expiry.isoformat(), strike=v.quote.strike,
                        right=v.quote.option_type.value[0], k=_finite(v.log_moneyness), iv_bid=_finite(v.iv_bid),
                        iv_mid=_finite(v.iv_mid), iv_ask=_finite(v.iv_ask), otm=v.out_of_the_money)
                   for v in build.quotes],
        "surface": None,
    }
    if build.surface is not None:
        surface = build.surface
        payload["surface"] = dict(expiries=surface.expiries.tolist(), log_moneyness=surface.log_moneyness.tolist(),
                                  vols=[[_finite(v) for v in row] for row in surface.vols.tolist()],
                                  forwards=surface.forwards.tolist())
    return payload


def store_surface(store: IbStore, run_id: int, underlying: str, *, rate: float, built_at: datetime,
                  builder: VolSurfaceBuilder | None = None) -> tuple[ChainSnapshotResult, VolSurfaceBuild]:
    result = chain_snapshot(store, run_id, underlying, rate=rate)
    build = build_surface(result, builder)
    store.save_surface(run_id, underlying.upper(), result.snapshot.valuation_time, rate,
                       surface_payload(result, build), built_at)
    return result, build


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _finite(value: float) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
