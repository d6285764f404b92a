"""Loss-free storage of HK ticks on SQLite and MySQL, and the feed end to end against the local server."""
from __future__ import annotations

import asyncio
import random
import time

import peewee
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from src.datafeed.hk import protocol as p
from src.datafeed.hk.client import AllTickClient
from src.datafeed.hk.pipeline import FeedProcessor
from src.datafeed.hk.storage import Overflow, StoreSettings, TickStore, epoch_ms
from src.datafeed.hk.validation import Depth, Trade
from src.strategy.infrastructure.persistence.database_connection import open_database
from tests.db_backends import execute
from tests.integration.datafeed.hk.alltick_server import Faults, LocalAllTickServer
from tests.integration.datafeed.hk.support import TOKEN, Token
from tests.integration.datafeed.hk.test_client import fast_settings

T0 = 1_765_000_000_000


def trade(seq: int, ms: int = T0, code: str = "700.HK") -> Trade:
    return Trade(code, seq, ms, 380.0 + seq / 100, 100.0, 38000.0, 1, ms / 1000 + 0.002)


@pytest.fixture
def database(database_location):
    db = open_database(database_location)
    yield db
    db.close()


def test_two_trades_in_the_same_millisecond_are_both_kept_and_repeats_are_ignored(database, database_location):
    store = TickStore(database, StoreSettings(batch_rows=10, batch_ms=5)).start()
    for item in (trade(1), trade(2), trade(1), Depth("700.HK", 7, T0, ((379.8, 100.0),), ((380.2, 50.0),), T0 / 1000)):
        store._put(item)
    assert store.close()
    rows = execute(database_location, "SELECT seq, tick_time, received_at, price FROM hk_trade_tick ORDER BY seq")
    assert [row[0] for row in rows] == [1, 2]
    assert epoch_ms(rows[0][1]) == T0 and epoch_ms(rows[0][2]) == T0 + 2
    book = execute(database_location, "SELECT seq, bid_price_1, ask_price_1, bids FROM hk_depth_snapshot")
    assert book == [(7, 379.8, 380.2, "[[379.8, 100.0]]")]
    assert store.stats.trades_written == 3  # the repeat was sent, the database kept one


def test_the_checkpoint_lets_a_restart_find_where_it_stopped(database, database_location):
    store = TickStore(database).start()
    for seq in (1, 2, 3, 7):
        store.put_trade(trade(seq, T0 + seq))
    store.put_trade(trade(4, T0 + 4, code="9988.HK"))
    assert store.close()
    again = TickStore(open_database(database_location))
    assert again.load_checkpoint() == {"700.HK": (7, T0 + 7), "9988.HK": (4, T0 + 4)}
    processor = FeedProcessor(["700.HK"], again)
    again.start()
    processor.on_push(p.CMD_PUSH_TRADE, {"code": "700.HK", "seq": "7", "tick_time": str(T0 + 8), "price": "1",
                                         "volume": "1", "turnover": "1"}, T0 / 1000 + 1)
    processor.on_push(p.CMD_PUSH_TRADE, {"code": "700.HK", "seq": "10", "tick_time": str(T0 + 9), "price": "1",
                                         "volume": "1", "turnover": "1"}, T0 / 1000 + 1)
    assert again.close()
    assert again.trade_seqs("700.HK") == [1, 2, 3, 7, 10]
    assert again.gaps("700.HK") == [("700.HK", 8, 9, 0)]
    assert sum(processor.validator.rejects.values()) == 1


@pytest.mark.parametrize("overflow, kept", [(Overflow.DROP_NEWEST, [1, 2, 3, 4, 5]),
                                            (Overflow.DROP_OLDEST, [4, 5, 6, 7, 8])])
def test_a_full_buffer_drops_by_its_policy_counts_and_records_the_drops(tmp_path, overflow, kept):
    from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
    database = open_database(DatabaseLocation.sqlite(tmp_path / "hk.db"))
    store = TickStore(database, StoreSettings(batch_rows=5, capacity=5, overflow=overflow))
    for seq in range(1, 9):
        store.put_trade(trade(seq))
    assert store.stats.dropped == {"trade": 3}
    store.start()
    assert store.close()
    assert store.trade_seqs("700.HK") == kept
    missing = sorted(set(range(1, 9)) - set(kept))
    assert store.gaps(cause="overflow") == [("700.HK", missing[0], missing[-1], 0)]
    assert store.gaps(cause="feed") == []
    assert store.fill_gap([trade(seq) for seq in missing]) == 3
    assert store.trade_seqs("700.HK") == list(range(1, 9))
    assert store.gaps() == [("700.HK", missing[0], missing[-1], 3)]


def test_a_failed_write_keeps_its_batch_and_retries(database):
    failures = []

    def flaky(rows: int) -> None:
        if not failures:
            failures.append(rows)
            raise peewee.OperationalError("database is locked")

    store = TickStore(database, StoreSettings(batch_rows=50, batch_ms=5, retry_delay=0.01), before_commit=flaky)
    store.start()
    for seq in range(1, 201):
        store.put_trade(trade(seq))
    assert store.close()
    assert store.stats.write_failures == 1 and failures
    assert store.trade_seqs("700.HK") == list(range(1, 201))


