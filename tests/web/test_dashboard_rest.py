"""The dashboard's pages and JSON through Flask's test client, on SQLite and MySQL."""
from __future__ import annotations

import re
import subprocess
import sys
from datetime import timedelta

import pytest

from src.paths import PROJECT_ROOT
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.web.app import create_app
from src.web.reader import MAX_EVENTS, MonitorReader
from tests.web.conftest import TOKEN
from tests.web.helpers import BAR, XSS, DecisionRefusedEvent, SignalEvent, write, write_bars

SECURITY_HEADERS = {"X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY"}


def events(count: int) -> list:
    return [SignalEvent(BAR + timedelta(seconds=i), product="IF", signal="SELL_PUT") if i % 2 else
            DecisionRefusedEvent(BAR + timedelta(seconds=i), stage="risk", reason=f"limit {i}") for i in range(count)]


def test_pages_and_data_show_each_variant_with_the_desk_columns(dashboard):
    app, _, _, location = dashboard
    write(location, "vol_15m@paper", minutes=4, events=events(3))
    write(location, "vol_30m@paper", minutes=2)
    client = app.test_client()

    page = client.get("/")
    assert page.status_code == 200 and 'data-page="index"' in page.text
    assert page.headers["Content-Security-Policy"].startswith("default-src 'self'")
    assert all(page.headers[name] == value for name, value in SECURITY_HEADERS.items())

    variants = client.get("/api/variants").get_json()["variants"]
    assert [v["variant"] for v in variants] == ["vol_15m@paper", "vol_30m@paper"]
    assert variants[0]["bar_time"].startswith("2026-01-12T09:48") and variants[0]["pnl"] == 103.0
    assert variants[0]["latest_signal"].endswith("SELL_PUT") and variants[0]["stale_after_seconds"] >= 10

    data = client.get("/api/data/vol_15m@paper").get_json()
    put, future = data["latest"]["positions"]
    assert put == {"contract": "IO2602-P-4400.CFFEX", "long": 0.0, "short": 3.0, "net": -3.0, "avg_price": 35.0,
                   "price": 31.5, "iv": 0.213, "delta": 0.75, "gamma": -0.0045, "vega": -15.3, "theta": 3.1,
                   "pnl": 103.0}
    assert future["net"] == 1.0 and future["iv"] is None
    assert [point["pnl"] for point in data["curve"]] == [100.0, 101.0, 102.0, 103.0], "curves oldest first"
    assert [point["strike"] for point in data["latest"]["smile"]] == [4300.0, 4400.0, 4500.0]

    page = client.get("/dashboard/vol_15m@paper")
    assert page.status_code == 200 and 'data-variant="vol_15m@paper"' in page.text
    assert "/static/vendor/plotly.min.js" in page.text and "cdn" not in page.text.lower()


def test_events_newest_first_filtered_by_type_paged_and_capped(dashboard):
    app, _, _, location = dashboard
    write(location, "vol_15m", minutes=1, events=events(MAX_EVENTS + 20))
    client = app.test_client()
    answer = client.get("/api/events/vol_15m?limit=100000").get_json()
    assert len(answer["events"]) == MAX_EVENTS, "list endpoints are capped"
    ids = [event["id"] for event in answer["events"]]
    assert ids == sorted(ids, reverse=True)
    assert set(answer["types"]) == {"SignalEvent", "DecisionRefusedEvent"}
    refused = client.get("/api/events/vol_15m?type=DecisionRefusedEvent&limit=5").get_json()["events"]
    assert len(refused) == 5 and {e["event_type"] for e in refused} == {"DecisionRefusedEvent"}
    assert refused[0]["fields"]["stage"] == "risk"
    older = client.get(f"/api/events/vol_15m?before={ids[9]}&limit=3").get_json()["events"]
    assert [e["id"] for e in older] == ids[10:13]
    assert client.get("/api/events/vol_15m?before=x").status_code == 400


