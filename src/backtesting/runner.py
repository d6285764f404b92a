"""BacktestRunner: the backtest flow of the specification, end to end.

1. strategy configuration  2. products from trading_target.yaml  3. the futures
listed over the dates (SymbolGenerator)  4. their options found in the database
(OptionDiscoveryService)  5. contracts registered (ContractRegistry)
6. vnpy_portfoliostrategy's BacktestingEngine set up  7. run, then the report.
"""
from __future__ import annotations

import logging
import time as time_module
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

import numpy as np
from vnpy.trader.database import BaseDatabase

from src.backtesting.config import BacktestConfig
from src.backtesting.book_recorder import BookRecorder
from src.backtesting.engine import OptionBacktestingEngine
from src.backtesting.report import (
    TradeCounts,
    count_trades,
    format_statistics,
    premium_flows,
    statistics_rows,
    write_chart,
    write_summary,
    write_trades,
)
from src.core.config.errors import UserInputError
from src.core.config.schema import StrategyConfig, StrategyDefinition
from src.core.contract.contract_registry import ContractFactory, ContractRegistry
from src.core.contract.exchange_resolver import ExchangeResolver
from src.core.contract.trading_targets import NotTradableError, tradable_product
from src.core.contract.expiry_calculator import ExpiryCalculator
from src.core.contract.option_discovery import OptionDiscoveryService
from src.core.contract.symbol_generator import SymbolGenerator
from src.datafeed.synthetic_marker import synthetic_description
from src.strategy.application.bootstrap import StrategyRuntime, warmup_trading_days
from src.strategy.domain.domain_service.fill_model import FillModel, FillSettings
from src.strategy.domain.value_object.trading_session import product_code
from src.strategy.infrastructure.calendar.holiday_loader import calendar_edge_warning, load_cn_calendar
from src.strategy.strategy_entry import STRATEGY_CLASSES

logger = logging.getLogger("backtesting")

FILLS_QUOTES, FILLS_VNPY = "quotes", "vnpy"
FILL_MODES = (FILLS_QUOTES, FILLS_VNPY)
SAMPLE_QUOTE_MODES = ("fill", "check")


class BacktestFailedError(Exception):
    """The strategy raised during the replay: the run log has the traceback."""


@dataclass(frozen=True)
class BacktestResult:
    output_dir: Path
    summary: dict[str, Any]
    statistics_table: str
    counts: TradeCounts
    vt_symbols: tuple[str, ...] = field(default=())
    data_source: str = ""
    warmup_start: date | None = None  # the first day read: the indicators warm up from it, nothing trades
    trading_from: date | None = None  # the first day traded (None: the warm-up used every day)


