"""AllTick real-time client on ``websockets`` (asyncio), with its own reconnect loop.

Why the code differs from the seed (``002_*``): the seed's endpoint
(``wss://api.alltick.co/realtime/hk``), its ``{"action": "subscribe"}`` messages,
its 30 s ``{"action": "ping"}`` and its field names (``last_price``,
``bid_price``) appear nowhere in AllTick's documentation. This client speaks the
documented protocol (``protocol.py``): numbered ``cmd_id`` envelopes, a 22000
heartbeat every 10 s (the server drops a connection silent for 30 s), trades
(22004 -> pushes 22998) and order books (22002 -> pushes 22999) subscribed
separately. Bid and ask come from the order-book stream, never from a trade. The
seed's reconnect (``time.sleep(5)`` then recursion from ``on_close``, at most 5
tries) and its unbounded thread per heartbeat are replaced by one loop:

- reconnect with capped exponential backoff and jitter; the attempt count is
  reset only after a connection stayed up ``healthy_after`` seconds and brought
  data, because resetting on every handshake hot-loops against a server that
  accepts and then drops (a bad token: 24 connects in 2 s). ``websockets``' own
  ``async for ws in connect(...)`` resets after every handshake, so it is not used;
- 401 (token), 604 (code not authorised) and 605 (too many codes) are fatal: the
  loop stops with one clear line (``fatal``), because no retry can fix them;
- a stall watchdog: no push for ``stall_timeout`` seconds while subscribed and the
  market is open (``market_open``) -> the connection is closed and reopened;
- the application heartbeat (22000) every ``heartbeat_interval`` besides
  websockets' protocol pings;
- the whole subscription list is sent again after every reconnect, and again
  whenever it changes (a subscribe replaces the previous list);
- plan limits are enforced before sending: at most ``max_codes_per_connection``
  codes (refused at construction, the server would silently ignore the rest) and
  at most one request per ``request_interval`` seconds on a connection.

The token is a ``Secret``: it goes into the URL only when connecting and never
into a log line, repr or exception (websockets' own logger is kept quiet about
the URL: errors are reported by type and code).
"""
from __future__ import annotations

import asyncio
import json
import logging
import random
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus, InvalidURI
from websockets.uri import parse_uri

from src.datafeed.hk import protocol as p

logger = logging.getLogger("datafeed.hk.client")


class TokenLike(Protocol):
    def reveal(self) -> str: ...


class FeedSettingsError(ValueError):
    """A setting the user can fix (plan limits, codes, intervals)."""


class FatalFeedError(Exception):
    """An error no reconnect can fix (401, 604, 605): the client stops."""

    def __init__(self, ret: int, msg: str) -> None:
        self.ret = ret
        self.msg = msg
        super().__init__(f"AllTick refused the connection: {ret} {p.ERROR_TEXT.get(ret, msg)} "
                         f"(server said {msg!r}); not retrying")


class _Stalled(Exception):
    """No message for the watchdog's interval while subscribed: the connection is replaced."""


