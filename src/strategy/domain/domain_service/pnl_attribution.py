"""P&L attribution: the book's mark-to-market P&L split by Greek, per day and per trade.

Between two marks ``t0 -> t1`` (every minute bar), each option position held at
``t0`` (``q`` signed lots, multiplier ``m``) is explained by its Greeks *at t0*:

    delta    = q m Δ0 dF
    gamma    = ½ q m Γ0 dF²
    vega     = q m vega0 dσ            (vega per vol point, dσ in vol points)
    theta    = q m θ0 dτ               (θ per trading day, dτ the trading days elapsed,
                                        from the time to expiry in trading time)
    residual = q m (P1 - P0) - (delta + gamma + vega + theta)

where ``F`` is the option's mapped future, ``σ`` its implied vol and ``P`` its
mark (last price). Futures held are hedges: ``hedge = q m (F1 - F0)``. A fill
of ``q_f`` lots at ``p`` between the marks adds ``q_f m (P1 - p)`` (the fill
against the next mark: spread paid and the move within the minute) to
``execution`` for an option and to ``hedge`` for a future; a settlement at
expiry is a fill at the settlement price. Fees are ``fees`` (negative).

So, exactly, the sum of the components over any span equals the change of the
book's equity marked to market (cash paid and received for premiums and futures
moves, plus positions at their marks, less fees); the property test checks it
against that cash account to 1e-6 CNY per 1 million of gross flows.

Per trade: an option position from the fill that opens it to the one that
leaves it flat (settlement included) is one trade; its components and fees are
summed over its life.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime

COMPONENTS = ("delta", "gamma", "vega", "theta", "residual", "execution", "hedge", "fees")


@dataclass(frozen=True)
class MarkedPosition:
    """A position at a mark, with the per-unit Greeks there (options; None for a future)."""

    vt_symbol: str
    lots: int
    multiplier: float
    price: float
    is_option: bool = False
    underlying_price: float = float("nan")
    delta: float = 0.0
    gamma: float = 0.0
    vega: float = 0.0       # per vol point
    theta: float = 0.0      # per trading day
    volatility: float = float("nan")
    trading_days_left: float = float("nan")


def _zero() -> dict[str, float]:
    return {name: 0.0 for name in COMPONENTS}


@dataclass(eq=False)
class _Trade:
    vt_symbol: str
    opened_at: datetime
    lots: int = 0
    largest_lots: int = 0
    closed_at: datetime | None = None
    components: dict[str, float] = field(default_factory=_zero)

    def as_dict(self) -> dict:
        return {"vt_symbol": self.vt_symbol, "opened_at": self.opened_at.isoformat(),
                "closed_at": self.closed_at.isoformat() if self.closed_at else None,
                "lots": self.largest_lots, **self.components, "total": sum(self.components.values())}


@dataclass
class PnLAttribution:
    by_day: dict[date, dict[str, float]] = field(default_factory=dict)
    trades: list[_Trade] = field(default_factory=list)
    _previous: dict[str, MarkedPosition] = field(default_factory=dict)
    _fills: list[tuple[str, int, float, float, bool]] = field(default_factory=list)
    _pending_fees: list[tuple[str, float]] = field(default_factory=list)
    _open: dict[str, _Trade] = field(default_factory=dict)
    _closing: dict[str, _Trade] = field(default_factory=dict)

    def record_fill(self, vt_symbol: str, lots: int, price: float, multiplier: float, is_option: bool,
                    fee: float, at: datetime) -> None:
        """A fill (signed lots) or a settlement, and the fee it cost; attributed at the next mark."""
        if lots == 0:
            return
        self._fills.append((vt_symbol, int(lots), float(price), float(multiplier), is_option))
        self._pending_fees.append((vt_symbol, float(fee)))
        if not is_option:
            return
        trade = self._open.get(vt_symbol)
        if trade is None:
            trade = self._closing.pop(vt_symbol, None)
            if trade is None:
                trade = _Trade(vt_symbol, at)
                self.trades.append(trade)
            trade.closed_at = None
            self._open[vt_symbol] = trade
        trade.lots += int(lots)
        trade.largest_lots = max(trade.largest_lots, abs(trade.lots))
        if trade.lots == 0:
            trade.closed_at = at
            self._closing[vt_symbol] = self._open.pop(vt_symbol)

    def mark(self, day: date, positions: Mapping[str, MarkedPosition], marks: Mapping[str, float],
             underlying: Mapping[str, float], vols: Mapping[str, float], trading_days_left: Mapping[str, float]
             ) -> dict[str, float]:
        """Attributes the P&L since the previous mark; ``positions`` are those held now (their Greeks are
        the next interval's); ``marks``/``underlying``/``vols``/``trading_days_left`` by vt_symbol now.
        Returns this interval's components."""
        step = _zero()
        per_symbol: dict[str, dict[str, float]] = {}

        def add(vt_symbol: str, name: str, amount: float) -> None:
            step[name] += amount
            per_symbol.setdefault(vt_symbol, _zero())[name] += amount

        for vt_symbol, before in self._previous.items():
            price = marks.get(vt_symbol, before.price)
            actual = before.lots * before.multiplier * (price - before.price)
            if not before.is_option:
                add(vt_symbol, "hedge", actual)
                continue
            scale = before.lots * before.multiplier
            forward = underlying.get(vt_symbol, before.underlying_price)
            d_forward = forward - before.underlying_price if forward == forward else 0.0
            vol = vols.get(vt_symbol, before.volatility)
            d_vol = (vol - before.volatility) * 100.0 if vol == vol and before.volatility == before.volatility \
                else 0.0
            left = trading_days_left.get(vt_symbol, before.trading_days_left)
            elapsed = before.trading_days_left - left if left == left and before.trading_days_left == \
                before.trading_days_left else 0.0
            explained = {"delta": scale * before.delta * d_forward,
                         "gamma": 0.5 * scale * before.gamma * d_forward * d_forward,
                         "vega": scale * before.vega * d_vol,
                         "theta": scale * before.theta * max(elapsed, 0.0)}
            for name, amount in explained.items():
                add(vt_symbol, name, amount)
            add(vt_symbol, "residual", actual - sum(explained.values()))
        for vt_symbol, lots, price, multiplier, is_option in self._fills:
            mark = marks.get(vt_symbol, price)
            add(vt_symbol, "execution" if is_option else "hedge", lots * multiplier * (mark - price))
        for vt_symbol, fee in self._pending_fees:
            add(vt_symbol, "fees", -fee)
        self._fills.clear()
        self._pending_fees.clear()
        bucket = self.by_day.setdefault(day, _zero())
        for name, amount in step.items():
            bucket[name] += amount
        for vt_symbol, components in per_symbol.items():
            trade = self._open.get(vt_symbol) or self._closing.get(vt_symbol)
            if trade is not None:
                for name, amount in components.items():
                    trade.components[name] += amount
        self._closing.clear()
        self._previous = dict(positions)
        return step

    def totals(self) -> dict[str, float]:
        total = _zero()
        for bucket in self.by_day.values():
            for name, amount in bucket.items():
                total[name] += amount
        return total

    def summary(self, trades_kept: int = 200) -> dict:
        """For ``summary.json``: the totals, each day, and the option trades (the last ``trades_kept``)."""
        totals = self.totals()
        return {
            "components": list(COMPONENTS),
            "total": {**totals, "total": sum(totals.values())},
            "by_day": [{"day": day.isoformat(), **bucket, "total": sum(bucket.values())}
                       for day, bucket in sorted(self.by_day.items())],
            "trade_count": len(self.trades),
            "by_trade": [trade.as_dict() for trade in self.trades[-trades_kept:]],
        }
