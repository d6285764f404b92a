"""Trading sessions of Chinese futures and option exchanges.

Everything here is in exchange local time (Asia/Shanghai) and uses the
standard library only.

Vocabulary
----------
- A ``TradingSession`` is one continuous-trading period, ``[start, end)`` in
  local wall-clock time. A night session may cross midnight (``21:00-02:30``).
- A ``TradingSchedule`` is the ordered list of sessions of one trading day of a
  product, in the order they trade: the night session (which belongs to the
  *next* trading day) first, then the day sessions. It also holds the opening
  call-auction windows.
- A ``TradingSessionCatalog`` finds the schedule of an (exchange, product).

Conventions used to place a print into a minute bar (``TradingSchedule.locate``)
-----------------------------------------------------------------------------
- A time inside a session belongs to the minute that contains it.
- A time inside an opening call-auction window belongs to the first minute of
  the session the auction opens (CFFEX prints the auction at 09:29:00.x, so it
  joins the 09:30 bar).
- A time less than 60 seconds after a session's end (the closing prints stamped
  11:30:00.x or 15:00:00.x) belongs to that session's last minute.
- Anything else is outside the sessions.

Trading days
------------
A night session belongs to the next trading day, which ``trading_day_of`` takes
to be the next weekday: Friday night and the early hours of Saturday belong to
Monday. Exchange holidays are not known here, so the date can be wrong around
holidays when no calendar is consulted; the exchanges hold no night session on
the evening before a holiday, which keeps the error away from real data.

Night sessions of products that have one are not held after a holiday either.
On such a day the exchange runs the opening auction before the day session
(08:55-09:00) instead; the schedule therefore also lists that window, marked
``only_without_earlier_session``, which callers apply only when no earlier
print of the same trading day was seen.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from enum import Enum
from functools import lru_cache

from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE

MINUTES_PER_DAY = 24 * 60

# Prints stamped at or after this time belong to the next trading day's night
# session; every day session and its closing grace minute ends well before it.
_EVENING_START = 18 * 60

_PRODUCT_PATTERN = re.compile(r"[A-Za-z]+")


def _minute_of_day(value: time) -> int:
    return value.hour * 60 + value.minute


def _time_of_minute(minute_of_day: int) -> time:
    minute_of_day %= MINUTES_PER_DAY
    return time(minute_of_day // 60, minute_of_day % 60)


def _validate_whole_minute(value: time, what: str) -> None:
    if not isinstance(value, time):
        raise TypeError(f"{what} must be a datetime.time, got {type(value).__name__}")
    if value.tzinfo is not None:
        raise ValueError(f"{what} must be a naive local time, got tzinfo={value.tzinfo}")
    if value.second or value.microsecond:
        raise ValueError(f"{what} must fall on a whole minute, got {value}")


class SessionKind(Enum):
    DAY = "day"
    NIGHT = "night"


class SessionPhase(Enum):
    CONTINUOUS = "continuous"
    AUCTION = "auction"
    CLOSING_GRACE = "closing_grace"


@dataclass(frozen=True)
class TradingSession:
    """One continuous-trading period ``[start, end)``; crosses midnight when end <= start."""

    start: time
    end: time
    kind: SessionKind = SessionKind.DAY

    def __post_init__(self) -> None:
        _validate_whole_minute(self.start, "session start")
        _validate_whole_minute(self.end, "session end")
        if self.start == self.end:
            raise ValueError(f"session start and end are both {self.start}")
        if not isinstance(self.kind, SessionKind):
            raise TypeError(f"session kind must be a SessionKind, got {self.kind!r}")

    @property
    def crosses_midnight(self) -> bool:
        return self.end <= self.start

    @property
    def duration_minutes(self) -> int:
        return (_minute_of_day(self.end) - _minute_of_day(self.start)) % MINUTES_PER_DAY

    def contains(self, moment: time) -> bool:
        """Whether a local time lies in ``[start, end)``."""
        if self.crosses_midnight:
            return moment >= self.start or moment < self.end
        return self.start <= moment < self.end


@dataclass(frozen=True)
class CallAuction:
    """An opening call-auction window ``[start, end)`` whose print joins a session's first bar."""

    start: time
    end: time
    session_index: int
    only_without_earlier_session: bool = False

    def __post_init__(self) -> None:
        _validate_whole_minute(self.start, "auction start")
        _validate_whole_minute(self.end, "auction end")
        if self.start >= self.end:
            raise ValueError(f"auction window {self.start}-{self.end} must be non-empty and not cross midnight")
        if self.session_index < 0:
            raise ValueError(f"auction session_index must be >= 0, got {self.session_index}")


