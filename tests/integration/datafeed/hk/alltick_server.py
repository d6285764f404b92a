"""A local AllTick real-time server (loopback only) speaking the documented protocol, with fault knobs.

The server is a real ``websockets`` server on 127.0.0.1: the client under test
connects to ``server.url`` exactly as it would to ``wss://quote.alltick.io``.

The market
----------
Each code has one trade sequence that persists across connections: trade ``k``
of a code has ``seq`` k (1, 2, ...), so a client that reconnects continues where
the market is, and a test can check that every seq ``1..trades_per_code`` was
stored. A trade is produced only while some connection is subscribed to its
code (nothing is "missed" during a disconnection unless a fault says so).
Every ``depth_every`` trades a code also gets an order-book push (22999).

Protocol behaviour (as documented)
----------------------------------
- the token comes in the URL query (``?token=``); an unknown one gets a ``401``
  response and the connection is closed;
- ``22000`` -> ``22001``; a connection silent for ``heartbeat_timeout`` seconds is
  closed (AllTick: 30 s);
- ``22004``/``22002`` replace the connection's list; codes beyond
  ``max_codes_per_connection`` are silently ignored; codes in ``unauthorized_codes``
  get ``604``; malformed codes ``600``; an empty body ``601``; a request less than
  ``min_request_interval`` after the previous one gets ``429``;
- ``22006`` cancels (0 all, 1 depth, 2 trades).

Fault knobs (``Faults``)
------------------------
``drop_after_pushes`` (close each connection after N pushes; 1 = flapping),
``stall_after_pushes`` (stop pushing with the socket open; heartbeats still
answered unless ``stall_heartbeats``), ``truncate_every`` (every Nth push is cut
in half), ``gap_every`` (every Nth trade seq is skipped: never sent), ``tick_time_unit``
("ms" or "s"), ``inject`` (raw messages sent once after the first subscribe),
``fatal_ret`` (answer every subscribe with this ret, e.g. 605).
"""
from __future__ import annotations

import asyncio
import json
import math
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urlparse

from websockets.asyncio.server import ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from src.datafeed.hk import protocol as p

LOOPBACK = "127.0.0.1"
BASE_PRICES = {"700.HK": 380.0, "9988.HK": 82.0, "5.HK": 65.0, "941.HK": 72.0, "1299.HK": 58.0}


@dataclass
class Faults:
    drop_after_pushes: int | None = None
    stall_after_pushes: int | None = None
    stall_heartbeats: bool = False
    truncate_every: int | None = None
    gap_every: int | None = None
    tick_time_unit: str = "ms"
    inject: list[str] = field(default_factory=list)
    fatal_ret: int | None = None


@dataclass
class ServerStats:
    connections: int = 0
    connection_times: list[float] = field(default_factory=list)
    rejected_tokens: int = 0
    heartbeats: int = 0
    heartbeat_timeouts: int = 0
    subscribes: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    rate_limited: int = 0
    trades_sent: int = 0
    depth_sent: int = 0
    truncated_sent: int = 0
    seqs_skipped: int = 0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((LOOPBACK, 0))
        return probe.getsockname()[1]


class LocalAllTickServer:
    """Start with ``await server.start()`` in a loop, or ``with ServerThread(server):`` from sync code."""

    def __init__(self, *, tokens: tuple[str, ...] = ("test-token",), trades_per_code: int = 50,
                 push_rate: float = 1000.0, depth_every: int = 5, depth_levels: int = 5,
                 heartbeat_timeout: float = 30.0, min_request_interval: float = 0.0,
                 max_codes_per_connection: int = 100, unauthorized_codes: tuple[str, ...] = (),
                 faults: Faults | None = None, clock: Callable[[], float] = time.time,
                 send_log: dict | None = None) -> None:
        self.tokens = set(tokens)
        self.trades_per_code = trades_per_code
        self.push_rate = push_rate
        self.depth_every = depth_every
        self.depth_levels = depth_levels
        self.heartbeat_timeout = heartbeat_timeout
        self.min_request_interval = min_request_interval
        self.max_codes_per_connection = max_codes_per_connection
        self.unauthorized_codes = set(unauthorized_codes)
        self.faults = faults or Faults()
        self.clock = clock
        self.send_log = send_log  # (code, seq) -> time.perf_counter() at send, for latency figures
        self.stats = ServerStats()
        self.next_seq: dict[str, int] = {}
        self.produced: dict[str, int] = {}  # trades produced per code (sent or skipped)
        self.port = free_port()
        self._server = None
        self._injected = False

    @property
    def url(self) -> str:
        return f"ws://{LOOPBACK}:{self.port}/quote-stock-b-ws-api"

    async def start(self) -> None:
        self._server = await serve(self._handle, LOOPBACK, self.port, compression=None, ping_interval=None,
                                   max_queue=None, close_timeout=1)

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), timeout=20)

    def finished(self) -> bool:
        """Every code that was ever subscribed has produced all its trades."""
        return bool(self.produced) and all(count >= self.trades_per_code for count in self.produced.values())

    # ------------------------------------------------------------------ connection

    async def _handle(self, ws: ServerConnection) -> None:
        self.stats.connections += 1
        self.stats.connection_times.append(time.monotonic())
        token = parse_qs(urlparse(ws.request.path).query).get("token", [""])[0]
        if token not in self.tokens:
            self.stats.rejected_tokens += 1
            await ws.send(p.response(0, 0, "", p.RET_TOKEN_INVALID, p.ERROR_TEXT[p.RET_TOKEN_INVALID]))
            await ws.close(1008, "token invalid")
            return
        connection = _Connection(self, ws)
        await connection.run()


