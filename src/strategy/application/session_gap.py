"""A strategy kept running through a gap between trading periods (the lunch break): idle, orders as configured.

The daemon keeps its child through a short gap (``src.core.process.session_gap``);
the child calls ``enter_gap`` on each strategy's cycle at the gap's start and
``leave_gap`` at its end.

What the cycle already does by itself, and why this is still needed: the
executor sends no order outside its product's sessions (``TradingClocks``) and
counts order timeouts in trading time, so an order working at 11:29 times out
after 13:00, not during lunch; and bars come from ticks, which stop in the
break. But the daemon's periods are wider than the sessions (08:40 for a 09:30
open), a closing print can complete a bar after the session's end, and a
paper account on live data fills whatever it is sent. So during a gap the
cycle is explicitly idle (``TradingCycle.idle_reason``): bars still update
prices, indicators and contracts, but no decision, opening, closing or hedge
is made. Working orders are kept at the exchange (``keep``: a limit order
stays in the book over lunch, and its timeout resumes at the reopening) or
cancelled at the gap's start (``cancel``), as ``runtime.gap_working_orders``
says. Either way it is logged once, with the counts.
"""
from __future__ import annotations

from datetime import datetime

from src.strategy.application.trading_cycle import TradingCycle


def enter_gap(cycle: TradingCycle, now: datetime, until: datetime, orders: str) -> str:
    """Make the cycle idle until the gap's end; keep or cancel its working orders. Returns what was done."""
    working = len(cycle.executor.working_executions())
    cycle.idle_reason = f"session gap until {until:%Y-%m-%d %H:%M}"
    if orders == "cancel":
        cancelled = cycle.cancel_working(now, reason=f"session gap until {until:%H:%M}")
        what = f"{cancelled} working orders cancelled"
    elif orders == "keep":
        what = f"{working} working orders kept at the exchange"
    else:
        raise ValueError(f"orders must be 'keep' or 'cancel', got {orders!r}")
    message = f"session gap until {until:%H:%M}: idle (no decisions, no hedging), {what}"
    cycle.ports.events.write_log(message)
    return message


def leave_gap(cycle: TradingCycle, now: datetime) -> str:
    """The gap is over: the cycle decides and hedges again."""
    was = cycle.idle_reason
    cycle.idle_reason = None
    working = len(cycle.executor.working_executions())
    message = (f"session gap over: trading again ({working} working orders)" if was is not None
               else "session gap over (the strategy was not idle)")
    cycle.ports.events.write_log(message)
    return message