class BacktestRunner:
    def __init__(self, strategy_config: StrategyConfig, products: tuple[str, ...], backtest: BacktestConfig,
                 database: BaseDatabase, config_file: Path, override_config_file: Path | None = None,
                 futures_only: bool = False, event_handlers: tuple = (), stream_days: int | None = 1,
                 fills: str = FILLS_QUOTES, sample_quotes: str | None = None,
                 fill_settings: FillSettings | None = None) -> None:
        """``event_handlers``: (event type, handler) pairs subscribed to the strategy's message bus.
        ``stream_days``: the engine reads bars that many days at a time (None: the whole range first).
        ``fills``: ``quotes`` the quote-aware ``FillModel`` (recorded ticks where the database has them, else
        bars with an estimated spread), ``vnpy`` vnpy's own crossing at the next bar's open (for comparison).
        ``sample_quotes``: ``fill`` fill on the sample market's quote table (regenerated in memory), ``check``
        only measure the fills against it (far-touch fills); None: neither."""
        if fills not in FILL_MODES:
            raise UserInputError(f"fills must be one of {', '.join(FILL_MODES)}, got {fills!r}")
        if sample_quotes not in (None, *SAMPLE_QUOTE_MODES):
            raise UserInputError(f"sample quotes must be one of {', '.join(SAMPLE_QUOTE_MODES)}, got {sample_quotes!r}")
        self.fills = fills
        self.sample_quotes = sample_quotes
        self.fill_settings = fill_settings or FillSettings()
        self.stream_days = stream_days
        self.strategy_config = strategy_config
        self.event_handlers = tuple(event_handlers)
        self.products = products
        self.backtest = backtest
        self.database = database
        self.config_file = config_file
        self.override_config_file = override_config_file
        self.futures_only = futures_only  # no options: the futures' signals and roll run, option openings are refused
        self.calendar = load_cn_calendar()
        edge = calendar_edge_warning(self.calendar, backtest.end)
        if edge:
            logger.warning("%s", edge)
        self.resolver = ExchangeResolver()
        self.expiry_calculator = ExpiryCalculator(self.calendar, self.resolver)
        self.factory = ContractFactory(self.expiry_calculator, backtest.product_specs, self.resolver)
        self.last_engine: OptionBacktestingEngine | None = None
        self.book = BookRecorder()
        self.registry: ContractRegistry | None = None

    # ---------------------------------------------------------------- universe
    def first_day_after_warmup(self, data_start: date) -> date:
        """The first day that can be traded when the bars begin on ``data_start``: the indicators warm up on
        the trading days before it."""
        day = data_start
        if not self.calendar.is_trading_day(day):
            day = self.calendar.next_trading_day(day)
        for _ in range(warmup_trading_days(self.strategy_definition().setting)):
            day = self.calendar.next_trading_day(day)
        return day

    def strategy_definition(self) -> StrategyDefinition:
        # The schema admits only the names of STRATEGY_CLASSES (checked when the file was loaded).
        return self.strategy_config.strategies[0]

    def universe(self) -> ContractRegistry:
        """Futures of the products listed over the dates, with bars in the database, and their options."""
        for product in self.products:
            try:
                tradable_product(product, self.resolver)
            except NotTradableError as error:
                raise UserInputError(f"trading_target.yaml: {error}") from None
            self.backtest.spec(product)

        generator = SymbolGenerator(self.expiry_calculator)
        with_bars = self._futures_with_bars()
        futures: list[str] = []
        for product in self.products:
            listed = [self.resolver.vt_symbol(symbol) for symbol in generator.symbols(product, self.backtest.start,
                                                                                        self.backtest.end)]
            found = [vt for vt in listed if vt in with_bars]
            if not found:
                raise UserInputError(
                    f"no 1-minute bars of {product} futures ({', '.join(listed)}) between {self.backtest.start} and "
                    f"{self.backtest.end} in the database; create the sample market with "
                    f"scripts/run_backtesting.sh (or --sample-market), or import your own with "
                    f"python -m src.main.data import-ticks")
            futures.extend(found)

        registry = ContractRegistry()
        self.factory.register(registry, [vt.rsplit(".", 1)[0] for vt in futures])
        if self.futures_only or self.strategy_definition().setting.trade_instrument == "futures":
            return registry
        discovered = OptionDiscoveryService(self.database, self.resolver).discover(futures)
        start = datetime.combine(self.backtest.start, time.min)
        end = datetime.combine(self.backtest.end, time.max)
        for options in discovered.values():
            in_window = [o for o in options if o.first_bar and o.last_bar
                         and o.first_bar.replace(tzinfo=None) <= end and o.last_bar.replace(tzinfo=None) >= start]
            self.factory.register(registry, [option.parsed.symbol for option in in_window])
        if not any(info.is_option for info in registry):
            raise UserInputError(
                f"no option bars for {', '.join(futures)} between {self.backtest.start} and {self.backtest.end} "
                "in the database: the strategy trades options")
        return registry

    def _futures_with_bars(self) -> set[str]:
        start, end = self.backtest.start, self.backtest.end
        found = set()
        for overview in self.database.get_bar_overview():
            if overview.start is None or overview.end is None or overview.exchange is None:
                continue
            if overview.start.date() <= end and overview.end.date() >= start:
                found.add(f"{overview.symbol}.{overview.exchange.value}")
        return found

    # -------------------------------------------------------------------- run
    def prepare_engine(self, strategy_class=None, setting: dict | None = None) -> OptionBacktestingEngine:
        """An engine with the universe's data loaded and the strategy added, ready to replay."""
        definition = self.strategy_definition()
        registry = self.registry = self.universe()
        vt_symbols = sorted(info.vt_symbol for info in registry)
        warmup_start = self._warmup_start(definition)
        engine = self.last_engine = OptionBacktestingEngine(database=self.database, stream_days=self.stream_days)
        fees = self.strategy_config.fees.to_domain()
        engine.set_parameters(
            vt_symbols=vt_symbols,
            interval=self.backtest.interval,
            start=datetime.combine(warmup_start, time.min),
            end=datetime.combine(self.backtest.end, time.min),
            # Products the fee schedule covers pay its fees (OptionBacktestingEngine.apply_fee_schedule).
            rates={info.vt_symbol: 0.0 if fees.covers(info.product) else self.backtest.rate(info.product)
                   for info in registry},
            # The fill model crosses the spread itself: vnpy's flat slippage per lot would charge it twice.
            slippages={info.vt_symbol: 0.0 if self.fills == FILLS_QUOTES else self.backtest.slippage(info.product)
                       for info in registry},
            sizes=registry.sizes(),
            priceticks=registry.priceticks(),
            capital=self.backtest.capital,
            risk_free=self.backtest.risk_free,
            annual_days=self.backtest.annual_days,
        )
        engine.expiries = {info.vt_symbol: info.expiry for info in registry if info.expiry is not None}
        engine.fee_schedule = fees if fees.products else None
        engine.products = {info.vt_symbol: info.product for info in registry}
        engine.options = {info.vt_symbol for info in registry if info.is_option}
        self._set_up_fills(engine, vt_symbols, warmup_start)
        if setting is None:
            setting = dict(vars(definition.setting))
        engine.add_strategy(strategy_class or STRATEGY_CLASSES[definition.class_name], setting)
        if hasattr(engine.strategy, "configure"):
            # The configuration this runner loaded, once, is the strategy's: it reads no file.
            self.book = BookRecorder()
            engine.strategy.configure(StrategyRuntime(self.strategy_config, event_handlers=self.event_handlers,
                                                      snapshot_recorder=self.book))
        logger.info("loading %d contracts (%d options) from %s to %s", len(vt_symbols),
                    sum(1 for info in registry if info.is_option), warmup_start, self.backtest.end)
        engine.load_data()
        if not engine.dts:
            raise UserInputError(f"no bars loaded between {warmup_start} and {self.backtest.end}")
        return engine

    def _set_up_fills(self, engine: OptionBacktestingEngine, vt_symbols: list[str], warmup_start: date) -> None:
        from src.backtesting.quote_book import QuoteBooks, TickQuoteBook, sample_quote_book

        ticks = TickQuoteBook(self.database, vt_symbols)
        sample = None
        if self.sample_quotes is not None:
            started = time_module.monotonic()
            sample = sample_quote_book(self.database, self.backtest.start, self.backtest.end)
            if sample is None:
                raise UserInputError(
                    f"--sample-quotes: no sample market generation in the database covers {self.backtest.start} to "
                    f"{self.backtest.end} (create it with --sample-market)")
            logger.info("quotes: %s ready in %.1f s", sample.describe(), time_module.monotonic() - started)
        if self.fills == FILLS_QUOTES:
            engine.fill_model = FillModel(self.fill_settings)
            engine.fill_quotes = QuoteBooks([ticks, sample] if self.sample_quotes == "fill" else [ticks])
        engine.reference_quotes = QuoteBooks([ticks, sample] if sample is not None else [ticks])
        logger.info("fills: %s; filled on %s; checked against %s",
                    "quote-aware model" if engine.fill_model else "vnpy's crossing at the open",
                    engine.fill_quotes.describe() if engine.fill_quotes else "bars (estimated spread)",
                    engine.reference_quotes.describe() if engine.reference_quotes else "nothing")

    def fill_summary(self, engine: OptionBacktestingEngine) -> dict:
        return {"fill_model": self.fills,
                "quote_source": engine.fill_quotes.describe() if engine.fill_quotes else "none (bars)",
                "fill_participation": self.fill_settings.participation if self.fills == FILLS_QUOTES else None,
                **engine.fill_stats.summary()}

    def run(self, output_dir: Path, progress_factory=None) -> BacktestResult:
        definition = self.strategy_definition()
        output_dir.mkdir(parents=True, exist_ok=True)
        engine = self.prepare_engine()
        registry = self.registry
        vt_symbols = sorted(info.vt_symbol for info in registry)

        progress = progress_factory(len(engine.dts)) if progress_factory else None
        engine.progress = progress
        try:
            engine.run_backtesting()
        finally:
            if progress is not None:
                progress.close()
        if engine.strategy_failure:
            raise BacktestFailedError("the strategy raised during the replay; the traceback is in "
                                      f"{output_dir / 'backtest.log'}")

        daily = engine.calculate_result()
        with np.errstate(divide="ignore", invalid="ignore"):  # vnpy divides by a zero drawdown on a flat run
            statistics = engine.calculate_statistics(daily, output=False) if daily is not None else {}
        trades = engine.get_all_trades()
        counts = count_trades(trades, lambda vt: registry.get(vt).is_option)
        strategy = engine.strategy
        data_source = self.data_source(vt_symbols)
        summary = write_summary(output_dir / "summary.json", statistics, counts, self.backtest.start,
                                self.backtest.end, extra={
                                    "data": data_source,
                                    "capital": self.backtest.capital,
                                    "strategy_class": definition.class_name,
                                    "strategy_name": definition.strategy_name,
                                    "contracts": len(vt_symbols),
                                    "signal_count": strategy.signal_count,
                                    "order_count": strategy.order_count,
                                    "refusal_count": strategy.refusal_count,
                                    "risk_breach_count": strategy.risk_breach_count,
                                    **settlement_summary(engine),
                                    **self.fill_summary(engine),
                                    **strategy.hedging_summary(),
                                    **getattr(strategy, "safeguards_summary", dict)(),
                                    **book_risk_summary(strategy),
                                })
        write_trades(output_dir / "trades.csv", trades, lambda vt: registry.get(vt).is_option)
        extra_rows = (("Signals", strategy.signal_count), ("Orders", strategy.order_count),
                      ("Refusals", strategy.refusal_count), ("Risk breaches", strategy.risk_breach_count),
                      ("Fills on quotes / on bars", f"{summary['fills_on_quotes']} / {summary['fills_on_bars']}"),
                      ("Orders short of a print", summary["orders_unfilled_for_want_of_print"]))
        write_chart(output_dir / "chart.html", daily,
                    f"{definition.strategy_name} {self.backtest.start} - {self.backtest.end} ({data_source})",
                    statistics_rows=[("Period", f"{self.backtest.start} to {self.backtest.end}")]
                    + statistics_rows(statistics, counts, extra_rows),
                    samples=self.book.samples, trades=trades,
                    flows=premium_flows(trades, lambda vt: registry.get(vt).is_option,
                                        lambda vt: registry.get(vt).size),
                    attribution=summary.get("attribution"),
                    **book_at_the_end(strategy))
        return BacktestResult(output_dir=output_dir, summary=summary,
                              statistics_table=format_statistics(statistics, counts, extra_rows), counts=counts,
                              vt_symbols=tuple(vt_symbols), data_source=data_source,
                              warmup_start=engine.start.date(),
                              trading_from=engine.trading_from.date() if engine.trading_from else None)

    def data_source(self, vt_symbols) -> str:
        """SYNTHETIC and which generation, when the sample market wrote the bars of the dates."""
        codes = {product_code(vt_symbol.split(".")[0]) for vt_symbol in vt_symbols}
        described = synthetic_description(self.database, sorted(codes), self.backtest.start, self.backtest.end)
        return described or "recorded or imported bars (no synthetic record)"

    def _warmup_start(self, definition: StrategyDefinition) -> date:
        """Load enough trading days before the start for the indicators; the engine warms up on them."""
        days = warmup_trading_days(definition.setting)
        day = self.backtest.start
        for _ in range(days):
            day = self.calendar.previous_trading_day(day)
        return day


