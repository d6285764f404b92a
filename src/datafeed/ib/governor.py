"""One rate governor for all IB traffic of a connection.

- Messages: at most ``messages_per_second`` (default 45, the client's own ceiling; TWS answers
  error 100 over 50/s) in any sliding second, the very rule of ib_async's own throttle, so nothing
  ever queues inside the client (where it would escape our accounting) and a late wake-up on a
  busy machine is made up at once instead of being lost. Every request and cancel goes through ``message()``.
- Market-data lines: at most ``max_lines`` snapshots and streams in flight (default 90 of the usual
  100 lines, leaving room for the user's own TWS windows); ``line()`` holds one.
- Historical requests: their own budget, IB's pacing rules: at most 60 in 10 minutes, no identical
  request within 15 s, at most 6 for one contract and data type within 2 s (``historical()``).
- Pacing errors back off instead of failing: error 100 stops all messages for ``backoff`` seconds
  (doubling while they repeat, up to ``max_backoff``); error 162 does the same for historical
  requests. A quiet period resets the backoff.
- Connectivity: between 1100 (TWS lost IB) and 1101/1102 (restored) nothing is sent;
  ``wait_connectivity()`` blocks, bounded by its timeout.

Clock and sleep are injectable so the rules are tested without waiting.
"""
from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Awaitable, Callable, Hashable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

CONNECTIVITY_LOST = 1100
CONNECTIVITY_RESTORED = (1101, 1102)


@dataclass(frozen=True)
class GovernorLimits:
    messages_per_second: int = 45
    window: float = 1.005                 # one second, plus a margin for the client's later timestamps
    max_lines: int = 90
    batch_size: int = 300
    batch_pause: float = 0.5
    historical_per_10_min: int = 60
    historical_identical_gap: float = 15.0
    historical_per_contract_2_s: int = 6
    backoff: float = 1.0
    max_backoff: float = 60.0
    historical_backoff: float = 15.0

    def __post_init__(self) -> None:
        if not (isinstance(self.messages_per_second, int) and 0 < self.messages_per_second <= 50):
            raise ValueError(f"messages_per_second must be a whole number 1-50 (TWS refuses more), got "
                             f"{self.messages_per_second}")
        if not self.window >= 1.0:
            raise ValueError(f"window must be at least one second, got {self.window}")
        if not 1 <= self.max_lines <= 10_000:
            raise ValueError(f"max_lines must be at least 1, got {self.max_lines}")
        if not 1 <= self.batch_size <= 300:
            raise ValueError(f"batch_size must be 1-300, got {self.batch_size}")
        if self.batch_pause < 0:
            raise ValueError(f"batch_pause must be >= 0, got {self.batch_pause}")
        if not 1 <= self.historical_per_10_min <= 60:
            raise ValueError(f"historical_per_10_min must be 1-60, got {self.historical_per_10_min}")


@dataclass
class GovernorStats:
    messages: int = 0
    waits: float = 0.0
    backoffs: dict[int, int] = field(default_factory=dict)
    historical: int = 0


