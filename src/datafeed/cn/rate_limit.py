"""Staying under a vendor's calls-per-minute cap, and retrying when it says we did not."""
from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable


class CallPacer:
    """At most ``calls`` calls in any ``window_seconds``: ``wait()`` sleeps until the next call is allowed.

    The clock and the sleep are passed in, so tests need no real waiting.
    """

    def __init__(self, calls: int, window_seconds: float = 60.0, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        if calls < 1:
            raise ValueError(f"calls per window must be >= 1, got {calls}")
        if window_seconds <= 0:
            raise ValueError(f"window must be positive, got {window_seconds}")
        self.calls = calls
        self.window_seconds = window_seconds
        self._clock = clock
        self._sleep = sleep
        self._recent: deque[float] = deque()
        self.waited_seconds = 0.0

    def lower_to(self, calls: int) -> None:
        """The vendor told us its real cap: never go above it."""
        if 1 <= calls < self.calls:
            self.calls = calls

    def wait(self) -> None:
        now = self._clock()
        while self._recent and now - self._recent[0] >= self.window_seconds:
            self._recent.popleft()
        if len(self._recent) >= self.calls:
            pause = self.window_seconds - (now - self._recent[0])
            if pause > 0:
                self.waited_seconds += pause
                self._sleep(pause)
            now = self._clock()
            while self._recent and now - self._recent[0] >= self.window_seconds:
                self._recent.popleft()
        self._recent.append(now)
