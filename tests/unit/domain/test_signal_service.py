from collections import Counter
from datetime import timedelta

import numpy as np
import pytest
import talib

from src.strategy.domain.domain_service.indicator_service import (
    EMA_FAST,
    EMA_SLOW,
    MACD_HIST,
    MACD_HIST_PREV,
    TD_BUY_COUNT,
    TD_SELL_COUNT,
    IndicatorService,
)
from src.strategy.domain.domain_service.signal_service import SignalService, SignalSettings
from src.strategy.domain.entity.position import Position
from src.strategy.domain.entity.target_instrument import TargetInstrument
from src.strategy.domain.interface.signal_service import ISignalService
from src.strategy.domain.value_object.market import BarSnapshot, Direction, Offset
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType

from .builders import FUTURE, at, bars, instrument_with, option, quote

MACD_ONLY = SignalSettings(use_td_setup=False)
TD_ONLY = SignalSettings(use_macd_cross=False)


def signals(closes, settings=SignalSettings()) -> dict[int, SignalType]:
    """Feeds the closes bar by bar through the default indicators; the signal of each bar that had one."""
    instrument = TargetInstrument("IF", "IO")
    instrument.set_active_contract(FUTURE)
    indicators, service = IndicatorService(), SignalService(settings)
    found = {}
    for index, item in enumerate(bars(closes)):
        instrument.append_bar(item)
        indicators.calculate_bar(instrument, item)
        signal = service.check_open_signal(instrument, item)
        if signal is not None:
            found[index] = signal
    return found


def pullback_in_uptrend() -> list[float]:
    rise = [4000.0 + 4 * i for i in range(60)]
    dip = [rise[-1] - 6 * (i + 1) for i in range(4)]
    resume = [dip[-1] + 6 * (i + 1) for i in range(15)]
    return rise + dip + resume


class TestOpenSignal:
    def test_macd_turning_up_inside_an_uptrend_sells_a_put(self):
        closes = pullback_in_uptrend()
        found = signals(closes, MACD_ONLY)
        hist = talib.MACD(np.array(closes))[2]
        crosses = [i for i in range(1, len(closes)) if hist[i - 1] <= 0 < hist[i]]
        assert list(found.values()) == [SignalType.SELL_PUT]
        (index,) = found
        assert index in crosses and index > 63  # after the pullback, not during it

    def test_the_mirror_image_sells_a_call(self):
        closes = [8000.0 - close for close in pullback_in_uptrend()]
        found = signals(closes, MACD_ONLY)
        assert list(found.values()) == [SignalType.SELL_CALL]
        assert list(found) == list(signals(pullback_in_uptrend(), MACD_ONLY))

    def test_a_macd_cross_against_the_ema_trend_is_not_a_signal(self):
        v_shape = [4200.0 - 4 * i for i in range(50)] + [4004.0 + 6 * i for i in range(10)]
        assert signals(v_shape, MACD_ONLY) == {}
        without_trend = signals(v_shape, SignalSettings(use_td_setup=False, require_ema_trend=False))
        assert list(without_trend.values()) == [SignalType.SELL_PUT]

    def test_a_completed_td_buy_setup_sells_a_put_and_a_sell_setup_a_call(self):
        flat_then_falling = [4000.0] * 10 + [3990.0 - 10 * i for i in range(12)]
        assert signals(flat_then_falling, TD_ONLY) == {18: SignalType.SELL_PUT}  # the 9th lower close
        flat_then_rising = [4000.0] * 10 + [4010.0 + 10 * i for i in range(12)]
        assert signals(flat_then_rising, TD_ONLY) == {18: SignalType.SELL_CALL}

    def test_contradicting_views_give_no_signal(self):
        instrument = instrument_with([4000.0])
        instrument.indicators.update({MACD_HIST_PREV: -1.0, MACD_HIST: 1.0, EMA_FAST: 4001.0, EMA_SLOW: 4000.0,
                                      TD_BUY_COUNT: 0, TD_SELL_COUNT: 9})
        assert SignalService().check_open_signal(instrument, instrument.latest_bar) is None
        instrument.indicators[TD_SELL_COUNT] = 8
        assert SignalService().check_open_signal(instrument, instrument.latest_bar) is SignalType.SELL_PUT

    def test_no_indicators_no_signal(self):
        instrument = instrument_with([4000.0])
        assert SignalService().check_open_signal(instrument, instrument.latest_bar) is None

    @pytest.mark.parametrize("seed", [1, 2, 3])
    def test_fires_now_and_then_on_a_random_walk_of_15_minute_bars(self, seed):
        # 20 trading days of CFFEX minutes (240 a day) around 4000 with about 1.2% daily volatility.
        rng = np.random.default_rng(seed)
        minutes = 4000.0 + np.cumsum(rng.normal(0.0, 3.1, 20 * 240))
        start = at(day=2, month=12, hour=9, minute=30)
        instrument = TargetInstrument("IF", "IO")
        instrument.set_active_contract(FUTURE)
        indicators, service = IndicatorService(), SignalService()
        counts = Counter()
        for index in range(0, len(minutes), 15):
            window = minutes[index:index + 15]
            item = BarSnapshot(FUTURE, start + timedelta(minutes=index), window[0], window.max(), window.min(),
                               window[-1], 15 * 10)
            instrument.append_bar(item)
            indicators.calculate_bar(instrument, item)
            counts[service.check_open_signal(instrument, item)] += 1
        assert counts[SignalType.SELL_PUT] >= 3 and counts[SignalType.SELL_CALL] >= 3
        assert counts[None] > 0.8 * sum(counts.values())


