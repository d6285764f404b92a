"""What a signal service answers.

Both enums are ``StrEnum`` because the specification documents the answers as
strings ("SELL_PUT" | "SELL_CALL"): ``SignalType.SELL_PUT == "SELL_PUT"`` holds,
and ``SignalType(text)`` turns a user service's string into the enum.
"""
from __future__ import annotations

from enum import StrEnum

from src.strategy.domain.value_object.option_contract import OptionType


class SignalType(StrEnum):
    SELL_PUT = "SELL_PUT"    # bullish view: sell an out-of-the-money put
    SELL_CALL = "SELL_CALL"  # bearish view: sell an out-of-the-money call

    @property
    def option_type(self) -> OptionType:
        return OptionType.PUT if self is SignalType.SELL_PUT else OptionType.CALL


class CloseReason(StrEnum):
    REVERSAL = "REVERSAL"
    PROFIT_TARGET = "PROFIT_TARGET"
    STOP_LOSS = "STOP_LOSS"
    EXPIRY = "EXPIRY"
    ROLLOVER = "ROLLOVER"
