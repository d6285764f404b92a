"""A request for quote (询价) sent to the exchange so market makers quote an illiquid option."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from src.strategy.domain.value_object.validation import require_aware, require_text


@dataclass(frozen=True)
class QuoteRequest:
    vt_symbol: str
    requested_at: datetime

    def __post_init__(self) -> None:
        require_text("QuoteRequest", "vt_symbol", self.vt_symbol)
        require_aware("QuoteRequest", "requested_at", self.requested_at)
