"""Figures of the HK tick feed (AllTick client, validation, loss-free storage) against the local server.

    .venv/bin/python scripts/bench_hk_ticks.py [--messages 200000] [--e2e-seconds 20] [--reconnect-seconds 60]
                                               [--only throughput,e2e,reconnect,burst]

1. Throughput, parse + validate + store, one core (the process is pinned to CPU 0):
   pre-built AllTick trade pushes go through the client's message handler, the
   validator and the batched SQLite writer until the last row is committed. The
   reference, in the same process and on the same core, is the least a program
   can do with the same input: ``json.loads`` and an ``INSERT OR IGNORE``
   ``executemany`` per 2,000 rows with plain ``sqlite3`` (no validation, no
   thread, no gaps or checkpoint).
2. End to end at 5,000 msg/s: the local server in a process of its own pushes
   trades of 10 codes at 5,000 messages a second for ``--e2e-seconds``; latency is
   from the server's send (perf_counter, the same system-wide monotonic clock) to
   the commit of the row; loss is checked by seq against what was sent.
3. Reconnects in ``--reconnect-seconds`` against a flapping server (one push,
   then drop) and against a bad token, with the shipped settings (1 s initial
   delay, 60 s cap, reset after 60 s healthy); beside them, in the same window,
   websockets' own ``async for ws in connect(...)`` loop against the same servers.
4. Morning burst: 20,000 trades in 2 s while every commit is slowed down
   (``--slow-ms`` per batch of 500): with a 5,000-row buffer (overflow counted,
   and recorded as gaps) and with the default 200,000-row buffer (nothing dropped).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import logging
import multiprocessing
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from websockets.asyncio.client import connect  # noqa: E402

from src.datafeed.hk import protocol as p  # noqa: E402
from src.datafeed.hk.client import AllTickClient, ClientSettings  # noqa: E402
from src.datafeed.hk.pipeline import FeedProcessor  # noqa: E402
from src.datafeed.hk.storage import Overflow, StoreSettings, TickStore  # noqa: E402
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation, open_database  # noqa: E402
from tests.integration.datafeed.hk.alltick_server import Faults, LocalAllTickServer, ServerThread  # noqa: E402

TOKEN = "bench-token"
CODES = [f"{n}.HK" for n in (700, 9988, 5, 941, 1299, 3690, 1810, 388, 2318, 883)]


class _Token:
    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value


def pushes(n: int, codes: list[str]) -> list[str]:
    base = int(time.time() * 1000) - 3_600_000
    out = []
    for i in range(n):
        code = codes[i % len(codes)]
        seq = i // len(codes) + 1
        price = 100 + (i % 50) / 10
        out.append(json.dumps({"cmd_id": p.CMD_PUSH_TRADE, "data": {
            "code": code, "seq": str(seq), "tick_time": str(base + i // 10), "price": f"{price:.2f}",
            "volume": "400", "turnover": f"{price * 400:.2f}", "trade_direction": 1}}, separators=(",", ":")))
    return out


# ---------------------------------------------------------------------------- 1. throughput

def bench_throughput(n: int, folder: Path) -> dict:
    folder.mkdir(parents=True, exist_ok=True)
    raws = pushes(n, CODES)
    location = DatabaseLocation.sqlite(folder / "ours.db")
    store = TickStore(open_database(location), StoreSettings(batch_rows=2000, batch_ms=50, capacity=n + 10))
    processor = FeedProcessor(CODES, store)
    client = AllTickClient(_Token(TOKEN), CODES, processor.on_push, ClientSettings())
    store.start()
    started = first = time.perf_counter()
    handle = client._on_raw
    for raw in raws:
        handle(raw)
    parsed = time.perf_counter()
    store.close(timeout=300)
    ours = time.perf_counter() - started
    assert store.stats.trades_written == n, store.stats

    connection = sqlite3.connect(folder / "reference.db")
    connection.execute("PRAGMA journal_mode=WAL")
    connection.execute("PRAGMA synchronous=FULL")
    connection.execute("CREATE TABLE t (code TEXT, seq INTEGER, tick_time INTEGER, price REAL, volume REAL, "
                       "turnover REAL, PRIMARY KEY (code, seq))")
    started = time.perf_counter()
    batch = []
    for raw in raws:
        d = json.loads(raw)["data"]
        batch.append((d["code"], d["seq"], d["tick_time"], d["price"], d["volume"], d["turnover"]))
        if len(batch) == 2000:
            connection.executemany("INSERT OR IGNORE INTO t VALUES (?, ?, ?, ?, ?, ?)", batch)
            connection.commit()
            batch = []
    if batch:
        connection.executemany("INSERT OR IGNORE INTO t VALUES (?, ?, ?, ?, ?, ?)", batch)
        connection.commit()
    reference = time.perf_counter() - started
    connection.close()
    return {"messages": n, "ours_msg_s": n / ours, "handler_msg_s": n / (parsed - first),
            "reference_msg_s": n / reference, "ours_s": ours, "reference_s": reference,
            "ratio": (n / ours) / (n / reference)}


# ---------------------------------------------------------------------------- 2. end to end

def _server_process(port_queue, stop_event, result_queue, rate: float, per_code: int) -> None:
    send_log: dict = {}
    server = LocalAllTickServer(tokens=(TOKEN,), trades_per_code=per_code, push_rate=rate, depth_every=0,
                                send_log=send_log)

    async def main():
        await server.start()
        port_queue.put(server.port)
        while not stop_event.is_set():
            await asyncio.sleep(0.05)
        await server.stop()

    asyncio.run(main())
    result_queue.put({f"{code}|{seq}": t for (code, seq), t in send_log.items()})


def bench_e2e(seconds: float, folder: Path, rate: float = 5000.0) -> dict:
    per_code = int(rate * seconds / len(CODES))
    ctx = multiprocessing.get_context("spawn")
    port_queue, result_queue, stop_event = ctx.Queue(), ctx.Queue(), ctx.Event()
    process = ctx.Process(target=_server_process, args=(port_queue, stop_event, result_queue, rate, per_code))
    process.start()
    port = port_queue.get(timeout=60)
    committed: dict[tuple[str, int], float] = {}

    def on_commit(batch, at):
        for item in batch:
            if type(item).__name__ == "Trade":
                committed[(item.code, item.seq)] = at

    store = TickStore(open_database(DatabaseLocation.sqlite(folder / "e2e.db")),
                      StoreSettings(batch_rows=500, batch_ms=5), on_commit=on_commit).start()
    processor = FeedProcessor(CODES, store)
    settings = ClientSettings(url=f"ws://127.0.0.1:{port}/quote-stock-b-ws-api", request_interval=0.0,
                              protocol_ping_interval=None, compression=None, depth=False)
    client = AllTickClient(_Token(TOKEN), CODES, processor.on_push, settings)

    async def run():
        task = asyncio.create_task(client.run())
        deadline = time.monotonic() + seconds * 3 + 30
        while processor.validator.trades_accepted < per_code * len(CODES) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        client.stop()
        await asyncio.wait_for(task, 10)

    started = time.perf_counter()
    asyncio.run(run())
    elapsed = time.perf_counter() - started
    store.close(timeout=60)
    stop_event.set()
    sent = result_queue.get(timeout=60)
    process.join(timeout=30)
    latencies = sorted((committed[key] - sent[f"{key[0]}|{key[1]}"]) * 1000 for key in committed
                       if f"{key[0]}|{key[1]}" in sent)
    stored = {code: store.trade_seqs(code) for code in CODES}
    lost = sum(per_code - len(seqs) for seqs in stored.values())
    return {"rate": rate, "sent": len(sent), "stored": sum(len(s) for s in stored.values()), "lost_by_seq": lost,
            "p50_ms": statistics.median(latencies), "p99_ms": latencies[int(0.99 * (len(latencies) - 1))],
            "max_ms": latencies[-1], "elapsed_s": elapsed, "reconnects": client.counters.reconnects}


# ---------------------------------------------------------------------------- 3. reconnects

async def _ours(url: str, token: str, seconds: float) -> dict:
    client = AllTickClient(_Token(token), ["700.HK"], lambda *a: None,
                           ClientSettings(url=url, protocol_ping_interval=None, compression=None))
    task = asyncio.create_task(client.run())
    try:
        await asyncio.wait_for(asyncio.shield(task), seconds)
    except TimeoutError:
        client.stop()
        await asyncio.wait_for(task, 10)
    return {"connects": client.counters.connects, "delays": [round(d, 2) for d in client.counters.delays],
            "fatal": client.fatal.ret if client.fatal else None}


async def _websockets_own_loop(url: str, token: str, seconds: float) -> int:
    """What websockets offers: reconnect on its own, backoff reset after every successful handshake."""
    connects = 0

    async def loop():
        nonlocal connects
        async for ws in connect(f"{url}?token={token}", proxy=None, compression=None):
            connects += 1
            try:
                await ws.send(p.subscribe_trades(1, ["700.HK"]))
                async for _ in ws:
                    pass
            except Exception:  # noqa: BLE001 - the loop's point is to carry on
                pass

    try:
        await asyncio.wait_for(loop(), seconds)
    except TimeoutError:
        pass
    return connects


def bench_reconnects(seconds: float) -> dict:
    flapping = LocalAllTickServer(tokens=(TOKEN,), trades_per_code=10**9, push_rate=100, depth_every=0,
                                  faults=Faults(drop_after_pushes=1))
    flapping_ref = LocalAllTickServer(tokens=(TOKEN,), trades_per_code=10**9, push_rate=100, depth_every=0,
                                      faults=Faults(drop_after_pushes=1))
    token_server = LocalAllTickServer(tokens=(TOKEN,))
    token_ref = LocalAllTickServer(tokens=(TOKEN,))
    with ServerThread(flapping), ServerThread(flapping_ref), ServerThread(token_server), ServerThread(token_ref):
        async def all_four():
            return await asyncio.gather(_ours(flapping.url, TOKEN, seconds),
                                        _websockets_own_loop(flapping_ref.url, TOKEN, seconds),
                                        _ours(token_server.url, "bad-token", seconds),
                                        _websockets_own_loop(token_ref.url, "bad-token", seconds))
        ours_flap, ref_flap, ours_token, ref_token = asyncio.run(all_four())
    return {"seconds": seconds, "ours_flapping": ours_flap, "websockets_flapping": ref_flap,
            "ours_bad_token": ours_token, "websockets_bad_token": ref_token}


# ---------------------------------------------------------------------------- 4. morning burst

def bench_burst(folder: Path, slow_ms: float, capacity: int, name: str) -> dict:
    per_code = 10_000
    codes = ["700.HK", "9988.HK"]
    server = LocalAllTickServer(tokens=(TOKEN,), trades_per_code=per_code, push_rate=10_000, depth_every=0)

    def slow(rows: int) -> None:
        time.sleep(slow_ms / 1000.0)

    store = TickStore(open_database(DatabaseLocation.sqlite(folder / f"burst-{name}.db")),
                      StoreSettings(batch_rows=500, batch_ms=20, capacity=capacity, overflow=Overflow.DROP_OLDEST),
                      before_commit=slow).start()
    processor = FeedProcessor(codes, store)
    with ServerThread(server):
        client = AllTickClient(_Token(TOKEN), codes, processor.on_push,
                               ClientSettings(url=server.url, request_interval=0.0, protocol_ping_interval=None,
                                              compression=None, depth=False))

        async def run():
            task = asyncio.create_task(client.run())
            started = time.perf_counter()
            deadline = time.monotonic() + 60
            while processor.validator.trades_accepted < per_code * len(codes) and time.monotonic() < deadline:
                await asyncio.sleep(0.01)
            received = time.perf_counter() - started
            client.stop()
            await asyncio.wait_for(task, 10)
            return received

        received_s = asyncio.run(run())
    drain_started = time.perf_counter()
    store.close(timeout=300)
    drain_s = time.perf_counter() - drain_started
    stats = store.stats
    stored = sum(len(store.trade_seqs(code)) for code in codes)
    in_gaps = sum(last - first + 1 for _, first, last, _ in store.gaps())
    return {"buffer": capacity, "sent": server.stats.trades_sent, "received_s": received_s, "stored": stored,
            "dropped": stats.dropped_total, "in_gaps": in_gaps, "high_water": stats.high_water,
            "drain_s": drain_s, "accounted": stored + stats.dropped_total == server.stats.trades_sent}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=200_000)
    parser.add_argument("--e2e-seconds", type=float, default=20.0)
    parser.add_argument("--reconnect-seconds", type=float, default=60.0)
    parser.add_argument("--slow-ms", type=float, default=100.0)
    parser.add_argument("--only", default="throughput,e2e,reconnect,burst")
    parser.add_argument("--repeat", type=int, default=5, help="throughput runs (the median is shown)")
    args = parser.parse_args()
    logging.getLogger("datafeed").setLevel(logging.CRITICAL)  # reconnect lines would drown the figures
    parts = set(args.only.split(","))
    print(f"load before: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f} "
          f"(1/5/15 min), {os.cpu_count()} CPUs")
    with tempfile.TemporaryDirectory(prefix="bench-hk-") as tmp:
        folder = Path(tmp)
        if "throughput" in parts:
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, {0})
            runs = [bench_throughput(args.messages, folder / f"run{i}") for i in range(args.repeat)]
            r = {key: statistics.median(run[key] for run in runs) for key in runs[0]}
            each = ", ".join(f"{run['ours_msg_s']:,.0f}" for run in runs)
            print(f"\n1. parse + validate + store, one core, {r['messages']:,.0f} trades, batched SQLite (WAL, FULL), "
                  f"median of {args.repeat} runs (ours: {each})")
            print(f"   ours (client handler, validator, writer thread): {r['ours_msg_s']:>10,.0f} msg/s "
                  f"({r['ours_s']:.2f} s)")
            print(f"   reference (json.loads + sqlite3 executemany):     {r['reference_msg_s']:>10,.0f} msg/s "
                  f"({r['reference_s']:.2f} s)   ours/reference {r['ratio']:.2f} (median of the runs' ratios)")
            if hasattr(os, "sched_setaffinity"):
                os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
        if "e2e" in parts:
            r = bench_e2e(args.e2e_seconds, folder)
            print(f"\n2. end to end at {r['rate']:,.0f} msg/s for {args.e2e_seconds:g} s (server in its own process): "
                  f"{r['sent']:,} sent, {r['stored']:,} stored, lost by seq {r['lost_by_seq']}, "
                  f"reconnects {r['reconnects']}")
            print(f"   latency server send -> commit: p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                  f"max {r['max_ms']:.1f} ms")
        if "reconnect" in parts:
            r = bench_reconnects(args.reconnect_seconds)
            print(f"\n3. connections in {r['seconds']:g} s (ours: 1 s initial, 60 s cap, reset after 60 s healthy)")
            print(f"   flapping server, ours:            {r['ours_flapping']['connects']:>5} connects, delays "
                  f"{r['ours_flapping']['delays']}")
            print(f"   flapping server, websockets loop: {r['websockets_flapping']:>5} connects")
            print(f"   bad token, ours:                  {r['ours_bad_token']['connects']:>5} connect, stopped on "
                  f"{r['ours_bad_token']['fatal']} (fatal, not retried)")
            print(f"   bad token, websockets loop:       {r['websockets_bad_token']:>5} connects")
        if "burst" in parts:
            print(f"\n4. morning burst: 20,000 trades in 2 s, every commit of 500 rows slowed by {args.slow_ms:g} ms")
            for capacity, name in ((5_000, "small"), (200_000, "default")):
                r = bench_burst(folder, args.slow_ms, capacity, name)
                print(f"   buffer {r['buffer']:>7,}: sent {r['sent']:,} (received in {r['received_s']:.2f} s), "
                      f"stored {r['stored']:,}, dropped {r['dropped']:,} (recorded as gaps: {r['in_gaps']:,}), "
                      f"high water {r['high_water']:,}, drained {r['drain_s']:.2f} s after, "
                      f"stored + dropped = sent: {r['accounted']}")
    print(f"\nload after: {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} {os.getloadavg()[2]:.2f}")
    return 0


if __name__ == "__main__":
    random.seed(1)
    sys.exit(main())
