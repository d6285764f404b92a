"""Live push through Flask-SocketIO's test client: auth, rooms per variant, one pusher per process."""
from __future__ import annotations

import re
import threading
import time

from src.core.config.secret_value import Secret
from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.web.app import create_app
from src.web.reader import MonitorReader
from tests.web.conftest import TOKEN
from tests.web.helpers import BAR, SignalEvent, write

VENDORED = PROJECT_ROOT / "src" / "web" / "static" / "vendor" / "socket.io.min.js"


def received_until(client, predicate, timeout: float = 10.0) -> list[dict]:
    """Everything received until ``predicate(messages)`` holds (bounded by ``timeout``)."""
    messages: list[dict] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages.extend(client.get_received())
        if predicate(messages):
            return messages
        time.sleep(0.05)
    return messages


def named(messages, name):
    return [m["args"][0] for m in messages if m["name"] == name]


def test_each_client_gets_only_its_variants_rows_and_the_overview_gets_every_card(dashboard):
    app, socketio, _, location = dashboard
    write(location, "vol_15m", minutes=1)
    write(location, "vol_30m", minutes=1)
    first = socketio.test_client(app, flask_test_client=app.test_client())
    second = socketio.test_client(app, flask_test_client=app.test_client())
    overview = socketio.test_client(app, flask_test_client=app.test_client())
    assert first.emit("subscribe", {"variant": "vol_15m"}, callback=True) == {"ok": True}
    assert second.emit("subscribe", {"variant": "vol_30m"}, callback=True) == {"ok": True}
    assert overview.emit("subscribe", {"overview": True}, callback=True)["ok"]
    for client in (first, second, overview):
        client.get_received()
    time.sleep(0.3)  # the pusher has taken the current ids

    write(location, "vol_15m", minutes=2, start=5, events=[SignalEvent(BAR, product="IF", signal="SELL_CALL")])
    got_first = received_until(first, lambda m: len(named(m, "snapshot")) >= 2 and named(m, "event"))
    assert [s["pnl"] for s in named(got_first, "snapshot")] == [105.0, 106.0]
    assert named(got_first, "snapshot")[0]["positions"][0]["iv"] == 0.213
    assert named(got_first, "event")[0]["fields"]["signal"] == "SELL_CALL"
    cards = named(received_until(overview, lambda m: len(named(m, "snapshot")) >= 2), "snapshot")
    assert [c["variant"] for c in cards] == ["vol_15m", "vol_15m"] and "positions" not in cards[0]
    time.sleep(0.3)
    assert named(second.get_received(), "snapshot") == [], "another variant's room gets nothing"

    assert first.emit("subscribe", {"variant": "<b>nope</b>"}, callback=True) == {"ok": False,
                                                                                 "error": "unknown variant"}
    pusher = app.extensions["dashboard"]["pusher"]
    assert sum(t.name == "dashboard-live-pusher" for t in threading.enumerate()) == 1 and pusher.pushed_events == 1
    for client in (first, second, overview):
        client.disconnect()


def test_socket_connections_need_the_token_when_one_is_set(tmp_path):
    location = DatabaseLocation.sqlite(tmp_path / "db.sqlite")
    write(location, "vol_15m", minutes=1)
    app, socketio = create_app(MonitorReader(location), token=Secret(TOKEN), poll_seconds=0.05)
    refused = socketio.test_client(app, flask_test_client=app.test_client(), auth={"token": "x" * 36})
    assert not refused.is_connected()
    anonymous = socketio.test_client(app, flask_test_client=app.test_client())
    assert not anonymous.is_connected()
    allowed = socketio.test_client(app, flask_test_client=app.test_client(), auth={"token": TOKEN})
    assert allowed.is_connected()
    browser = app.test_client()
    assert browser.post("/login", data={"token": TOKEN}).status_code == 302
    with_cookie = socketio.test_client(app, flask_test_client=browser)
    assert with_cookie.is_connected(), "the login cookie opens the socket too"
    allowed.disconnect()
    with_cookie.disconnect()
    app.extensions["dashboard"]["pusher"].stop()


def test_a_database_outage_is_pushed_and_pushing_resumes_after_it(tmp_path):
    path = tmp_path / "db.sqlite"
    location = DatabaseLocation.sqlite(path)
    write(location, "vol_15m", minutes=1)
    app, socketio = create_app(MonitorReader(location), poll_seconds=0.05)
    client = socketio.test_client(app, flask_test_client=app.test_client())
    client.emit("subscribe", {"variant": "vol_15m"}, callback=True)
    time.sleep(0.3)
    path.rename(tmp_path / "away.sqlite")
    down = received_until(client, lambda m: {"ok": False} in named(m, "db_status"))
    assert {"ok": False} in named(down, "db_status")
    (tmp_path / "away.sqlite").rename(path)
    up = received_until(client, lambda m: {"ok": True} in named(m, "db_status"))
    assert {"ok": True} in named(up, "db_status")
    write(location, "vol_15m", minutes=1, start=9)
    later = received_until(client, lambda m: named(m, "snapshot"))
    assert [s["pnl"] for s in named(later, "snapshot")] == [109.0]
    client.disconnect()
    app.extensions["dashboard"]["pusher"].stop()


def test_the_vendored_client_is_the_4x_line_that_python_socketio_5_speaks_to():
    header = VENDORED.read_text()[:200]
    version = re.search(r"Socket\.IO v(\d+)\.(\d+)\.(\d+)", header)
    assert version and version.group(1) == "4", header
    from importlib.metadata import version as installed

    assert installed("python-socketio").startswith("5.") and installed("flask-socketio").startswith("5.")
    assert "4.8.1" in (VENDORED.parent / "README.md").read_text()


def test_a_socket_from_another_origin_is_refused_and_the_same_origin_accepted(dashboard):
    app, *_ = dashboard
    client = app.test_client()
    handshake = "/socket.io/?EIO=4&transport=polling"
    foreign = client.get(handshake, headers={"Origin": "http://evil.example"})
    assert foreign.status_code == 400
    same = client.get(handshake, headers={"Origin": "http://localhost"})
    assert same.status_code == 200 and same.text.startswith("0{")