class RateGovernor:
    def __init__(self, limits: GovernorLimits | None = None, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self.limits = limits or GovernorLimits()
        self.clock = clock
        self.sleep = sleep
        self.stats = GovernorStats()
        self._sent: deque[float] = deque(maxlen=self.limits.messages_per_second)
        self._paused_until = 0.0
        self._backoff = self.limits.backoff
        self._last_penalty = -1e18
        self._historical_paused_until = 0.0
        self._historical_backoff = self.limits.historical_backoff
        self._historical: deque[tuple[float, Hashable, Hashable]] = deque()
        self._lines = asyncio.Semaphore(self.limits.max_lines)
        self._lines_used = 0
        self._message_lock = asyncio.Lock()
        self._historical_lock = asyncio.Lock()
        self._connected = asyncio.Event()
        self._connected.set()

    # ------------------------------------------------------------------ messages

    def delay_for_message(self) -> float:
        """Seconds until one message may go (0 when one may go now); takes nothing."""
        now = self.clock()
        pause = max(0.0, self._paused_until - now)
        sent = self._sent
        full = len(sent) == sent.maxlen
        window_wait = max(0.0, sent[0] + self.limits.window - now) if full else 0.0
        return max(pause, window_wait)

    async def message(self, count: int = 1) -> None:
        """Waits until ``count`` messages may be sent, and takes them from the budget."""
        async with self._message_lock:
            for _ in range(count):
                for _attempt in range(10_000):
                    delay = self.delay_for_message()
                    if delay <= 0:
                        break
                    self.stats.waits += delay
                    await self.sleep(delay)
                self._sent.append(self.clock())
                self.stats.messages += 1

    # ------------------------------------------------------------------ lines

    @asynccontextmanager
    async def line(self):
        """Holds one market-data line (snapshot or stream) for the duration of the block."""
        await self.acquire_line()
        try:
            yield
        finally:
            self.release_line()

    async def acquire_line(self) -> None:
        """Takes one line until ``release_line`` (for streams that outlive a block)."""
        await self._lines.acquire()
        self._lines_used += 1

    def release_line(self) -> None:
        self._lines_used -= 1
        self._lines.release()

    @property
    def lines_in_use(self) -> int:
        return self._lines_used

    # ------------------------------------------------------------------ historical

    def delay_for_historical(self, key: Hashable, contract_key: Hashable) -> float:
        now = self.clock()
        limits = self.limits
        history = self._historical
        while history and now - history[0][0] >= 600.0:
            history.popleft()
        delays = [max(0.0, self._historical_paused_until - now)]
        if len(history) >= limits.historical_per_10_min:
            delays.append(history[-limits.historical_per_10_min][0] + 600.0 - now)
        same = [t for t, k, _ in history if k == key]
        if same:
            delays.append(same[-1] + limits.historical_identical_gap - now)
        recent = [t for t, _, c in history if c == contract_key and now - t < 2.0]
        if len(recent) >= limits.historical_per_contract_2_s:
            delays.append(recent[-limits.historical_per_contract_2_s] + 2.0 - now)
        return max(0.0, *delays)

    async def historical(self, key: Hashable, contract_key: Hashable) -> None:
        """Waits until a historical request ``key`` (about ``contract_key``) respects IB's pacing."""
        async with self._historical_lock:
            for _attempt in range(10_000):
                delay = self.delay_for_historical(key, contract_key)
                if delay <= 0:
                    break
                self.stats.waits += delay
                await self.sleep(delay + 0.001)
            await self.message()   # only moves time forward: the pacing rules still hold when it returns
            self._historical.append((self.clock(), key, contract_key))
            self.stats.historical += 1

    # ------------------------------------------------------------------ errors

    def on_error(self, code: int) -> None:
        """Feed every TWS error code here: pacing errors back off, connectivity codes pause."""
        now = self.clock()
        if code == 100:
            if now - self._last_penalty > 10 * self._backoff:
                self._backoff = self.limits.backoff
            else:
                self._backoff = min(self.limits.max_backoff, self._backoff * 2)
            self._last_penalty = now
            self._paused_until = max(self._paused_until, now + self._backoff)
        elif code == 162:
            self._historical_paused_until = max(self._historical_paused_until, now + self._historical_backoff)
            self._historical_backoff = min(600.0, self._historical_backoff * 2)
        elif code == CONNECTIVITY_LOST:
            self._connected.clear()
        elif code in CONNECTIVITY_RESTORED:
            self._connected.set()
        else:
            return
        self.stats.backoffs[code] = self.stats.backoffs.get(code, 0) + 1

    def connection_reset(self) -> None:
        """A new socket: connectivity is assumed until TWS says otherwise."""
        self._connected.set()

    @property
    def connectivity_ok(self) -> bool:
        return self._connected.is_set()

    async def wait_connectivity(self, timeout: float) -> bool:
        """True once TWS is connected to IB again; False after ``timeout`` seconds."""
        if self._connected.is_set():
            return True
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except asyncio.TimeoutError:
            return False
        return True
