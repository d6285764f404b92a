"""A local Futu OpenD for tests: an asyncio TCP server on 127.0.0.1 speaking OpenD's wire protocol.

Frames both ways: a 44-byte header (``struct "<1s1sI2B2I20s8s"``: ``F``, ``T``, proto id, format,
version, serial, body length, SHA1 of the body, 8 reserved bytes) and a protobuf body built with
futu-api's own generated ``_pb2`` modules, so the unmodified client reads our answers as it reads
OpenD's. Served: ``InitConnect`` (1001), ``KeepAlive`` (1004) and ``Qot_GetOptionMarketStatistic``
(3301) with descending pages, ``nextPageKey`` and the "60 first pages per 30 s" limit.

Fault knobs (``LocalOpenD.knobs``, set between calls): a silent server (requests read, never answered),
a connection dropped half-way through a page, failures on first pages, corrupted rows in the next
page and slow replies. With ``rsa_key_pem`` the server speaks OpenD's encrypted protocol: InitConnect
RSA-encrypted both ways (PKCS#1 v1.5, 100-byte plaintext chunks, the key both sides hold), then every
body AES-CBC with the connection's key and IV (PKCS#7 padding); the SHA1 is of the plaintext.

The server runs its own event loop on a daemon thread, so synchronous tests drive the synchronous
client against it; every wait on that loop has a timeout.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import struct
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from Crypto.Cipher import AES, PKCS1_v1_5
from Crypto.PublicKey import RSA
from futu.common.pb import Common_pb2, InitConnect_pb2, KeepAlive_pb2, Qot_GetOptionMarketStatistic_pb2

HEADER_FORMAT = "<1s1sI2B2I20s8s"
HEADER_SIZE = struct.calcsize(HEADER_FORMAT)  # 44
PROTO_INIT_CONNECT = 1001
PROTO_KEEP_ALIVE = 1004
PROTO_OPTION_MARKET_STATISTIC = 3301
RET_SUCCEED = Common_pb2.RetType_Succeed
RET_FAILED = Common_pb2.RetType_Failed
RATE_LIMIT_ERR_CODE = 1011  # our invention: the real code and text are unknown, clients must not match on them
RATE_LIMIT_MESSAGE = "local OpenD: too many requests for option market statistics in the last window"
WAIT_SECONDS = 5.0

# OptionMarket numbers on the wire (Qot_OptionCommon.OptionMarket) and their time zones.
MARKET_TIMEZONES = {1: ZoneInfo("America/New_York"), 2: ZoneInfo("America/New_York"),
                    3: ZoneInfo("Asia/Hong_Kong"), 4: ZoneInfo("Asia/Hong_Kong")}
CORRUPTIONS = ("total", "ratio", "duplicate", "negative", "bad_date", "weekend", "missing_ratio")


@dataclass(frozen=True)
class StatisticPoint:
    trade_date: date
    call_value: int
    put_value: int


@dataclass
class Knobs:
    """Faults, each read by the server when the matching request arrives."""

    silent: bool = False                        # read 3301 requests, never answer (the client times out)
    drop_on_continuation_page: int | None = None  # drop the connection half-way through the Nth later page (once)
    fail_first_pages: int = 0                   # answer the next N first pages with RetType_Failed
    corrupt_next_page: tuple[str, ...] = ()     # corruptions applied to the next page served (once)
    reply_delay_seconds: float = 0.0            # wait before each 3301 reply (a slow server)


@dataclass
class ServerStats:
    connections: int = 0
    init_connects: int = 0
    keep_alives: int = 0
    requests: int = 0
    first_pages: int = 0
    continuation_pages: int = 0
    limit_errors: int = 0
    injected_failures: int = 0
    bad_checksums: int = 0
    dropped_mid_page: int = 0
    unanswered: int = 0
    rows_served: int = 0
    peak_first_pages_in_window: int = 0
    first_page_times: list[float] = field(default_factory=list)


def frame(proto_id: int, serial_no: int, body: bytes, wire_body: bytes | None = None) -> bytes:
    """Header and body; ``wire_body`` is the encrypted body when encrypted (the SHA1 is of ``body``)."""
    wire = body if wire_body is None else wire_body
    return struct.pack(HEADER_FORMAT, b"F", b"T", proto_id, 0, 0, serial_no, len(wire),
                       hashlib.sha1(body).digest(), b"\x00" * 8) + wire


AES_KEY = "0123456789abcdef"
AES_IV = "fedcba9876543210"


def _pkcs7(data: bytes) -> bytes:
    pad = 16 - len(data) % 16
    return data + bytes([pad]) * pad


class _Crypto:
    """OpenD's encryption: RSA for InitConnect, then AES-CBC per message."""

    def __init__(self, key_pem: bytes) -> None:
        self._rsa = PKCS1_v1_5.new(RSA.import_key(key_pem))
        self._block = RSA.import_key(key_pem).size_in_bytes()

    def rsa_decrypt(self, data: bytes) -> bytes:
        sentinel = object()
        plain = b""
        for start in range(0, len(data), self._block):
            part = self._rsa.decrypt(data[start:start + self._block], sentinel)
            if part is sentinel:
                raise ValueError("RSA decryption failed")
            plain += part
        return plain

    def rsa_encrypt(self, data: bytes) -> bytes:
        return b"".join(self._rsa.encrypt(data[start:start + 100]) for start in range(0, len(data), 100))

    @staticmethod
    def aes_decrypt(data: bytes) -> bytes:
        plain = AES.new(AES_KEY.encode(), AES.MODE_CBC, iv=AES_IV.encode()).decrypt(data)
        if not plain or not 1 <= plain[-1] <= 16:
            raise ValueError("bad AES padding")
        return plain[: -plain[-1]]

    @staticmethod
    def aes_encrypt(data: bytes) -> bytes:
        return AES.new(AES_KEY.encode(), AES.MODE_CBC, iv=AES_IV.encode()).encrypt(_pkcs7(data))