class TestCloseSignal:
    def held(self, option_type=OptionType.PUT, direction=Direction.SHORT, entry=20.0) -> Position:
        contract = option(3800 if option_type is OptionType.PUT else 4200, option_type)
        position = Position(contract.vt_symbol, direction, multiplier=100)
        position.apply_fill(direction, Offset.OPEN, 1, entry, at())
        return position

    def instrument(self, position, last=20.0, bid=None, ask=None, option_type=OptionType.PUT,
                   **indicators) -> TargetInstrument:
        instrument = instrument_with([4000.0])
        contract = option(3800 if option_type is OptionType.PUT else 4200, option_type)
        assert contract.vt_symbol == position.vt_symbol
        instrument.update_option_quote(quote(contract, last=last, bid=bid, ask=ask))
        instrument.indicators.update(indicators)
        return instrument

    def check(self, position, instrument, settings=SignalSettings()):
        return SignalService(settings).check_close_signal(position, instrument, instrument.latest_bar)

    def test_nothing_to_do_while_the_price_stays_between_the_limits(self):
        position = self.held()
        assert self.check(position, self.instrument(position, last=15.0)) is None

    def test_half_the_premium_captured_takes_profit(self):
        position = self.held(entry=20.0)
        assert self.check(position, self.instrument(position, last=10.0)) is CloseReason.PROFIT_TARGET
        assert self.check(position, self.instrument(position, last=10.2)) is None

    def test_a_doubled_option_price_stops_the_loss(self):
        position = self.held(entry=20.0)
        assert self.check(position, self.instrument(position, last=40.0)) is CloseReason.STOP_LOSS
        # The mid price is used when both sides are known.
        assert self.check(position, self.instrument(position, last=45.0, bid=30.0, ask=32.0)) is None

    def test_a_long_option_gains_and_losses_mirror_a_short_ones(self):
        position = self.held(option_type=OptionType.CALL, direction=Direction.LONG, entry=20.0)
        settings = SignalSettings(stop_loss_ratio=0.5)
        assert self.check(position, self.instrument(position, last=30.0, option_type=OptionType.CALL),
                          settings) is CloseReason.PROFIT_TARGET
        assert self.check(position, self.instrument(position, last=10.0, option_type=OptionType.CALL),
                          settings) is CloseReason.STOP_LOSS

    @pytest.mark.parametrize("days_left, expected", [(3, None), (2, CloseReason.EXPIRY), (0, CloseReason.EXPIRY)])
    def test_expiry_approaching_closes(self, days_left, expected):
        contract = option(3800, expiry=at().date() + timedelta(days=days_left))
        position = Position(contract.vt_symbol, Direction.SHORT, multiplier=100)
        position.apply_fill(Direction.SHORT, Offset.OPEN, 1, 20.0, at())
        instrument = instrument_with([4000.0])
        instrument.update_option_quote(quote(contract, last=20.0))
        assert self.check(position, instrument) is expected

    def test_a_bearish_signal_reverses_a_short_put_but_not_a_short_call(self):
        bearish = {MACD_HIST_PREV: 1.0, MACD_HIST: -1.0, EMA_FAST: 3990.0, EMA_SLOW: 4000.0}
        short_put = self.held()
        assert self.check(short_put, self.instrument(short_put, **bearish)) is CloseReason.REVERSAL
        assert self.check(short_put, self.instrument(short_put, **bearish),
                          SignalSettings(close_on_reversal=False)) is None
        short_call = self.held(option_type=OptionType.CALL)
        assert self.check(short_call, self.instrument(short_call, option_type=OptionType.CALL, **bearish)) is None
        bullish = {TD_BUY_COUNT: 9}
        assert self.check(short_call, self.instrument(short_call, option_type=OptionType.CALL,
                                                      **bullish)) is CloseReason.REVERSAL

    def test_without_a_quote_or_a_position_nothing_is_judged(self):
        position = self.held()
        assert self.check(position, instrument_with([4000.0])) is None
        flat = Position(position.vt_symbol, Direction.SHORT, 100)
        assert self.check(flat, self.instrument(position, last=5.0)) is None


