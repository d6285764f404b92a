"""The book's risk in money, its stress grid and its P&L attribution, for one trading cycle.

Once a minute (``on_minute``): the held options' Greeks (one batch, in trading
time), the cash Greeks per underlying and for the book, the breaches of the
money limits (an event when one begins; reducing orders past a hard limit while
trading), the former per-lot limits when configured (also once per breach), and
a mark of the P&L attribution. Before an opening (``check_open``): the soft
limits. On a monitor snapshot (``view``): the cash Greeks and the spot x vol
stress grid with margin. ``summary`` is what ``summary.json`` carries.

The cycle calls these hooks; the rules are the domain's
(``cash_risk_monitor``, ``stress_grid``, ``pnl_attribution``).
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

from src.strategy.application.hedge_plan import hedge_plan
from src.strategy.domain.domain_service.cash_risk_monitor import (
    CashBook,
    CashRiskMonitor,
    HedgeFuture,
    Reduction,
    cash_book,
)
from src.strategy.domain.domain_service.pnl_attribution import MarkedPosition, PnLAttribution
from src.strategy.domain.domain_service.portfolio_risk_aggregator import PortfolioRiskAggregator
from src.strategy.domain.domain_service.stress_grid import StressedFuture, StressedOption, stress_grid
from src.strategy.domain.event.risk_events import RiskReductionEvent
from src.strategy.domain.value_object.cash_risk import CASH_UNITS, CashGreeks, CashPosition, CashRiskLimits
from src.strategy.domain.value_object.greeks import GreeksResult
from src.strategy.domain.value_object.market import Direction, Offset
from src.strategy.domain.value_object.order_instruction import OrderInstruction, OrderPurpose, align_price
from src.strategy.domain.value_object.trading_session import trading_day_of


# The attribution adds up to the book's P&L to this many CNY (floating point over a month of minutes).
ATTRIBUTION_TOLERANCE = 0.01


@dataclass
class BookRisk:
    cash_limits: CashRiskLimits | None = None
    legacy_limits: bool = False  # the former per-lot limits are configured
    monitor: CashRiskMonitor | None = None
    attribution: PnLAttribution = field(default_factory=PnLAttribution)
    reductions_sent: int = 0
    openings_refused: int = 0
    legacy_breaches: int = 0
    worst_stress: dict | None = None
    last_stress: dict | None = None
    largest: dict[str, dict[str, float]] = field(default_factory=dict)
    _legacy_active: set = field(default_factory=set)
    _last_minute: datetime | None = None
    _greeks_minute: datetime | None = None
    _greeks_cache: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.cash_limits is not None and self.monitor is None:
            self.monitor = CashRiskMonitor(self.cash_limits)

    # ------------------------------------------------------------ the book in money
    def _greeks(self, cycle, symbols: list[str], now: datetime) -> dict[str, GreeksResult]:
        """Per-lot Greeks at the last prices; computed once per symbol and minute (prices move once a minute)."""
        if self._greeks_minute != now:
            self._greeks_minute, self._greeks_cache = now, {}
        cache = self._greeks_cache
        missing = [s for s in symbols if s not in cache]
        if missing:
            contracts = [cycle.options[s] for s in missing]
            prices = [cycle.last_prices.get(s, float("nan")) for s in missing]
            results = cycle._greeks_at(now).per_lot(contracts, prices)  # the bar's one pricing (BarGreeks)
            cache.update(zip(missing, results))
        return {s: cache[s] for s in symbols if cache[s] is not None}

    @staticmethod
    def _net_lots(cycle) -> dict[str, int]:
        lots: dict[str, int] = {}
        for position in cycle.positions.positions():
            lots[position.vt_symbol] = lots.get(position.vt_symbol, 0) + position.volume * position.direction.sign
        return {s: n for s, n in lots.items() if n}

    @staticmethod
    def underlying_of(cycle, vt_symbol: str) -> str:
        option = cycle.options.get(vt_symbol)
        if option is not None:
            future = cycle.futures.get(option.underlying_vt_symbol)
            if future is not None:
                return future.product
            for product in cycle.instruments.products():
                if cycle.instruments.get(product).option_product == option.product:
                    return product
            return option.product
        future = cycle.futures.get(vt_symbol)
        return future.product if future is not None else vt_symbol

    def cash_position(self, cycle, vt_symbol: str, lots: int, greeks: GreeksResult | None) -> CashPosition | None:
        multiplier = cycle.contract_params[vt_symbol].multiplier
        option = cycle.options.get(vt_symbol)
        if option is None:
            price = cycle.last_prices.get(vt_symbol)
            if price is None:
                return None
            return CashPosition(vt_symbol, self.underlying_of(cycle, vt_symbol), lots, False,
                                CashGreeks.of_future(lots, multiplier, price))
        forward = cycle.last_prices.get(option.underlying_vt_symbol)
        if greeks is None or forward is None:
            return None
        return CashPosition(vt_symbol, self.underlying_of(cycle, vt_symbol), lots, True, CashGreeks.of_option(
            lots, multiplier, forward, greeks.delta, greeks.gamma, greeks.vega, greeks.theta))

    def book(self, cycle, now: datetime, greeks: Mapping[str, GreeksResult] | None = None) -> CashBook:
        lots = self._net_lots(cycle)
        if greeks is None:
            greeks = self._greeks(cycle, [s for s in lots if s in cycle.options], now)
        positions = [self.cash_position(cycle, s, n, greeks.get(s)) for s, n in lots.items()]
        return cash_book(p for p in positions if p is not None)

    # ------------------------------------------------------------ once a minute
    def on_minute(self, cycle, now: datetime, trading: bool) -> list:
        """The minute's risk evaluation and attribution mark; returns the events to publish."""
        if self._last_minute == now:
            return []
        self._last_minute = now
        lots = self._net_lots(cycle)
        previous = list(self.attribution._previous)
        symbols = sorted({s for s in [*lots, *previous] if s in cycle.options and s in cycle.last_prices})
        greeks = self._greeks(cycle, symbols, now)
        self._mark(cycle, now, lots, greeks)
        events: list = []
        if not trading:
            return events
        if self.legacy_limits:
            events.extend(self._legacy(cycle, lots, greeks, now))
        if self.monitor is None:
            return events
        book = self.book(cycle, now, greeks)
        self._track_largest(book)
        breaches, breach_events = self.monitor.evaluate(book, now)
        events.extend(breach_events)
        if any(b.level.value == "hard" for b in breaches):
            hedges = self._hedge_futures(cycle, now)
            for reduction in self.monitor.reductions(book, breaches, hedges, busy=cycle._symbols_being_worked()):
                event = self._send_reduction(cycle, reduction, now)
                if event is not None:
                    events.append(event)
        return events

    def _legacy(self, cycle, lots, greeks, now) -> list:
        """The former per-lot limits, each breach reported when it begins."""
        from src.strategy.domain.value_object.risk import PositionGreeks

        held = [PositionGreeks.from_greeks(s, n, 1.0, greeks[s]) for s, n in lots.items() if s in greeks]
        aggregator: PortfolioRiskAggregator = cycle.services.risk_aggregator
        _portfolio, found = aggregator.evaluate(held, now)
        current = {(e.scope, e.metric) for e in found}
        fresh = [e for e in found if (e.scope, e.metric) not in self._legacy_active]
        self._legacy_active = current
        self.legacy_breaches += len(fresh)
        return fresh

    def _hedge_futures(self, cycle, now: datetime) -> dict[str, HedgeFuture]:
        """Each underlying's hedge future: the one the delta hedge uses (the options' month where it trades)."""
        hedges = {}
        for product, vt_symbol in cycle.instruments.active_contracts().items():
            if vt_symbol and cycle.last_prices.get(vt_symbol):
                vt_symbol = hedge_plan(cycle, product, vt_symbol, now).contract.vt_symbol
            price = cycle.last_prices.get(vt_symbol) if vt_symbol else None
            if vt_symbol and price:
                hedges[product] = HedgeFuture(vt_symbol, cycle.contract_params[vt_symbol].multiplier, price)
        return hedges

    def _send_reduction(self, cycle, reduction: Reduction, now: datetime) -> RiskReductionEvent | None:
        mark = cycle.last_prices.get(reduction.vt_symbol)
        if mark is None:
            return None
        direction = Direction.LONG if reduction.lots > 0 else Direction.SHORT
        volume = abs(reduction.lots)
        offset = Offset.CLOSE if reduction.closing else Offset.OPEN
        if not reduction.closing:  # a hedge closes opposite futures lots first
            held = sum(p.volume for p in cycle.positions.positions()
                       if p.vt_symbol == reduction.vt_symbol and p.direction is direction.opposite)
            if held >= volume:
                offset = Offset.CLOSE
            elif held:
                volume = held
                offset = Offset.CLOSE
        breach = reduction.breach
        cycle._send(OrderInstruction(
            vt_symbol=reduction.vt_symbol, direction=direction, offset=offset, volume=volume,
            price=align_price(mark, cycle.contract_params[reduction.vt_symbol].pricetick),
            reason=f"reduce risk: {breach.describe()}",
            purpose=OrderPurpose.HEDGE if reduction.vt_symbol in cycle.futures else OrderPurpose.CORRECTION), now)
        self.reductions_sent += 1
        return RiskReductionEvent(now, breach.scope, breach.metric.value, breach.value, breach.limit,
                                  CASH_UNITS[breach.metric.value], reduction.action.value, reduction.vt_symbol,
                                  direction.sign * volume)

    def _track_largest(self, book: CashBook) -> None:
        for scope, greeks in [*book.by_underlying.items(), ("book", book.total)]:
            seen = self.largest.setdefault(scope, {m: 0.0 for m in CASH_UNITS})
            for metric, value in greeks.as_dict().items():
                if abs(value) > abs(seen[metric]):
                    seen[metric] = value

    # ------------------------------------------------------------ openings
    def check_open(self, cycle, contract, lots: int, greeks: GreeksResult, now: datetime) -> tuple[str | None, tuple]:
        """The refusal reason (with the figures) and events when the opening would worsen a soft breach."""
        if self.monitor is None:
            return None, ()
        candidate = self.cash_position(cycle, contract.vt_symbol, lots, greeks)
        if candidate is None:
            return None, ()
        refused, events = self.monitor.check_open(self.book(cycle, now), candidate, lots, now)
        if not refused:
            return None, ()
        self.openings_refused += 1
        return "; ".join(f"{b.describe()} after {lots:+d} {contract.vt_symbol}" for b in refused), events

    # ------------------------------------------------------------ attribution
    def _mark(self, cycle, now: datetime, lots: Mapping[str, int], greeks: Mapping[str, GreeksResult]) -> None:
        service = cycle.services.greeks
        days_per_year = service.days_per_year
        underlying, vols, left = {}, {}, {}
        for s in greeks:
            option = cycle.options[s]
            underlying[s] = cycle.last_prices.get(option.underlying_vt_symbol, float("nan"))
            vols[s] = service.implied_vols.get(s, float("nan"))
            left[s] = service.year_fraction(option, now) * days_per_year
        positions = {}
        for s, n in lots.items():
            price = cycle.last_prices.get(s)
            if price is None:
                continue
            multiplier = cycle.contract_params[s].multiplier
            if s in cycle.options:
                g = greeks.get(s)
                if g is None:
                    positions[s] = MarkedPosition(s, n, multiplier, price, True, underlying.get(s, math.nan))
                    continue
                positions[s] = MarkedPosition(s, n, multiplier, price, True, underlying[s], g.delta, g.gamma, g.vega,
                                              g.theta, vols[s], left[s])
            else:
                positions[s] = MarkedPosition(s, n, multiplier, price)
        self.attribution.mark(trading_day_of(now), positions, cycle.last_prices, underlying, vols, left)

    def record_fill(self, cycle, vt_symbol: str, direction: Direction, volume: int, price: float, fee: float,
                    at: datetime) -> None:
        params = cycle.contract_params.get(vt_symbol)
        if params is None:
            return
        self.attribution.record_fill(vt_symbol, direction.sign * volume, price, params.multiplier,
                                     vt_symbol in cycle.options, fee, at)

    # ------------------------------------------------------------ monitor and summary
    def view(self, cycle, now: datetime) -> dict:
        """The cash Greeks per underlying and for the book, and the stress grid (for the monitor)."""
        lots = self._net_lots(cycle)
        greeks = self._greeks(cycle, [s for s in lots if s in cycle.options], now)
        book = self.book(cycle, now, greeks)
        grid = self._stress(cycle, lots, greeks, now)
        self.last_stress = {"at": now.isoformat(), **grid}
        worst = grid["worst"]
        if worst is not None and (self.worst_stress is None or worst["pnl"] < self.worst_stress["pnl"]):
            self.worst_stress = {"at": now.isoformat(), **worst}
        return {"cash": book.as_dict(), "stress": grid}

    def _stress(self, cycle, lots, greeks, now) -> dict:
        service = cycle.services.greeks
        options, futures = [], []
        for s, n in lots.items():
            params = cycle.contract_params[s]
            option = cycle.options.get(s)
            if option is not None:
                forward = cycle.last_prices.get(option.underlying_vt_symbol)
                vol = service.implied_vols.get(s)
                if s in greeks and forward and vol is not None and math.isfinite(vol):
                    options.append(StressedOption(option, n, params.multiplier, forward, vol,
                                                  service.year_fraction(option, now)))
            elif s in cycle.last_prices:
                futures.append(StressedFuture(s, n, params.multiplier, cycle.last_prices[s], params.margin_ratio))
        sizing = cycle.services.sizing_service
        grid = stress_grid(options, futures, service.calculator, service.risk_free_rate,
                           lambda c, p, u: sizing.short_option_margin(c, p, u, cycle.contract_params[c.vt_symbol]),
                           sizing.settings.broker_margin_multiplier)
        return grid.as_dict()

    def to_dict(self) -> dict:
        """The breaches under way and the counts (the saved state; the attribution is not kept)."""
        monitor = self.monitor
        return {"active": [[scope, metric, level.value] for (scope, metric), level in
                           (monitor._active.items() if monitor else ())],
                "episodes": monitor.episodes if monitor else 0,
                "breach_minutes": monitor.breach_minutes if monitor else 0,
                "legacy_active": sorted([list(key) for key in self._legacy_active]),
                "legacy_breaches": self.legacy_breaches, "openings_refused": self.openings_refused,
                "reductions_sent": self.reductions_sent}

    def restore(self, data: Mapping) -> None:
        """A breach under way when the state was saved is not counted again after a restart."""
        from src.strategy.domain.value_object.cash_risk import BreachLevel

        if self.monitor is not None:
            self.monitor._active = {(scope, metric): BreachLevel(level) for scope, metric, level in
                                    data.get("active", [])}
            self.monitor.episodes = int(data.get("episodes", 0))
            self.monitor.breach_minutes = int(data.get("breach_minutes", 0))
        self._legacy_active = {tuple(key) for key in data.get("legacy_active", [])}
        self.legacy_breaches = int(data.get("legacy_breaches", 0))
        self.openings_refused = int(data.get("openings_refused", 0))
        self.reductions_sent = int(data.get("reductions_sent", 0))

    def book_pnl(self, cycle) -> float:
        """The strategy's own P&L: realized plus marked, less fees (what the attribution must add up to)."""
        unrealized = sum(p.unrealized_pnl(cycle.last_prices.get(p.vt_symbol, p.avg_price))
                         for p in cycle.positions.positions())
        return cycle.positions.realized_pnl() + unrealized - cycle.fees.total

    def summary(self, cycle=None) -> dict:
        monitor = self.monitor
        attribution = self.attribution.summary()
        if cycle is not None:
            book = self.book_pnl(cycle)
            attribution["book_pnl"] = book
            attribution["difference"] = attribution["total"]["total"] - book
            attribution["tolerance"] = ATTRIBUTION_TOLERANCE
        return {
            "risk": {
                "units": dict(CASH_UNITS),
                "breach_count": (monitor.episodes if monitor else 0) + self.legacy_breaches,
                "cash_breach_count": monitor.episodes if monitor else 0,
                "per_lot_breach_count": self.legacy_breaches,
                "breach_minutes": monitor.breach_minutes if monitor else 0,
                "openings_refused": self.openings_refused,
                "reductions_sent": self.reductions_sent,
                "largest": self.largest,
                "worst_stress": self.worst_stress,
                "stress_at_end": self.last_stress,
            },
            "attribution": attribution,
        }