@pytest.mark.parametrize("variant", ["nope", "vol_15m%00", "a" * 200, "%0Avol_15m", "..%2F..%2Fetc"])
def test_an_unknown_or_malformed_variant_is_404(dashboard, variant):
    app, _, _, location = dashboard
    write(location, "vol_15m", minutes=1)
    client = app.test_client()
    for path in (f"/dashboard/{variant}", f"/api/data/{variant}", f"/api/events/{variant}"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "vol_15m" not in answer.text


def test_html_in_strategy_names_and_event_text_is_escaped_data(dashboard):
    app, _, _, location = dashboard
    write(location, XSS, minutes=1, events=[DecisionRefusedEvent(BAR, stage=XSS, reason=f"</script>{XSS}")])
    client = app.test_client()
    from urllib.parse import quote

    page = client.get("/dashboard/" + quote(XSS, safe=""))
    assert page.status_code == 200
    assert XSS not in page.text and "&lt;img src=x onerror=" in page.text
    answer = client.get("/api/events/" + quote(XSS, safe=""))
    assert answer.headers["Content-Type"].startswith("application/json")
    assert answer.get_json()["events"][0]["fields"]["reason"] == f"</script>{XSS}"
    for script in ("common.js", "index.js", "dashboard.js"):
        source = (PROJECT_ROOT / "src" / "web" / "static" / script).read_text()
        assert "innerHTML" not in source and "insertAdjacentHTML" not in source and "document.write" not in source


def test_read_only_no_write_method_is_served(dashboard):
    app, _, _, location = dashboard
    write(location, "vol_15m", minutes=1)
    client = app.test_client()
    for path in ("/", "/api/variants", "/api/data/vol_15m", "/api/events/vol_15m", "/api/bars"):
        for method in (client.post, client.put, client.delete, client.patch):
            assert method(path).status_code == 405, (method, path)


def test_bars_from_vnpy_tables_by_symbol_interval_and_dates(dashboard):
    app, _, _, location = dashboard
    write_bars(location, "IF2602", "CFFEX", 30)
    client = app.test_client()
    answer = client.get("/api/bars?symbol=IF2602&exchange=CFFEX&interval=1m"
                        "&start=2026-01-12T09:50&end=2026-01-12T09:59").get_json()
    assert [bar["datetime"][11:16] for bar in answer["bars"]] == [f"09:{m}" for m in range(50, 60)]
    assert answer["bars"][0]["close"] == 4505.5
    capped = client.get("/api/bars?symbol=IF2602&exchange=CFFEX&limit=7").get_json()["bars"]
    assert len(capped) == 7 and capped[-1]["datetime"][11:16] == "10:14", "the newest bars of the range"
    assert client.get("/api/bars?symbol=IF2602&exchange=CFFEX&interval=5m").status_code == 400
    assert client.get("/api/bars?symbol=IF'--&exchange=CFFEX").status_code == 400
    assert client.get("/api/bars?symbol=IF2602&exchange=CFFEX&start=yesterday").status_code == 400
    assert client.get("/api/bars?symbol=IF2603&exchange=CFFEX").get_json()["bars"] == []


def test_token_guards_api_pages_and_login_with_a_rate_limit(tmp_path):
    from src.core.config.secret_value import Secret

    location = DatabaseLocation.sqlite(tmp_path / "db.sqlite")
    write(location, "vol_15m", minutes=1)
    reader = MonitorReader(location)
    app, _ = create_app(reader, token=Secret(TOKEN))
    client = app.test_client()
    assert client.get("/api/variants").status_code == 401
    assert client.get("/api/variants", headers={"Authorization": "Bearer " + "x" * 36}).status_code == 401
    assert client.get("/api/variants", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    page = client.get("/dashboard/vol_15m")
    assert page.status_code == 302 and page.headers["Location"].endswith("/login")
    assert client.get("/login").status_code == 200

    other = app.test_client()
    assert other.post("/login", data={"token": "wrong"}).status_code == 401
    good = other.post("/login", data={"token": TOKEN})
    assert good.status_code == 302
    cookie = good.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    assert other.get("/dashboard/vol_15m").status_code == 200
    assert TOKEN not in other.get("/dashboard/vol_15m").text

    attacker = app.test_client()
    codes = [attacker.post("/login", data={"token": f"guess{i}"}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
             .status_code for i in range(7)]
    assert codes == [401] * 5 + [429] * 2
    blocked = attacker.post("/login", data={"token": TOKEN}, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert blocked.status_code == 429, "a blocked address cannot log in even with the right token"


def test_a_database_outage_answers_503_without_its_location_and_recovers(tmp_path):
    location = DatabaseLocation.sqlite(tmp_path / "db.sqlite")
    write(location, "vol_15m", minutes=2)
    reader = MonitorReader(location)
    app, _ = create_app(reader)
    client = app.test_client()
    assert client.get("/api/data/vol_15m").status_code == 200
    moved = tmp_path / "away.sqlite"
    (tmp_path / "db.sqlite").rename(moved)
    for path in ("/api/variants", "/api/data/vol_15m", "/api/health"):
        answer = client.get(path)
        assert answer.status_code == 503 and str(tmp_path) not in answer.text
    assert client.get("/dashboard/vol_15m").status_code == 503
    moved.rename(tmp_path / "db.sqlite")
    reader.close()
    assert client.get("/api/data/vol_15m").get_json()["latest"]["pnl"] == 101.0


@pytest.mark.mysql
def test_an_unreachable_mysql_answers_503_and_never_shows_the_password():
    from tests.db_backends import mysql_location

    real = mysql_location()
    location = DatabaseLocation.mysql(real.database, "127.0.0.1", 1, real.user, "pw-" + "s3cret" * 4)
    app, _ = create_app(MonitorReader(location, connect_timeout=1.0))
    answer = app.test_client().get("/api/variants")
    assert answer.status_code == 503 and "s3cret" not in answer.text


def test_assets_are_local_plotly_from_the_package_and_socket_io_with_its_licence(dashboard):
    import plotly

    app, *_ = dashboard
    client = app.test_client()
    script = client.get("/static/vendor/plotly.min.js")
    assert script.status_code == 200 and script.headers["Content-Type"].startswith("application/javascript")
    assert f"v{plotly.__version__}" in script.get_data(as_text=True)[:400] or b"plotly.js" in script.data[:400]
    assert client.get("/static/vendor/socket.io.min.js").status_code == 200
    licence = (PROJECT_ROOT / "src" / "web" / "static" / "vendor" / "socket.io-LICENSE").read_text()
    assert "MIT" in licence or "Permission is hereby granted" in licence


def run_cli(*args: str, env: dict | None = None, timeout: float = 60):
    import os

    environment = dict(os.environ, **(env or {}))
    return subprocess.run([sys.executable, "-m", "src.web.app", "--no-browser", *args], cwd=PROJECT_ROOT,
                          capture_output=True, text=True, timeout=timeout, env=environment)


@pytest.mark.parametrize("args, env, message", [
    (("--port", "99999"), {}, "--port: must be 1-65535"),
    (("--bogus",), {}, "unrecognized arguments"),
    (("--host", "0.0.0.0"), {"DASHBOARD_TOKEN": ""}, "refusing to serve on 0.0.0.0 without DASHBOARD_TOKEN"),
    (("--host", "0.0.0.0"), {"DASHBOARD_TOKEN": "short-token"}, "at least 32 characters"),
    ((), {"VNPY_DATABASE_DATABASE": "/nonexistent/folder/db.sqlite"}, "cannot read SQLite file"),
])
def test_the_command_refuses_bad_input_with_one_line_and_exit_2(args, env, message):
    result = run_cli(*args, env=env)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], result.stderr
    assert "short-token" not in result.stderr
    assert re.search(r"Traceback", result.stderr) is None