def book_at_the_end(strategy) -> dict:
    """The positions still open and the orders still working when the replay ended (a strategy without a
    trading cycle, such as the benchmark's do-nothing template, has neither)."""
    cycle = getattr(strategy, "cycle", None)
    if cycle is None:
        return {"open_positions": [], "working_orders": []}
    positions = [{"contract": p.vt_symbol, "side": p.direction.value, "lots": p.volume,
                  "average price": round(p.avg_price, 4), "last price": cycle.last_prices.get(p.vt_symbol)}
                 for p in cycle.positions.positions()]
    orders = [{"contract": view.instruction.vt_symbol, "side": view.instruction.direction.value,
               "offset": view.instruction.offset.value, "lots left": view.remaining,
               "why": view.instruction.reason} for view in cycle.executor.working_executions()]
    return {"open_positions": positions, "working_orders": orders}


def book_risk_summary(strategy) -> dict:
    """The risk in money (breaches once each, refusals, reductions, stress) and the P&L attribution."""
    cycle = getattr(strategy, "cycle", None)
    book_risk = getattr(getattr(cycle, "services", None), "book_risk", None)
    return book_risk.summary(cycle) if book_risk is not None else {}


def settlement_summary(engine: OptionBacktestingEngine) -> dict:
    """Positions the engine booked as settled at expiry (trades whose ids start with SETTLE-)."""
    trades = engine.settlement_trades
    totals = engine.fee_totals
    cycle = getattr(engine.strategy, "cycle", None)
    lots = totals.get("option_lots_traded", 0)
    return {"settled_positions": len(trades), "settled_lots": int(sum(trade.volume for trade in trades)),
            **({"fee_schedule_total": totals["schedule_fees"], "close_today_fees": totals["close_today_fees"],
                "commission_per_option_lot": totals["option_fees"] / lots if lots else 0.0} if totals else {}),
            **({"strategy_fees": cycle.fees.total, "largest_margin": cycle.largest_margin,
                "pin_risk_count": cycle.counters.pin_risk_count,
                "close_escalation_count": cycle.counters.close_escalation_count} if cycle is not None else {})}
