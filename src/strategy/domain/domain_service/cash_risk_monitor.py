"""Limits in money per underlying that act: count breaches once, refuse openings, reduce past the hard limit.

Units in ``value_object.cash_risk``. Scopes: each underlying (``"IF"``: the
CSI 300 book, its futures and options together) and the whole ``"book"``.

- ``evaluate``: the breaches of the current book. A breach of a scope and
  metric is one *episode* from the minute it goes over the soft limit to the
  minute it is back within: one ``GreeksRiskBreachEvent`` at its start, however
  many minutes it lasts and however often it is evaluated (``breach_minutes``
  counts the minutes in breach, once per ``evaluate`` per scope and metric).
  An episode ends when the value is back under ``RELEASE_RATIO`` (95%) of the
  soft limit, so a book hovering at its limit is not counted again each minute.
- ``check_open``: an opening is refused when, after it, a metric of its
  underlying or of the book is over the soft limit *and* further from zero
  than before (an order that reduces a breach passes).
- ``reductions``: for each hard breach, one order that reduces it:
  ``close_largest`` closes the position contributing most to it (same sign);
  ``hedge`` trades the underlying's hedge future back to the soft limit for
  a delta breach (futures carry no gamma, vega or theta: those are closed).
"""
from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from types import MappingProxyType

from src.strategy.domain.event.risk_events import GreeksRiskBreachEvent, RiskLimitExceededEvent
from src.strategy.domain.value_object.cash_risk import (
    BOOK_SCOPE,
    CASH_UNITS,
    UNDERLYING_NAMES,
    BreachLevel,
    CashGreeks,
    CashMetric,
    CashPosition,
    CashRiskLimits,
    ReductionAction,
)
from src.strategy.domain.value_object.validation import require_aware


RELEASE_RATIO = 0.95


def scope_name(scope: str) -> str:
    if scope == BOOK_SCOPE:
        return "book"
    name = UNDERLYING_NAMES.get(scope)
    return f"{scope} ({name})" if name else scope


@dataclass(frozen=True)
class CashBook:
    positions: tuple[CashPosition, ...]
    by_underlying: Mapping[str, CashGreeks]
    total: CashGreeks

    def __post_init__(self) -> None:
        object.__setattr__(self, "by_underlying", MappingProxyType(dict(self.by_underlying)))

    def scope(self, scope: str) -> CashGreeks:
        return self.total if scope == BOOK_SCOPE else self.by_underlying.get(scope, CashGreeks())

    def with_position(self, extra: CashPosition) -> "CashBook":
        return cash_book([*self.positions, extra])

    def as_dict(self) -> dict:
        return {"by_underlying": {u: g.as_dict() for u, g in sorted(self.by_underlying.items())},
                "book": self.total.as_dict(), "units": dict(CASH_UNITS)}


def cash_book(positions: Iterable[CashPosition]) -> CashBook:
    positions = tuple(positions)
    by_underlying: dict[str, CashGreeks] = {}
    for position in positions:
        by_underlying[position.underlying] = by_underlying.get(position.underlying, CashGreeks()) + position.cash
    total = CashGreeks()
    for greeks in by_underlying.values():
        total = total + greeks
    return CashBook(positions, by_underlying, total)


@dataclass(frozen=True)
class CashBreach:
    scope: str
    metric: CashMetric
    level: BreachLevel
    value: float
    limit: float

    def describe(self) -> str:
        return (f"{scope_name(self.scope)} cash {self.metric.value} {self.value:,.0f} "
                f"({CASH_UNITS[self.metric.value]}) over its {self.level.value} limit {self.limit:,.0f}")


@dataclass(frozen=True)
class HedgeFuture:
    """The future that hedges an underlying's delta: its symbol, multiplier and price."""

    vt_symbol: str
    multiplier: float
    price: float

    @property
    def cash_delta_per_lot(self) -> float:
        return self.multiplier * self.price / 100.0


@dataclass(frozen=True)
class Reduction:
    """Trade ``lots`` (signed: > 0 buys) of ``vt_symbol`` to reduce a hard breach; ``closing``: closes a
    held position (else opens hedge lots)."""

    breach: CashBreach
    vt_symbol: str
    lots: int
    closing: bool
    action: ReductionAction

    def describe(self) -> str:
        verb = "close" if self.closing else "hedge with"
        return f"{self.breach.describe()}: {verb} {self.lots:+d} {self.vt_symbol} ({self.action.value})"


