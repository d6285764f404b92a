"""The port of a product's indicator calculation (the user's strategy can replace the default)."""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from src.strategy.domain.entity.target_instrument import TargetInstrument
from src.strategy.domain.value_object.market import BarSnapshot


@runtime_checkable
class IIndicatorService(Protocol):
    def calculate_bar(self, instrument: TargetInstrument, bar: BarSnapshot) -> None:
        """Updates ``instrument.indicators`` after ``bar`` was appended to the instrument."""
        ...
