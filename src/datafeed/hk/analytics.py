"""The seed's rolling 30-minute volatility alert, as an example analytic over the stored trades.

The seed computes ``pct_change`` tick to tick over "30 * 60 ticks" (it assumes one
tick a second) and compares the latest rolling std with the 90th percentile of
*all* values, the latest included. Trades are irregular, so here:

- prices are sampled on a 1-minute grid (the last trade of each minute, carried
  forward over minutes without trades; only trading minutes count: the lunch
  break and the night make no returns);
- the volatility is the standard deviation of the last ``window`` 1-minute log
  returns (30 by default = 30 trading minutes);
- the alert threshold is the ``quantile`` of the volatilities *before* the
  current one (no look-ahead), once ``min_history`` of them exist.

``volatility_alerts`` is pure (numpy); ``VolatilityWatch`` reads the stored
trades of a code and returns ``VolatilityAlert`` events for the monitor.
"""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import peewee

from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.value_object.trading_session import CHINA_TRADING_SESSIONS, SessionPhase
from src.strategy.infrastructure.persistence.hk_tick_schema import bind_hk_tables

HKEX = CHINA_TRADING_SESSIONS.schedule("SEHK", "")
_MINUTE_MS = 60_000
_LOCAL_EPOCH = datetime(1970, 1, 1, 8, 0, 0)
_HK = ZoneInfo("Asia/Hong_Kong")


@dataclass(frozen=True)
class VolatilityAlert(DomainEvent):
    code: str
    volatility: float   # std of 1-minute log returns over the window
    threshold: float
    window_minutes: int
    quantile: float


def minute_closes(times_ms: np.ndarray, prices: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Last price of each trading minute that had trades, and the minute (ms, HK time) - in time order."""
    if len(times_ms) == 0:
        return np.empty(0, dtype=np.int64), np.empty(0)
    order = np.argsort(times_ms, kind="stable")
    times_ms, prices = np.asarray(times_ms)[order], np.asarray(prices, dtype=float)[order]
    minutes = times_ms // _MINUTE_MS
    last_of_minute = np.r_[minutes[1:] != minutes[:-1], True]
    minutes, closes = minutes[last_of_minute], prices[last_of_minute]
    keep = np.array([_is_trading_minute(int(m)) for m in minutes], dtype=bool)
    return minutes[keep] * _MINUTE_MS, closes[keep]


def _is_trading_minute(minute: int) -> bool:
    local = _LOCAL_EPOCH + timedelta(minutes=minute)
    match = HKEX.locate(local.time())
    return match is not None and match.phase is SessionPhase.CONTINUOUS


def rolling_volatility(closes: np.ndarray, window: int) -> np.ndarray:
    """Std (ddof 1) of the last ``window`` log returns at each close; NaN until ``window`` returns exist."""
    closes = np.asarray(closes, dtype=float)
    out = np.full(len(closes), np.nan)
    if len(closes) <= window:
        return out
    returns = np.diff(np.log(closes))
    views = np.lib.stride_tricks.sliding_window_view(returns, window)
    out[window:] = views.std(axis=1, ddof=1)
    return out


def volatility_alerts(closes: np.ndarray, window: int = 30, quantile: float = 0.9,
                      min_history: int = 100) -> np.ndarray:
    """Boolean per close: the rolling volatility exceeds the ``quantile`` of its earlier values."""
    if not 0 < quantile < 1:
        raise ValueError(f"quantile must be in (0, 1), got {quantile}")
    vol = rolling_volatility(closes, window)
    alerts = np.zeros(len(vol), dtype=bool)
    history: list[float] = []
    for i, value in enumerate(vol):
        if np.isnan(value):
            continue
        if len(history) >= min_history and value > np.quantile(history, quantile):
            alerts[i] = True
        history.append(value)
    return alerts


class VolatilityWatch:
    """Checks the latest rolling volatility of stored trades; one alert per code per minute at most."""

    def __init__(self, database: peewee.Database, *, window: int = 30, quantile: float = 0.9,
                 min_history: int = 100, lookback_days: int = 5) -> None:
        self.table = bind_hk_tables(database).trade
        self.window = window
        self.quantile = quantile
        self.min_history = min_history
        self.lookback = timedelta(days=lookback_days)
        self._last_alert_minute: dict[str, int] = {}

    def check(self, code: str, now: datetime) -> VolatilityAlert | None:
        """``now``: an aware datetime (its HK wall clock is used to choose the stored rows)."""
        local_now = now.astimezone(_HK).replace(tzinfo=None)
        model = self.table
        rows = (model.select(model.tick_time, model.price)
                .where((model.code == code) & (model.tick_time >= local_now - self.lookback)
                       & (model.tick_time <= local_now))
                .order_by(model.tick_time).tuples())
        times, prices = [], []
        for tick_time, price in rows:
            if isinstance(tick_time, str):
                tick_time = datetime.fromisoformat(tick_time)
            times.append((tick_time - _LOCAL_EPOCH) // timedelta(milliseconds=1))
            prices.append(price)
        minutes, closes = minute_closes(np.array(times, dtype=np.int64), np.array(prices))
        vol = rolling_volatility(closes, self.window)
        valid = vol[~np.isnan(vol)]
        if len(valid) <= self.min_history:
            return None
        threshold = float(np.quantile(valid[:-1], self.quantile))
        current = float(valid[-1])
        minute = int(minutes[-1])
        if current <= threshold or self._last_alert_minute.get(code) == minute:
            return None
        self._last_alert_minute[code] = minute
        return VolatilityAlert(occurred_at=now, code=code, volatility=current, threshold=threshold,
                               window_minutes=self.window, quantile=self.quantile)

