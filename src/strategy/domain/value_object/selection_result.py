"""What ``OptionSelectorService`` answers: the chosen option, or why none was chosen."""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.value_object.market import OptionQuote
from src.strategy.domain.value_object.option_contract import OptionContract
from src.strategy.domain.value_object.validation import require_text


@dataclass(frozen=True)
class SelectionResult:
    """``contract`` and its ``quote`` when an option was chosen, both None when refused;
    ``reason`` describes the choice or the refusal."""

    contract: OptionContract | None
    reason: str
    quote: OptionQuote | None = None

    def __post_init__(self) -> None:
        require_text("SelectionResult", "reason", self.reason)
        if (self.contract is None) != (self.quote is None):
            raise ValueError("SelectionResult: contract and quote are given together or not at all")
        if self.quote is not None and self.quote.contract != self.contract:
            raise ValueError(f"SelectionResult: quote of {self.quote.vt_symbol} for contract {self.contract.vt_symbol}")

    @classmethod
    def chosen(cls, quote: OptionQuote, reason: str) -> SelectionResult:
        return cls(quote.contract, reason, quote)

    @classmethod
    def refused(cls, reason: str) -> SelectionResult:
        return cls(None, reason)

    @property
    def is_selected(self) -> bool:
        return self.contract is not None
