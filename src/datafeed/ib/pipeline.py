"""The chain pipeline: carries out a session plan's tasks for the configured underlyings.

Used by ``python -m src.datafeed.ib snapshot`` (one plan, once) and by the ``run`` scheduler (the
plan of the current session, again whenever it is due). See ``sessions`` for what each plan does
and ``__init__`` for where this differs from the seed.
"""
from __future__ import annotations

import asyncio
import logging
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ib_async import Contract, ScannerSubscription, Ticker

from src.datafeed.ib.chain import ChainBuilder, ChainMaintainer, RefreshReport
from src.datafeed.ib.connection import IbConnection
from src.datafeed.ib.contracts import exchange_date
from src.datafeed.ib.sessions import MAX_POST_UNDERLYINGS, Session, SessionPlan, SessionWindow, Task
from src.datafeed.ib.snapshot import NO_DATA, RunItem, SnapshotRunner, SnapshotSettings, quote_row
from src.datafeed.ib.store import IbStore, RunRow
from src.datafeed.ib.surface import SurfaceError, store_surface

LOG = logging.getLogger(__name__)
SYMBOL = re.compile(r"^[A-Z][A-Z0-9.]{0,15}$")


@dataclass(frozen=True)
class FeedOptions:
    underlyings: tuple[str, ...]
    post_underlyings: tuple[str, ...] = ()        # after-market list (<= 500); empty = the underlyings
    stream_con_ids: tuple[int, ...] = ()          # the short streaming list of the open session
    stream_line_budget: int = 20                  # lines kept for streams, out of the governor's
    scan_code: str = "OPT_VOLUME_MOST_ACTIVE"
    strike_move_threshold: float = 0.05
    max_expiries: int | None = None               # nearest expiries per underlying to snapshot; None = all
    rate: float = 0.0                             # for the surfaces, where parity cannot give discounting
    build_surfaces: bool = True

    def __post_init__(self) -> None:
        if not self.underlyings:
            raise ValueError("at least one underlying is required")
        for symbol in (*self.underlyings, *self.post_underlyings):
            if not SYMBOL.match(symbol):
                raise ValueError(f"not an underlying symbol: {symbol!r}")
        if len(self.post_underlyings) > MAX_POST_UNDERLYINGS:
            raise ValueError(f"at most {MAX_POST_UNDERLYINGS} after-market underlyings, got "
                             f"{len(self.post_underlyings)}")
        if len(self.stream_con_ids) > self.stream_line_budget:
            raise ValueError(f"{len(self.stream_con_ids)} streams exceed the streaming line budget "
                             f"{self.stream_line_budget}")
        if self.max_expiries is not None and self.max_expiries < 1:
            raise ValueError("max_expiries must be at least 1")
        if not math.isfinite(self.rate):
            raise ValueError("rate must be finite")


@dataclass
class PlanReport:
    session: str
    market_data_type: int
    refreshes: list[RefreshReport] = field(default_factory=list)
    runs: list[RunRow] = field(default_factory=list)
    surfaces: dict[str, str] = field(default_factory=dict)     # underlying → "ok (N quotes)" or the reason
    previous_closes: dict[str, float | None] = field(default_factory=dict)
    scanner: list[str] = field(default_factory=list)
    streams: int = 0
    problems: list[str] = field(default_factory=list)


class StreamSet:
    """The short streaming list: subscribed during the open session, each holding one governor line."""

    def __init__(self, connection: IbConnection) -> None:
        self.connection = connection
        self.tickers: dict[int, tuple[RunItem, Ticker]] = {}

    async def start(self, items: list[RunItem]) -> None:
        ib = self.connection.ib
        for item in items:
            if item.con_id in self.tickers:
                continue
            await self.connection.governor.acquire_line()
            await self.connection.governor.message()
            self.tickers[item.con_id] = (item, ib.reqMktData(item.contract(), "", snapshot=False))

    async def stop(self) -> None:
        ib = self.connection.ib
        for item, ticker in list(self.tickers.values()):
            if self.connection.connected:
                await self.connection.governor.message()
                ib.cancelMktData(ticker.contract)
            self.connection.governor.release_line()
        self.tickers.clear()

    def rows(self, now: datetime) -> list[dict[str, Any]]:
        return [quote_row(item, ticker, recorded_at=now) for item, ticker in self.tickers.values()]


