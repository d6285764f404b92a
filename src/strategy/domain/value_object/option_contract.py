"""An option's identity, from typed fields parsed once at the boundary (``ContractHelper``)."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from enum import Enum

from src.strategy.domain.value_object.validation import require_enum, require_positive, require_text


class OptionType(Enum):
    CALL = "CALL"
    PUT = "PUT"


@dataclass(frozen=True)
class OptionContract:
    """One listed option.

    ``product`` is the option product ("IO", "MO"); ``underlying_vt_symbol`` is
    the future the option is mapped to ("IF2601.CFFEX"), whose price stands in
    for the underlying when choosing strikes and sizing margin.
    """

    vt_symbol: str
    symbol: str
    exchange: str
    product: str
    underlying_vt_symbol: str
    option_type: OptionType
    strike: float
    expiry: date
    multiplier: float
    pricetick: float

    def __post_init__(self) -> None:
        owner = f"OptionContract({self.vt_symbol!r})"
        for name in ("vt_symbol", "symbol", "exchange", "product", "underlying_vt_symbol"):
            require_text(owner, name, getattr(self, name))
        if self.vt_symbol != f"{self.symbol}.{self.exchange}":
            raise ValueError(f"{owner}: vt_symbol must be symbol.exchange = {self.symbol}.{self.exchange}")
        require_enum(owner, "option_type", self.option_type, OptionType)
        if not isinstance(self.expiry, date):
            raise TypeError(f"{owner}.expiry must be a date, got {type(self.expiry).__name__}")
        for name in ("strike", "multiplier", "pricetick"):
            object.__setattr__(self, name, require_positive(owner, name, getattr(self, name)))

    def days_to_expiry(self, today: date) -> int:
        """Calendar days left; 0 on the expiry day, negative once expired."""
        return (self.expiry - today).days

    def otm_amount(self, underlying_price: float) -> float:
        """How far out of the money per unit of the underlying (0 at or in the money)."""
        if self.option_type is OptionType.CALL:
            return max(self.strike - underlying_price, 0.0)
        return max(underlying_price - self.strike, 0.0)

    def is_out_of_the_money(self, underlying_price: float) -> bool:
        return self.otm_amount(underlying_price) > 0
