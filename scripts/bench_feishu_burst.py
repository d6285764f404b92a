"""Feishu alerts under a burst: 200 risk refusals at once through FeishuEventHandler to the local
signature-checking webhook server (5/s, 100/min, 20 KB), and the cost of one handler call on the
bar thread beside a plain function call.

    .venv/bin/python scripts/bench_feishu_burst.py [--events 200]
"""
from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import sys
import time
from datetime import datetime

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from src.core.config.secret_value import Secret  # noqa: E402
from src.strategy.domain.event.decision_events import DecisionRefusedEvent  # noqa: E402
from src.strategy.infrastructure.notification.feishu_event_handler import (  # noqa: E402
    FeishuEventHandler,
    FeishuSettings,
)
from tests.notification_servers.feishu_webhook import FeishuWebhookServer  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200)
    args = parser.parse_args()
    server = FeishuWebhookServer(secret="bench-secret").start()
    handler = FeishuEventHandler(FeishuSettings(Secret(server.url), Secret("bench-secret")), "bench")
    at = datetime(2026, 1, 12, 10, 0)
    events = [DecisionRefusedEvent(at, stage="risk", vt_symbol=f"IO2602-P-{4000 + i}.CFFEX",
                                   reason=f"#{i:04d} delta -0.84 exceeds limit 0.8") for i in range(args.events)]
    call_ns = []
    started = time.monotonic()
    for event in events:
        t0 = time.perf_counter_ns()
        handler(event)
        call_ns.append(time.perf_counter_ns() - t0)
    handler.flush(120)
    drained = time.monotonic() - started
    handler.close()
    server.stop()
    plain_ns = []
    noop = (lambda event: None)
    for event in events:
        t0 = time.perf_counter_ns()
        noop(event)
        plain_ns.append(time.perf_counter_ns() - t0)
    arrived = [int(n) for _, m in server.accepted for n in re.findall(r"#(\d{4}) ", json.dumps(m))]
    stats = handler.stats()
    print(f"events {args.events}: {len(server.accepted)} messages, {len(set(arrived))} distinct alerts arrived, "
          f"dropped {stats.dropped_overflow}, refused by the server {dict(server.refused)}")
    print(f"drained in {drained:.2f} s; most messages in any second {server.max_in_any_second()} (limit 5); "
          f"largest body {server.largest_body} bytes (limit 20480)")
    print(f"unmerged reference: {args.events} messages at 4/s and 80/min would take "
          f"{max(args.events / 4, (args.events - 1) // 80 * 60):.0f} s")
    print(f"handler call on the caller's thread: median {statistics.median(call_ns) / 1000:.1f} us "
          f"(plain function call {statistics.median(plain_ns) / 1000:.2f} us)")
    print(f"load: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