@dataclass(frozen=True)
class ClientSettings:
    url: str = p.DEFAULT_URL
    depth: bool = True
    depth_level: int = 5
    heartbeat_interval: float = 10.0
    stall_timeout: float = 60.0
    open_timeout: float = 10.0
    close_timeout: float = 5.0
    protocol_ping_interval: float | None = 20.0
    backoff_initial: float = 1.0
    backoff_max: float = 60.0
    healthy_after: float = 60.0
    request_interval: float = 1.0
    max_codes_per_connection: int = 100
    max_connects: int | None = None
    compression: str | None = "deflate"

    def __post_init__(self) -> None:
        for name in ("heartbeat_interval", "stall_timeout", "open_timeout", "close_timeout", "backoff_initial",
                     "backoff_max"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 < value < float("inf"):
                raise FeedSettingsError(f"{name} must be a positive number of seconds, got {value!r}")
        for name in ("healthy_after", "request_interval"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not 0 <= value < float("inf"):
                raise FeedSettingsError(f"{name} must be >= 0 seconds, got {value!r}")
        if self.backoff_max < self.backoff_initial:
            raise FeedSettingsError(f"backoff_max ({self.backoff_max}) must be >= backoff_initial "
                                    f"({self.backoff_initial})")
        if not isinstance(self.max_codes_per_connection, int) or self.max_codes_per_connection < 1:
            raise FeedSettingsError(f"max_codes_per_connection must be >= 1, got {self.max_codes_per_connection!r}")
        if not isinstance(self.depth_level, int) or not 1 <= self.depth_level <= 10:
            raise FeedSettingsError(f"depth_level must be 1-10, got {self.depth_level!r}")
        if not self.url.startswith(("ws://", "wss://")) or "token=" in self.url:
            raise FeedSettingsError(f"url must be ws:// or wss:// without the token, got {self.url!r}")
        try:
            parse_uri(self.url)
        except (InvalidURI, ValueError) as error:
            raise FeedSettingsError(f"url is not a WebSocket URL: {self.url!r} ({type(error).__name__})") from None


def backoff_delay(attempt: int, initial: float, cap: float, rng: random.Random) -> float:
    """Delay before reconnect ``attempt`` (0-based): ``min(cap, initial * 2**attempt)``, the upper half jittered.

    "Equal jitter": the delay lies in [base/2, base], so delays keep growing with
    the attempt (no hot loop) while clients that lost the server together spread out.
    """
    base = min(cap, initial * (2.0 ** min(attempt, 64)))
    return base / 2 + rng.uniform(0.0, base / 2)


@dataclass
class ClientCounters:
    connects: int = 0
    reconnects: int = 0
    stalls: int = 0
    heartbeats_sent: int = 0
    heartbeat_acks: int = 0
    subscribes_sent: int = 0
    messages: int = 0
    pushes: int = 0
    malformed: int = 0
    errors: Counter = field(default_factory=Counter)  # ret -> count
    disconnects: Counter = field(default_factory=Counter)  # reason -> count
    delays: deque = field(default_factory=lambda: deque(maxlen=1000))

    def snapshot(self) -> dict[str, Any]:
        return {"connects": self.connects, "reconnects": self.reconnects, "stalls": self.stalls,
                "heartbeats_sent": self.heartbeats_sent, "heartbeat_acks": self.heartbeat_acks,
                "subscribes_sent": self.subscribes_sent, "messages": self.messages, "pushes": self.pushes,
                "malformed": self.malformed, "errors": {str(k): v for k, v in self.errors.items()},
                "disconnects": dict(self.disconnects)}


PushHandler = Callable[[int, dict, float], None]


class AllTickClient:
    """Connects, subscribes ``codes`` and hands every push to ``on_push(cmd_id, data, received_at)``.

    ``received_at`` is the wall-clock time (seconds) the message was read.
    ``market_open()`` tells the stall watchdog whether silence is suspicious.
    """

    def __init__(self, token: TokenLike, codes: Iterable[str], on_push: PushHandler,
                 settings: ClientSettings | None = None, *, market_open: Callable[[], bool] = lambda: True,
                 on_fatal: Callable[[FatalFeedError], None] | None = None,
                 on_connected: Callable[[], None] | None = None,
                 rng: random.Random | None = None, wall_clock: Callable[[], float] = time.time) -> None:
        self.settings = settings or ClientSettings()
        self._token = token
        self.codes = self._checked_codes(codes)
        self.on_push = on_push
        self.market_open = market_open
        self.on_fatal = on_fatal
        self.on_connected = on_connected
        self.rng = rng or random.Random()
        self.wall_clock = wall_clock
        self.counters = ClientCounters()
        self.fatal: FatalFeedError | None = None
        self.connected = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._stop_requested = False
        self._resubscribe: asyncio.Event | None = None
        self._request_seq = 0
        self._last_request = float("-inf")
        self._pace = self.settings.request_interval
        self._refused: set[int] = set()
        self._last_data = 0.0
        self._got_data = False

    def _checked_codes(self, codes: Iterable[str]) -> tuple[str, ...]:
        checked: list[str] = []
        for code in codes:
            try:
                normalised = p.normalise_hk_code(code)
            except ValueError as error:
                raise FeedSettingsError(str(error)) from None
            if normalised not in checked:
                checked.append(normalised)
        if len(checked) > self.settings.max_codes_per_connection:
            raise FeedSettingsError(
                f"{len(checked)} codes but the plan allows {self.settings.max_codes_per_connection} per connection "
                f"(AllTick would silently ignore the rest)")
        return tuple(checked)

    def __repr__(self) -> str:
        return f"AllTickClient(url={self.settings.url!r}, codes={list(self.codes)!r}, token=***)"

    # ------------------------------------------------------------------ control (any thread)

    def set_codes(self, codes: Iterable[str]) -> None:
        """Replace the subscription list; it is sent again (whole) on the open connection."""
        self.codes = self._checked_codes(codes)
        if self._resubscribe is not None:
            self._call_in_loop(self._resubscribe.set)

    def stop(self) -> None:
        self._stop_requested = True  # seen by run() even when it has not started yet
        if self._stop is not None:
            self._call_in_loop(self._stop.set)

    def _call_in_loop(self, function: Callable[[], None]) -> None:
        try:
            self._loop.call_soon_threadsafe(function)
        except (AttributeError, RuntimeError):  # no loop yet, or run() has already returned
            pass

    # ------------------------------------------------------------------ the loop

    async def run(self) -> FatalFeedError | None:
        """Run until ``stop()``, a fatal error (returned) or ``max_connects`` connections."""
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        self._resubscribe = asyncio.Event()
        if self._stop_requested:
            self._stop.set()
        settings = self.settings
        attempt = 0
        connects = 0
        while not self._stop.is_set():
            if settings.max_connects is not None and connects >= settings.max_connects:
                break
            connects += 1
            opened_at: float | None = None
            self._got_data = False
            reason = "closed"
            try:
                async with connect(self._url(), open_timeout=settings.open_timeout,
                                   close_timeout=settings.close_timeout,
                                   ping_interval=settings.protocol_ping_interval,
                                   ping_timeout=settings.protocol_ping_interval, proxy=None,
                                   compression=settings.compression, max_queue=None, logger=_QUIET) as ws:
                    opened_at = time.monotonic()
                    self.counters.connects += 1
                    self.connected = True
                    if self.on_connected is not None:
                        self.on_connected()
                    await self._session(ws)
                    reason = "stopped" if self._stop.is_set() else f"closed by server ({ws.close_code})"
            except FatalFeedError as error:
                return self._give_up(error)
            except InvalidStatus as error:
                status = error.response.status_code
                if status in (401, 403):
                    return self._give_up(FatalFeedError(p.RET_TOKEN_INVALID, f"HTTP {status}"))
                reason = f"HTTP {status}"
            except _Stalled:
                self.counters.stalls += 1
                reason = "stalled"
            except ConnectionClosed as error:
                code = error.rcvd.code if error.rcvd is not None else "none"
                reason = f"connection closed ({code})"
            except (OSError, TimeoutError, InvalidHandshake, EOFError) as error:
                reason = type(error).__name__
            finally:
                self.connected = False
            self.counters.disconnects[reason.split(" (")[0]] += 1
            if self._stop.is_set():
                break
            lived = time.monotonic() - opened_at if opened_at is not None else 0.0
            if opened_at is not None and self._got_data and lived >= settings.healthy_after:
                attempt = 0
            delay = backoff_delay(attempt, settings.backoff_initial, settings.backoff_max, self.rng)
            attempt += 1
            self.counters.reconnects += 1
            self.counters.delays.append(delay)
            logger.warning("AllTick connection lost (%s) after %.1f s; reconnect %d in %.2f s", reason, lived,
                           self.counters.reconnects, delay)
            try:
                await asyncio.wait_for(self._stop.wait(), timeout=delay)
            except TimeoutError:
                pass
        return None

    def _give_up(self, error: FatalFeedError) -> FatalFeedError:
        self.fatal = error
        logger.error("%s", error)
        if self.on_fatal is not None:
            self.on_fatal(error)
        return error

    def _url(self) -> str:
        separator = "&" if "?" in self.settings.url else "?"
        return f"{self.settings.url}{separator}token={self._token.reveal()}"

    async def _session(self, ws: ClientConnection) -> None:
        self._last_request = float("-inf")
        self._last_data = time.monotonic()
        self._resubscribe.clear()
        self._pace = self.settings.request_interval
        try:
            await self._subscribe_all(ws)
        except ConnectionClosed:
            pass  # read what the server said before it closed (a 401, say) below
        stalled = asyncio.Event()
        tasks = [asyncio.create_task(self._heartbeats(ws)), asyncio.create_task(self._watchdog(ws, stalled)),
                 asyncio.create_task(self._resubscriber(ws)), asyncio.create_task(self._stopper(ws))]
        try:
            async for raw in ws:
                self._on_raw(raw)
        finally:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
        for task in tasks:
            if not task.cancelled() and task.exception() is not None and \
                    not isinstance(task.exception(), ConnectionClosed):
                raise task.exception()
        if stalled.is_set():
            raise _Stalled()

    async def _request(self, ws: ClientConnection, make: Callable[[int], str]) -> None:
        """Send one request, at most one per ``request_interval`` on this connection."""
        loop = asyncio.get_running_loop()
        wait = self._last_request + self._pace - loop.time()
        if wait > 0:
            await asyncio.sleep(wait)
        self._request_seq += 1
        self._last_request = loop.time()
        await ws.send(make(self._request_seq))

    async def _subscribe_all(self, ws: ClientConnection, kinds: frozenset[int] | None = None) -> None:
        codes = list(self.codes)
        if not codes:
            return
        if kinds is None or p.CMD_SUBSCRIBE_TRADES in kinds:
            await self._request(ws, lambda seq: p.subscribe_trades(seq, codes))
            self.counters.subscribes_sent += 1
        if self.settings.depth and (kinds is None or p.CMD_SUBSCRIBE_DEPTH in kinds):
            await self._request(ws, lambda seq: p.subscribe_depth(seq, codes, self.settings.depth_level))
            self.counters.subscribes_sent += 1
        self._last_data = time.monotonic()

    async def _resubscriber(self, ws: ClientConnection) -> None:
        while True:
            await self._resubscribe.wait()
            self._resubscribe.clear()
            refused, self._refused = self._refused, set()
            await self._subscribe_all(ws, frozenset(refused) if refused else None)

    async def _heartbeats(self, ws: ClientConnection) -> None:
        while True:
            await asyncio.sleep(self.settings.heartbeat_interval)
            await self._request(ws, p.heartbeat)
            self.counters.heartbeats_sent += 1

    async def _watchdog(self, ws: ClientConnection, stalled: asyncio.Event) -> None:
        timeout = self.settings.stall_timeout
        while True:
            await asyncio.sleep(min(timeout / 4, 1.0))
            if not self.codes or not self.market_open():
                self._last_data = time.monotonic()
                continue
            if time.monotonic() - self._last_data > timeout:
                logger.warning("no data for %.1f s while subscribed: reconnecting", timeout)
                stalled.set()
                await ws.close(1000, "stalled")
                return

    async def _stopper(self, ws: ClientConnection) -> None:
        await self._stop.wait()
        await ws.close(1000, "client stopping")

    # ------------------------------------------------------------------ messages

    def _on_raw(self, raw: str | bytes) -> None:
        received_at = self.wall_clock()
        self.counters.messages += 1
        try:
            message = json.loads(raw)
            cmd_id = message["cmd_id"]
        except (ValueError, TypeError, KeyError):
            self.counters.malformed += 1
            return
        if cmd_id == p.CMD_PUSH_TRADE or cmd_id == p.CMD_PUSH_DEPTH:
            data = message.get("data")
            if not isinstance(data, dict):
                self.counters.malformed += 1
                return
            self.counters.pushes += 1
            self._got_data = True
            self._last_data = time.monotonic()
            self.on_push(cmd_id, data, received_at)
            return
        ret = message.get("ret", p.RET_OK)
        if ret == p.RET_OK:
            if cmd_id == p.CMD_HEARTBEAT_ACK:
                self.counters.heartbeat_acks += 1
            return
        self.counters.errors[ret] += 1
        text = str(message.get("msg", ""))[:200]
        if ret in p.FATAL_CODES:
            raise FatalFeedError(ret, text)
        if ret == p.RET_RATE_LIMITED and cmd_id in (p.CMD_SUBSCRIBE_TRADES_ACK, p.CMD_SUBSCRIBE_DEPTH_ACK):
            # Slow down (the plan's limit may be lower than configured) and send the refused list again.
            self._pace = min(max(2 * self._pace, 0.25), 5.0)
            self._refused.add(p.CMD_SUBSCRIBE_TRADES if cmd_id == p.CMD_SUBSCRIBE_TRADES_ACK else p.CMD_SUBSCRIBE_DEPTH)
            logger.warning("AllTick rate-limited a subscribe (429): one request per %.2f s from now on, "
                           "sending the list again", self._pace)
            self._resubscribe.set()
            return
        logger.error("AllTick answered %s to command %s: %s", ret, cmd_id, p.ERROR_TEXT.get(ret, text))


class _QuietLogger(logging.LoggerAdapter):
    """websockets logs the URI on some errors; the URI carries the token. Keep only warnings, masked by type."""

    def log(self, level, msg, *args, **kwargs):  # noqa: D401
        if level >= logging.ERROR:
            logger.log(level, "websockets: %s", str(msg).split("?")[0])


_QUIET = _QuietLogger(logging.getLogger("datafeed.hk.websockets"), {})
