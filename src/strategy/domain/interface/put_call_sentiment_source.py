"""The port through which strategies read put/call sentiment (implemented in infrastructure from stored
option market statistics)."""
from __future__ import annotations

from datetime import datetime
from typing import Protocol, runtime_checkable

from src.strategy.domain.value_object.put_call_sentiment import PutCallSentiment


@runtime_checkable
class PutCallSentimentSource(Protocol):
    def sentiment(self, market: str, data_type: str, as_of: datetime, window: int,
                  min_observations: int = 1) -> PutCallSentiment | None:
        """The sentiment from the days published by ``as_of`` (aware); None when too few are known."""
        ...
