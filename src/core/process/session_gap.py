"""The gaps between trading periods that the daemon keeps its child running through, and how it tells the child.

A gap runs from the end of one trading period to the start of the next, as
``TradingWindow`` holds them (calendar included). When a period ends while a
child runs and the gap to the next opening is no longer than
``runtime.keep_child_through_gap`` seconds (default 2 hours: the 11:30-13:00
lunch break of the index products, 11:30-13:30 of the commodities, a
10:15-10:30 break if the periods list it), the daemon keeps that child: no
CTP logout and login, no state restore, no warm-up. A longer gap (the
afternoon to the night session, the night to the next morning, a weekend, a
holiday) stops the child as before.

During a kept gap the child's strategies are idle: no new decisions, no
hedging; their working orders are kept at the exchange or cancelled at the
gap's start, as ``runtime.gap_working_orders`` says. The daemon tells the
child through a small file next to the heartbeat file (``<heartbeat>.gap``),
replaced atomically like the heartbeat:

    gap <start ISO> <end ISO> <keep|cancel>     while a gap lasts
    trading                                     once it is over

The child polls it (``src.main.process.session_gap``). A file, not a signal:
it works the same on Windows, and a child started during a gap finds the
notice when it looks. Standard library only.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

GAP_ORDERS = ("keep", "cancel")


@dataclass(frozen=True)
class SessionGap:
    start: datetime
    end: datetime

    @property
    def seconds(self) -> float:
        return (self.end - self.start).total_seconds()

    def describe(self) -> str:
        """``11:30-13:00 (1 h 30 min)``; the end's date too when it is another day."""
        end = f"{self.end:%H:%M}" if self.end.date() == self.start.date() else f"{self.end:%Y-%m-%d %H:%M}"
        return f"{self.start:%H:%M}-{end} ({duration_text(self.seconds)})"


def duration_text(seconds: float) -> str:
    minutes = round(seconds / 60)
    hours, minutes = divmod(minutes, 60)
    if hours and minutes:
        return f"{hours} h {minutes} min"
    return f"{hours} h" if hours else f"{minutes} min"


def gap_around(window, moment: datetime) -> SessionGap | None:
    """The gap ``moment`` is in (``moment`` outside every period), or None when no period ended or
    opens within the window's two-week horizon."""
    start = window.previous_close(moment)
    end = window.next_open(moment)
    if start is None or end is None:
        return None
    return SessionGap(start, end)


def keeps_child(gap: SessionGap, keep_child_through_gap: float) -> bool:
    return keep_child_through_gap > 0 and gap.seconds <= keep_child_through_gap


@dataclass(frozen=True)
class GapNotice:
    """What the daemon tells its child: a gap (its bounds and what to do with working orders), or trading."""

    gap: SessionGap | None = None
    orders: str = "keep"

    def __post_init__(self) -> None:
        if self.orders not in GAP_ORDERS:
            raise ValueError(f"orders must be one of {GAP_ORDERS}, got {self.orders!r}")

    @property
    def in_gap(self) -> bool:
        return self.gap is not None

    def text(self) -> str:
        if self.gap is None:
            return "trading\n"
        return f"gap {self.gap.start.isoformat()} {self.gap.end.isoformat()} {self.orders}\n"


TRADING = GapNotice()


def notice_file_for(heartbeat_file: Path) -> Path:
    heartbeat_file = Path(heartbeat_file)
    return heartbeat_file.with_name(heartbeat_file.name + ".gap")


def write_notice(path: Path, notice: GapNotice) -> None:
    path = Path(path)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(notice.text(), encoding="ascii")
    os.replace(temporary, path)


def read_notice(path: Path) -> GapNotice | None:
    """The notice in the file; None when there is none or it cannot be read (the child then keeps trading)."""
    try:
        parts = Path(path).read_text(encoding="ascii").split()
    except (OSError, UnicodeDecodeError):
        return None
    if parts == ["trading"]:
        return TRADING
    if len(parts) != 4 or parts[0] != "gap" or parts[3] not in GAP_ORDERS:
        return None
    try:
        start, end = datetime.fromisoformat(parts[1]), datetime.fromisoformat(parts[2])
    except ValueError:
        return None
    if start.tzinfo is None or end.tzinfo is None or end <= start:
        return None
    return GapNotice(SessionGap(start, end), parts[3])
