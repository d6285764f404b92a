"""How ``SmartOrderExecutor`` works an order (the ``order_execution`` section of the configuration)."""
from __future__ import annotations

from dataclasses import dataclass

from src.strategy.domain.value_object.validation import require_int, require_positive


@dataclass(frozen=True)
class ExecutionSettings:
    """``timeout_seconds``: how long an order may stay active before it is cancelled;
    ``max_retries``: how many times the unfilled remainder is sent again after a timeout,
    a rejection or a refusal (0: one attempt only); ``slippage_ticks``: how many ticks
    beyond the touch the first limit price goes (each retry adds one more);
    ``close_escalation_ticks``: a closing order sent again after a timeout escalates: its first
    resend is re-priced at the far touch, each later one a marketable limit this many more ticks
    through it (0: closes retry like openings)."""

    timeout_seconds: float = 30.0
    max_retries: int = 3
    slippage_ticks: int = 2
    close_escalation_ticks: int = 0

    def __post_init__(self) -> None:
        owner = "ExecutionSettings"
        object.__setattr__(self, "timeout_seconds", require_positive(owner, "timeout_seconds", self.timeout_seconds))
        object.__setattr__(self, "max_retries", require_int(owner, "max_retries", self.max_retries, 0))
        object.__setattr__(self, "slippage_ticks", require_int(owner, "slippage_ticks", self.slippage_ticks, 0))
        object.__setattr__(self, "close_escalation_ticks",
                           require_int(owner, "close_escalation_ticks", self.close_escalation_ticks, 0))

