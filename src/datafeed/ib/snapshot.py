"""Snapshot runs: batched snapshots of a list of contracts, one row per run and one per contract.

- Requests go out in batches of at most ``batch_size`` (300) with ``batch_pause`` (0.5 s) between
  them, each through the governor (45 msg/s, at most ``max_lines`` in flight). One snapshot per
  contract with ``ib_async``'s ``reqTickersAsync`` (snapshot=True, no generic ticks: TWS refuses
  generic ticks on snapshots with error 321, and ``reqTickers`` has no ``genericTickList``).
- Every wait is bounded: a snapshot that does not end within ``snapshot_timeout`` is retried later.
- Pacing (100), line (101) and connectivity (1100/1101) failures, timeouts and disconnects are
  retried up to ``max_attempts``; definitive refusals (200 no definition, 354 not subscribed, 321)
  are stored as a row with its error code and counted.
- A run survives a disconnect (the daily TWS restart, 1100/1101): the rows already stored stay,
  the connection is re-established (bounded by ``reconnect_within``) and only the contracts without
  a row are requested again. A process that died can ``resume(run_id)``: the run row keeps the
  contracts requested.
- ``nan`` and TWS's -1 placeholders are stored as missing (NULL), never as prices; Greeks of -2
  (ib_async passes vega/theta -2 through) likewise. The market data type actually delivered is
  stored per row, so frozen values (type 2) are never taken for live ones.
- Open interest (generic tick 101 → ticks 27/28) cannot ride on a snapshot: ``open_interest_pass``
  opens a short stream per contract, waits for the value, and cancels it.
"""
from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timezone
from typing import Any

from ib_async import Contract, Ticker

from src.datafeed.ib.connection import ConnectionLost, IbConnection
from src.datafeed.ib.contracts import OptionRecord
from src.datafeed.ib.governor import RateGovernor
from src.datafeed.ib.store import IbStore, RunRow

LOG = logging.getLogger(__name__)

RETRYABLE = {100, 101, 1100, 1101, 2110, -1}        # -1: timeout or disconnect, decided on our side
DEFINITIVE = {200, 321, 354, 10167, 10168}
TIMED_OUT = -1      # stored code: no answer (timeout, disconnect) after max_attempts
NO_DATA = -2        # stored code: the snapshot ended without any usable value
GREEK_SOURCES = (("modelGreeks", "model"), ("lastGreeks", "last"), ("bidGreeks", "bid"), ("askGreeks", "ask"))


@dataclass(frozen=True)
class RunItem:
    """One contract of a run: an option of the cache or an underlying."""

    con_id: int
    underlying: str
    sec_type: str
    exchange: str
    expiry: date | None = None
    strike: float | None = None
    right: str | None = None

    @classmethod
    def of(cls, record: OptionRecord) -> RunItem:
        return cls(record.con_id, record.underlying, "OPT", "SMART", record.expiry, record.strike, record.right)

    def contract(self) -> Contract:
        return Contract(secType=self.sec_type, conId=self.con_id, exchange=self.exchange)

    def to_json(self) -> list:
        return [self.con_id, self.underlying, self.sec_type, self.exchange,
                self.expiry.isoformat() if self.expiry else None, self.strike, self.right]

    @classmethod
    def from_json(cls, value: list) -> RunItem:
        con_id, underlying, sec_type, exchange, expiry, strike, right = value
        return cls(int(con_id), underlying, sec_type, exchange, date.fromisoformat(expiry) if expiry else None,
                   strike, right)


@dataclass(frozen=True)
class SnapshotSettings:
    snapshot_timeout: float = 12.0
    max_attempts: int = 4
    reconnect_within: float = 120.0
    outage_within: float = 300.0
    max_rounds: int = 50

    def __post_init__(self) -> None:
        if not self.snapshot_timeout > 0:
            raise ValueError("snapshot_timeout must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")


def clean_price(value: Any) -> float | None:
    """A price, or None for TWS's placeholders (nan, -1, unset)."""
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    if not math.isfinite(number) or number < 0 or number >= 1e300:
        return None
    return number


def clean_size(value: Any) -> float | None:
    return clean_price(value)