class LocalOpenD:
    """``with LocalOpenD(series) as opend:`` then ``OpenQuoteContext("127.0.0.1", opend.port)``."""

    def __init__(self, series: dict[tuple[int, int], list[StatisticPoint]], *, page_size: int = 100,
                 rate_limit: int = 60, rate_window_seconds: float = 30.0, keep_alive_interval: int = 10,
                 max_span_days: int | None = 366, clock: Callable[[], float] = time.monotonic,
                 rsa_key_pem: bytes | None = None) -> None:
        self.series = {key: sorted(points, key=lambda p: p.trade_date, reverse=True)
                       for key, points in series.items()}
        self.page_size = page_size
        self.rate_limit = rate_limit
        self.rate_window_seconds = rate_window_seconds
        self.keep_alive_interval = keep_alive_interval
        self.max_span_days = max_span_days
        self.clock = clock
        self._crypto = _Crypto(rsa_key_pem) if rsa_key_pem else None
        self.knobs = Knobs()
        self.stats = ServerStats()
        self.port = 0
        self._lock = threading.Lock()
        self._first_pages: deque[float] = deque()
        self._next_conn_id = 1000
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    # --- lifecycle -----------------------------------------------------------------------------
    def start(self) -> LocalOpenD:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="local-opend", daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop).result(WAIT_SECONDS)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def stop(self) -> None:
        if self._loop is None:
            return

        async def shutdown() -> None:
            self._server.close()
            for writer in list(self._writers):
                writer.close()
            await asyncio.wait_for(self._server.wait_closed(), WAIT_SECONDS)

        try:
            asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(WAIT_SECONDS * 2)
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(WAIT_SECONDS)
            self._loop.close()
            self._loop = None

    def drop_connections(self) -> None:
        """Close every client connection now (the client sees a disconnect)."""
        def close_all() -> None:
            for writer in list(self._writers):
                writer.close()
        self._loop.call_soon_threadsafe(close_all)

    def __enter__(self) -> LocalOpenD:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # --- connection --------------------------------------------------------------------------
    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        with self._lock:
            self.stats.connections += 1
            self._next_conn_id += 1
            conn_id = self._next_conn_id
        crypto = self._crypto
        try:
            while True:
                header = await reader.readexactly(HEADER_SIZE)
                _f, _t, proto_id, proto_fmt, _ver, serial_no, body_len, sha, _reserved = \
                    struct.unpack(HEADER_FORMAT, header)
                body = await reader.readexactly(body_len)
                try:
                    if crypto is not None:
                        body = crypto.rsa_decrypt(body) if proto_id == PROTO_INIT_CONNECT else crypto.aes_decrypt(body)
                except ValueError:
                    body = b"undecipherable"
                if (_f, _t) != (b"F", b"T") or proto_fmt != 0 or hashlib.sha1(body).digest() != sha:
                    with self._lock:
                        self.stats.bad_checksums += 1
                    return
                reply = self._answer(proto_id, body, conn_id)
                if reply is None:
                    continue
                if proto_id == PROTO_OPTION_MARKET_STATISTIC and self.knobs.reply_delay_seconds > 0:
                    await asyncio.sleep(self.knobs.reply_delay_seconds)
                plain = reply.body if isinstance(reply, HalfFrame) else reply
                sealed = None
                if crypto is not None:
                    sealed = crypto.rsa_encrypt(plain) if proto_id == PROTO_INIT_CONNECT else crypto.aes_encrypt(plain)
                data = frame(proto_id, serial_no, plain, sealed)
                if isinstance(reply, HalfFrame):
                    writer.write(data[: len(data) // 2])
                    await writer.drain()
                    return
                writer.write(data)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            return
        finally:
            self._writers.discard(writer)
            writer.close()

    def _answer(self, proto_id: int, body: bytes, conn_id: int):
        if proto_id == PROTO_INIT_CONNECT:
            InitConnect_pb2.Request.FromString(body)
            response = InitConnect_pb2.Response(retType=RET_SUCCEED)
            response.s2c.serverVer = 1011
            response.s2c.loginUserID = 4242
            response.s2c.connID = conn_id
            response.s2c.connAESKey = AES_KEY
            response.s2c.keepAliveInterval = self.keep_alive_interval
            if self._crypto is not None:
                response.s2c.aesCBCiv = AES_IV
            with self._lock:
                self.stats.init_connects += 1
            return response.SerializeToString()
        if proto_id == PROTO_KEEP_ALIVE:
            request = KeepAlive_pb2.Request.FromString(body)
            response = KeepAlive_pb2.Response(retType=RET_SUCCEED)
            response.s2c.time = request.c2s.time
            with self._lock:
                self.stats.keep_alives += 1
            return response.SerializeToString()
        if proto_id == PROTO_OPTION_MARKET_STATISTIC:
            return self._statistics(Qot_GetOptionMarketStatistic_pb2.Request.FromString(body))
        return None  # not served: the client's own timeout answers it

    # --- 3301 --------------------------------------------------------------------------------
    def _statistics(self, request):
        c2s = request.c2s
        response = Qot_GetOptionMarketStatistic_pb2.Response()
        first_page = not c2s.HasField("nextPageKey")
        with self._lock:
            knobs = self.knobs
            self.stats.requests += 1
            if knobs.silent:
                self.stats.unanswered += 1
                return None
            if first_page:
                if knobs.fail_first_pages > 0:
                    knobs.fail_first_pages -= 1
                    self.stats.injected_failures += 1
                    return failure(response, "local OpenD: injected failure", 1)
                now = self.clock()
                while self._first_pages and now - self._first_pages[0] >= self.rate_window_seconds:
                    self._first_pages.popleft()
                if len(self._first_pages) >= self.rate_limit:
                    self.stats.limit_errors += 1
                    return failure(response, RATE_LIMIT_MESSAGE, RATE_LIMIT_ERR_CODE)
                self._first_pages.append(now)
                self.stats.first_pages += 1
                self.stats.first_page_times.append(now)
                self.stats.peak_first_pages_in_window = max(self.stats.peak_first_pages_in_window,
                                                            len(self._first_pages))
            else:
                self.stats.continuation_pages += 1
                if knobs.drop_on_continuation_page is not None:
                    knobs.drop_on_continuation_page -= 1
                    if knobs.drop_on_continuation_page <= 0:
                        knobs.drop_on_continuation_page = None
                        self.stats.dropped_mid_page += 1
                        drop_mid_page = True
                    else:
                        drop_mid_page = False
                else:
                    drop_mid_page = False
            corruptions, knobs.corrupt_next_page = knobs.corrupt_next_page, ()

        try:
            begin = date.fromisoformat(c2s.beginTime[:10])
            end = date.fromisoformat(c2s.endTime[:10])
        except ValueError:
            return failure(response, f"local OpenD: bad time {c2s.beginTime!r}..{c2s.endTime!r}", 2)
        if end < begin:
            return failure(response, "local OpenD: endTime before beginTime", 2)
        if self.max_span_days is not None and (end - begin).days > self.max_span_days:
            return failure(response, "local OpenD: span over one year", 2)
        query = {"m": c2s.optionMarket, "d": c2s.dataType, "b": begin.isoformat(), "e": end.isoformat()}
        offset = 0
        if not first_page:
            try:
                key = json.loads(bytes(c2s.nextPageKey).decode())
                offset = int(key.pop("o"))
            except (ValueError, KeyError, UnicodeDecodeError):
                return failure(response, "local OpenD: invalid nextPageKey", 3)
            if key != query:
                return failure(response, "local OpenD: nextPageKey belongs to another query", 3)
        points = [p for p in self.series.get((c2s.optionMarket, c2s.dataType), ())
                  if begin <= p.trade_date <= end]
        page = points[offset: offset + self.page_size]
        response.retType = RET_SUCCEED
        response.s2c.optionMarket = c2s.optionMarket
        response.s2c.dataType = c2s.dataType
        zone = MARKET_TIMEZONES.get(c2s.optionMarket, ZoneInfo("UTC"))
        for point in page:
            item = response.s2c.statisticList.add()
            item.time = point.trade_date.isoformat()
            item.timestamp = datetime.combine(point.trade_date, datetime.min.time(), zone).timestamp()
            item.callValue = point.call_value
            item.putValue = point.put_value
            item.totalValue = point.call_value + point.put_value
            if point.call_value:
                item.ratio = point.put_value / point.call_value
        if offset + self.page_size < len(points):
            response.s2c.nextPageKey = json.dumps({**query, "o": offset + self.page_size}).encode()
        for position, corruption in enumerate(corruptions):  # each on its own row
            corrupt(response.s2c.statisticList, corruption, 2 * position)
        with self._lock:
            self.stats.rows_served += len(response.s2c.statisticList)
        if not first_page and drop_mid_page:
            return HalfFrame(response.SerializeToString())
        return response.SerializeToString()

    def first_pages_in_any_window(self, window_seconds: float | None = None) -> int:
        """The most first pages the server accepted in any window of ``window_seconds``."""
        window = self.rate_window_seconds if window_seconds is None else window_seconds
        times = sorted(self.stats.first_page_times)
        peak, start = 0, 0
        for index, moment in enumerate(times):
            while moment - times[start] >= window:
                start += 1
            peak = max(peak, index - start + 1)
        return peak


class HalfFrame:
    """A reply of which only the first half is sent before the connection is closed."""

    def __init__(self, body: bytes) -> None:
        self.body = body


def failure(response, message: str, err_code: int) -> bytes:
    response.retType = RET_FAILED
    response.retMsg = message
    response.errCode = err_code
    return response.SerializeToString()


def corrupt(items, kind: str, index: int = 0) -> None:
    """Damages row ``index`` of the page the way a faulty upstream could."""
    if kind not in CORRUPTIONS:
        raise ValueError(f"unknown corruption {kind!r}")
    if len(items) <= index + 1:
        return
    first = items[index]
    if kind == "total":
        first.totalValue += 1000
    elif kind == "ratio":
        first.ratio = (first.ratio if first.HasField("ratio") else 1.0) * 1.5 + 0.1
    elif kind == "duplicate":
        items[index + 1].CopyFrom(first)
    elif kind == "negative":
        first.putValue = -abs(first.putValue) - 1
        first.totalValue = first.callValue + first.putValue
        first.ClearField("ratio")
    elif kind == "bad_date":
        first.time = "2019-13-45"
    elif kind == "weekend":
        day = date.fromisoformat(first.time)
        while day.weekday() < 5:
            day += timedelta(days=1)
        first.time = day.isoformat()
    elif kind == "missing_ratio":
        first.ClearField("ratio")
