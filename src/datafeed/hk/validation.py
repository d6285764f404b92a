"""Validation of AllTick pushes: each bad record counted by reason and skipped, never raised.

The seed's rules (all fields present, price > 0, ask above bid) plus: non-numeric
strings, non-finite prices, negative volume, a ``tick_time`` that is neither
milliseconds nor seconds of a plausible moment, time going backwards per code,
a ``seq`` already seen for the code (duplicate), a code that was not
subscribed, a crossed book on the depth stream.

``tick_time`` is documented as milliseconds but AllTick's examples show seconds:
a value below 10^11 is read as seconds (10^11 ms is 1973, 10^11 s is the year
5138), anything before 2000 or more than ``max_future_ms`` after the receive time
is nonsense.

Sequence numbers: trades of a code carry an increasing ``seq``; a jump is a gap
(``SeqGap``: the first and last missing seq), a repeat or step back a duplicate.
The depth stream is a series of whole books, so a missed book is superseded by
the next one: duplicates and time are checked there, gaps are not.
"""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import NamedTuple

MIN_TIME_MS = 946_684_800_000  # 2000-01-01 UTC
SECONDS_LIMIT = 100_000_000_000  # below: seconds; at or above: milliseconds
DEFAULT_MAX_FUTURE_MS = 24 * 3600 * 1000

TRADE_FIELDS = ("code", "seq", "tick_time", "price", "volume", "turnover")
DEPTH_FIELDS = ("code", "seq", "tick_time", "bids", "asks")


class RejectReason(str, Enum):
    MISSING_FIELD = "missing_field"
    NON_NUMERIC = "non_numeric"
    BAD_PRICE = "bad_price"
    NEGATIVE_VOLUME = "negative_volume"
    BAD_TIME = "bad_time"
    BAD_SEQ = "bad_seq"
    UNSUBSCRIBED_CODE = "unsubscribed_code"
    DUPLICATE_SEQ = "duplicate_seq"
    TIME_BACKWARDS = "time_backwards"
    CROSSED_BOOK = "crossed_book"
    EMPTY_BOOK = "empty_book"


class Trade(NamedTuple):
    """An accepted trade (immutable; a NamedTuple because a million are made a minute in a burst)."""

    code: str
    seq: int
    tick_time_ms: int
    price: float
    volume: float
    turnover: float
    direction: int
    received_at: float  # wall-clock seconds


class Depth(NamedTuple):
    code: str
    seq: int
    tick_time_ms: int
    bids: tuple[tuple[float, float], ...]
    asks: tuple[tuple[float, float], ...]
    received_at: float


GAP_FEED = "feed"          # the feed jumped: the vendor never sent these seqs to us
GAP_OVERFLOW = "overflow"  # we received them, but the full buffer dropped them


class SeqGap(NamedTuple):
    code: str
    first_missing: int
    last_missing: int
    detected_at: float
    cause: str = GAP_FEED

    @property
    def size(self) -> int:
        return self.last_missing - self.first_missing + 1


_DIRECTIONS = {0: 0, 1: 1, 2: 2, "0": 0, "1": 1, "2": 2}


class _Reject(Exception):
    __slots__ = ("reason",)

    def __init__(self, reason: RejectReason) -> None:
        self.reason = reason


def parse_tick_time(text: object, received_ms: float, max_future_ms: int = DEFAULT_MAX_FUTURE_MS) -> int:
    """Milliseconds since the epoch from AllTick's ``tick_time`` (ms or s); _Reject when impossible."""
    try:
        value = int(text) if type(text) is str else text
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            raise _Reject(RejectReason.NON_NUMERIC) from None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise _Reject(RejectReason.NON_NUMERIC)
    ms = int(value * 1000) if value < SECONDS_LIMIT else int(value)
    if ms < MIN_TIME_MS or ms > received_ms + max_future_ms:
        raise _Reject(RejectReason.BAD_TIME)
    return ms


def _number(text: object) -> float:
    if isinstance(text, bool):
        raise _Reject(RejectReason.NON_NUMERIC)
    try:
        return float(text)
    except (TypeError, ValueError):
        raise _Reject(RejectReason.NON_NUMERIC) from None


def _seq(text: object) -> int:
    if type(text) is bool or type(text) is float:
        raise _Reject(RejectReason.BAD_SEQ)
    try:
        value = int(text)
    except (TypeError, ValueError):
        raise _Reject(RejectReason.BAD_SEQ) from None
    if value < 0:
        raise _Reject(RejectReason.BAD_SEQ)
    return value


class _CodeState:
    __slots__ = ("trade_seq", "trade_ms", "depth_seq", "depth_ms")

    def __init__(self) -> None:
        self.trade_seq = -1
        self.trade_ms = 0
        self.depth_seq = -1
        self.depth_ms = 0


