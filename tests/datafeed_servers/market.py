"""What the local vendor servers answer with: real history where the shared data has it, a labelled
synthetic IO chain where it has none.

- ``if_main_daily``: IF main-contract daily bars (2014-01-02 .. 2019-10-31) aggregated from the real
  5-minute file ``cn_index_futures_bars/CFFEX.IF.HOT_m5_2014_2019.csv.gz``.
- ``if2101_minutes``: IF2101 1-minute bars of 2021-01-04/05 built from the real CTP ticks
  ``cn_futures_ticks/CFFEX_IF2101_tick_20210104_20210105.csv.gz``.
- ``io_chain_daily``: **synthetic** daily bars of IO options (no real IO history is bundled):
  Black-76 prices of calls and puts, three expiries, strikes every 50 points, on a seeded
  random-walk underlying, for the weekdays of a date range.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache
from pathlib import Path

import numpy as np
import pandas as pd

IF_HOT_5M = "cn_index_futures_bars/CFFEX.IF.HOT_m5_2014_2019.csv.gz"
IF2101_TICKS = "cn_futures_ticks/CFFEX_IF2101_tick_20210104_20210105.csv.gz"


@lru_cache(maxsize=2)
def if_main_daily(data_dir: Path) -> pd.DataFrame:
    """trade_date (YYYYMMDD), open, high, low, close, vol of the IF main contract, from the real 5-minute bars."""
    frame = pd.read_csv(data_dir / IF_HOT_5M, skipinitialspace=True)
    frame.columns = [name.strip("<>") for name in frame.columns]
    day = pd.to_datetime(frame["Date"], format="%Y/%m/%d").dt.strftime("%Y%m%d")
    daily = frame.groupby(day, sort=True).agg(open=("Open", "first"), high=("High", "max"), low=("Low", "min"),
                                               close=("Close", "last"), vol=("Volume", "sum"))
    return daily.reset_index(names="trade_date")


@lru_cache(maxsize=2)
def if2101_minutes(data_dir: Path) -> pd.DataFrame:
    """trade_time (end of the minute, Tushare's label), open, high, low, close, vol, amount, oi of IF2101."""
    from tests.integration.test_bar_pipeline_if2101 import pandas_minute_bars

    bars, _dropped = pandas_minute_bars(data_dir / IF2101_TICKS)
    end = (bars.index + pd.Timedelta(minutes=1)).tz_localize(None)
    return pd.DataFrame({"trade_time": end.strftime("%Y-%m-%d %H:%M:%S"), "open": bars["open"].values,
                         "high": bars["high"].values, "low": bars["low"].values, "close": bars["close"].values,
                         "vol": bars["volume"].values, "amount": bars["turnover"].values,
                         "oi": bars["open_interest"].values})


@dataclass(frozen=True)
class OptionContract:
    product: str        # IO
    month: str          # 2602
    right: str          # C / P
    strike: int
    expiry: date

    @property
    def vnpy_symbol(self) -> str:
        return f"{self.product}{self.month}-{self.right}-{self.strike}"


def third_friday(year: int, month: int) -> date:
    first = date(year, month, 1)
    return first + timedelta(days=(4 - first.weekday()) % 7 + 14)


def _months_after(day: date, count: int) -> list[tuple[int, int]]:
    year, month = day.year, day.month
    if day > third_friday(year, month):
        month += 1
    out = []
    for _ in range(count):
        if month > 12:
            year, month = year + 1, 1
        out.append((year, month))
        month += 1
    return out


def _black76(forward: float, strike: float, years: float, vol: float, call: bool) -> float:
    if years <= 0:
        return max(forward - strike, 0.0) if call else max(strike - forward, 0.0)
    spread = vol * math.sqrt(years)
    d1 = (math.log(forward / strike) + 0.5 * spread * spread) / spread
    d2 = d1 - spread
    n = lambda x: 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))  # noqa: E731
    return forward * n(d1) - strike * n(d2) if call else strike * n(-d2) - forward * n(-d1)


@lru_cache(maxsize=4)
def io_chain_daily(start: date, end: date, level: float = 4600.0, seed: int = 7) -> tuple[
        tuple[OptionContract, ...], pd.DataFrame]:
    """Synthetic IO daily bars: (contracts, frame of ts_code-free rows keyed by vnpy symbol)."""
    rng = np.random.default_rng(seed)
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    days = [d for d in days if d.weekday() < 5]
    path = level * np.exp(np.cumsum(rng.normal(0.0, 0.012, len(days))))
    months = _months_after(start, 3)
    centre = int(round(level / 50.0) * 50)
    contracts = tuple(OptionContract("IO", f"{y % 100:02d}{m:02d}", right, strike, third_friday(y, m))
                      for y, m in months for strike in range(centre - 400, centre + 401, 50) for right in "CP")
    rows = []
    for index, day in enumerate(days):
        forward = float(path[index])
        previous = float(path[index - 1]) if index else level
        for contract in contracts:
            if day > contract.expiry:
                continue
            years = ((contract.expiry - day).days + 0.5) / 365.0
            vol = 0.18 + 0.25 * math.log(contract.strike / forward) ** 2 * 10
            call = contract.right == "C"
            close = round(max(_black76(forward, contract.strike, years, vol, call), 0.2), 1)
            opened = round(max(_black76(previous, contract.strike, years, vol, call), 0.2), 1)
            swing = round(close * 0.04 + 0.2, 1)
            volume = int(max(1, 400 * math.exp(-abs(contract.strike - forward) / 150.0)))
            rows.append({"symbol": contract.vnpy_symbol, "trade_date": f"{day:%Y%m%d}", "open": opened,
                         "high": round(max(opened, close) + swing, 1), "low": round(max(min(opened, close) - swing, 0.2), 1),
                         "close": close, "vol": float(volume), "amount": round(volume * close * 100 / 10_000, 4),
                         "oi": float(volume * 3)})
    return contracts, pd.DataFrame(rows)


ETF50_OPTIONS = "cn_50etf_options/sse_50etf_option_daily_close_2015_2024.csv.gz"


@lru_cache(maxsize=2)
def etf50_options(data_dir: Path) -> pd.DataFrame:
    """Real SSE 50ETF option closes (2015-2024) with SSE-style codes the file lacks.

    The file has no contract codes: each (expiry, right, strike) gets ``10000001`` upwards in
    order of expiry, right and strike. Rows without a close, and the second of two rows sharing a
    (day, expiry, right, strike) (adjusted contracts after dividends), are left out. Only closes are
    real: open, high and low are sent equal to the close.
    """
    frame = pd.read_csv(data_dir / ETF50_OPTIONS).dropna(subset=["close"])
    frame = frame.drop_duplicates(subset=["trade_date", "expiry", "right", "strike"], keep="first")
    keys = frame[["expiry", "right", "strike"]].drop_duplicates().sort_values(["expiry", "right", "strike"])
    keys = keys.assign(code=[f"{10000001 + i}" for i in range(len(keys))])
    frame = frame.merge(keys, on=["expiry", "right", "strike"])
    return frame.assign(trade_date=frame["trade_date"].str.replace("-", ""),
                        expiry=frame["expiry"].str.replace("-", ""))