def clean_greek(value: Any, *, lower: float = -1e9, upper: float = 1e9) -> float | None:
    if value is None:
        return None
    number = float(value)
    if not math.isfinite(number) or number in (-1.0, -2.0) or not lower <= number <= upper:
        return None
    return number


def quote_row(item: RunItem, ticker: Ticker | None, *, recorded_at: datetime,
              error_code: int | None = None) -> dict[str, Any]:
    """The stored row of one contract's snapshot (missing values as None)."""
    row: dict[str, Any] = dict(con_id=item.con_id, underlying=item.underlying, expiry=item.expiry, strike=item.strike,
                               option_right=item.right, recorded_at=recorded_at, error_code=error_code,
                               greeks_source=None, market_data_type=None)
    for name in ("bid", "ask", "last", "close", "bid_size", "ask_size", "last_size", "volume", "open_interest",
                 "iv", "delta", "gamma", "vega", "theta", "underlying_price"):
        row[name] = None
    if ticker is None:
        return row
    row.update(bid=clean_price(ticker.bid), ask=clean_price(ticker.ask), last=clean_price(ticker.last),
               close=clean_price(ticker.close), volume=clean_size(ticker.volume),
               market_data_type=int(ticker.marketDataType) if ticker.marketDataType else None)
    row["bid_size"] = clean_size(ticker.bidSize) if row["bid"] is not None else None
    row["ask_size"] = clean_size(ticker.askSize) if row["ask"] is not None else None
    row["last_size"] = clean_size(ticker.lastSize) if row["last"] is not None else None
    if item.right == "C":
        row["open_interest"] = clean_size(ticker.callOpenInterest)
    elif item.right == "P":
        row["open_interest"] = clean_size(ticker.putOpenInterest)
    for attribute, source in GREEK_SOURCES:
        greeks = getattr(ticker, attribute, None)
        if greeks is None:
            continue
        iv = clean_greek(greeks.impliedVol, lower=1e-6, upper=20.0)
        delta = clean_greek(greeks.delta, lower=-1.0, upper=1.0)
        if iv is None and delta is None:
            continue
        row.update(iv=iv, delta=delta, gamma=clean_greek(greeks.gamma), vega=clean_greek(greeks.vega),
                   theta=clean_greek(greeks.theta), underlying_price=clean_price(greeks.undPrice),
                   greeks_source=source)
        break
    if item.sec_type in ("STK", "IND") and row["underlying_price"] is None:
        row["underlying_price"] = row["last"] if row["last"] is not None else row["close"]
    return row


def has_data(row: dict[str, Any]) -> bool:
    return any(row[name] is not None for name in ("bid", "ask", "last", "close", "iv", "open_interest"))


@dataclass
class _Outcome:
    item: RunItem
    row: dict[str, Any] | None
    code: int | None          # error code; None when the snapshot came back


class _SendTracker:
    """Set once every request of a batch has gone out (or given up before sending)."""

    def __init__(self, size: int) -> None:
        self.remaining = size
        self.marked: set[int] = set()
        self.done = asyncio.Event()
        if size == 0:
            self.done.set()

    def mark(self, con_id: int) -> None:
        if con_id in self.marked:
            return
        self.marked.add(con_id)
        self.remaining -= 1
        if self.remaining <= 0:
            self.done.set()

    async def wait(self) -> None:
        await self.done.wait()


