"""The port of the strategy's open and close decisions (the user's strategy can replace the default)."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from src.strategy.domain.entity.position import Position
from src.strategy.domain.entity.target_instrument import TargetInstrument
from src.strategy.domain.value_object.market import BarSnapshot
from src.strategy.domain.value_object.signal_type import CloseReason, SignalType


@runtime_checkable
class ISignalService(Protocol):
    def check_open_signal(self, instrument: TargetInstrument, bar: BarSnapshot) -> SignalType | None:
        ...

    def check_close_signal(self, position: Position, instrument: TargetInstrument,
                           bar: BarSnapshot) -> CloseReason | None:
        ...
