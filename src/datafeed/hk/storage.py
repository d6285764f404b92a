"""Loss-free storage of HK trades and order books: a bounded buffer and a batched writer thread.

The feed (asyncio) only appends to a bounded in-memory buffer; a writer thread
takes up to ``batch_rows`` rows at a time, at the latest ``batch_ms`` after the
first waiting row, and writes them in one transaction together with the gaps
found and the checkpoint (last seq and time per code). Parsing never waits for
the database.

- Trades and books are keyed by (code, seq) and inserted with "insert or ignore",
  so a row seen twice (a reconnect, a retried batch) is stored once.
- The buffer holds at most ``capacity`` rows. When full, the ``overflow`` policy
  decides: ``drop_newest`` refuses the incoming row, ``drop_oldest`` evicts the
  oldest waiting one; either way the row is counted in ``dropped`` (by kind) and
  its seq range is recorded as a gap so it can be found (and refilled) later.
  Nothing else is ever lost: a failed write keeps its batch at the front of the
  buffer and is retried after ``retry_delay``.
- The checkpoint (``hk_feed_checkpoint``) is written in the same transaction as
  the rows, so after a crash it never claims a row that is not stored.

Gap filling: AllTick's REST "latest trade" query returns only the newest trade
of a code; by the time a gap is seen (a later seq arrived) the missing trades
are no longer the newest, so that query cannot fill it. Gaps are recorded with
``filled_count`` 0; ``fill_gap`` marks rows recovered from any other source.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import Enum

import peewee

from src.datafeed.hk.validation import GAP_OVERFLOW, Depth, SeqGap, Trade
from src.strategy.infrastructure.persistence.database_connection import CONNECTION_ERRORS
from src.strategy.infrastructure.persistence.hk_tick_schema import (
    DEPTH_TABLE,
    TRADE_TABLE,
    HkTables,
    bind_hk_tables,
)
from src.strategy.infrastructure.persistence.schema import ensure_schema

logger = logging.getLogger("datafeed.hk.storage")

# Hong Kong has kept UTC+8 all year since 1979: a naive local time is the epoch plus 8 hours plus the offset.
_LOCAL_EPOCH = datetime(1970, 1, 1, 8, 0, 0)
STREAM_TRADE = "trade"
STREAM_DEPTH = "depth"


def local_time_ms(ms: int) -> datetime:
    """Naive Hong Kong wall-clock time of a Unix time in milliseconds."""
    return _LOCAL_EPOCH + timedelta(milliseconds=ms)


def local_time_s(seconds: float) -> datetime:
    return _LOCAL_EPOCH + timedelta(seconds=seconds)


class _TimeText:
    """``YYYY-MM-DD HH:MM:SS.ffffff`` (HK wall clock) of Unix microseconds; the part to the second is cached,
    since a burst brings many trades per second. Both SQLite and MySQL's DATETIME(6) take this text."""

    __slots__ = ("second", "prefix")

    def __init__(self) -> None:
        self.second = None
        self.prefix = ""

    def __call__(self, microseconds: int) -> str:
        second, fraction = divmod(microseconds, 1_000_000)
        if second != self.second:
            self.second = second
            self.prefix = (_LOCAL_EPOCH + timedelta(seconds=second)).strftime("%Y-%m-%d %H:%M:%S")
        return f"{self.prefix}.{fraction:06d}"


def epoch_ms(local: datetime | str) -> int:
    if isinstance(local, str):
        local = datetime.fromisoformat(local)
    return round((local - _LOCAL_EPOCH) / timedelta(milliseconds=1))


class Overflow(str, Enum):
    DROP_NEWEST = "drop_newest"
    DROP_OLDEST = "drop_oldest"


@dataclass(frozen=True)
class StoreSettings:
    batch_rows: int = 2000
    batch_ms: float = 100.0
    capacity: int = 200_000
    overflow: Overflow = Overflow.DROP_OLDEST
    retry_delay: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.batch_rows, int) or self.batch_rows < 1:
            raise ValueError(f"batch_rows must be >= 1, got {self.batch_rows!r}")
        if not self.batch_ms > 0:
            raise ValueError(f"batch_ms must be > 0, got {self.batch_ms!r}")
        if not isinstance(self.capacity, int) or self.capacity < self.batch_rows:
            raise ValueError(f"capacity must be an integer >= batch_rows ({self.batch_rows}), got {self.capacity!r}")
        if not isinstance(self.overflow, Overflow):
            raise ValueError(f"overflow must be one of {[o.value for o in Overflow]}, got {self.overflow!r}")


