"""The strategy engine's timer: it tells the strategies when a CTP-style gateway's front goes down or comes back
(vnpy_ctp clears ``login_status`` on a front disconnect), and calls their ``on_timer`` every second."""
from __future__ import annotations

import threading
from types import SimpleNamespace

from vnpy.event import Event
from vnpy.trader.event import EVENT_TIMER

from src.main.bootstrap.engine_factory import create_engines


class Listener:
    strategy_name = "listener"
    inited = True
    trading = False

    def __init__(self) -> None:
        self.reports: list[tuple[str, bool, str]] = []
        self.timers = 0
        self.seen = threading.Event()

    def gateway_status(self, name: str, connected: bool, detail: str = "") -> None:
        self.reports.append((name, connected, detail))

    def on_timer(self) -> None:
        self.timers += 1
        self.seen.set()


def test_a_front_going_down_and_back_is_reported_once_each():
    engines = create_engines(files_tag="test-gateway-status")
    try:
        engine = engines.strategy_engine
        listener = Listener()
        engine.strategies[listener.strategy_name] = listener
        td, md = SimpleNamespace(login_status=True), SimpleNamespace(login_status=True)
        engines.main_engine.gateways["CTP"] = SimpleNamespace(td_api=td, md_api=md)
        engines.main_engine.gateways["REPLAY"] = SimpleNamespace()  # says nothing about logins: not judged
        tick = lambda: engine.process_timer_event(Event(EVENT_TIMER))  # noqa: E731 - the timer's call
        tick()
        md.login_status = False
        tick()
        tick()
        md.login_status = True
        tick()
        assert listener.reports == [("CTP", False, "market data front down"), ("CTP", True, "fronts logged in")]
        assert listener.timers >= 4
        assert listener.seen.wait(5), "the event engine's own timer reaches on_timer"
    finally:
        engine.strategies.clear()
        engines.main_engine.gateways.pop("CTP", None)
        engines.main_engine.gateways.pop("REPLAY", None)
        engines.close()
