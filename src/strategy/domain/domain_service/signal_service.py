"""The default signals of an option seller.

Opening (on the future's window bar):

- bullish, sell an out-of-the-money put (``SELL_PUT``): the MACD histogram
  crosses above zero while the fast EMA is above the slow one, or a TD buy
  setup completes (a down-move exhausted);
- bearish, sell an out-of-the-money call (``SELL_CALL``): the mirror image.
- both at once is contradictory and gives no signal.

Closing a position, checked in this order:

- ``STOP_LOSS``: the loss reached ``stop_loss_ratio`` of the entry premium
  (1.0: a sold option whose price doubled);
- ``PROFIT_TARGET``: the gain reached ``profit_target_ratio`` of the entry
  premium (0.5: half the premium captured, the option at half its entry price);
- ``EXPIRY``: ``close_days_before_expiry`` calendar days or fewer are left;
- ``REVERSAL``: the opening signal now points against the position.

Optional put/call filter (``PutCallFilter``, off by default): with a sentiment
source, a ``SELL_PUT`` is withheld while the market's put/call ratio percentile
is above the filter's ``max_percentile``, as of the bar's start (a day's ratio
counts only after its market published it). The reason is kept in
``last_refusal`` for the caller to record as a refusal event.

The option's price and contract come from the instrument's latest quote of
the position's vt_symbol (its mid when bid and ask are known, else its last
price); without a quote nothing can be judged and the answer is None.
"""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.domain_service.indicator_service import (
    EMA_FAST,
    EMA_SLOW,
    MACD_HIST,
    MACD_HIST_PREV,
    TD_BUY_COUNT,
    TD_SELL_COUNT,
)
from src.strategy.domain.entity.position import Position
from src.strategy.domain.entity.target_instrument import TargetInstrument
from src.strategy.domain.interface.put_call_sentiment_source import PutCallSentimentSource
from src.strategy.domain.interface.signal_service import ISignalService
from src.strategy.domain.value_object.market import BarSnapshot, Direction
from src.strategy.domain.value_object.option_contract import OptionType
from src.strategy.domain.value_object.put_call_sentiment import PutCallFilter
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType
from src.strategy.domain.value_object.validation import require_int, require_positive


@dataclass(frozen=True)
class SignalSettings:
    use_macd_cross: bool = True
    require_ema_trend: bool = True
    use_td_setup: bool = True
    td_setup_length: int = 9  # the same as IndicatorSettings.td_setup_length
    profit_target_ratio: float = 0.5
    stop_loss_ratio: float = 1.0
    close_days_before_expiry: int = 2
    close_on_reversal: bool = True

    def __post_init__(self) -> None:
        owner = "SignalSettings"
        require_int(owner, "td_setup_length", self.td_setup_length, 1)
        require_positive(owner, "profit_target_ratio", self.profit_target_ratio)
        require_positive(owner, "stop_loss_ratio", self.stop_loss_ratio)
        require_int(owner, "close_days_before_expiry", self.close_days_before_expiry, 0)
        if not (self.use_macd_cross or self.use_td_setup):
            raise ValueError(f"{owner}: with use_macd_cross and use_td_setup both off no signal can ever fire")


class SignalService(ISignalService):
    def __init__(self, settings: SignalSettings = SignalSettings(), put_call_filter: PutCallFilter = PutCallFilter(),
                 sentiment_source: PutCallSentimentSource | None = None) -> None:
        if put_call_filter.enabled and sentiment_source is None:
            raise ValueError("SignalService: the put/call filter is enabled but no sentiment source was given")
        self.settings = settings
        self.put_call_filter = put_call_filter
        self.sentiment_source = sentiment_source
        self.last_refusal: str | None = None

    def check_open_signal(self, instrument: TargetInstrument, bar: BarSnapshot) -> SignalType | None:
        self.last_refusal = None
        bullish, bearish = self._views(instrument.indicators)
        if bullish and not bearish:
            refusal = self._put_refusal(bar)
            if refusal is not None:
                self.last_refusal = f"SELL_PUT withheld: {refusal}"
                return None
            return SignalType.SELL_PUT
        if bearish and not bullish:
            return SignalType.SELL_CALL
        return None

    def check_close_signal(self, position: Position, instrument: TargetInstrument,
                           bar: BarSnapshot) -> CloseReason | None:
        quote = instrument.option_quote(position.vt_symbol)
        if position.is_flat or quote is None:
            return None
        s = self.settings
        price = quote.mark_price
        if price > 0 and position.avg_price > 0:
            pnl_ratio = (price - position.avg_price) / position.avg_price * position.direction.sign
            if pnl_ratio <= -s.stop_loss_ratio:
                return CloseReason.STOP_LOSS
            if pnl_ratio >= s.profit_target_ratio:
                return CloseReason.PROFIT_TARGET
        if quote.contract.days_to_expiry(bar.datetime.date()) <= s.close_days_before_expiry:
            return CloseReason.EXPIRY
        if s.close_on_reversal:
            bullish_position = (quote.contract.option_type is OptionType.PUT) == (position.direction is Direction.SHORT)
            against = SignalType.SELL_CALL if bullish_position else SignalType.SELL_PUT
            if self.check_open_signal(instrument, bar) == against:
                return CloseReason.REVERSAL
        return None

    def _put_refusal(self, bar: BarSnapshot) -> str | None:
        put_filter = self.put_call_filter
        if not put_filter.enabled:
            return None
        sentiment = self.sentiment_source.sentiment(put_filter.market, put_filter.data_type, bar.datetime,
                                                    put_filter.window, put_filter.min_observations)
        return put_filter.refusal(sentiment)

    def _views(self, indicators: dict) -> tuple[bool, bool]:
        s = self.settings
        bullish = bearish = False
        hist, hist_prev = indicators.get(MACD_HIST), indicators.get(MACD_HIST_PREV)
        ema_fast, ema_slow = indicators.get(EMA_FAST), indicators.get(EMA_SLOW)
        if s.use_macd_cross and hist is not None and hist_prev is not None:
            trend_known = ema_fast is not None and ema_slow is not None
            up_trend = not s.require_ema_trend or (trend_known and ema_fast > ema_slow)
            down_trend = not s.require_ema_trend or (trend_known and ema_fast < ema_slow)
            bullish = hist_prev <= 0 < hist and up_trend
            bearish = hist_prev >= 0 > hist and down_trend
        if s.use_td_setup:
            bullish = bullish or indicators.get(TD_BUY_COUNT) == s.td_setup_length
            bearish = bearish or indicators.get(TD_SELL_COUNT) == s.td_setup_length
        return bullish, bearish