@dataclass(frozen=True)
class ClosingAuction:
    """A closing call-auction window ``[start, end)`` right after a session; its prints join the session's last bar.

    HKEX runs one from 16:00 to a random moment between 16:08 and 16:10 (and after the
    morning session on half days): the auction's trades belong to the day's close,
    as the closing print at 15:00:00.x does for CFFEX.
    """

    start: time
    end: time
    session_index: int

    def __post_init__(self) -> None:
        _validate_whole_minute(self.start, "closing auction start")
        _validate_whole_minute(self.end, "closing auction end")
        if self.start >= self.end:
            raise ValueError(f"closing auction window {self.start}-{self.end} must be non-empty and not cross "
                             f"midnight")
        if self.session_index < 0:
            raise ValueError(f"closing auction session_index must be >= 0, got {self.session_index}")


@dataclass(frozen=True)
class SessionMatch:
    """Where a local time falls in a schedule, and which minute bar a print there joins."""

    session_index: int
    session: TradingSession
    phase: SessionPhase
    bar_minute_of_day: int
    offset_minutes: int
    is_last_minute: bool
    only_without_earlier_session: bool = False

    @property
    def bar_time(self) -> time:
        return _time_of_minute(self.bar_minute_of_day)


@dataclass(frozen=True)
class WindowPosition:
    """Where a session minute falls inside the N-minute windows of its session."""

    minutes_into_window: int
    closes_window: bool


