"""Session-aware bar building: ticks -> 1-minute bars -> N-minute or N-hour bars.

``BarPipeline`` keeps separate state per vt_symbol, so one instance serves a
whole portfolio and the result for a symbol does not depend on how the symbols'
data interleave. It has two stages that can be used on their own or chained:
``update_tick`` builds 1-minute bars from ticks, ``update_bar`` builds window
bars from 1-minute bars (for window=1 MINUTE it passes valid in-session bars
through). Trading sessions come from
``src.strategy.domain.value_object.trading_session``.

Conventions
-----------
- Times are exchange local time. Emitted bars carry tz-aware datetimes in
  Asia/Shanghai; aware inputs are converted, naive inputs are taken as
  Asia/Shanghai.
- A bar's datetime is the start of its window; a tick at time t belongs to the
  minute bar of floor(t) to the minute. N-minute bars have interval MINUTE,
  N-hour bars (N*60 minutes) interval HOUR; they carry the symbol, exchange and
  gateway_name of their input.
- The opening call-auction print, stamped in the minutes before the trading
  day's first session (09:29:00.x for CFFEX index futures, 20:59 before a
  commodity night session, 08:59 before a day-only commodity session), joins
  that session's first minute bar. For products with a night session the
  08:55-09:00 auction counts only when no earlier tick of the same trading day
  was seen (the night session is not held after a holiday).
- A tick stamped less than 60 s after a session's end belongs to that session's
  last minute: the closing prints at 11:30:00.x and 15:00:00.x go into the 11:29
  and 14:59 bars.
- Any other tick outside the sessions (for example the zero-volume settlement
  records CFFEX sends around 15:30) is discarded and counted as
  ``outside_session``. Such a tick still shows that time has passed: when it is
  stamped after the last moment a tick could join the pending minute bar, that
  bar is emitted.
- A minute bar is emitted when a tick of a later minute arrives (or the
  outside-session tick above), or on flush.
- An N-minute window never spans a session break: windows restart at each
  session start (a night session crossing midnight is one session), and the
  last, possibly short, window of a session is emitted as soon as the session's
  last minute bar arrives. Any window is emitted as soon as its last minute bar
  arrives, when a bar of a later window arrives, or on flush.
- Minute volume and turnover are differences of the cumulative tick fields
  (vnpy's TickData.volume and TickData.turnover are the cumulative fields),
  counted from zero at the start of each trading day: the baseline resets when
  the trading day changes (night sessions belong to the next weekday, see
  ``trading_day_of``) and, defensively, whenever a cumulative value goes down.
  Open interest is the last value. Window volume and turnover are sums of the
  minute values. A discarded tick does not move the baseline, so volume it
  reported is counted in the bar of the next accepted tick.
- Invalid input is counted by reason and skipped, never raised: non-finite or
  non-positive last price, negative or non-finite cumulative volume, turnover
  or open interest, a timestamp earlier than the symbol's previous accepted
  tick (equal timestamps are accepted), a tick for a minute bar already
  emitted, an exchange without known sessions. For ``update_bar`` also: interval
  other than MINUTE, a datetime not on a whole minute, inconsistent OHLC, a bar
  not later than the symbol's previous bar, a bar for a window already emitted.
- ``update_bar`` applies the same minute mapping to its input: a bar stamped in
  an auction window (vnpy's BarGenerator makes a 09:29 bar from the auction
  print) is merged into the session's first minute; a bar stamped in the closing
  grace minute (a separate 15:00 bar) is merged into the session's last window
  only while that window is still open, otherwise it is discarded as
  ``out_of_order``.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import Enum
from types import MappingProxyType

from vnpy.trader.constant import Interval
from vnpy.trader.object import BarData, TickData

from src.strategy.domain.value_object.trading_session import (
    CHINA_TRADING_SESSIONS,
    EXCHANGE_TIMEZONE,
    SessionMatch,
    SessionPhase,
    TradingSessionCatalog,
    WindowPosition,
    trading_day_of,
)

CHINA_TZ = EXCHANGE_TIMEZONE

_INF = math.inf
_ONE_MINUTE = timedelta(minutes=1)
_TWO_MINUTES = timedelta(minutes=2)


class DiscardReason(str, Enum):
    UNKNOWN_EXCHANGE = "unknown_exchange"
    INVALID_TIMESTAMP = "invalid_timestamp"
    INVALID_PRICE = "invalid_price"
    INVALID_VOLUME = "invalid_volume"
    INVALID_BAR = "invalid_bar"
    OUTSIDE_SESSION = "outside_session"
    OUT_OF_ORDER = "out_of_order"


def _frozen_counts(counts: Mapping[DiscardReason, int], what: str) -> Mapping[DiscardReason, int]:
    complete = {reason: 0 for reason in DiscardReason}
    for reason, count in counts.items():
        if not isinstance(reason, DiscardReason):
            raise TypeError(f"{what}: {reason!r} is not a DiscardReason")
        if isinstance(count, bool) or not isinstance(count, int) or count < 0:
            raise ValueError(f"{what}[{reason.value}] must be a non-negative int, got {count!r}")
        complete[reason] = count
    return MappingProxyType(complete)


@dataclass(frozen=True)
class PipelineStats:
    """Counts of what a BarPipeline accepted, discarded (by reason) and emitted."""

    ticks_accepted: int
    ticks_discarded: Mapping[DiscardReason, int]
    bars_accepted: int
    bars_discarded: Mapping[DiscardReason, int]
    minute_bars_emitted: int
    window_bars_emitted: int

    def __post_init__(self) -> None:
        for name in ("ticks_accepted", "bars_accepted", "minute_bars_emitted", "window_bars_emitted"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative int, got {value!r}")
        object.__setattr__(self, "ticks_discarded", _frozen_counts(self.ticks_discarded, "ticks_discarded"))
        object.__setattr__(self, "bars_discarded", _frozen_counts(self.bars_discarded, "bars_discarded"))

    @property
    def ticks_discarded_total(self) -> int:
        return sum(self.ticks_discarded.values())

    @property
    def bars_discarded_total(self) -> int:
        return sum(self.bars_discarded.values())


class _TickState:
    """The 1-minute bar being built for one symbol, and what is needed to continue it."""

    __slots__ = (
        "symbol",
        "exchange",
        "gateway_name",
        "table",
        "last_dt",
        "minute_end",
        "bar_start",
        "deadline",
        "has_bar",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "turnover",
        "open_interest",
        "trading_day",
        "cum_volume",
        "cum_turnover",
    )

    def __init__(self, tick: TickData, table: tuple[SessionMatch | None, ...]) -> None:
        self.symbol = tick.symbol
        self.exchange = tick.exchange
        self.gateway_name = tick.gateway_name
        self.table = table
        self.last_dt: datetime | None = None
        self.minute_end: datetime | None = None
        self.bar_start: datetime | None = None
        self.deadline: datetime | None = None
        self.has_bar = False
        self.open = self.high = self.low = self.close = 0.0
        self.volume = self.turnover = self.open_interest = 0.0
        self.trading_day: date | None = None
        self.cum_volume = 0.0
        self.cum_turnover = 0.0


class _WindowState:
    """The window bar being built for one symbol."""

    __slots__ = (
        "symbol",
        "exchange",
        "gateway_name",
        "table",
        "layout",
        "last_dt",
        "trading_day",
        "window_start",
        "has_window",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "turnover",
        "open_interest",
    )

    def __init__(
        self,
        bar: BarData,
        table: tuple[SessionMatch | None, ...],
        layout: tuple[WindowPosition | None, ...],
    ) -> None:
        self.symbol = bar.symbol
        self.exchange = bar.exchange
        self.gateway_name = bar.gateway_name
        self.table = table
        self.layout = layout
        self.last_dt: datetime | None = None
        self.trading_day: date | None = None
        self.window_start: datetime | None = None
        self.has_window = False
        self.open = self.high = self.low = self.close = 0.0
        self.volume = self.turnover = self.open_interest = 0.0


class BarPipeline:
    """Builds session-aware 1-minute bars from ticks and window bars from 1-minute bars."""

    def __init__(
        self,
        window: int = 1,
        interval: Interval = Interval.MINUTE,
        sessions: TradingSessionCatalog = CHINA_TRADING_SESSIONS,
    ) -> None:
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise ValueError(f"window must be a positive integer, got {window!r}")
        if interval is Interval.MINUTE:
            self._window_minutes = window
        elif interval is Interval.HOUR:
            self._window_minutes = window * 60
        else:
            raise ValueError(f"interval must be Interval.MINUTE or Interval.HOUR, got {interval!r}")
        if not isinstance(sessions, TradingSessionCatalog):
            raise TypeError(f"sessions must be a TradingSessionCatalog, got {type(sessions).__name__}")
        self.window = window
        self.interval = interval
        self._sessions = sessions
        self._tick_states: dict[str, _TickState] = {}
        self._window_states: dict[str, _WindowState] = {}
        self._unknown_symbols: set[str] = set()
        self._portfolio_queue: dict[str, deque[BarData]] = {}
        self._ticks_accepted = 0
        self._bars_accepted = 0
        self._minute_bars_emitted = 0
        self._window_bars_emitted = 0
        self._tick_discards: dict[DiscardReason, int] = dict.fromkeys(DiscardReason, 0)
        self._bar_discards: dict[DiscardReason, int] = dict.fromkeys(DiscardReason, 0)

    @property
    def stats(self) -> PipelineStats:
        return PipelineStats(
            ticks_accepted=self._ticks_accepted,
            ticks_discarded=self._tick_discards,
            bars_accepted=self._bars_accepted,
            bars_discarded=self._bar_discards,
            minute_bars_emitted=self._minute_bars_emitted,
            window_bars_emitted=self._window_bars_emitted,
        )

    # ------------------------------------------------------------------ ticks

    def update_tick(self, tick: TickData) -> list[BarData]:
        """Take one tick; return the 1-minute bars it completed (of its own symbol)."""
        state = self._tick_states.get(tick.vt_symbol)
        if state is None:
            state = self._new_tick_state(tick)
            if state is None:
                self._tick_discards[DiscardReason.UNKNOWN_EXCHANGE] += 1
                return []

        moment = tick.datetime
        try:
            zone = moment.tzinfo
        except AttributeError:
            self._tick_discards[DiscardReason.INVALID_TIMESTAMP] += 1
            return []
        if zone is not CHINA_TZ:
            moment = moment.replace(tzinfo=CHINA_TZ) if zone is None else moment.astimezone(CHINA_TZ)

        price = tick.last_price
        try:
            valid = 0.0 < price < _INF
        except TypeError:
            valid = False
        if not valid:
            self._tick_discards[DiscardReason.INVALID_PRICE] += 1
            return []
        volume = tick.volume
        turnover = tick.turnover
        open_interest = tick.open_interest
        try:
            valid = 0.0 <= volume < _INF and 0.0 <= turnover < _INF and 0.0 <= open_interest < _INF
        except TypeError:
            valid = False
        if not valid:
            self._tick_discards[DiscardReason.INVALID_VOLUME] += 1
            return []

        last_dt = state.last_dt
        if last_dt is not None and last_dt <= moment < state.minute_end:
            # Same wall-clock minute as the previous accepted tick: same bar, same trading day.
            self._accumulate(state, price, volume, turnover, open_interest)
            state.last_dt = moment
            self._ticks_accepted += 1
            return []
        return self._update_tick_new_minute(state, moment, price, volume, turnover, open_interest)

    def _update_tick_new_minute(
        self,
        state: _TickState,
        moment: datetime,
        price: float,
        volume: float,
        turnover: float,
        open_interest: float,
    ) -> list[BarData]:
        if state.last_dt is not None and moment < state.last_dt:
            self._tick_discards[DiscardReason.OUT_OF_ORDER] += 1
            return []
        match = state.table[moment.hour * 60 + moment.minute]
        trading_day = trading_day_of(moment) if match is not None else None
        if match is None or (match.only_without_earlier_session and trading_day == state.trading_day):
            self._tick_discards[DiscardReason.OUTSIDE_SESSION] += 1
            if state.has_bar and moment >= state.deadline:
                return [self._close_minute_bar(state)]
            return []

        minute_start = moment.replace(second=0, microsecond=0)
        bar_start = minute_start
        if match.offset_minutes:
            bar_start = minute_start + timedelta(minutes=match.offset_minutes)

        completed: list[BarData] = []
        continuing = False
        if state.bar_start is not None and bar_start <= state.bar_start:
            if bar_start < state.bar_start or not state.has_bar:
                self._tick_discards[DiscardReason.OUT_OF_ORDER] += 1
                return []
            continuing = True
        elif state.has_bar:
            completed.append(self._close_minute_bar(state))

        if trading_day != state.trading_day:
            state.trading_day = trading_day
            state.cum_volume = 0.0
            state.cum_turnover = 0.0
        if not continuing:
            state.bar_start = bar_start
            state.deadline = bar_start + (_TWO_MINUTES if match.is_last_minute else _ONE_MINUTE)
            state.has_bar = True
            state.open = state.high = state.low = price
            state.volume = 0.0
            state.turnover = 0.0
        state.last_dt = moment
        state.minute_end = minute_start + _ONE_MINUTE
        self._accumulate(state, price, volume, turnover, open_interest)
        self._ticks_accepted += 1
        return completed

    @staticmethod
    def _accumulate(state: _TickState, price: float, volume: float, turnover: float, open_interest: float) -> None:
        traded = volume - state.cum_volume
        if traded < 0.0:
            # The cumulative count restarted (missed trading-day change, feed reset): count from zero.
            traded = volume
        state.cum_volume = volume
        value = turnover - state.cum_turnover
        if value < 0.0:
            value = turnover
        state.cum_turnover = turnover
        state.volume += traded
        state.turnover += value
        if price > state.high:
            state.high = price
        elif price < state.low:
            state.low = price
        state.close = price
        state.open_interest = open_interest

    def _new_tick_state(self, tick: TickData) -> _TickState | None:
        table = self._session_table(tick.vt_symbol, tick.exchange, tick.symbol)
        if table is None:
            return None
        state = _TickState(tick, table)
        self._tick_states[tick.vt_symbol] = state
        return state

    def _session_table(self, vt_symbol: str, exchange, symbol: str) -> tuple[SessionMatch | None, ...] | None:
        if vt_symbol in self._unknown_symbols:
            return None
        try:
            schedule = self._sessions.schedule_for_symbol(exchange.value, symbol)
        except (ValueError, TypeError, AttributeError):
            self._unknown_symbols.add(vt_symbol)
            return None
        return schedule.minute_table

    def _close_minute_bar(self, state: _TickState) -> BarData:
        state.has_bar = False
        # An empty range: a later tick of the emitted minute must take the slow path and be refused.
        state.minute_end = state.last_dt
        self._minute_bars_emitted += 1
        return BarData(
            gateway_name=state.gateway_name,
            symbol=state.symbol,
            exchange=state.exchange,
            datetime=state.bar_start,
            interval=Interval.MINUTE,
            volume=state.volume,
            turnover=state.turnover,
            open_interest=state.open_interest,
            open_price=state.open,
            high_price=state.high,
            low_price=state.low,
            close_price=state.close,
        )

    # ------------------------------------------------------------------- bars

    def update_bar(self, bar: BarData) -> list[BarData]:
        """Take one 1-minute bar; return the window bars it completed (of its own symbol)."""
        state = self._window_states.get(bar.vt_symbol)
        if state is None:
            state = self._new_window_state(bar)
            if state is None:
                self._bar_discards[DiscardReason.UNKNOWN_EXCHANGE] += 1
                return []

        if bar.interval is not Interval.MINUTE:
            self._bar_discards[DiscardReason.INVALID_BAR] += 1
            return []
        moment = bar.datetime
        try:
            zone = moment.tzinfo
        except AttributeError:
            self._bar_discards[DiscardReason.INVALID_TIMESTAMP] += 1
            return []
        if zone is not CHINA_TZ:
            moment = moment.replace(tzinfo=CHINA_TZ) if zone is None else moment.astimezone(CHINA_TZ)
        if moment.second or moment.microsecond:
            self._bar_discards[DiscardReason.INVALID_BAR] += 1
            return []

        open_price, high, low, close = bar.open_price, bar.high_price, bar.low_price, bar.close_price
        try:
            valid = 0.0 < low <= open_price <= high < _INF and low <= close <= high
        except TypeError:
            valid = False
        if not valid:
            self._bar_discards[DiscardReason.INVALID_PRICE] += 1
            return []
        volume, turnover, open_interest = bar.volume, bar.turnover, bar.open_interest
        try:
            valid = 0.0 <= volume < _INF and 0.0 <= turnover < _INF and 0.0 <= open_interest < _INF
        except TypeError:
            valid = False
        if not valid:
            self._bar_discards[DiscardReason.INVALID_VOLUME] += 1
            return []

        if state.last_dt is not None and moment <= state.last_dt:
            self._bar_discards[DiscardReason.OUT_OF_ORDER] += 1
            return []
        match = state.table[moment.hour * 60 + moment.minute]
        trading_day = trading_day_of(moment) if match is not None else None
        if match is None or (match.only_without_earlier_session and trading_day == state.trading_day):
            self._bar_discards[DiscardReason.OUTSIDE_SESSION] += 1
            return []

        position = state.layout[match.bar_minute_of_day]
        minute = moment + timedelta(minutes=match.offset_minutes) if match.offset_minutes else moment
        window_start = (
            minute - timedelta(minutes=position.minutes_into_window) if position.minutes_into_window else minute
        )
        # An auction bar never closes a window: the session's first minute is still to come.
        closes = position.closes_window and match.phase is not SessionPhase.AUCTION

        completed: list[BarData] = []
        continuing = False
        if state.window_start is not None and window_start <= state.window_start:
            if window_start < state.window_start or not state.has_window:
                self._bar_discards[DiscardReason.OUT_OF_ORDER] += 1
                return []
            continuing = True
        elif state.has_window:
            completed.append(self._close_window(state))

        if continuing:
            if high > state.high:
                state.high = high
            if low < state.low:
                state.low = low
            state.volume += volume
            state.turnover += turnover
        else:
            state.window_start = window_start
            state.has_window = True
            state.open = open_price
            state.high = high
            state.low = low
            state.volume = volume
            state.turnover = turnover
        state.close = close
        state.open_interest = open_interest
        state.last_dt = moment
        state.trading_day = trading_day
        self._bars_accepted += 1
        if closes:
            completed.append(self._close_window(state))
        return completed

    def update_bars(self, bars: Mapping[str, BarData]) -> dict[str, BarData]:
        """Portfolio form of ``update_bar``: completed window bars keyed by vt_symbol.

        A dict holds one bar per symbol. When one input completes two windows of a
        symbol (possible only when minute bars are missing at a window boundary),
        the older is returned now and the newer with the next call or ``flush``.
        """
        queue = self._portfolio_queue
        for bar in bars.values():
            completed = self.update_bar(bar)
            if completed:
                pending = queue.get(bar.vt_symbol)
                if pending is None:
                    pending = queue[bar.vt_symbol] = deque()
                pending.extend(completed)
        result: dict[str, BarData] = {}
        for vt_symbol in list(queue):
            pending = queue[vt_symbol]
            result[vt_symbol] = pending.popleft()
            if not pending:
                del queue[vt_symbol]
        return result

    def _new_window_state(self, bar: BarData) -> _WindowState | None:
        table = self._session_table(bar.vt_symbol, bar.exchange, bar.symbol)
        if table is None:
            return None
        schedule = self._sessions.schedule_for_symbol(bar.exchange.value, bar.symbol)
        state = _WindowState(bar, table, schedule.window_layout(self._window_minutes))
        self._window_states[bar.vt_symbol] = state
        return state

    def _close_window(self, state: _WindowState) -> BarData:
        state.has_window = False
        self._window_bars_emitted += 1
        return BarData(
            gateway_name=state.gateway_name,
            symbol=state.symbol,
            exchange=state.exchange,
            datetime=state.window_start,
            interval=self.interval,
            volume=state.volume,
            turnover=state.turnover,
            open_interest=state.open_interest,
            open_price=state.open,
            high_price=state.high,
            low_price=state.low,
            close_price=state.close,
        )

    # ------------------------------------------------------------------ flush

    def flush_ticks(self) -> list[BarData]:
        """Emit the 1-minute bars still being built from ticks."""
        return [self._close_minute_bar(state) for state in self._tick_states.values() if state.has_bar]

    def flush_bars(self) -> list[BarData]:
        """Emit the window bars still pending: those held back by ``update_bars``, then open windows."""
        flushed = [bar for pending in self._portfolio_queue.values() for bar in pending]
        self._portfolio_queue.clear()
        flushed.extend(self._close_window(state) for state in self._window_states.values() if state.has_window)
        return flushed

    def flush(self) -> list[BarData]:
        """Emit everything still pending: 1-minute bars from ticks, then window bars.

        When ``update_tick`` feeds ``update_bar``, call ``flush_ticks``, pass its bars
        through ``update_bar``, then call ``flush_bars``; ``flush`` would close the
        open windows before the last minute bars reach them.
        """
        return self.flush_ticks() + self.flush_bars()
