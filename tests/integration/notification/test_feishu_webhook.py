"""FeishuEventHandler (urllib, real HTTP) against a local webhook server that checks signature and limits."""
from __future__ import annotations

import json
import logging
import re
import time
from datetime import datetime

import pytest

from src.core.config.secret_value import Secret
from src.strategy.domain.event.decision_events import DecisionRefusedEvent
from src.strategy.infrastructure.notification.feishu_event_handler import (
    MAX_BODY_BYTES,
    FeishuEventHandler,
    FeishuSettings,
)
from tests.notification_servers.feishu_webhook import FeishuWebhookServer

AT = datetime(2026, 1, 12, 10, 0)
SECRET = "test-secret-for-the-bot"
FAST = {"retry_initial_seconds": 0.05, "retry_max_seconds": 0.2, "request_timeout": 2.0}


def refusal(index: int, reason: str = "delta exceeds limit") -> DecisionRefusedEvent:
    return DecisionRefusedEvent(AT, stage="risk", vt_symbol=f"IO2602-P-{4000 + index}.CFFEX",
                                reason=f"#{index:04d} {reason}")


def indices(server: FeishuWebhookServer) -> list[int]:
    found = []
    for _, message in server.accepted:
        found += [int(n) for n in re.findall(r"#(\d{4}) ", json.dumps(message, ensure_ascii=False))]
    return found


@pytest.fixture
def server():
    server = FeishuWebhookServer(secret=SECRET, keyword="期权").start()
    yield server
    server.stop()


def handler_for(server, **options) -> FeishuEventHandler:
    settings = FeishuSettings(Secret(server.url), Secret(SECRET), "期权")
    return FeishuEventHandler(settings, "vol_15m@paper", **{**FAST, **options})


def test_a_signed_card_coloured_by_severity_is_accepted(server):
    handler = handler_for(server)
    handler(refusal(1))
    assert handler.flush(10)
    handler.close()
    ((_, message),) = server.accepted
    assert message["msg_type"] == "interactive" and message["card"]["header"]["template"] == "orange"
    assert message["card"]["header"]["title"]["content"].startswith("期权 vol_15m@paper: DecisionRefusedEvent")
    assert {"timestamp", "sign"} <= message.keys() and server.refused == {}
    assert handler.stats().sent_messages == 1


def test_a_burst_of_200_arrives_merged_within_the_limits_and_nothing_is_lost(server):
    handler = handler_for(server)
    for index in range(200):
        handler(refusal(index))
    assert handler.flush(30)
    handler.close()
    stats = handler.stats()
    assert sorted(indices(server)) == list(range(200)), "every alert once"
    assert server.refused == {} and server.max_in_any_second() <= 4
    assert len(server.accepted) < 200 and stats.sent_alerts == 200 and stats.dropped_overflow == 0
    assert server.largest_body <= MAX_BODY_BYTES


def test_overflow_is_counted_and_reported_and_the_rest_arrives(server):
    server.script.extend([("delay", 0.5)])
    handler = handler_for(server, max_queue=20)
    for index in range(100):
        handler(refusal(index))
    assert handler.flush(30)
    handler.close()
    stats = handler.stats()
    arrived = indices(server)
    assert stats.dropped_overflow > 0 and len(arrived) + stats.dropped_overflow == 100
    assert len(set(arrived)) == len(arrived)
    assert any("were dropped: the queue of 20 was full" in json.dumps(m, ensure_ascii=False)
               for _, m in server.accepted)


def test_retryable_answers_are_retried_and_the_message_arrives_once(server):
    server.script.extend([("code", 11232), ("http", 500), ("code", 9499), ("close", None), ("code", 2200)])
    handler = handler_for(server)
    handler(refusal(7))
    assert handler.flush(30)
    handler.close()
    assert indices(server) == [7]
    assert handler.stats().retries == 5 and handler.stats().failed_alerts == 0


def test_a_wrong_secret_19021_disables_sending_with_one_loud_line(server, caplog):
    settings = FeishuSettings(Secret(server.url), Secret("not-the-secret"), "期权")
    handler = FeishuEventHandler(settings, "vol_15m", **FAST)
    with caplog.at_level(logging.INFO):
        handler(refusal(1))
        assert handler.flush(10)
        handler(refusal(2))
        handler.close()
    assert server.refused == {19021: 1} and server.requests == 1, "no retry, nothing more sent"
    stats = handler.stats()
    assert stats.disabled and stats.failed_alerts == 2
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1 and "19021" in errors[0].getMessage()
    text = caplog.text + repr(handler) + str(stats)
    assert server.url not in text and "hook-token" not in text and "not-the-secret" not in text


@pytest.mark.parametrize("code", [19001, 19022, 19024])
def test_the_other_fatal_codes_disable_too(server, code):
    server.script.append(("code", code))
    handler = handler_for(server)
    handler(refusal(1))
    assert handler.flush(10)
    handler.close()
    assert handler.stats().disabled and server.requests == 1


