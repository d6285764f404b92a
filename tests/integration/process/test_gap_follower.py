"""The child's side of a kept gap: notices written as the daemon writes them, read by ``GapFollower`` and
applied in a real vnpy event engine's thread to a trading cycle (the project's fakes for the exchange)."""
from __future__ import annotations

import time
from datetime import timedelta
from types import SimpleNamespace

import pytest
from vnpy.event import EventEngine

from src.core.process.session_gap import TRADING, GapNotice, SessionGap, notice_file_for, write_notice
from src.main.process.session_gap import GapFollower
from tests.unit.application.test_trading_cycle import START, config, make_cycle, minute  # noqa: F401 (fixture)

WAIT_CEILING = 60.0


class FixedClock:
    def __init__(self, moment) -> None:
        self.moment = moment

    def now(self):
        return self.moment


def wait_until(predicate, what: str) -> None:
    deadline = time.monotonic() + WAIT_CEILING
    while not predicate():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting for {what}")
        time.sleep(0.01)


def test_notices_make_the_strategies_idle_cancel_their_orders_and_trade_again(tmp_path, config):  # noqa: F811
    cycle, gateway, _published = make_cycle(config)
    minute(cycle, START)
    (vt_orderid,) = gateway.orders
    gateway.acknowledge(vt_orderid)
    strategy = SimpleNamespace(strategy_name="unit", cycle=cycle, clock=FixedClock(START + timedelta(minutes=1)))
    engine = EventEngine(interval=1)
    engine.start()
    try:
        path = notice_file_for(tmp_path / "heartbeat")
        follower = GapFollower(path, engine, [strategy])
        follower.poll()  # no file yet: nothing happens
        write_notice(path, TRADING)
        follower.poll()  # trading before any gap: nothing to leave
        assert follower.changes == 0 and cycle.idle_reason is None

        gap = SessionGap(START + timedelta(minutes=1), START + timedelta(minutes=91))
        write_notice(path, GapNotice(gap, "cancel"))
        follower.poll()
        follower.poll()  # the same notice twice is applied once
        wait_until(lambda: cycle.idle_reason is not None, "the cycle idle")
        wait_until(lambda: gateway.cancel_requests == [vt_orderid], "the working order cancelled")
        assert follower.changes == 1

        write_notice(path, TRADING)
        follower.poll()
        wait_until(lambda: cycle.idle_reason is None, "the cycle trading again")
        assert follower.changes == 2
    finally:
        engine.stop()
    assert any("session gap until" in line and "1 working orders cancelled" in line
               for line in cycle.ports.events.lines)
    assert any("session gap over: trading again" in line for line in cycle.ports.events.lines)