@dataclass(frozen=True)
class TradingSchedule:
    """Sessions of one trading day of a product, in trading order (night first)."""

    label: str
    sessions: tuple[TradingSession, ...]
    auctions: tuple[CallAuction, ...] = ()
    closing_auctions: tuple[ClosingAuction, ...] = ()
    _minute_table: tuple[SessionMatch | None, ...] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if not self.label:
            raise ValueError("schedule label must not be empty")
        if not isinstance(self.sessions, tuple) or not self.sessions:
            raise ValueError(f"{self.label}: sessions must be a non-empty tuple")
        if not isinstance(self.auctions, tuple):
            raise ValueError(f"{self.label}: auctions must be a tuple")
        for session in self.sessions:
            if not isinstance(session, TradingSession):
                raise TypeError(f"{self.label}: {session!r} is not a TradingSession")
        self._validate_order()
        for auction in self.auctions:
            if not isinstance(auction, CallAuction):
                raise TypeError(f"{self.label}: {auction!r} is not a CallAuction")
            if auction.session_index >= len(self.sessions):
                raise ValueError(
                    f"{self.label}: auction refers to session {auction.session_index}, which does not exist"
                )
            opened = self.sessions[auction.session_index]
            if auction.end != opened.start:
                raise ValueError(
                    f"{self.label}: auction {auction.start}-{auction.end} must end when session "
                    f"{opened.start}-{opened.end} starts"
                )
            if auction.only_without_earlier_session == (auction.session_index == 0):
                raise ValueError(
                    f"{self.label}: only the auction of a session after the first one is conditional "
                    f"(auction {auction.start}-{auction.end})"
                )
            for session in self.sessions:
                if session.contains(auction.start):
                    raise ValueError(
                        f"{self.label}: auction {auction.start}-{auction.end} overlaps session "
                        f"{session.start}-{session.end}"
                    )
        if not isinstance(self.closing_auctions, tuple):
            raise ValueError(f"{self.label}: closing_auctions must be a tuple")
        for closing in self.closing_auctions:
            if not isinstance(closing, ClosingAuction):
                raise TypeError(f"{self.label}: {closing!r} is not a ClosingAuction")
            if closing.session_index >= len(self.sessions):
                raise ValueError(f"{self.label}: closing auction refers to session {closing.session_index}, "
                                 f"which does not exist")
            closed = self.sessions[closing.session_index]
            if closing.start != closed.end:
                raise ValueError(f"{self.label}: closing auction {closing.start}-{closing.end} must start when "
                                 f"session {closed.start}-{closed.end} ends")
            for session in self.sessions:
                if session.contains(closing.start) or closing.start < session.start < closing.end:
                    raise ValueError(f"{self.label}: closing auction {closing.start}-{closing.end} overlaps session "
                                     f"{session.start}-{session.end}")
        object.__setattr__(self, "_minute_table", self._build_minute_table())

    def _validate_order(self) -> None:
        seen_day = False
        for session in self.sessions:
            if session.kind is SessionKind.DAY:
                seen_day = True
            elif seen_day:
                raise ValueError(f"{self.label}: the night session must come before the day sessions")
        first_start = _minute_of_day(self.sessions[0].start)
        previous_end = 0
        for session in self.sessions:
            start = (_minute_of_day(session.start) - first_start) % MINUTES_PER_DAY
            if session is not self.sessions[0] and start < previous_end:
                raise ValueError(
                    f"{self.label}: session {session.start}-{session.end} overlaps or is out of order"
                )
            previous_end = start + session.duration_minutes
            if previous_end > MINUTES_PER_DAY:
                raise ValueError(f"{self.label}: sessions span more than 24 hours")

    def _build_minute_table(self) -> tuple[SessionMatch | None, ...]:
        table: list[SessionMatch | None] = [None] * MINUTES_PER_DAY
        for index, session in enumerate(self.sessions):
            start = _minute_of_day(session.start)
            last = start + session.duration_minutes - 1
            for minute in range(start, last + 1):
                table[minute % MINUTES_PER_DAY] = SessionMatch(
                    index, session, SessionPhase.CONTINUOUS, minute % MINUTES_PER_DAY, 0, minute == last
                )
        for index, session in enumerate(self.sessions):
            start = _minute_of_day(session.start)
            last = start + session.duration_minutes - 1
            grace = (last + 1) % MINUTES_PER_DAY
            # Where a session starts right where another ends, the session's own minute wins.
            if table[grace] is None:
                table[grace] = SessionMatch(
                    index, session, SessionPhase.CLOSING_GRACE, last % MINUTES_PER_DAY, -1, True
                )
        for auction in self.auctions:
            session = self.sessions[auction.session_index]
            first = _minute_of_day(session.start)
            for minute in range(_minute_of_day(auction.start), _minute_of_day(auction.end)):
                if table[minute] is None:
                    table[minute] = SessionMatch(
                        auction.session_index,
                        session,
                        SessionPhase.AUCTION,
                        first,
                        first - minute,
                        session.duration_minutes == 1,
                        auction.only_without_earlier_session,
                    )
        for closing in self.closing_auctions:
            session = self.sessions[closing.session_index]
            last = (_minute_of_day(session.start) + session.duration_minutes - 1) % MINUTES_PER_DAY
            for minute in range(_minute_of_day(closing.start), _minute_of_day(closing.end)):
                if table[minute] is None:
                    table[minute] = SessionMatch(
                        closing.session_index, session, SessionPhase.CLOSING_GRACE, last, last - minute, True
                    )
        return tuple(table)

    @property
    def has_night_session(self) -> bool:
        return any(session.kind is SessionKind.NIGHT for session in self.sessions)

    @property
    def minute_table(self) -> tuple[SessionMatch | None, ...]:
        """``locate`` for every minute of the day, indexed by ``hour * 60 + minute``."""
        return self._minute_table

    def locate(self, moment: time | datetime) -> SessionMatch | None:
        """The session a local time, or a datetime (aware ones converted to exchange time), belongs to."""
        if isinstance(moment, datetime) and moment.tzinfo is not None:
            moment = moment.astimezone(EXCHANGE_TIMEZONE)
        return self._minute_table[moment.hour * 60 + moment.minute]

    def is_trading_minute(self, moment: time | datetime) -> bool:
        """Whether the minute starting at this time is a continuous-trading minute."""
        match = self.locate(moment)
        return match is not None and match.phase is SessionPhase.CONTINUOUS

    def window_layout(self, window_minutes: int) -> tuple[WindowPosition | None, ...]:
        """For every continuous-trading minute, its place in the session's N-minute windows.

        Windows restart at each session start, so the last one of a session may be
        shorter; a window closes at its own last minute or at the session's last minute.
        """
        return _window_layout(self, window_minutes)