def test_a_missing_keyword_is_refused_by_the_server_and_disables(server):
    handler = FeishuEventHandler(FeishuSettings(Secret(server.url), Secret(SECRET)), "vol_15m", **FAST)
    handler(refusal(1))
    assert handler.flush(10)
    handler.close()
    assert server.refused == {19024: 1} and handler.stats().disabled


def test_an_outage_delays_alerts_but_never_blocks_the_caller(server, caplog):
    port = server.port
    server.stop()
    handler = handler_for(server, max_retries=50)
    for index in range(50):  # what on_bars does: call the handler
        handler(refusal(index))
    assert handler.stats().sent_messages == 0 and handler.stats().queued > 0, \
        "the calls returned while nothing could be sent"
    time.sleep(0.3)
    server.port = port
    server.start()
    assert handler.flush(30)
    handler.close()
    assert sorted(indices(server)) == list(range(50))
    assert handler.stats().retries >= 1
    assert server.url not in caplog.text


def test_text_messages_and_a_large_alert_stay_under_the_body_limit(server):
    handler = handler_for(server, message_format="text")
    for index in range(60):
        handler(refusal(index, reason="x" * 2000))
    assert handler.flush(30)
    handler.close()
    assert server.refused == {} and server.largest_body <= MAX_BODY_BYTES
    assert {m["msg_type"] for _, m in server.accepted} == {"text"}
    assert sorted(indices(server)) == list(range(60))


def test_subscribed_to_the_strategy_bus_it_sends_what_the_cycle_publishes(server):
    from src.strategy.application.message_bus import MessageBus
    from src.strategy.domain.event.base import DomainEvent
    from src.strategy.domain.event.decision_events import SignalEvent
    from src.strategy.domain.value_object.signal_type import SignalType

    handler = handler_for(server)
    bus = MessageBus()
    bus.subscribe(DomainEvent, handler)
    bus.publish([refusal(3), DecisionRefusedEvent(AT, stage="option_selection", vt_symbol=None, reason="#0009 x"),
                 SignalEvent(AT, product="IF", signal=SignalType.SELL_PUT, bar_time=AT)])
    assert handler.flush(10)
    handler.close()
    assert indices(server) == [3], "an option-selection refusal is not sent"
    text = json.dumps([m for _, m in server.accepted], ensure_ascii=False)
    assert "SELL_PUT" in text


def test_the_daemons_restarts_and_giving_up_are_sent(server, tmp_path):
    import sys
    import threading

    from datetime import time as clock_time

    from src.core.config.schema import RuntimeConfig, TradingPeriod
    from src.core.process.parent_process import ParentProcess

    handler = FeishuEventHandler(FeishuSettings(Secret(server.url), Secret(SECRET), "期权"), "daemon[paper-15m]",
                                 **FAST)
    (tmp_path / "state").mkdir()
    command = [sys.executable, "-m", "tests.e2e.fault_children.scripted_child", "--heartbeat-file",
               str(tmp_path / "heartbeat"), "--interval", "0.05", "--state-dir", str(tmp_path / "state"),
               "--script", "0.1:1,0.1:1"]
    config = RuntimeConfig(max_restart_count=1, restart_delay=0.1, trading_periods=(TradingPeriod(clock_time(9, 0), clock_time(15, 0)),),
                           max_restart_delay=1.0,
                           heartbeat_interval=0.1, heartbeat_timeout=5.0, stop_timeout=3.0)
    parent = ParentProcess(command, config, tmp_path / "heartbeat", None, name="daemon[paper-15m]",
                           notify=handler.notify_daemon)
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(parent.run()), daemon=True)
    thread.start()
    thread.join(60)
    assert result == [1], "the daemon gives up after one restart"
    assert handler.flush(10)
    handler.close()
    text = json.dumps([m for _, m in server.accepted], ensure_ascii=False)
    assert "daemon[paper-15m] restarted its child" in text and "daemon[paper-15m] gave up" in text
    assert "restart 1 of 1" in text and "giving up after 1 restarts" in text
    assert {m["card"]["header"]["template"] for _, m in server.accepted} <= {"orange", "red"}


def test_an_expiry_risk_event_is_sent_as_a_warning_with_its_figures(server):
    from datetime import date

    from src.strategy.domain.event.expiry_events import ExpiryRiskEvent
    from src.strategy.domain.value_object.market import Direction

    handler = handler_for(server)
    handler(ExpiryRiskEvent(AT, vt_symbol="MO2601-P-7500.CFFEX", direction=Direction.SHORT, lots=2,
                            underlying_vt_symbol="IM2601.CFFEX", underlying_price=7450.0, strike=7500.0,
                            option_type="PUT", moneyness=50 / 7500, distance=50 / 7500, intrinsic=50.0,
                            in_the_money=True, pinned=True, expiry=date(2026, 1, 16), days_left=1,
                            detail="SHORT 2 MO2601-P-7500.CFFEX in the money and pinned"))
    assert handler.flush(10)
    handler.close()
    ((_, message),) = server.accepted
    assert message["card"]["header"]["template"] == "orange"
    body = json.dumps(message, ensure_ascii=False)
    assert "ExpiryRiskEvent" in body and "MO2601-P-7500" in body and "7450" in body and "days_left" in body