def test_settings_are_validated_and_the_port_is_implemented():
    with pytest.raises(ValueError, match="no signal can ever fire"):
        SignalSettings(use_macd_cross=False, use_td_setup=False)
    with pytest.raises(ValueError, match="profit_target_ratio must be > 0"):
        SignalSettings(profit_target_ratio=0)
    assert isinstance(SignalService(), ISignalService)


class TestPutCallFilter:
    """The optional put/call filter withholds SELL_PUT while sentiment is extreme; off by default."""

    def history(self, ratio_today: float):
        from datetime import date, datetime, time
        from zoneinfo import ZoneInfo

        from src.strategy.domain.value_object.put_call_sentiment import DailyPutCall, PutCallHistory

        ny = ZoneInfo("America/New_York")
        start = date(2023, 1, 1)
        days = [DailyPutCall(start + timedelta(days=i), 1000, 600 + (i % 7) * 10,
                             datetime.combine(start + timedelta(days=i), time(17), ny)) for i in range(400)]
        last = days[-1]
        days[-1] = DailyPutCall(last.trade_date, 1000, int(1000 * ratio_today), last.available_at)
        return PutCallHistory.of("US_INDEX", "VOLUME", days)

    def source(self, history):
        class FromHistory:
            def sentiment(self, market, data_type, as_of, window, min_observations=1):
                return history.sentiment(as_of, window, min_observations)
        return FromHistory()

    def put_signals(self, service) -> list:
        closes = pullback_in_uptrend()
        instrument = TargetInstrument("IF", "IO")
        instrument.set_active_contract(FUTURE)
        indicators, found, refusals = IndicatorService(), [], []
        for item in bars(closes):
            instrument.append_bar(item)
            indicators.calculate_bar(instrument, item)
            signal = service.check_open_signal(instrument, item)
            if signal is not None:
                found.append(signal)
            if service.last_refusal:
                refusals.append(service.last_refusal)
        return found, refusals

    def test_off_by_default_and_calm_sentiment_changes_nothing(self):
        from src.strategy.domain.value_object.put_call_sentiment import PutCallFilter

        assert self.put_signals(SignalService(MACD_ONLY)) == ([SignalType.SELL_PUT], [])
        calm = SignalService(MACD_ONLY, PutCallFilter(enabled=True, max_percentile=90),
                             self.source(self.history(0.6)))
        assert self.put_signals(calm) == ([SignalType.SELL_PUT], [])

    def test_extreme_put_buying_withholds_the_put_with_a_reason(self):
        from src.strategy.domain.value_object.put_call_sentiment import PutCallFilter

        fearful = SignalService(MACD_ONLY, PutCallFilter(enabled=True, max_percentile=90),
                                self.source(self.history(1.5)))
        found, refusals = self.put_signals(fearful)
        assert found == [] and len(refusals) == 1
        assert refusals[0].startswith("SELL_PUT withheld: put/call US_INDEX VOLUME") and "percentile 100.0 > 90" in \
            refusals[0]

    def test_an_enabled_filter_without_a_source_is_refused(self):
        from src.strategy.domain.value_object.put_call_sentiment import PutCallFilter

        with pytest.raises(ValueError, match="no sentiment source"):
            SignalService(put_call_filter=PutCallFilter(enabled=True))