@lru_cache(maxsize=256)
def _window_layout(schedule: TradingSchedule, window_minutes: int) -> tuple[WindowPosition | None, ...]:
    if isinstance(window_minutes, bool) or not isinstance(window_minutes, int) or window_minutes < 1:
        raise ValueError(f"window_minutes must be a positive integer, got {window_minutes!r}")
    layout: list[WindowPosition | None] = [None] * MINUTES_PER_DAY
    for session in schedule.sessions:
        start = _minute_of_day(session.start)
        duration = session.duration_minutes
        for offset in range(duration):
            into_window = offset % window_minutes
            closes = into_window == window_minutes - 1 or offset == duration - 1
            layout[(start + offset) % MINUTES_PER_DAY] = WindowPosition(into_window, closes)
    return tuple(layout)


def trading_day_of(moment: datetime) -> date:
    """The trading day a print at this moment belongs to (weekdays only; holidays unknown).

    Evening prints (night session) belong to the next weekday; prints in the early
    hours of a weekend day (the part of Friday's night session after midnight)
    belong to Monday; anything else belongs to its own date. Aware datetimes are
    converted to exchange time; naive ones are taken as exchange time.
    """
    if moment.tzinfo is not None:
        moment = moment.astimezone(EXCHANGE_TIMEZONE)
    day = moment.date()
    if moment.hour * 60 + moment.minute >= _EVENING_START:
        day += timedelta(days=1)
    while day.weekday() >= 5:
        day += timedelta(days=1)
    return day


def product_code(symbol: str) -> str:
    """The product part of a symbol: its leading letters ("IF2101" -> "IF", "10005000" -> "")."""
    if not isinstance(symbol, str):
        raise TypeError(f"symbol must be a str, got {type(symbol).__name__}")
    match = _PRODUCT_PATTERN.match(symbol.strip())
    return match.group(0) if match else ""


@dataclass(frozen=True)
class ExchangeSessions:
    """The schedules of one exchange: a default for unlisted products, and per-product ones."""

    exchange: str
    default: TradingSchedule
    products: tuple[tuple[str, TradingSchedule], ...] = ()
    _by_product: dict[str, TradingSchedule] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        if (
            not isinstance(self.exchange, str)
            or not self.exchange
            or self.exchange != self.exchange.strip().upper()
        ):
            raise ValueError(f"exchange code must be a non-empty upper-case string, got {self.exchange!r}")
        if not isinstance(self.default, TradingSchedule):
            raise TypeError(f"{self.exchange}: default must be a TradingSchedule")
        by_product: dict[str, TradingSchedule] = {}
        for product, schedule in self.products:
            if not product or not product.isalpha():
                raise ValueError(f"{self.exchange}: product code must be letters only, got {product!r}")
            if not isinstance(schedule, TradingSchedule):
                raise TypeError(f"{self.exchange}.{product}: schedule must be a TradingSchedule")
            key = product.lower()
            if key in by_product:
                raise ValueError(f"{self.exchange}: product {product!r} is listed twice")
            by_product[key] = schedule
        object.__setattr__(self, "_by_product", by_product)

    def schedule(self, product: str) -> TradingSchedule:
        """The product's schedule; the exchange default for an unknown product.

        Product codes are matched without regard to case, since exchanges differ in
        their conventions (SHFE "rb", CZCE "SR") and no exchange lists two products
        that differ only in case.
        """
        return self._by_product.get(product.lower(), self.default)

    def knows(self, product: str) -> bool:
        return product.lower() in self._by_product


