"""The rolling 30-minute volatility alert: minute sampling on trading minutes, no look-ahead."""
from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from src.datafeed.hk.analytics import minute_closes, rolling_volatility, volatility_alerts

EPOCH = datetime(1970, 1, 1, 8)


def ms(local: datetime) -> int:
    return int((local - EPOCH) / timedelta(milliseconds=1))


def test_minute_closes_take_the_last_trade_of_each_trading_minute_only():
    day = datetime(2026, 12, 7)
    times = [day.replace(hour=10, minute=0, second=5), day.replace(hour=10, minute=0, second=50),
             day.replace(hour=12, minute=30, second=0),  # lunch break: no return
             day.replace(hour=13, minute=0, second=1)]
    minutes, closes = minute_closes(np.array([ms(t) for t in times]), np.array([1.0, 2.0, 3.0, 4.0]))
    assert list(closes) == [2.0, 4.0]
    assert [EPOCH + timedelta(milliseconds=int(m)) for m in minutes] == [day.replace(hour=10),
                                                                         day.replace(hour=13)]


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(50, 150), min_size=2, max_size=120), st.integers(2, 40))
def test_rolling_volatility_is_the_std_of_the_last_window_log_returns(prices, window):
    closes = np.array(prices)
    ours = rolling_volatility(closes, window)
    reference = pd.Series(np.log(closes)).diff().rolling(window).std().to_numpy()
    assert np.allclose(ours, reference, equal_nan=True, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(st.lists(st.floats(90, 110), min_size=40, max_size=150), st.integers(1, 100))
def test_an_alert_never_depends_on_later_prices(prices, cut):
    closes = np.array(prices)
    cut = min(cut, len(closes))
    full = volatility_alerts(closes, window=5, quantile=0.8, min_history=10)
    truncated = volatility_alerts(closes[:cut], window=5, quantile=0.8, min_history=10)
    assert np.array_equal(full[:cut], truncated)


def test_a_volatility_spike_after_a_calm_history_alerts():
    rng = np.random.default_rng(7)
    calm = 100 * np.exp(np.cumsum(rng.normal(0, 0.0005, 300)))
    wild = calm[-1] * np.exp(np.cumsum(rng.normal(0, 0.01, 40)))
    alerts = volatility_alerts(np.r_[calm, wild], window=30, quantile=0.9, min_history=100)
    calm_share = alerts[130:300].mean()  # where the history is long enough to alert at all
    wild_share = alerts[300:].mean()
    assert wild_share >= 0.75 and wild_share > 2 * calm_share
