"""The feed as a service: storage, metrics in the monitor tables, alerts; the volatility watch on stored trades."""
from __future__ import annotations

import json
import threading
import time
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np

from src.datafeed.hk.analytics import VolatilityAlert, VolatilityWatch
from src.datafeed.hk.service import EXIT_OK, EXIT_REFUSED, HkFeedService, ServiceSettings
from src.datafeed.hk.storage import StoreSettings, TickStore
from src.datafeed.hk.validation import Trade
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation, open_database
from tests.db_backends import execute
from tests.integration.datafeed.hk.alltick_server import Faults, LocalAllTickServer, ServerThread
from tests.integration.datafeed.hk.support import TOKEN, Token
from tests.integration.datafeed.hk.test_client import fast_settings

HK = ZoneInfo("Asia/Hong_Kong")


def run_service(service: HkFeedService, until, timeout: float = 20.0) -> int:
    stop = threading.Event()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(service.run(stop)), daemon=True)
    thread.start()
    deadline = time.monotonic() + timeout
    while thread.is_alive() and not until() and time.monotonic() < deadline:
        time.sleep(0.02)
    stop.set()
    thread.join(timeout=30)
    assert not thread.is_alive()
    return result[0]


def test_the_service_stores_everything_and_writes_metrics_to_the_monitor_tables(tmp_path):
    location = DatabaseLocation.sqlite(tmp_path / "feed.db")
    server = LocalAllTickServer(trades_per_code=300, push_rate=1500, faults=Faults(drop_after_pushes=200))
    with ServerThread(server):
        settings = ServiceSettings(codes=("700.HK", "9988.HK"), client=fast_settings(server),
                                   store=StoreSettings(batch_rows=100, batch_ms=5), metrics_interval=0.1)
        service = HkFeedService(Token(TOKEN), location, settings, market_open=lambda: True)
        code = run_service(service, lambda: server.finished() and len(service.metrics.reports) >= 3)
    assert code == EXIT_OK
    stored = {c: service.store.trade_seqs(c) for c in ("700.HK", "9988.HK")}
    assert stored == {c: list(range(1, 301)) for c in stored}
    rows = execute(location, "SELECT strategy_name, payload FROM monitor_signal_snapshot")
    assert len(rows) >= 3 and {name for name, _ in rows} == {"datafeed.hk"}
    payloads = [json.loads(payload) for _, payload in rows]
    assert sum(p["trades"] for p in payloads) == sum(len(seqs) for seqs in stored.values())
    assert sum(p["reconnects"] for p in payloads) == service.client.counters.reconnects >= 1
    assert all({"ticks_per_s", "lag_ms_p50", "lag_ms_p99", "dropped", "buffered"} <= set(p) for p in payloads)


def test_a_refused_token_ends_the_service_with_exit_2_and_an_alert_event(tmp_path):
    location = DatabaseLocation.sqlite(tmp_path / "feed.db")
    server = LocalAllTickServer()
    with ServerThread(server):
        settings = ServiceSettings(codes=("700.HK",), client=fast_settings(server), metrics_interval=60)
        service = HkFeedService(Token("not-the-token"), location, settings)
        code = run_service(service, lambda: False)
    assert code == EXIT_REFUSED and server.stats.connections == 1
    events = execute(location, "SELECT strategy_name, event_type, payload FROM strategy_event")
    assert [(name, kind) for name, kind, _ in events] == [("datafeed.hk", "FeedAlertEvent")]
    assert "not-the-token" not in events[0][2] and "401" in events[0][2]


def test_the_volatility_watch_alerts_on_a_spike_in_the_stored_trades(tmp_path):
    database = open_database(DatabaseLocation.sqlite(tmp_path / "vol.db"))
    store = TickStore(database).start()
    rng = np.random.default_rng(3)
    start = datetime(2026, 12, 7, 9, 30, tzinfo=HK)
    minutes = [start + timedelta(minutes=i) for i in range(150)] + \
              [start.replace(hour=13) + timedelta(minutes=i) for i in range(60)]
    returns = np.r_[rng.normal(0, 0.0004, 180), rng.normal(0, 0.01, 30)]
    prices = 380 * np.exp(np.cumsum(returns))
    for seq, (moment, price) in enumerate(zip(minutes, prices), start=1):
        ms = int((moment + timedelta(seconds=20)).timestamp() * 1000)
        store.put_trade(Trade("700.HK", seq, ms, float(price), 100.0, float(price) * 100, 1, ms / 1000))
    assert store.close()
    watch = VolatilityWatch(database)
    now = minutes[-1] + timedelta(seconds=40)
    alert = watch.check("700.HK", now)
    assert isinstance(alert, VolatilityAlert) and alert.volatility > alert.threshold > 0
    assert watch.check("700.HK", now) is None  # one alert per minute
    assert watch.check("9988.HK", now) is None  # no trades: nothing to say


def test_metrics_count_bad_messages_by_reason_per_interval(tmp_path):
    from src.datafeed.hk.client import AllTickClient, ClientSettings
    from src.datafeed.hk.metrics import FeedMetrics
    from src.datafeed.hk.pipeline import FeedProcessor

    store = TickStore(open_database(DatabaseLocation.sqlite(tmp_path / "m.db"))).start()
    processor = FeedProcessor(["700.HK"], store)
    client = AllTickClient(Token(TOKEN), ["700.HK"], processor.on_push, ClientSettings())
    now_ms = int(time.time() * 1000)

    def push(seq: int, price: str = "380.2", code: str = "700.HK") -> str:
        return json.dumps({"cmd_id": 22998, "data": {"code": code, "seq": str(seq), "tick_time": str(now_ms),
                                                     "price": price, "volume": "100", "turnover": "38020"}})

    clock = iter([0.0, 10.0, 20.0])
    metrics = FeedMetrics(client, processor, store, clock=lambda: next(clock))
    for raw in (push(1), push(2, price="-1"), push(3)[:20], push(3, code="5.HK"), push(3), push(3)):
        client._on_raw(raw)
    assert store.flush()
    first = metrics.report()
    assert first["trades"] == 2 and first["ticks_per_s"] == 0.2 and first["interval_s"] == 10.0
    assert first["bad_messages"] == {"bad_price": 1, "malformed_json": 1, "unsubscribed_code": 1,
                                     "duplicate_seq": 1}
    client._on_raw(push(4))
    second = metrics.report()
    assert second["trades"] == 1 and second["bad_messages"] == {}
    store.close()