@dataclass(frozen=True)
class TradingSessionCatalog:
    """Schedules of all known exchanges, looked up by (exchange, product)."""

    exchanges: tuple[ExchangeSessions, ...]
    _by_exchange: dict[str, ExchangeSessions] = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self) -> None:
        by_exchange: dict[str, ExchangeSessions] = {}
        for entry in self.exchanges:
            if not isinstance(entry, ExchangeSessions):
                raise TypeError(f"{entry!r} is not ExchangeSessions")
            if entry.exchange in by_exchange:
                raise ValueError(f"exchange {entry.exchange} is listed twice")
            by_exchange[entry.exchange] = entry
        if not by_exchange:
            raise ValueError("a catalog needs at least one exchange")
        object.__setattr__(self, "_by_exchange", by_exchange)

    @property
    def exchange_codes(self) -> tuple[str, ...]:
        return tuple(self._by_exchange)

    def exchange(self, exchange: str) -> ExchangeSessions:
        entry = self._by_exchange.get(exchange.upper() if isinstance(exchange, str) else exchange)
        if entry is None:
            raise ValueError(
                f"no trading sessions known for exchange {exchange!r}; known: {', '.join(self._by_exchange)}"
            )
        return entry

    def schedule(self, exchange: str, product: str) -> TradingSchedule:
        """The schedule of a product code ("IF", "rb", "" for SSE/SZSE ETF options)."""
        return self.exchange(exchange).schedule(product)

    def schedule_for_symbol(self, exchange: str, symbol: str) -> TradingSchedule:
        """The schedule of a contract symbol ("IF2101", "rb2405", "IO2101-C-4000", "10005000")."""
        return self.schedule(exchange, product_code(symbol))


def _t(text: str) -> time:
    return time.fromisoformat(text)


def _day_schedule(label: str, periods: tuple[tuple[str, str], ...], auction: tuple[str, str]) -> TradingSchedule:
    return TradingSchedule(
        label=label,
        sessions=tuple(TradingSession(_t(start), _t(end), SessionKind.DAY) for start, end in periods),
        auctions=(CallAuction(_t(auction[0]), _t(auction[1]), 0),),
    )


_COMMODITY_DAY = (("09:00", "10:15"), ("10:30", "11:30"), ("13:30", "15:00"))


def _night_schedule(label: str, night_end: str) -> TradingSchedule:
    night = TradingSession(_t("21:00"), _t(night_end), SessionKind.NIGHT)
    day = tuple(TradingSession(_t(start), _t(end), SessionKind.DAY) for start, end in _COMMODITY_DAY)
    return TradingSchedule(
        label=label,
        sessions=(night, *day),
        auctions=(
            CallAuction(_t("20:55"), _t("21:00"), 0),
            CallAuction(_t("08:55"), _t("09:00"), 1, only_without_earlier_session=True),
        ),
    )


CFFEX_INDEX = _day_schedule(
    "CFFEX index futures and options", (("09:30", "11:30"), ("13:00", "15:00")), ("09:25", "09:30")
)
CFFEX_TREASURY = _day_schedule(
    "CFFEX treasury futures", (("09:30", "11:30"), ("13:00", "15:15")), ("09:25", "09:30")
)
COMMODITY_DAY_ONLY = _day_schedule("commodity day session", _COMMODITY_DAY, ("08:55", "09:00"))
COMMODITY_NIGHT_2300 = _night_schedule("commodity with night session to 23:00", "23:00")
COMMODITY_NIGHT_0100 = _night_schedule("commodity with night session to 01:00", "01:00")
COMMODITY_NIGHT_0230 = _night_schedule("commodity with night session to 02:30", "02:30")
# Opening auction 09:15-09:25 (the print is stamped 09:25); 09:25-09:30 is a quiet period.
ETF_OPTION = _day_schedule("SSE/SZSE ETF options", (("09:30", "11:30"), ("13:00", "15:00")), ("09:15", "09:30"))


