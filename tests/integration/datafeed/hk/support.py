"""Shared bits of the HK feed tests."""
from __future__ import annotations

TOKEN = "test-token"


class Token:
    """Stands in for the project's Secret (same ``reveal()``; never printed)."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Token(***)"
