"""Reduce-only mode and the stale-quote watch that can trigger it.

``ReduceOnlyMode`` holds the reasons reduce-only holds for (``stale:IO2601-P-4400.CFFEX``,
``gateway:CTP``, ``daily_loss``, ``kill_switch:stop``, ``kill_switch:flatten``): the mode
is on while any holds. Entering it and leaving it are ``ReduceOnlyChangedEvent``s naming
the reason that changed; a reason added or removed while the mode stays on is an event
too (``active`` unchanged), so the log says why it still holds.

``QuoteWatch`` remembers when each contract last printed (a tick live, a bar in a
backtest or replay) and, given the contracts in the book and a clock per contract,
says which have been silent for ``stale_after_seconds`` of *trading* time: the lunch
break or a night is not staleness. Time is always passed in.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime

from src.strategy.domain.event.base import DomainEvent
from src.strategy.domain.event.safeguard_events import ReduceOnlyChangedEvent

STALE_PREFIX = "stale:"


class ReduceOnlyMode:
    def __init__(self) -> None:
        self._reasons: dict[str, str] = {}   # reason -> detail
        self._events: list[DomainEvent] = []

    @property
    def active(self) -> bool:
        return bool(self._reasons)

    @property
    def reasons(self) -> tuple[str, ...]:
        return tuple(sorted(self._reasons))

    def holds(self, reason: str) -> bool:
        return reason in self._reasons

    def enter(self, reason: str, at: datetime, detail: str = "") -> bool:
        """Adds a reason; True when it is new."""
        if reason in self._reasons:
            return False
        self._reasons[reason] = detail
        self._events.append(ReduceOnlyChangedEvent(at, active=True, reason=_text(reason, detail),
                                                   reasons=self.reasons))
        return True

    def leave(self, reason: str, at: datetime, detail: str = "") -> bool:
        """Removes a reason; True when it held. The mode ends when the last reason goes."""
        if reason not in self._reasons:
            return False
        del self._reasons[reason]
        self._events.append(ReduceOnlyChangedEvent(at, active=self.active, reason=_text(reason, detail),
                                                   reasons=self.reasons))
        return True

    def set(self, reason: str, on: bool, at: datetime, detail: str = "") -> bool:
        return self.enter(reason, at, detail) if on else self.leave(reason, at, detail)

    def pop_events(self) -> list[DomainEvent]:
        events, self._events = self._events, []
        return events

    def to_dict(self) -> dict:
        return {"reasons": dict(self._reasons)}

    def restore(self, data: dict) -> None:
        """Only lasting reasons are restored (the kill switch, the daily loss); stale quotes and a
        gateway down are observed again by the new process."""
        self._reasons = {reason: detail for reason, detail in data.get("reasons", {}).items()
                         if reason.startswith("kill_switch") or reason == "daily_loss"}


def _text(reason: str, detail: str) -> str:
    return f"{reason} ({detail})" if detail else reason


class QuoteWatch:
    def __init__(self, stale_after_seconds: float) -> None:
        if not stale_after_seconds > 0:
            raise ValueError(f"QuoteWatch.stale_after_seconds must be > 0, got {stale_after_seconds!r}")
        self.stale_after_seconds = float(stale_after_seconds)
        self._last_seen: dict[str, datetime] = {}

    def seen(self, vt_symbol: str, at: datetime) -> None:
        previous = self._last_seen.get(vt_symbol)
        if previous is None or at > previous:
            self._last_seen[vt_symbol] = at

    def last_seen(self, vt_symbol: str) -> datetime | None:
        return self._last_seen.get(vt_symbol)

    def stale(self, vt_symbols: Iterable[str], now: datetime,
              trading_seconds: Callable[[str, datetime, datetime], float],
              is_trading: Callable[[str, datetime], bool],
              companions: Callable[[str], Iterable[str]] | None = None) -> dict[str, float]:
        """The contracts among ``vt_symbols`` silent for too long, with their silence in trading seconds.

        ``companions``: contracts whose quotes also count as signs of life for a contract (an
        option's underlying future: an illiquid option whose future prints is quiet, not stale).

        A contract never seen since the watch began is measured from ``first`` (the first call that
        listed it), so a process that starts with a position but no quote for it notices too.
        Contracts outside their session now are not judged.
        """
        found = {}
        for vt_symbol in vt_symbols:
            if not is_trading(vt_symbol, now):
                continue
            since = self._last_seen.get(vt_symbol)
            for other in (companions(vt_symbol) if companions is not None else ()):
                seen = self._last_seen.get(other)
                if seen is not None and (since is None or seen > since):
                    since = seen
            if since is None:
                self._last_seen[vt_symbol] = now  # the watch starts for it now
                continue
            silence = trading_seconds(vt_symbol, since, now)
            if silence >= self.stale_after_seconds:
                found[vt_symbol] = silence
        return found