class ChainPipeline:
    def __init__(self, connection: IbConnection, store: IbStore, options: FeedOptions, *,
                 snapshot_settings: SnapshotSettings | None = None,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 progress: Callable[[int, int], None] | None = None, event_engine=None) -> None:
        """``event_engine``: a vnpy EventEngine to publish the cached chains on as ContractData."""
        self.connection = connection
        self.event_engine = event_engine
        self.store = store
        self.options = options
        self.now = now
        self.builder = ChainBuilder(connection.ib, connection.governor)
        self.maintainer = ChainMaintainer(self.builder, store, strike_move_threshold=options.strike_move_threshold)
        self.runner = SnapshotRunner(connection, store, snapshot_settings, now=now, progress=progress)
        self.streams = StreamSet(connection)
        self._underlyings: dict[str, Contract] = {}
        self._prices: dict[str, float] = {}
        self._published = False

    async def underlying(self, symbol: str) -> Contract:
        if symbol not in self._underlyings:
            self._underlyings[symbol] = await self.builder.underlying(symbol)
        return self._underlyings[symbol]

    def _underlying_item(self, symbol: str) -> RunItem:
        contract = self._underlyings[symbol]
        return RunItem(contract.conId, symbol, contract.secType, contract.exchange or "SMART")

    async def execute(self, window: SessionWindow, plan: SessionPlan) -> PlanReport:
        report = PlanReport(window.session.value, plan.market_data_type)
        await self.connection.ensure(self.runner.settings.reconnect_within)
        await self.connection.set_market_data_type(plan.market_data_type)
        symbols = self.options.underlyings
        if window.session is Session.POST and self.options.post_underlyings:
            symbols = self.options.post_underlyings
        for symbol in symbols:
            await self.underlying(symbol)
        for task in plan.tasks:
            if task in (Task.CHAIN_UPDATE, Task.CHAIN_CHECK, Task.MAINTENANCE):
                await self._refresh(symbols, report, force=task is not Task.CHAIN_CHECK)
                if task is Task.MAINTENANCE:
                    self.store.purge_expired(None, exchange_date(self.now()))
            elif task is Task.OPEN_INTEREST:
                report.runs.append(await self.runner.open_interest_pass(
                    self._option_items(symbols), session=f"{window.session.value}-oi",
                    market_data_type=plan.market_data_type))
            elif task is Task.STREAM:
                await self._stream(report)
            elif task is Task.PREVIOUS_CLOSE:
                await self._previous_closes(symbols, report)
            elif task is Task.SCANNER:
                await self._scan(report)
            elif task is Task.SNAPSHOT:
                await self._snapshot(symbols, window, plan, report)
        if window.session is not Session.OPEN and self.streams.tickers:
            await self.streams.stop()
        return report

    async def _refresh(self, symbols, report: PlanReport, *, force: bool) -> None:
        for symbol in symbols:
            refresh = await self.maintainer.refresh(symbol, now=self.now(), underlying_price=self._prices.get(symbol),
                                                    force=force)
            report.refreshes.append(refresh)
            if self.event_engine is not None and (refresh.new_contracts or refresh.purged or not self._published):
                from src.datafeed.ib.vnpy_contracts import publish_contracts

                publish_contracts(self.event_engine, self.store.contracts(symbol))
        self._published = True

    def _option_items(self, symbols) -> list[RunItem]:
        today = exchange_date(self.now())
        items: list[RunItem] = []
        for symbol in symbols:
            records = [r for r in self.store.contracts(symbol) if r.expiry >= today]
            if self.options.max_expiries is not None:
                keep = sorted({r.expiry for r in records})[: self.options.max_expiries]
                records = [r for r in records if r.expiry in set(keep)]
            items.extend(RunItem.of(r) for r in records)
        return items

    async def _snapshot(self, symbols, window: SessionWindow, plan: SessionPlan, report: PlanReport) -> None:
        for symbol in symbols:
            if not self.store.expiries(symbol):
                await self._refresh([symbol], report, force=True)
        streamed = set(self.streams.tickers)
        items = [self._underlying_item(s) for s in symbols]
        items += [i for i in self._option_items(symbols) if i.con_id not in streamed]
        run = await self.runner.run(items, session=window.session.value, market_data_type=plan.market_data_type)
        if self.streams.tickers:
            self.store.record_quotes(run.run_id, self.streams.rows(self.now()))
            self.store.update_run(run.run_id)
            run = self.store.run(run.run_id)
        report.runs.append(run)
        for row in self.store.quotes(run.run_id):
            if row["option_right"] is None and row["underlying_price"] is not None:
                self._prices[row["underlying"]] = row["underlying_price"]
        if self.options.build_surfaces:
            for symbol in symbols:
                try:
                    chain, _ = store_surface(self.store, run.run_id, symbol, rate=self.options.rate,
                                             built_at=self.now())
                    report.surfaces[symbol] = f"ok ({len(chain.snapshot.quotes)} quotes)"
                except SurfaceError as error:
                    report.surfaces[symbol] = str(error)

    async def _stream(self, report: PlanReport) -> None:
        wanted = [RunItem(c, "", "OPT", "SMART") for c in self.options.stream_con_ids]
        known = {r.con_id: r for r in self.store.contracts()} if wanted else {}
        items = [RunItem.of(known[i.con_id]) if i.con_id in known else i for i in wanted]
        await self.streams.start(items)
        report.streams = len(self.streams.tickers)

    async def _previous_closes(self, symbols, report: PlanReport) -> None:
        ib = self.connection.ib
        for symbol in symbols:
            contract = self._underlyings[symbol]
            key = (contract.conId, "2 D", "1 day", "TRADES", True)
            await self.connection.governor.historical(key, contract.conId)
            bars = await ib.reqHistoricalDataAsync(contract, "", "2 D", "1 day", "TRADES", True, timeout=60)
            report.previous_closes[symbol] = float(bars[-1].close) if bars else None
        items = [self._underlying_item(symbol) for symbol in symbols]
        run_id = self.store.start_run(session="post-close", market_data_type=self.connection.market_data_type,
                                      underlyings=list(symbols), contract_ids=[i.to_json() for i in items],
                                      started_at=self.now())
        rows = []
        for item in items:
            row = quote_row(item, None, recorded_at=self.now())
            close = report.previous_closes.get(item.underlying)
            row.update(close=close, underlying_price=close, error_code=None if close is not None else NO_DATA)
            rows.append(row)
        self.store.record_quotes(run_id, rows)
        self.store.update_run(run_id, status="completed", ended_at=self.now())
        report.runs.append(self.store.run(run_id))

    async def _scan(self, report: PlanReport) -> None:
        ib = self.connection.ib
        code = self.options.scan_code
        await self.connection.governor.message()
        xml = await asyncio.wait_for(ib.reqScannerParametersAsync(), 60)
        if f"<scanCode>{code}</scanCode>" not in xml:
            report.problems.append(f"scanner code {code} is not offered by TWS (reqScannerParameters)")
            return
        await self.connection.governor.message(2)       # the subscription and its cancel
        rows = await asyncio.wait_for(ib.reqScannerDataAsync(
            ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode=code, numberOfRows=50)), 60)
        report.scanner = [row.contractDetails.contract.symbol for row in rows]


