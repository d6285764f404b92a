"""The one rate governor for option market statistics, and the backoff used after a failed call.

Futu allows 60 requests per 30 s for this API and counts only the first page of a paged query.
The governor keeps the first pages we sent in the last window and, before a new first page, waits
until fewer than ``limit - margin`` remain; later pages pass freely. Clock and sleep are injected.
"""
from __future__ import annotations

import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field


class RateGovernor:
    def __init__(self, limit: int = 60, window_seconds: float = 30.0, margin: int = 6,
                 clock: Callable[[], float] = time.monotonic, sleep: Callable[[float], None] = time.sleep) -> None:
        if limit < 1 or window_seconds <= 0:
            raise ValueError(f"limit must be >= 1 and the window positive, got {limit} per {window_seconds} s")
        if not 0 <= margin < limit:
            raise ValueError(f"margin must be 0..{limit - 1}, got {margin}")
        self.limit = limit
        self.window_seconds = window_seconds
        self.allowed = limit - margin
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()
        self.first_pages = 0
        self.peak_in_window = 0
        self.waits = 0
        self.waited_seconds = 0.0

    def acquire(self) -> None:
        """Returns when one more first page may be sent now (and counts it as sent)."""
        for _ in range(self.allowed + 2):  # each pass either returns or lets the oldest send expire
            now = self._clock()
            while self._sent and now - self._sent[0] >= self.window_seconds:
                self._sent.popleft()
            if len(self._sent) < self.allowed:
                self._sent.append(now)
                self.first_pages += 1
                self.peak_in_window = max(self.peak_in_window, len(self._sent))
                return
            wait = self.window_seconds - (now - self._sent[0]) + 1e-3
            self.waits += 1
            self.waited_seconds += wait
            self._sleep(wait)
        raise RuntimeError("rate governor: the clock does not advance")  # a broken clock, never a real one


@dataclass
class Backoff:
    """Exponential delays with jitter: attempt n waits a uniform draw in [(1 - jitter) d, d],
    d = min(cap, base * factor ** (n - 1))."""

    base_seconds: float = 1.0
    factor: float = 2.0
    cap_seconds: float = 30.0
    jitter: float = 0.5
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.base_seconds < 0 or self.factor < 1 or self.cap_seconds < 0 or not 0 <= self.jitter <= 1:
            raise ValueError("backoff: base >= 0, factor >= 1, cap >= 0 and jitter in [0, 1]")

    def delay(self, attempt: int) -> float:
        ceiling = min(self.cap_seconds, self.base_seconds * self.factor ** max(0, attempt - 1))
        return self.rng.uniform(ceiling * (1 - self.jitter), ceiling)