class _Connection:
    def __init__(self, server: LocalAllTickServer, ws: ServerConnection) -> None:
        self.server = server
        self.ws = ws
        self.trade_codes: tuple[str, ...] = ()
        self.depth_codes: tuple[str, ...] = ()
        self.last_request = -math.inf
        self.last_heard = time.monotonic()
        self.pushes = 0
        self.stalled = False
        self.closed = asyncio.Event()

    async def run(self) -> None:
        tasks = [asyncio.create_task(self._reader()), asyncio.create_task(self._pusher()),
                 asyncio.create_task(self._silence_watch())]
        try:
            await self.closed.wait()
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await self.ws.close()

    async def _send(self, text: str) -> bool:
        try:
            await self.ws.send(text)
            return True
        except ConnectionClosed:
            self.closed.set()
            return False

    async def _silence_watch(self) -> None:
        step = min(0.05, self.server.heartbeat_timeout / 4)
        while not self.closed.is_set():
            await asyncio.sleep(step)
            if time.monotonic() - self.last_heard > self.server.heartbeat_timeout:
                self.server.stats.heartbeat_timeouts += 1
                await self.ws.close(1000, "heartbeat timeout")
                self.closed.set()

    async def _reader(self) -> None:
        try:
            async for raw in self.ws:
                self.last_heard = time.monotonic()
                await self._on_request(raw)
        except ConnectionClosed:
            pass
        self.closed.set()

    async def _on_request(self, raw: str | bytes) -> None:
        server = self.server
        try:
            message = json.loads(raw)
            cmd_id = message["cmd_id"]
            seq_id = message.get("seq_id")
            trace = message.get("trace")
        except (ValueError, KeyError, TypeError):
            await self._send(p.response(0, None, None, p.RET_BAD_REQUEST, p.ERROR_TEXT[p.RET_BAD_REQUEST]))
            return
        reply = p.RESPONSE_OF.get(cmd_id)
        if reply is None:
            await self._send(p.response(0, seq_id, trace, p.RET_BAD_REQUEST, p.ERROR_TEXT[p.RET_BAD_REQUEST]))
            return
        if cmd_id == p.CMD_HEARTBEAT:
            server.stats.heartbeats += 1
            if not (self.stalled and server.faults.stall_heartbeats):
                await self._send(p.response(reply, seq_id, trace))
            return
        now = time.monotonic()
        if now - self.last_request < server.min_request_interval:
            server.stats.rate_limited += 1
            await self._send(p.response(reply, seq_id, trace, p.RET_RATE_LIMITED, p.ERROR_TEXT[p.RET_RATE_LIMITED]))
            return
        self.last_request = now
        data = message.get("data")
        if cmd_id == p.CMD_CANCEL:
            kind = (data or {}).get("cancel_type", 0)
            if kind in (p.CANCEL_ALL, p.CANCEL_TRADES):
                self.trade_codes = ()
            if kind in (p.CANCEL_ALL, p.CANCEL_DEPTH):
                self.depth_codes = ()
            await self._send(p.response(reply, seq_id, trace))
            return
        if not data or not isinstance(data, dict) or not data.get("symbol_list"):
            await self._send(p.response(reply, seq_id, trace, p.RET_BODY_EMPTY, p.ERROR_TEXT[p.RET_BODY_EMPTY]))
            return
        if server.faults.fatal_ret is not None:
            ret = server.faults.fatal_ret
            await self._send(p.response(reply, seq_id, trace, ret, p.ERROR_TEXT.get(ret, "error")))
            return
        codes = []
        for item in data["symbol_list"]:
            code = item.get("code") if isinstance(item, dict) else None
            if not isinstance(code, str) or not p.CODE_PATTERN.match(code):
                await self._send(p.response(reply, seq_id, trace, p.RET_CODE_INVALID,
                                            p.ERROR_TEXT[p.RET_CODE_INVALID]))
                return
            if code in server.unauthorized_codes:
                await self._send(p.response(reply, seq_id, trace, p.RET_CODE_UNAUTHORIZED,
                                            p.ERROR_TEXT[p.RET_CODE_UNAUTHORIZED]))
                return
            if code not in codes:
                codes.append(code)
        accepted = tuple(codes[:server.max_codes_per_connection])  # the rest: silently ignored
        server.stats.subscribes.append((cmd_id, accepted))
        if cmd_id == p.CMD_SUBSCRIBE_TRADES:
            self.trade_codes = accepted
            for code in accepted:
                server.next_seq.setdefault(code, 1)
                server.produced.setdefault(code, 0)
        else:
            self.depth_codes = accepted
        await self._send(p.response(reply, seq_id, trace))
        if server.faults.inject and not server._injected:
            server._injected = True
            for text in server.faults.inject:
                await self._send(text)

    # ------------------------------------------------------------------ pushes

    async def _pusher(self) -> None:
        server = self.server
        started = time.monotonic()
        sent_here = 0
        turn = 0
        while not self.closed.is_set():
            codes = [c for c in self.trade_codes if server.produced.get(c, 0) < server.trades_per_code]
            if not codes or self.stalled:
                await asyncio.sleep(0.005)
                started, sent_here = time.monotonic(), 0
                continue
            due = (time.monotonic() - started) * server.push_rate - sent_here
            if due < 1:
                await asyncio.sleep(max(0.0005, (1 - due) / server.push_rate))
                continue
            for _ in range(min(int(due), 2000)):
                code = codes[turn % len(codes)]
                turn += 1
                if server.produced.get(code, 0) >= server.trades_per_code:
                    continue
                if not await self._push_trade(code):
                    return
                sent_here += 1
                if self.stalled or self.closed.is_set():
                    break
            await asyncio.sleep(0)

    async def _push_trade(self, code: str) -> bool:
        server = self.server
        faults = server.faults
        seq = server.next_seq[code]
        server.next_seq[code] = seq + 1
        server.produced[code] += 1
        if faults.gap_every and seq % faults.gap_every == 0:
            server.stats.seqs_skipped += 1
            return True
        price = BASE_PRICES.get(code, 100.0) * (1 + 0.002 * math.sin(seq / 7.0))
        price = round(price, 2)
        volume = 100 * (1 + seq % 9)
        now = server.clock()
        tick_time = str(int(now * 1000)) if faults.tick_time_unit == "ms" else str(int(now))
        text = json.dumps({"cmd_id": p.CMD_PUSH_TRADE, "data": {
            "code": code, "seq": str(seq), "tick_time": tick_time, "price": f"{price:.2f}",
            "volume": str(volume), "turnover": f"{price * volume:.2f}", "trade_direction": 1 + seq % 2}},
            separators=(",", ":"))
        if not await self._push(text):
            return False
        if server.send_log is not None:
            server.send_log[(code, seq)] = time.perf_counter()
        server.stats.trades_sent += 1
        if code in self.depth_codes and server.depth_every and seq % server.depth_every == 0:
            step = 0.2 if price >= 20 else 0.05
            bids = [{"price": f"{price - step * (i + 1):.2f}", "volume": str(1000 * (i + 1))}
                    for i in range(server.depth_levels)]
            asks = [{"price": f"{price + step * (i + 1):.2f}", "volume": str(800 * (i + 1))}
                    for i in range(server.depth_levels)]
            depth = json.dumps({"cmd_id": p.CMD_PUSH_DEPTH, "data": {
                "code": code, "seq": str(seq), "tick_time": tick_time, "bids": bids, "asks": asks}},
                separators=(",", ":"))
            if not await self._push(depth):
                return False
            server.stats.depth_sent += 1
        return True

    async def _push(self, text: str) -> bool:
        faults = self.server.faults
        self.pushes += 1
        if faults.truncate_every and self.pushes % faults.truncate_every == 0:
            text = text[: len(text) // 2]
            self.server.stats.truncated_sent += 1
        if not await self._send(text):
            return False
        if faults.stall_after_pushes is not None and self.pushes >= faults.stall_after_pushes:
            self.stalled = True
        if faults.drop_after_pushes is not None and self.pushes >= faults.drop_after_pushes:
            await self.ws.close(1011, "dropped by fault knob")
            self.closed.set()
            return False
        return True


class ServerThread:
    """Runs a LocalAllTickServer in a thread of its own (for sync callers: vnpy gateway, CLI, benchmarks)."""

    def __init__(self, server: LocalAllTickServer) -> None:
        self.server = server
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="alltick-server", daemon=True)

    def __enter__(self) -> LocalAllTickServer:
        self._thread.start()
        asyncio.run_coroutine_threadsafe(self.server.start(), self.loop).result(timeout=10)
        return self.server

    def call(self, function: Callable[[], object]) -> object:
        """Run ``function`` in the server's loop (to change knobs safely)."""
        async def wrapper():
            return function()
        return asyncio.run_coroutine_threadsafe(wrapper(), self.loop).result(timeout=10)

    def __exit__(self, *exc) -> None:
        try:
            asyncio.run_coroutine_threadsafe(self.server.stop(), self.loop).result(timeout=30)
        finally:
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)
            self.loop.close()
