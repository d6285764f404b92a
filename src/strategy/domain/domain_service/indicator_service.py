"""The default indicators: MACD, two EMAs and the TD sequential setup count.

Everything is computed on the instrument's window bars (its bounded history),
so a value depends only on those bars. Until the history is long enough for
an indicator, its value is None.

TD setup (DeMark), as counted here: a bar belongs to a buy setup when its
close is below the close ``td_lookback`` bars earlier (a sell setup: above).
The count grows by one for each consecutive such bar and restarts at 1 after
reaching ``td_setup_length``, so a completed setup (the count equals the
length) shows on exactly one bar. The classic "price flip" start condition is
not required.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import talib

from src.strategy.domain.entity.target_instrument import TargetInstrument
from src.strategy.domain.interface.indicator_service import IIndicatorService
from src.strategy.domain.value_object.market import BarSnapshot
from src.strategy.domain.value_object.validation import require_int

MACD = "macd"
MACD_SIGNAL = "macd_signal"
MACD_HIST = "macd_hist"
MACD_HIST_PREV = "macd_hist_prev"
EMA_FAST = "ema_fast"
EMA_SLOW = "ema_slow"
TD_BUY_COUNT = "td_buy_count"
TD_SELL_COUNT = "td_sell_count"

INDICATOR_NAMES = (MACD, MACD_SIGNAL, MACD_HIST, MACD_HIST_PREV, EMA_FAST, EMA_SLOW, TD_BUY_COUNT, TD_SELL_COUNT)


@dataclass(frozen=True)
class IndicatorSettings:
    macd_fast: int = 12
    macd_slow: int = 26
    macd_signal: int = 9
    ema_fast: int = 5
    ema_slow: int = 20
    td_lookback: int = 4
    td_setup_length: int = 9

    def __post_init__(self) -> None:
        owner = "IndicatorSettings"
        for name in ("macd_fast", "macd_slow", "ema_fast", "ema_slow"):
            require_int(owner, name, getattr(self, name), 2)
        for name in ("macd_signal", "td_lookback", "td_setup_length"):
            require_int(owner, name, getattr(self, name), 1)
        if self.macd_fast >= self.macd_slow:
            raise ValueError(f"{owner}: macd_fast {self.macd_fast} must be below macd_slow {self.macd_slow}")
        if self.ema_fast >= self.ema_slow:
            raise ValueError(f"{owner}: ema_fast {self.ema_fast} must be below ema_slow {self.ema_slow}")


def td_setup_counts(closes: np.ndarray, lookback: int = 4, setup_length: int = 9) -> tuple[np.ndarray, np.ndarray]:
    """Buy and sell setup counts of every bar (0 where the condition fails or cannot be evaluated)."""
    buy = np.zeros(len(closes), dtype=np.int64)
    sell = np.zeros(len(closes), dtype=np.int64)
    for i in range(lookback, len(closes)):
        if closes[i] < closes[i - lookback]:
            buy[i] = buy[i - 1] % setup_length + 1
        elif closes[i] > closes[i - lookback]:
            sell[i] = sell[i - 1] % setup_length + 1
    return buy, sell


def _last(values: np.ndarray, back: int = 1) -> float | None:
    if len(values) < back:
        return None
    value = float(values[-back])
    return None if math.isnan(value) else value


class IndicatorService(IIndicatorService):
    def __init__(self, settings: IndicatorSettings = IndicatorSettings()) -> None:
        self.settings = settings

    def calculate_bar(self, instrument: TargetInstrument, bar: BarSnapshot) -> None:
        """Recomputes the indicators after ``bar`` was appended to ``instrument`` (InstrumentManager.update_bar)."""
        latest = instrument.latest_bar
        if latest is None or latest.vt_symbol != bar.vt_symbol or latest.datetime != bar.datetime:
            raise ValueError(f"IndicatorService: bar {bar.vt_symbol} {bar.datetime.isoformat()} is not the "
                             f"latest bar of {instrument.product}; store it in the InstrumentManager first")
        instrument.indicators.update(self.compute(instrument.closes()))

    def compute(self, closes: np.ndarray) -> dict[str, float | int | None]:
        s = self.settings
        closes = np.ascontiguousarray(closes, dtype=np.float64)
        macd, signal, hist = talib.MACD(closes, fastperiod=s.macd_fast, slowperiod=s.macd_slow,
                                        signalperiod=s.macd_signal)
        values: dict[str, float | int | None] = {
            MACD: _last(macd),
            MACD_SIGNAL: _last(signal),
            MACD_HIST: _last(hist),
            MACD_HIST_PREV: _last(hist, back=2),
            EMA_FAST: _last(talib.EMA(closes, timeperiod=s.ema_fast)),
            EMA_SLOW: _last(talib.EMA(closes, timeperiod=s.ema_slow)),
            TD_BUY_COUNT: None,
            TD_SELL_COUNT: None,
        }
        if len(closes) > s.td_lookback:
            buy, sell = td_setup_counts(closes, s.td_lookback, s.td_setup_length)
            values[TD_BUY_COUNT] = int(buy[-1])
            values[TD_SELL_COUNT] = int(sell[-1])
        return values