class Validator:
    """Checks pushes of the subscribed ``codes``; counts rejects in ``rejects`` and collects ``gaps``."""

    def __init__(self, codes: Iterable[str], *, checkpoint: Mapping[str, tuple[int, int]] | None = None,
                 max_future_ms: int = DEFAULT_MAX_FUTURE_MS) -> None:
        self.max_future_ms = max_future_ms
        self.rejects: Counter[RejectReason] = Counter()
        self.gaps: list[SeqGap] = []
        self.trades_accepted = 0
        self.depth_accepted = 0
        self._states: dict[str, _CodeState] = {}
        self._active: dict[str, _CodeState] = {}
        for code, (seq, ms) in (checkpoint or {}).items():
            state = self._states.setdefault(code, _CodeState())
            state.trade_seq, state.trade_ms = seq, ms
        self.set_codes(codes)

    def set_codes(self, codes: Iterable[str]) -> None:
        self.codes = frozenset(codes)
        self._active = {code: self._states.setdefault(code, _CodeState()) for code in self.codes}

    def take_gaps(self) -> list[SeqGap]:
        gaps, self.gaps = self.gaps, []
        return gaps

    @property
    def rejected_total(self) -> int:
        return sum(self.rejects.values())

    def trade(self, data: Mapping, received_at: float) -> Trade | None:
        # One function, few calls: this runs for every trade of the morning burst.
        try:
            code = data["code"]
            seq_text = data["seq"]
            time_text = data["tick_time"]
            price_text = data["price"]
            volume_text = data["volume"]
            turnover_text = data["turnover"]
        except (KeyError, TypeError):
            return self._reject(RejectReason.MISSING_FIELD)
        if type(code) is not str:
            return self._reject(RejectReason.MISSING_FIELD)
        if type(price_text) is bool or type(volume_text) is bool or type(turnover_text) is bool:
            return self._reject(RejectReason.NON_NUMERIC)
        try:
            price = float(price_text)
            volume = float(volume_text)
            turnover = float(turnover_text)
        except (TypeError, ValueError):
            return self._reject(RejectReason.NON_NUMERIC)
        if not 0.0 < price < math.inf:
            return self._reject(RejectReason.BAD_PRICE)
        if not (0.0 <= volume < math.inf and 0.0 <= turnover < math.inf):
            if volume != volume or turnover != turnover:
                return self._reject(RejectReason.NON_NUMERIC)
            return self._reject(RejectReason.NEGATIVE_VOLUME)
        try:
            if type(time_text) is str and time_text.isdigit():  # the usual case, without a call
                ms = int(time_text)
                if ms < SECONDS_LIMIT:
                    ms *= 1000
                if ms < MIN_TIME_MS or ms > received_at * 1000.0 + self.max_future_ms:
                    raise _Reject(RejectReason.BAD_TIME)
            else:
                ms = parse_tick_time(time_text, received_at * 1000.0, self.max_future_ms)
            seq = int(seq_text) if type(seq_text) is str and seq_text.isdigit() else _seq(seq_text)
        except _Reject as reject:
            return self._reject(reject.reason)
        direction = data.get("trade_direction", 0)
        if direction not in _DIRECTIONS:
            direction = _DIRECTIONS.get(direction, 0) if isinstance(direction, str) else 0
        state = self._active.get(code)
        if state is None:
            return self._reject(RejectReason.UNSUBSCRIBED_CODE)
        previous = state.trade_seq
        if seq <= previous:
            return self._reject(RejectReason.DUPLICATE_SEQ)
        if ms < state.trade_ms:
            return self._reject(RejectReason.TIME_BACKWARDS)
        if previous >= 0 and seq > previous + 1:
            self.gaps.append(SeqGap(code, previous + 1, seq - 1, received_at))
        state.trade_seq = seq
        state.trade_ms = ms
        self.trades_accepted += 1
        return Trade(code, seq, ms, price, volume, turnover, direction, received_at)

    def _reject(self, reason: RejectReason) -> None:
        self.rejects[reason] += 1
        return None

    def depth(self, data: Mapping, received_at: float) -> Depth | None:
        try:
            try:
                code = data["code"]
                seq_text = data["seq"]
                time_text = data["tick_time"]
                bids_raw = data["bids"]
                asks_raw = data["asks"]
            except (KeyError, TypeError):
                raise _Reject(RejectReason.MISSING_FIELD) from None
            if type(code) is not str:
                raise _Reject(RejectReason.MISSING_FIELD)
            bids = self._levels(bids_raw)
            asks = self._levels(asks_raw)
            if not bids and not asks:
                raise _Reject(RejectReason.EMPTY_BOOK)
            if bids and asks and bids[0][0] >= asks[0][0]:
                raise _Reject(RejectReason.CROSSED_BOOK)
            ms = parse_tick_time(time_text, received_at * 1000.0, self.max_future_ms)
            seq = _seq(seq_text)
            state = self._active.get(code)
            if state is None:
                raise _Reject(RejectReason.UNSUBSCRIBED_CODE)
            if seq <= state.depth_seq:
                raise _Reject(RejectReason.DUPLICATE_SEQ)
            if ms < state.depth_ms:
                raise _Reject(RejectReason.TIME_BACKWARDS)
        except _Reject as reject:
            self.rejects[reject.reason] += 1
            return None
        state.depth_seq = seq
        state.depth_ms = ms
        self.depth_accepted += 1
        return Depth(code, seq, ms, bids, asks, received_at)

    @staticmethod
    def _levels(raw: object) -> tuple[tuple[float, float], ...]:
        if not isinstance(raw, list):
            raise _Reject(RejectReason.MISSING_FIELD)
        levels = []
        for level in raw:
            try:
                price = _number(level["price"])
                volume = _number(level["volume"])
            except (KeyError, TypeError):
                raise _Reject(RejectReason.MISSING_FIELD) from None
            if not 0.0 < price < math.inf:
                raise _Reject(RejectReason.BAD_PRICE)
            if not 0.0 <= volume < math.inf:
                raise _Reject(RejectReason.NEGATIVE_VOLUME if volume < 0 else RejectReason.NON_NUMERIC)
            levels.append((price, volume))
        return tuple(levels)
