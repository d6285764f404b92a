"""What can go wrong when asking a vendor, as one line a user can act on."""
from __future__ import annotations

from datetime import date


class VendorError(Exception):
    """The vendor refused or failed: names the source, the contract and the dates."""

    def __init__(self, source: str, vt_symbol: str, start: date | None, end: date | None, problem: str) -> None:
        self.source = source
        self.vt_symbol = vt_symbol
        self.start = start
        self.end = end
        self.problem = problem
        dates = f" {start}..{end}" if start is not None and end is not None else ""
        super().__init__(f"{source}: {vt_symbol}{dates}: {problem}")


class RateLimited(Exception):
    """The vendor's per-minute cap was hit; ``cap`` is the number of calls a minute it allows, when it says."""

    def __init__(self, message: str, cap: int | None) -> None:
        super().__init__(message)
        self.cap = cap