@dataclass(frozen=True)
class StoreStats:
    trades_written: int
    depth_written: int
    gaps_written: int
    dropped: dict[str, int]
    buffered: int
    high_water: int
    batches: int
    write_failures: int
    lag_ms_p50: float | None
    lag_ms_p99: float | None
    lag_ms_max: float | None

    @property
    def dropped_total(self) -> int:
        return sum(self.dropped.values())


CommitHook = Callable[[list, float], None]


class TickStore:
    """``put_trade`` / ``put_depth`` / ``put_gap`` from the feed; ``start()`` the writer; ``close()`` drains."""

    def __init__(self, database: peewee.Database, settings: StoreSettings | None = None, *,
                 on_commit: CommitHook | None = None, before_commit: Callable[[int], None] | None = None,
                 wall_clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.settings = settings or StoreSettings()
        self.on_commit = on_commit
        self.before_commit = before_commit  # benchmarks slow the database down here
        self.wall_clock = wall_clock
        ensure_schema(database)
        self.tables: HkTables = bind_hk_tables(database)
        self._mysql = isinstance(database, peewee.MySQLDatabase)
        ignore = "INSERT IGNORE" if self._mysql else "INSERT OR IGNORE"
        mark = database.param
        self._trade_sql = (f"{ignore} INTO {TRADE_TABLE} (code, seq, tick_time, received_at, price, volume, turnover, "
                           f"trade_direction) VALUES ({', '.join([mark] * 8)})")
        self._depth_sql = (f"{ignore} INTO {DEPTH_TABLE} (code, seq, tick_time, received_at, bid_price_1, "
                           f"ask_price_1, bids, asks) VALUES ({', '.join([mark] * 8)})")
        self._buffer: deque = deque()
        self._gaps: list[SeqGap] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._capacity = self.settings.capacity
        self._batch_rows = self.settings.batch_rows
        self._drop_newest = self.settings.overflow is Overflow.DROP_NEWEST
        self._thread: threading.Thread | None = None
        self._closing = False
        self._dropped: Counter[str] = Counter()
        self._high_water = 0
        self._trades_written = 0
        self._depth_written = 0
        self._gaps_written = 0
        self._batches = 0
        self._write_failures = 0
        self._lags: deque = deque(maxlen=20_000)
        self._lag_max: float | None = None
        self._in_flight = False
        self._close_deadline = float("inf")
        self._tick_text = _TimeText()
        self._received_text = _TimeText()

    # ------------------------------------------------------------------ feed side (any thread)

    def put_trade(self, trade: Trade) -> bool:
        return self._put(trade)

    def put_depth(self, depth: Depth) -> bool:
        return self._put(depth)

    def put_gap(self, gap: SeqGap) -> bool:
        """Gaps are never dropped: they are what tells a reader that something is missing."""
        with self._lock:
            self._gaps.append(gap)
        return True

    def _put(self, item) -> bool:
        # deque.append/popleft are atomic: the lock is taken only to drop, so the feed's path stays short.
        buffer = self._buffer
        if len(buffer) >= self._capacity:
            with self._lock:
                if len(buffer) >= self._capacity:
                    if self._drop_newest:
                        self._count_drop(item)
                        return False
                    try:
                        self._count_drop(buffer.popleft())
                    except IndexError:
                        pass
        buffer.append(item)
        size = len(buffer)
        if size > self._high_water:
            self._high_water = size
        if size >= self._batch_rows and not self._wake.is_set():
            self._wake.set()
        return True

    def _count_drop(self, item) -> None:
        kind = type(item).__name__.lower()
        self._dropped[kind] += 1
        if type(item) is Trade:
            # Recorded as a gap so the lost trade can be found and refilled; consecutive drops make one gap.
            gaps = self._gaps
            last = gaps[-1] if gaps else None
            if last is not None and last.code == item.code and last.cause == GAP_OVERFLOW \
                    and last.last_missing + 1 == item.seq:
                gaps[-1] = last._replace(last_missing=item.seq)
            else:
                gaps.append(SeqGap(item.code, item.seq, item.seq, self.wall_clock(), GAP_OVERFLOW))

    # ------------------------------------------------------------------ writer

    def start(self) -> TickStore:
        self._thread = threading.Thread(target=self._write_loop, name="hk-tick-writer", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 30.0) -> bool:
        """Write everything still buffered (while the database answers, up to ``timeout``); True when empty."""
        self._close_deadline = time.monotonic() + timeout
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self._drain(self._close_deadline)
        return not self._buffer and not self._gaps

    def flush(self, timeout: float = 10.0) -> bool:
        """Block until the buffer is empty (writer running), up to ``timeout``; True when empty."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self._buffer and not self._gaps and not self._in_flight:
                return True
            self._wake.set()
            time.sleep(0.005)
        return False

    def _write_loop(self) -> None:
        buffer, wake = self._buffer, self._wake
        linger = self.settings.batch_ms / 1000.0
        while True:
            if not self._closing and len(buffer) < self._batch_rows:
                wake.wait(linger)
            wake.clear()
            if self._closing and not buffer and not self._gaps:
                break
            batch = self._take(self._batch_rows)
            if batch and not self._write(batch):
                self._requeue(batch)
                if self._closing and time.monotonic() > self._close_deadline:
                    break
                time.sleep(self.settings.retry_delay)
        self._close_connection()

    def _drain(self, deadline: float) -> None:
        while (self._buffer or self._gaps) and time.monotonic() < deadline:
            batch = self._take(self._batch_rows)
            if not self._write(batch):
                self._requeue(batch)
                time.sleep(self.settings.retry_delay)

    def _take(self, n: int) -> list:
        buffer = self._buffer
        batch = []
        append = batch.append
        with self._lock:
            try:
                for _ in range(min(n, len(buffer))):
                    append(buffer.popleft())
            except IndexError:
                pass
            if self._gaps:
                batch.extend(self._gaps)
                self._gaps = []
        self._in_flight = bool(batch)
        return batch

    def _requeue(self, batch: list) -> None:
        with self._lock:
            self._buffer.extendleft(reversed([item for item in batch if type(item) is not SeqGap]))
            self._gaps[:0] = [item for item in batch if type(item) is SeqGap]

    def _write(self, batch: list) -> bool:
        trades: list[tuple] = []
        depths: list[tuple] = []
        gaps: list[SeqGap] = []
        times: list[int] = []
        checkpoints: dict[tuple[str, str], tuple[int, int]] = {}
        tick_text, received_text = self._tick_text, self._received_text
        for item in batch:
            if type(item) is Trade:
                code, seq, ms, price, volume, turnover, direction, received = item
                trades.append((code, seq, tick_text(ms * 1000), received_text(int(received * 1_000_000)), price,
                               volume, turnover, direction))
                times.append(ms)
                key = (code, STREAM_TRADE)
                previous = checkpoints.get(key)
                if previous is None or seq > previous[0]:
                    checkpoints[key] = (seq, ms)
            elif type(item) is Depth:
                depths.append((item.code, item.seq, tick_text(item.tick_time_ms * 1000),
                               received_text(int(item.received_at * 1_000_000)),
                               item.bids[0][0] if item.bids else None, item.asks[0][0] if item.asks else None,
                               json.dumps(item.bids), json.dumps(item.asks)))
                key = (item.code, STREAM_DEPTH)
                previous = checkpoints.get(key)
                if previous is None or item.seq > previous[0]:
                    checkpoints[key] = (item.seq, item.tick_time_ms)
            else:
                gaps.append(item)
        try:
            with self.database.atomic():
                cursor = self.database.cursor()
                if trades:
                    cursor.executemany(self._trade_sql, trades)
                if depths:
                    cursor.executemany(self._depth_sql, depths)
                if gaps:
                    self._write_gaps(gaps)
                if checkpoints:
                    self._write_checkpoints(checkpoints)
                if self.before_commit is not None:
                    self.before_commit(len(batch))
        except CONNECTION_ERRORS + (peewee.DatabaseError,) as error:
            self._write_failures += 1
            logger.error("cannot write %d HK rows (kept, retried in %.1f s): %s: %s", len(batch),
                         self.settings.retry_delay, type(error).__name__, str(error).splitlines()[0][:200])
            self._close_connection()
            self._in_flight = False
            return False
        committed = self.wall_clock()
        self._batches += 1
        self._trades_written += len(trades)
        self._depth_written += len(depths)
        self._gaps_written += len(gaps)
        if times:
            now_ms = committed * 1000.0
            self._lags.extend([now_ms - ms for ms in times])
            worst = now_ms - min(times)
            if self._lag_max is None or worst > self._lag_max:
                self._lag_max = worst
        if self.on_commit is not None:
            self.on_commit(batch, time.perf_counter())
        self._in_flight = False
        return True

    def _write_gaps(self, gaps: list[SeqGap]) -> None:
        merged: list[SeqGap] = []
        for gap in sorted(gaps, key=lambda g: (g.code, g.cause, g.first_missing)):
            last = merged[-1] if merged else None
            if last is not None and (last.code, last.cause) == (gap.code, gap.cause) \
                    and gap.first_missing <= last.last_missing + 1:
                merged[-1] = last._replace(last_missing=max(last.last_missing, gap.last_missing))
            else:
                merged.append(gap)
        gaps = merged
        rows = [{"code": gap.code, "stream": STREAM_TRADE, "first_missing": gap.first_missing,
                 "last_missing": gap.last_missing, "detected_at": local_time_s(gap.detected_at), "filled_count": 0,
                 "cause": gap.cause}
                for gap in gaps]
        self.tables.gap.insert_many(rows).on_conflict_ignore().execute()

    def _write_checkpoints(self, checkpoints: dict[tuple[str, str], tuple[int, int]]) -> None:
        """One upsert for all codes of the batch; the stored seq only moves forward."""
        model = self.tables.checkpoint
        now = local_time_s(self.wall_clock())
        rows = [{"code": code, "stream": stream, "last_seq": seq, "last_tick_time": local_time_ms(ms),
                 "updated_at": now} for (code, stream), (seq, ms) in sorted(checkpoints.items())]
        if self._mysql:
            query = model.insert_many(rows).on_conflict(update={
                model.last_seq: peewee.fn.GREATEST(model.last_seq, peewee.SQL("VALUES(last_seq)")),
                model.last_tick_time: peewee.SQL("VALUES(last_tick_time)"),
                model.updated_at: peewee.SQL("VALUES(updated_at)")})
        else:
            query = model.insert_many(rows).on_conflict(
                conflict_target=[model.code, model.stream],
                update={model.last_seq: peewee.fn.MAX(model.last_seq, peewee.SQL("excluded.last_seq")),
                        model.last_tick_time: peewee.SQL("excluded.last_tick_time"),
                        model.updated_at: peewee.SQL("excluded.updated_at")})
        query.execute()

    def _close_connection(self) -> None:
        try:
            if not self.database.is_closed():
                self.database.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not raise
            pass

    # ------------------------------------------------------------------ reading

    @property
    def stats(self) -> StoreStats:
        lags = sorted(self._lags)
        pick = (lambda q: lags[min(len(lags) - 1, int(q * len(lags)))]) if lags else (lambda q: None)
        with self._lock:
            buffered = len(self._buffer)
            dropped = dict(self._dropped)
        return StoreStats(self._trades_written, self._depth_written, self._gaps_written, dropped, buffered,
                          self._high_water, self._batches, self._write_failures, pick(0.5), pick(0.99),
                          self._lag_max)

    def reset_lags(self) -> None:
        self._lags.clear()

    def load_checkpoint(self, stream: str = STREAM_TRADE) -> dict[str, tuple[int, int]]:
        """code -> (last seq, last exchange time in ms) as stored."""
        model = self.tables.checkpoint
        rows = model.select().where(model.stream == stream).dicts()
        return {row["code"]: (row["last_seq"], epoch_ms(row["last_tick_time"])) for row in rows}

    def gaps(self, code: str | None = None, cause: str | None = None) -> list[tuple[str, int, int, int]]:
        """(code, first missing, last missing, filled count), by code and seq; ``cause`` "feed" or "overflow"."""
        model = self.tables.gap
        query = model.select().order_by(model.code, model.first_missing)
        if code is not None:
            query = query.where(model.code == code)
        if cause is not None:
            query = query.where(model.cause == cause)
        return [(row.code, row.first_missing, row.last_missing, row.filled_count) for row in query]

    def trade_seqs(self, code: str) -> list[int]:
        model = self.tables.trade
        return [seq for (seq,) in model.select(model.seq).where(model.code == code).order_by(model.seq).tuples()]

    def fill_gap(self, trades: Iterable[Trade]) -> int:
        """Store trades recovered from another source and count them on their gaps; the number stored."""
        trades = list(trades)
        if not trades:
            return 0
        rows = [(t.code, t.seq, local_time_ms(t.tick_time_ms), local_time_s(t.received_at), t.price, t.volume,
                 t.turnover, t.direction) for t in trades]
        gap = self.tables.gap
        with self.database.atomic():
            cursor = self.database.cursor()
            cursor.executemany(self._trade_sql, rows)
            for t in trades:
                gap.update(filled_count=gap.filled_count + 1).where(
                    (gap.code == t.code) & (gap.first_missing <= t.seq) & (gap.last_missing >= t.seq)).execute()
        return len(rows)