class SnapshotRunner:
    def __init__(self, connection: IbConnection, store: IbStore, settings: SnapshotSettings | None = None, *,
                 now: Callable[[], datetime] = lambda: datetime.now(timezone.utc),
                 progress: Callable[[int, int], None] | None = None) -> None:
        self.connection = connection
        self.governor: RateGovernor = connection.governor
        self.store = store
        self.settings = settings or SnapshotSettings()
        self.now = now
        self.progress = progress
        self._codes: dict[int, int] = {}       # conId → last error code seen for it
        connection.listeners.append(self._on_error)
        self.requests_sent = 0
        self.disconnects = 0
        self._stored = 0

    def _on_error(self, req_id: int, code: int, message: str, contract) -> None:
        con_id = getattr(contract, "conId", 0) if contract is not None else 0
        if con_id and code not in (2104, 2106, 2158):
            self._codes[con_id] = code

    # ------------------------------------------------------------------ runs

    async def run(self, items: Sequence[RunItem], *, session: str, market_data_type: int) -> RunRow:
        unique = list({item.con_id: item for item in items}.values())
        run_id = self.store.start_run(session=session, market_data_type=market_data_type,
                                      underlyings=sorted({i.underlying for i in unique}),
                                      contract_ids=[i.to_json() for i in unique], started_at=self.now())
        return await self._execute(run_id, unique, market_data_type, Counter())

    async def resume(self, run_id: int) -> RunRow:
        row = self.store.run(run_id)
        if row is None:
            raise ValueError(f"no snapshot run {run_id}")
        items = [RunItem.from_json(value) for value in self.store.run_items(run_id)]
        self.store.update_run(run_id, status="running", resumed=True)
        return await self._execute(run_id, items, row.market_data_type, Counter(row.errors))

    async def _execute(self, run_id: int, items: list[RunItem], market_data_type: int, errors: Counter) -> RunRow:
        attempts: Counter = Counter()
        self._stored = len(self.store.done_contract_ids(run_id))
        batch_size = self.governor.limits.batch_size
        status = "completed"
        for _round in range(self.settings.max_rounds):
            done = self.store.done_contract_ids(run_id)
            pending = [i for i in items if i.con_id not in done and attempts[i.con_id] < self.settings.max_attempts]
            if not pending:
                break
            try:
                await self.connection.ensure(self.settings.reconnect_within)
                if self.connection.market_data_type != market_data_type:
                    await self.connection.set_market_data_type(market_data_type)
            except ConnectionLost as lost:
                LOG.error("snapshot run %d interrupted: %s", run_id, lost)
                status = "interrupted"
                break
            # Batch N+1 goes out (after the pause) while batch N's answers are still being stored, so the
            # store never holds up the request stream.
            interrupted = False
            inflight: asyncio.Future | None = None
            task: asyncio.Future | None = None
            try:
                for start in range(0, len(pending), batch_size):
                    batch = pending[start:start + batch_size]
                    sent = _SendTracker(len(batch))
                    task = asyncio.ensure_future(asyncio.gather(*(self._one(item, sent) for item in batch)))
                    await sent.wait()
                    if inflight is not None:
                        self._store_outcomes(run_id, await inflight, attempts, errors, len(items))
                    inflight, task = task, None
                    if not self.connection.connected:
                        interrupted = True
                        break
                    if start + batch_size < len(pending) and self.governor.limits.batch_pause > 0:
                        await asyncio.sleep(self.governor.limits.batch_pause)
                if inflight is not None:
                    outcomes = await inflight
                    inflight = None
                    self._store_outcomes(run_id, outcomes, attempts, errors, len(items))
            finally:            # cancelled (the process is stopping): no request task outlives the run
                for pending_task in (task, inflight):
                    if pending_task is not None and not pending_task.done():
                        pending_task.cancel()
            if interrupted or not self.connection.connected:
                self.disconnects += 1
                LOG.warning("snapshot run %d: connection lost mid-batch, resuming after reconnect", run_id)
        else:
            status = "interrupted"
        if status == "completed" and len(self.store.done_contract_ids(run_id)) < len(items):
            status = "interrupted"
        self.store.update_run(run_id, errors=dict(errors), status=status, ended_at=self.now())
        return self.store.run(run_id)

    def _store_outcomes(self, run_id: int, outcomes: list[_Outcome], attempts: Counter, errors: Counter,
                        total: int) -> None:
        rows = []
        for outcome in outcomes:
            attempts[outcome.item.con_id] += 1
            if outcome.code is not None:
                errors[outcome.code] += 1
            if outcome.row is not None:
                rows.append(outcome.row)
            elif attempts[outcome.item.con_id] >= self.settings.max_attempts:
                rows.append(quote_row(outcome.item, None, recorded_at=self.now(),
                                      error_code=outcome.code if outcome.code is not None else TIMED_OUT))
        self._stored += self.store.record_quotes(run_id, rows)
        self.store.update_run(run_id, errors=dict(errors))
        if self.progress is not None:
            self.progress(self._stored, total)

    async def _one(self, item: RunItem, sent: _SendTracker | None = None) -> _Outcome:
        try:
            return await self._snapshot(item, sent)
        finally:
            if sent is not None:
                sent.mark(item.con_id)

    async def _snapshot(self, item: RunItem, sent: _SendTracker | None) -> _Outcome:
        ib = self.connection.ib
        async with self.governor.line():
            if not await self.governor.wait_connectivity(self.settings.outage_within):
                return _Outcome(item, None, 1100)
            if not self.connection.connected:
                return _Outcome(item, None, -1)
            await self.governor.message()
            if not self.connection.connected:
                return _Outcome(item, None, -1)
            self._codes.pop(item.con_id, None)
            self.requests_sent += 1
            if sent is not None:
                sent.mark(item.con_id)
            try:
                tickers = await asyncio.wait_for(ib.reqTickersAsync(item.contract()), self.settings.snapshot_timeout)
            except (asyncio.TimeoutError, ConnectionError):
                return _Outcome(item, None, self._codes.pop(item.con_id, -1))
        code = self._codes.pop(item.con_id, None)
        ticker = tickers[0] if tickers else None
        if code in RETRYABLE:
            return _Outcome(item, None, code)
        row = quote_row(item, ticker, recorded_at=self.now(), error_code=code if code in DEFINITIVE else None)
        if code is None and not has_data(row):
            row["error_code"] = NO_DATA     # answered, but nothing usable (a closed market without a close)
        return _Outcome(item, row, code)

    # ------------------------------------------------------------------ open interest

    async def open_interest_pass(self, items: Sequence[RunItem], *, session: str = "pre-oi",
                                 market_data_type: int = 2, wait: float = 5.0) -> RunRow:
        """Open interest by a short stream per contract (generic tick 101), cancelled once it arrives."""
        await self.connection.ensure(self.settings.reconnect_within)
        await self.connection.set_market_data_type(market_data_type)
        unique = list({item.con_id: item for item in items if item.right in ("C", "P")}.values())
        run_id = self.store.start_run(session=session, market_data_type=market_data_type,
                                      underlyings=sorted({i.underlying for i in unique}),
                                      contract_ids=[i.to_json() for i in unique], started_at=self.now())
        errors: Counter = Counter()
        batch_size = self.governor.limits.batch_size
        for start in range(0, len(unique), batch_size):
            batch = unique[start:start + batch_size]
            rows = [row for row in await asyncio.gather(*(self._stream_oi(i, wait, errors) for i in batch)) if row]
            self.store.record_quotes(run_id, rows)
            self.store.update_run(run_id, errors=dict(errors))
            if start + batch_size < len(unique):
                await asyncio.sleep(self.governor.limits.batch_pause)
        done = len(self.store.done_contract_ids(run_id))
        self.store.update_run(run_id, errors=dict(errors), ended_at=self.now(),
                              status="completed" if done == len(unique) else "interrupted")
        return self.store.run(run_id)

    async def _stream_oi(self, item: RunItem, wait: float, errors: Counter) -> dict[str, Any] | None:
        ib = self.connection.ib
        attribute = "callOpenInterest" if item.right == "C" else "putOpenInterest"
        async with self.governor.line():
            if not self.connection.connected:
                return None
            await self.governor.message()
            contract = item.contract()
            ticker = ib.reqMktData(contract, "101", snapshot=False)
            deadline = time.monotonic() + wait
            try:
                while time.monotonic() < deadline and not math.isfinite(getattr(ticker, attribute)):
                    if item.con_id in self._codes:
                        break
                    await asyncio.sleep(0.02)
            finally:
                if self.connection.connected:
                    await self.governor.message()
                    ib.cancelMktData(contract)
        code = self._codes.pop(item.con_id, None)
        if code is not None:
            errors[code] += 1
        value = clean_size(getattr(ticker, attribute))
        if value is None:
            return quote_row(item, None, recorded_at=self.now(), error_code=code if code is not None else -1)
        row = quote_row(item, None, recorded_at=self.now())
        row.update(open_interest=value, market_data_type=int(ticker.marketDataType or 0) or None)
        return row