def test_end_to_end_through_drops_and_seq_gaps_every_sent_trade_is_stored_and_every_skipped_seq_recorded(
        database, database_location):
    server = LocalAllTickServer(trades_per_code=300, push_rate=3000, faults=Faults(drop_after_pushes=70, gap_every=50))
    store = TickStore(database, StoreSettings(batch_rows=100, batch_ms=5)).start()
    processor = FeedProcessor(["700.HK", "9988.HK"], store)
    client = AllTickClient(Token(TOKEN), ["700.HK", "9988.HK"], processor.on_push, fast_settings(server),
                           rng=random.Random(2))

    async def scenario():
        await server.start()
        task = asyncio.create_task(client.run())
        try:
            async with asyncio.timeout(20):
                while not server.finished():
                    await asyncio.sleep(0.01)
                await asyncio.sleep(0.05)
            client.stop()
            await asyncio.wait_for(task, 5)
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert store.close()
    assert client.counters.reconnects >= 3
    for code in ("700.HK", "9988.HK"):
        expected = [seq for seq in range(1, 301) if seq % 50]
        assert store.trade_seqs(code) == expected
        assert store.gaps(code, cause="feed") == [(code, seq, seq, 0) for seq in range(50, 300, 50)]
    assert store.stats.dropped_total == 0 and processor.validator.rejected_total == 0
    depth_rows = execute(database_location, "SELECT COUNT(*) FROM hk_depth_snapshot")[0][0]
    assert depth_rows > 0
    last = execute(database_location, "SELECT last_seq, last_tick_time FROM hk_feed_checkpoint "
                                      "WHERE code = '700.HK' AND stream = 'trade'")
    assert last[0][0] == 299 and epoch_ms(last[0][1]) > T0 - 86_400_000


def test_a_burst_into_a_slow_database_loses_nothing_beyond_the_counted_overflow(tmp_path):
    from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation

    server = LocalAllTickServer(trades_per_code=2500, push_rate=10_000, depth_every=0)
    store = TickStore(open_database(DatabaseLocation.sqlite(tmp_path / "burst.db")),
                      StoreSettings(batch_rows=100, batch_ms=5, capacity=500),
                      before_commit=lambda rows: time.sleep(0.02)).start()
    processor = FeedProcessor(["700.HK", "9988.HK"], store)
    client = AllTickClient(Token(TOKEN), ["700.HK", "9988.HK"], processor.on_push, fast_settings(server),
                           rng=random.Random(3))

    async def scenario():
        await server.start()
        task = asyncio.create_task(client.run())
        try:
            async with asyncio.timeout(20):
                while processor.validator.trades_accepted < 5000:
                    await asyncio.sleep(0.01)
            client.stop()
            await asyncio.wait_for(task, 5)
        finally:
            await server.stop()

    asyncio.run(asyncio.wait_for(scenario(), 30))
    assert store.close(timeout=60)
    stats = store.stats
    assert stats.dropped.get("trade", 0) > 0  # the buffer did overflow
    for code in ("700.HK", "9988.HK"):
        stored = set(store.trade_seqs(code))
        in_gaps = {seq for _, first, last, _ in store.gaps(code, cause="overflow") for seq in range(first, last + 1)}
        assert stored | in_gaps == set(range(1, 2501)) and not stored & in_gaps
    assert sum(len(store.trade_seqs(c)) for c in ("700.HK", "9988.HK")) + stats.dropped_total == 5000


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(jumps=st.lists(st.integers(1, 4), min_size=1, max_size=120), capacity=st.integers(5, 40),
       batch=st.integers(1, 5), newest=st.booleans())
def test_every_seq_is_stored_or_in_a_gap_never_both(jumps, capacity, batch, newest):
    import tempfile
    from pathlib import Path

    from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation

    with tempfile.TemporaryDirectory() as folder:
        store = TickStore(open_database(DatabaseLocation.sqlite(Path(folder) / "p.db")),
                          StoreSettings(batch_rows=batch, batch_ms=1, capacity=max(capacity, batch),
                                        overflow=Overflow.DROP_NEWEST if newest else Overflow.DROP_OLDEST))
        processor = FeedProcessor(["700.HK"], store)
        seq = 0
        for jump in jumps:  # the store is not started: the buffer fills and overflows
            seq += jump
            processor.on_push(p.CMD_PUSH_TRADE, {"code": "700.HK", "seq": str(seq), "tick_time": str(T0 + seq),
                                                 "price": "1.5", "volume": "100", "turnover": "150"}, T0 / 1000)
        store.start()
        assert store.close()
        stored = store.trade_seqs("700.HK")
        covered = [s for _, first, last, _ in store.gaps("700.HK") for s in range(first, last + 1)]
        assert sorted(stored + covered) == list(range(jumps[0], seq + 1))
        assert len(stored) + store.stats.dropped_total == len(jumps)
        store.database.close()