def describe(report: PlanReport) -> list[str]:
    """Lines for the terminal and the log."""
    lines = [f"session {report.session}, market data type {report.market_data_type}"]
    for refresh in report.refreshes:
        if refresh.checked:
            lines.append(f"  chain {refresh.underlying}: {refresh.reason}; new expiries {len(refresh.new_expiries)}, "
                         f"relisted {len(refresh.relisted_expiries)}, new contracts {refresh.new_contracts}, "
                         f"purged {refresh.purged}, requests {refresh.requests}")
        else:
            lines.append(f"  chain {refresh.underlying}: not checked ({refresh.reason}); purged {refresh.purged}")
    for run in report.runs:
        errors = ", ".join(f"{code}: {count}" for code, count in sorted(run.errors.items())) or "none"
        lines.append(f"  run {run.run_id} ({run.session}): {run.status}, requested {run.requested}, "
                     f"filled {run.filled}, errors {errors}, resumes {run.resumes}")
    for symbol, outcome in report.surfaces.items():
        lines.append(f"  surface {symbol}: {outcome}")
    for symbol, close in report.previous_closes.items():
        lines.append(f"  previous close {symbol}: {close if close is not None else 'none'}")
    if report.scanner:
        lines.append(f"  scanner: {', '.join(report.scanner)}")
    if report.streams:
        lines.append(f"  streaming {report.streams} contracts")
    lines.extend(f"  problem: {problem}" for problem in report.problems)
    return lines
