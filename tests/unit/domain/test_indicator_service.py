import numpy as np
import pytest
import talib

from src.strategy.domain.domain_service.indicator_service import (
    EMA_FAST,
    EMA_SLOW,
    INDICATOR_NAMES,
    MACD,
    MACD_HIST,
    MACD_HIST_PREV,
    MACD_SIGNAL,
    TD_BUY_COUNT,
    TD_SELL_COUNT,
    IndicatorService,
    IndicatorSettings,
    td_setup_counts,
)
from src.strategy.domain.interface.indicator_service import IIndicatorService

from .builders import bar, instrument_with


def random_walk(length: int, seed: int = 7) -> list[float]:
    rng = np.random.default_rng(seed)
    return list(4000.0 + np.cumsum(rng.normal(0.0, 8.0, length)))


@pytest.mark.parametrize("settings", [IndicatorSettings(), IndicatorSettings(8, 21, 5, 3, 10)])
def test_values_equal_direct_talib_calls_on_the_window(settings):
    closes = random_walk(120)
    instrument = instrument_with(closes, max_bars=80)
    IndicatorService(settings).calculate_bar(instrument, instrument.latest_bar)

    window = np.array(closes[-80:])
    macd, signal, hist = talib.MACD(window, settings.macd_fast, settings.macd_slow, settings.macd_signal)
    values = instrument.indicators
    assert values[MACD] == pytest.approx(macd[-1])
    assert values[MACD_SIGNAL] == pytest.approx(signal[-1])
    assert values[MACD_HIST] == pytest.approx(hist[-1])
    assert values[MACD_HIST_PREV] == pytest.approx(hist[-2])
    assert values[EMA_FAST] == pytest.approx(talib.EMA(window, settings.ema_fast)[-1])
    assert values[EMA_SLOW] == pytest.approx(talib.EMA(window, settings.ema_slow)[-1])


def test_too_short_a_history_leaves_values_none():
    service = IndicatorService()
    instrument = instrument_with([4000.0, 4001.0, 4002.0])
    service.calculate_bar(instrument, instrument.latest_bar)
    assert set(instrument.indicators) == set(INDICATOR_NAMES)
    assert all(value is None for value in instrument.indicators.values())

    # MACD(12, 26, 9) needs 34 closes for a histogram and 35 for the previous one.
    closes = random_walk(34)
    values = service.compute(np.array(closes))
    assert values[MACD_HIST] is not None and values[MACD_HIST_PREV] is None
    assert values[TD_BUY_COUNT] is not None and values[EMA_SLOW] is not None
    assert service.compute(np.array(closes[:5]))[TD_BUY_COUNT] is not None
    assert service.compute(np.array(closes[:4]))[TD_BUY_COUNT] is None
    assert service.compute(np.array([]))[MACD] is None


def test_td_counts_by_hand():
    # i:        0  1  2  3  4  5  6  7  8  9  10
    closes = [5, 6, 7, 8, 4, 9, 3, 2, 1, 10, 9]
    buy, sell = td_setup_counts(np.array(closes, dtype=float), lookback=4, setup_length=9)
    # 4<5 buy; 9>6 sell; 3<7, 2<8, 1<4 buy run; 10>9 sell; 9 vs 3: sell 2
    assert list(buy) == [0, 0, 0, 0, 1, 0, 1, 2, 3, 0, 0]
    assert list(sell) == [0, 0, 0, 0, 0, 1, 0, 0, 0, 1, 2]


def test_td_count_restarts_after_a_completed_setup_and_equal_closes_break_it():
    falling = [100.0 - i for i in range(20)]
    buy, sell = td_setup_counts(np.array(falling))
    assert list(buy) == [0, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 1, 2, 3, 4, 5, 6, 7]
    assert not sell.any()
    flat_then_rising = [50.0] * 6 + [51.0, 52.0]
    buy, sell = td_setup_counts(np.array(flat_then_rising))
    assert not buy.any() and list(sell) == [0, 0, 0, 0, 0, 0, 1, 2]


def test_calculate_bar_stores_the_td_count_of_the_latest_bar():
    instrument = instrument_with([4100.0 - 5 * i for i in range(13)])
    IndicatorService().calculate_bar(instrument, instrument.latest_bar)
    assert instrument.indicators[TD_BUY_COUNT] == 9 and instrument.indicators[TD_SELL_COUNT] == 0


def test_the_bar_must_already_be_the_instruments_latest():
    instrument = instrument_with([4000.0, 4001.0])
    stray = bar(4002.0, instrument.latest_bar.datetime.replace(hour=15))
    with pytest.raises(ValueError, match="store it in the InstrumentManager first"):
        IndicatorService().calculate_bar(instrument, stray)


def test_settings_are_validated_and_the_port_is_implemented():
    with pytest.raises(ValueError, match="macd_fast 26 must be below macd_slow 12"):
        IndicatorSettings(macd_fast=26, macd_slow=12)
    with pytest.raises(ValueError, match="td_lookback must be >= 1"):
        IndicatorSettings(td_lookback=0)
    assert isinstance(IndicatorService(), IIndicatorService)