@dataclass
class CashRiskMonitor:
    limits: CashRiskLimits
    breach_minutes: int = 0
    episodes: int = 0
    _active: dict[tuple[str, str], BreachLevel] = field(default_factory=dict, repr=False)

    def breaches(self, book: CashBook) -> list[CashBreach]:
        found = []
        scopes = sorted(book.by_underlying) + [BOOK_SCOPE]
        for scope in scopes:
            found.extend(self._breaches_of(scope, book.scope(scope)))
        return found

    def _breaches_of(self, scope: str, greeks: CashGreeks) -> list[CashBreach]:
        found = []
        limits = self.limits.for_scope(scope)
        for metric in CashMetric:
            limit = limits.limit(metric)
            if limit is None:
                continue
            value = greeks.value(metric)
            level = limit.level(value)
            if level is not None:
                found.append(CashBreach(scope, metric, level, value, limit.bound(level)))
        return found

    def evaluate(self, book: CashBook, now: datetime) -> tuple[list[CashBreach], list[GreeksRiskBreachEvent]]:
        """The breaches now, and an event for each one that has just begun (one per episode)."""
        require_aware("CashRiskMonitor.evaluate", "now", now)
        found = self.breaches(book)
        events = []
        current = {}
        for key in self._active:  # still in the episode until back under 95% of the soft limit
            scope, metric = key
            limit = self.limits.for_scope(scope).limit(CashMetric(metric))
            if limit is not None and abs(book.scope(scope).value(CashMetric(metric))) > RELEASE_RATIO * limit.soft:
                current[key] = BreachLevel.SOFT
        for breach in found:
            key = (breach.scope, breach.metric.value)
            known = key in current
            current[key] = breach.level
            if not known:
                self.episodes += 1
                events.append(GreeksRiskBreachEvent(now, breach.scope, breach.metric.value, breach.value,
                                                    breach.limit, level=breach.level.value,
                                                    unit=CASH_UNITS[breach.metric.value]))
        self.breach_minutes += len(found)
        self._active = current
        return found, events

    def check_open(self, book: CashBook, candidate: CashPosition, quantity: int, now: datetime
                   ) -> tuple[list[CashBreach], tuple[RiskLimitExceededEvent, ...]]:
        """The soft-limit breaches an opening would make worse (none: it may be sent)."""
        require_aware("CashRiskMonitor.check_open", "now", now)
        after = book.with_position(candidate)
        refused = []
        for scope in (candidate.underlying, BOOK_SCOPE):
            before_greeks = book.scope(scope)
            for breach in self._breaches_of(scope, after.scope(scope)):
                limit = self.limits.for_scope(scope).limit(breach.metric)
                if abs(breach.value) > abs(before_greeks.value(breach.metric)):
                    refused.append(CashBreach(scope, breach.metric, BreachLevel.SOFT, breach.value, limit.soft))
        events = tuple(RiskLimitExceededEvent(now, b.scope, b.metric.value, b.value, b.limit, candidate.vt_symbol,
                                              quantity, unit=CASH_UNITS[b.metric.value]) for b in refused)
        return refused, events

    def reductions(self, book: CashBook, breaches: Iterable[CashBreach], hedges: Mapping[str, HedgeFuture],
                   busy: Iterable[str] = ()) -> list[Reduction]:
        """One reducing order per hard breach (a symbol already being worked is left alone)."""
        busy = set(busy)
        chosen: list[Reduction] = []
        for breach in breaches:
            if breach.level is not BreachLevel.HARD:
                continue
            reduction = None
            if self.limits.action is ReductionAction.HEDGE and breach.metric is CashMetric.DELTA:
                reduction = self._hedge(book, breach, hedges, busy)
            if reduction is None:
                reduction = self._close_largest(book, breach, busy)
            if reduction is not None:
                busy.add(reduction.vt_symbol)
                chosen.append(reduction)
        return chosen

    def _close_largest(self, book: CashBook, breach: CashBreach, busy: set[str]) -> Reduction | None:
        sign = math.copysign(1.0, breach.value)
        candidates = [p for p in book.positions if p.vt_symbol not in busy and p.lots != 0
                      and (breach.scope == BOOK_SCOPE or p.underlying == breach.scope)
                      and p.cash.value(breach.metric) * sign > 0]
        if not candidates:
            return None
        largest = max(candidates, key=lambda p: abs(p.cash.value(breach.metric)))
        return Reduction(breach, largest.vt_symbol, -largest.lots, True, ReductionAction.CLOSE_LARGEST)

    def _hedge(self, book: CashBook, breach: CashBreach, hedges: Mapping[str, HedgeFuture],
               busy: set[str]) -> Reduction | None:
        underlying = breach.scope
        if underlying == BOOK_SCOPE:  # the underlying that contributes most to the book's delta
            same_sign = [(u, g.delta) for u, g in book.by_underlying.items() if g.delta * breach.value > 0]
            if not same_sign:
                return None
            underlying = max(same_sign, key=lambda item: abs(item[1]))[0]
        hedge = hedges.get(underlying)
        if hedge is None or hedge.vt_symbol in busy or hedge.cash_delta_per_lot <= 0:
            return None
        soft = self.limits.for_scope(breach.scope).limit(CashMetric.DELTA).soft
        lots = math.ceil((abs(breach.value) - soft) / hedge.cash_delta_per_lot - 1e-9)
        if lots < 1:
            return None
        return Reduction(breach, hedge.vt_symbol, -int(math.copysign(lots, breach.value)), False,
                         ReductionAction.HEDGE)
