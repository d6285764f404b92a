from dataclasses import FrozenInstanceError

import pytest

from src.strategy.domain.event.decision_events import STAGE_SIZING, DecisionRefusedEvent, SignalEvent
from src.strategy.domain.event.order_events import OrderRetryExhaustedEvent, OrderTimeoutEvent
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType

from .builders import at


def test_signal_event_keeps_a_read_only_copy_of_the_indicators():
    indicators = {"macd_hist": 0.5, "td_buy_count": 9}
    event = SignalEvent(occurred_at=at(minute=15), product="IF", signal=SignalType.SELL_PUT, bar_time=at(),
                        indicators=indicators)
    indicators["macd_hist"] = -1.0
    assert event.indicators["macd_hist"] == 0.5 and event.event_type == "SignalEvent"
    with pytest.raises(TypeError):
        event.indicators["macd_hist"] = 2.0
    assert hash(event) == hash(SignalEvent(occurred_at=at(minute=15), product="IF", signal=SignalType.SELL_PUT,
                                           bar_time=at(), indicators={"other": 1.0}))
    close = SignalEvent(occurred_at=at(), product="IF", signal=CloseReason.STOP_LOSS, bar_time=at(),
                        vt_symbol="IO2501-P-3800.CFFEX")
    assert close.indicators == {}


def test_events_are_frozen_values():
    refused = DecisionRefusedEvent(occurred_at=at(), stage=STAGE_SIZING, vt_symbol=None, reason="no funds",
                                   product="IF")
    assert refused == DecisionRefusedEvent(at(), STAGE_SIZING, None, "no funds", "IF")
    with pytest.raises(FrozenInstanceError):
        refused.reason = "other"
    timeout = OrderTimeoutEvent(at(), vt_orderid="CTP.1", vt_symbol="X.CFFEX", timeout_seconds=30.0)
    exhausted = OrderRetryExhaustedEvent(at(), vt_symbol="X.CFFEX", attempts=3, last_vt_orderid="CTP.3",
                                         reason="not filled")
    assert (timeout.event_type, exhausted.event_type) == ("OrderTimeoutEvent", "OrderRetryExhaustedEvent")
