"""Put/call sentiment: no look-ahead, the percentile over the window, and the put-selling filter."""
from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from src.strategy.domain.interface.put_call_sentiment_source import PutCallSentimentSource
from src.strategy.domain.value_object.put_call_sentiment import (
    DailyPutCall,
    PutCallFilter,
    PutCallHistory,
    PutCallSentiment,
)

NY = ZoneInfo("America/New_York")
START = date(2018, 1, 1)


def history_of(values: list[tuple[int, int]]) -> PutCallHistory:
    days = [DailyPutCall(START + timedelta(days=i), call, put,
                         datetime.combine(START + timedelta(days=i), time(17, 0), NY))
            for i, (call, put) in enumerate(values)]
    return PutCallHistory.of("US_INDEX", "VOLUME", days)


values = st.lists(st.tuples(st.integers(0, 10 ** 6), st.integers(0, 10 ** 6)), min_size=1, max_size=80)


@given(values, st.integers(0, 90), st.sampled_from([time(9, 30), time(16, 59), time(17, 0), time(23, 0)]),
       st.integers(1, 40))
def test_the_sentiment_uses_only_days_published_by_as_of_and_ignores_the_future(pairs, offset, moment, window):
    history = history_of(pairs)
    as_of = datetime.combine(START + timedelta(days=offset), moment, NY)
    sentiment = history.sentiment(as_of, window)
    published = [d for d in history.days if d.available_at <= as_of]
    if sentiment is None:
        assert not published or published[-1].ratio is None
        return
    assert sentiment.trade_date == published[-1].trade_date
    assert datetime.combine(sentiment.trade_date, time(17, 0), NY) <= as_of
    future_changed = history_of([pair if i <= offset - (moment < time(17, 0)) else (1, 10 ** 6)
                                 for i, pair in enumerate(pairs)])
    assert future_changed.sentiment(as_of, window) == sentiment


@given(values, st.integers(1, 40))
def test_the_percentile_is_the_share_of_the_window_at_or_below_the_latest_ratio(pairs, window):
    history = history_of(pairs)
    as_of = datetime.combine(START + timedelta(days=len(pairs)), time(12, 0), NY)
    sentiment = history.sentiment(as_of, window)
    ratios = [put / call for call, put in pairs[-window:] if call]
    if not pairs[-1][0]:
        assert sentiment is None
        return
    latest = pairs[-1][1] / pairs[-1][0]
    assert sentiment.observations == len(ratios) <= window
    assert sentiment.percentile == pytest.approx(100 * sum(r <= latest for r in ratios) / len(ratios))
    assert 0 < sentiment.percentile <= 100


def test_on_the_day_itself_the_ratio_is_yesterdays_until_publication():
    history = history_of([(100, 50), (100, 200)])
    day_two = START + timedelta(days=1)
    before = history.sentiment(datetime.combine(day_two, time(16, 0), NY), window=10)
    after = history.sentiment(datetime.combine(day_two, time(17, 0), NY), window=10)
    assert before.trade_date == START and before.ratio == 0.5
    assert after.trade_date == day_two and after.ratio == 2.0 and after.percentile == 100.0


def test_too_few_observations_give_no_sentiment_and_naive_times_are_refused():
    history = history_of([(100, 50)] * 5)
    assert history.sentiment(datetime(2018, 2, 1, tzinfo=NY), window=10, min_observations=6) is None
    with pytest.raises(ValueError):
        history.sentiment(datetime(2018, 2, 1), window=10)


def test_days_out_of_order_or_published_before_their_day_are_refused():
    with pytest.raises(ValueError):
        DailyPutCall(date(2018, 1, 2), 1, 1, datetime(2018, 1, 1, 17, tzinfo=NY))
    day = DailyPutCall(date(2018, 1, 2), 1, 1, datetime(2018, 1, 2, 17, tzinfo=NY))
    with pytest.raises(ValueError):
        PutCallHistory("US_INDEX", "VOLUME", (day, day))


def sentiment(percentile: float) -> PutCallSentiment:
    return PutCallSentiment("US_INDEX", "VOLUME", date(2018, 1, 2), 1.2, percentile, 252, 200,
                            datetime(2018, 1, 3, 10, tzinfo=NY))


def test_the_filter_is_off_by_default_and_refuses_only_above_its_percentile_with_a_reason():
    assert PutCallFilter().refusal(sentiment(99.0)) is None
    on = PutCallFilter(enabled=True, max_percentile=90)
    assert on.refusal(sentiment(90.0)) is None
    assert on.refusal(None) is None
    reason = on.refusal(sentiment(95.5))
    assert "percentile 95.5 > 90" in reason and "2018-01-02" in reason


@pytest.mark.parametrize("kwargs", [{"max_percentile": 0}, {"max_percentile": 101}, {"window": 0},
                                    {"min_observations": 300}, {"enabled": "yes"}])
def test_bad_filter_settings_are_refused(kwargs):
    with pytest.raises((ValueError, TypeError)):
        PutCallFilter(**kwargs)


def test_a_history_satisfies_the_port_shape():
    class FromHistory:
        def __init__(self, history: PutCallHistory) -> None:
            self.history = history

        def sentiment(self, market, data_type, as_of, window, min_observations=1):
            return self.history.sentiment(as_of, window, min_observations)

    assert isinstance(FromHistory(history_of([(1, 1)])), PutCallSentimentSource)