# HKEX securities (stocks, ETFs): pre-opening auction 09:00-09:30 (orders matched about 09:20, the print joins
# the 09:30 bar), morning 09:30-12:00, afternoon 13:00-16:00, closing auction 16:00 to 16:08-16:10 (its prints
# join the 15:59 bar). Half days (Christmas Eve, New Year's Eve, Lunar New Year's Eve) have the morning session and
# a closing auction 12:00-12:10 only; nothing trades at 12:00-12:10 on a full day, so one schedule serves both and
# needs no calendar. Hong Kong keeps UTC+8 all year, the wall clock of EXCHANGE_TIMEZONE.
HKEX_SECURITIES = TradingSchedule(
    label="HKEX securities",
    sessions=(TradingSession(_t("09:30"), _t("12:00")), TradingSession(_t("13:00"), _t("16:00"))),
    auctions=(CallAuction(_t("09:00"), _t("09:30"), 0),),
    closing_auctions=(ClosingAuction(_t("12:00"), _t("12:10"), 0), ClosingAuction(_t("16:00"), _t("16:10"), 1)),
)


def _products(schedule: TradingSchedule, codes: str) -> tuple[tuple[str, TradingSchedule], ...]:
    return tuple((code, schedule) for code in codes.split())


# Night-session hours as published by the exchanges (2024). Options trade the
# hours of their underlying futures and share the product code.
CHINA_TRADING_SESSIONS = TradingSessionCatalog(
    exchanges=(
        ExchangeSessions(
            "CFFEX",
            default=CFFEX_INDEX,
            products=_products(CFFEX_INDEX, "IF IH IC IM IO HO MO") + _products(CFFEX_TREASURY, "T TF TS TL"),
        ),
        ExchangeSessions(
            "SHFE",
            default=COMMODITY_DAY_ONLY,
            products=_products(COMMODITY_NIGHT_0100, "cu al zn pb ni sn ss ao")
            + _products(COMMODITY_NIGHT_0230, "au ag")
            + _products(COMMODITY_NIGHT_2300, "rb hc bu ru fu sp br")
            + _products(COMMODITY_DAY_ONLY, "wr"),
        ),
        ExchangeSessions(
            "INE",
            default=COMMODITY_DAY_ONLY,
            products=_products(COMMODITY_NIGHT_0230, "sc")
            + _products(COMMODITY_NIGHT_0100, "bc")
            + _products(COMMODITY_NIGHT_2300, "lu nr")
            + _products(COMMODITY_DAY_ONLY, "ec"),
        ),
        ExchangeSessions(
            "DCE",
            default=COMMODITY_DAY_ONLY,
            products=_products(COMMODITY_NIGHT_2300, "a b m y p c cs rr i j jm l v pp eg eb pg")
            + _products(COMMODITY_DAY_ONLY, "jd lh bb fb"),
        ),
        ExchangeSessions(
            "CZCE",
            default=COMMODITY_DAY_ONLY,
            products=_products(COMMODITY_NIGHT_2300, "CF CY SR RM OI TA MA FG ZC SA PF PX SH PR")
            + _products(COMMODITY_DAY_ONLY, "AP CJ UR SF SM PK WH PM RI RS JR LR"),
        ),
        ExchangeSessions(
            "GFEX",
            default=COMMODITY_DAY_ONLY,
            products=_products(COMMODITY_DAY_ONLY, "si lc ps"),
        ),
        ExchangeSessions("SSE", default=ETF_OPTION),
        ExchangeSessions("SZSE", default=ETF_OPTION),
        ExchangeSessions("SEHK", default=HKEX_SECURITIES),
    )
)
