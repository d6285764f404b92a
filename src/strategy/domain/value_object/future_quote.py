"""What ``BaseFutureSelector`` needs to know about one candidate future."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from src.strategy.domain.value_object.validation import require_non_negative, require_text


@dataclass(frozen=True)
class FutureQuote:
    vt_symbol: str
    product: str
    expiry: date
    volume: float
    open_interest: float

    def __post_init__(self) -> None:
        owner = f"FutureQuote({self.vt_symbol!r})"
        require_text(owner, "vt_symbol", self.vt_symbol)
        require_text(owner, "product", self.product)
        if not isinstance(self.expiry, date):
            raise TypeError(f"{owner}.expiry must be a date, got {type(self.expiry).__name__}")
        object.__setattr__(self, "volume", require_non_negative(owner, "volume", self.volume))
        object.__setattr__(self, "open_interest", require_non_negative(owner, "open_interest", self.open_interest))

    def days_to_expiry(self, today: date) -> int:
        return (self.expiry - today).days
