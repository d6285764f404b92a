"""The monitoring dashboard: Flask pages and JSON over the monitor tables, live pushes over Socket.IO.

``python -m src.web.app [--host 127.0.0.1] [--port 5007] [--no-browser]`` (or
``scripts/run_dashboard.sh``). Read-only: every route is a GET except the login
form. Without ``DASHBOARD_TOKEN`` (.env or environment, at least 32 characters)
it serves 127.0.0.1 only and refuses any other address; with it, ``/api/*``
wants ``Authorization: Bearer <token>`` or the session cookie the login form
gives, pages redirect to the login form, and Socket.IO connections are checked
the same way.

One ``LivePusher`` thread per process polls the tables for rows with a higher id
and pushes them to a room per variant (``snapshot``, ``event``) and to the
overview room (``snapshot``), however many browsers are connected.
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import ipaddress
import logging
import os
import threading
import time
import webbrowser
from collections import defaultdict, deque
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path

from flask import Flask, Response, abort, jsonify, redirect, render_template, request, url_for
from flask_socketio import SocketIO, join_room, leave_room, rooms

from src.core.cli import OneLineArgumentParser, run_cli
from src.core.config.env_settings import load_dotenv_file
from src.core.config.errors import UserInputError
from src.core.config.secret_value import Secret
from src.core.database_factory import database_location, database_settings_from_environment
from src.core.process.heartbeat import read_beat
from src.paths import DATA_DIR
from src.strategy.infrastructure.persistence.schema import STORAGE_TIMEZONE
from src.web.reader import DatabaseUnavailable, MonitorReader, valid_variant_name

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 5007
MIN_TOKEN_LENGTH = 32
SESSION_COOKIE = "dashboard_session"
LOGIN_FAILURES_ALLOWED = 5
LOGIN_FAILURE_WINDOW_SECONDS = 60.0
DEFAULT_POLL_SECONDS = 0.25
OVERVIEW_ROOM = "overview"
CONTENT_SECURITY_POLICY = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
                           "img-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'none'; "
                           "frame-ancestors 'none'; form-action 'self'")


def plotly_js() -> bytes:
    """plotly.js as shipped inside the installed plotly package (no CDN)."""
    return resources.files("plotly").joinpath("package_data", "plotly.min.js").read_bytes()


def room_of(variant: str) -> str:
    return f"variant:{variant}"


class LivePusher:
    """One thread per process: new monitor rows by id, pushed to the rooms of their variants."""

    def __init__(self, socketio: SocketIO, reader: MonitorReader, poll_seconds: float) -> None:
        self.socketio = socketio
        self.reader = reader
        self.poll_seconds = poll_seconds
        self._started = False
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.database_ok: bool | None = None
        self.pushed_snapshots = 0
        self.pushed_events = 0

    def ensure_started(self) -> None:
        with self._lock:
            if self._started:
                return
            self._started = True
            self._thread = threading.Thread(target=self._run, name="dashboard-live-pusher", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        last_ids: tuple[int, int] | None = None
        delay = self.poll_seconds
        while not self._stop.is_set():
            try:
                if last_ids is None:
                    last_ids = self.reader.last_ids()
                rows = self.reader.new_rows(*last_ids)
            except DatabaseUnavailable as error:
                self._status(False, str(error))
                delay = min(max(delay * 2, self.poll_seconds), 5.0)
                self._stop.wait(delay)
                continue
            except Exception:  # a surprise must not end the only pusher
                logger.exception("dashboard: live push failed")
                self._stop.wait(1.0)
                continue
            self._status(True, None)
            delay = self.poll_seconds
            last_ids = (rows.last_snapshot_id, rows.last_event_id)
            for snapshot in rows.snapshots:
                self.socketio.emit("snapshot", snapshot, to=room_of(snapshot["variant"]))
                self.socketio.emit("snapshot", _card_of(snapshot), to=OVERVIEW_ROOM)
                self.pushed_snapshots += 1
            for event in rows.events:
                self.socketio.emit("event", event, to=room_of(event["variant"]))
                self.pushed_events += 1
            if len(rows.snapshots) < 500 and len(rows.events) < 500:
                self._stop.wait(self.poll_seconds)

    def _status(self, ok: bool, detail: str | None) -> None:
        if ok != self.database_ok:
            self.database_ok = ok
            if not ok:
                logger.warning("dashboard: %s", detail)
            else:
                logger.info("dashboard: database reachable")
            self.socketio.emit("db_status", {"ok": ok})


def _card_of(snapshot: dict) -> dict:
    card = dict(snapshot)
    card.pop("positions", None)
    card.pop("smile", None)
    return card


class LoginLimiter:
    """At most ``allowed`` failed logins per address in ``window`` seconds."""

    def __init__(self, allowed: int = LOGIN_FAILURES_ALLOWED, window: float = LOGIN_FAILURE_WINDOW_SECONDS) -> None:
        self.allowed = allowed
        self.window = window
        self._failures: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def blocked(self, address: str) -> bool:
        with self._lock:
            failures = self._failures[address]
            cutoff = time.monotonic() - self.window
            while failures and failures[0] < cutoff:
                failures.popleft()
            return len(failures) >= self.allowed

    def failed(self, address: str) -> None:
        with self._lock:
            self._failures[address].append(time.monotonic())
            if len(self._failures) > 10_000:  # bounded memory under a scan of many addresses
                self._failures.clear()


def create_app(reader: MonitorReader, *, token: Secret | None = None, poll_seconds: float = DEFAULT_POLL_SECONDS,
               log_dir: Path | None = None) -> tuple[Flask, SocketIO]:
    """The Flask app and its SocketIO server over ``reader``; ``token`` turns authentication on."""
    if token is not None and len(token.reveal()) < MIN_TOKEN_LENGTH:
        raise UserInputError(f"DASHBOARD_TOKEN must be at least {MIN_TOKEN_LENGTH} characters")
    app = Flask(__name__, template_folder="templates", static_folder="static")
    app.config.update(MAX_CONTENT_LENGTH=16 * 1024, JSON_SORT_KEYS=False)
    socketio = SocketIO(app, async_mode="threading", cors_allowed_origins=None, logger=False,
                        engineio_logger=False, max_http_buffer_size=16 * 1024)
    pusher = LivePusher(socketio, reader, poll_seconds)
    limiter = LoginLimiter()
    session_value = _session_value(token) if token is not None else None
    app.extensions["dashboard"] = {"reader": reader, "pusher": pusher, "limiter": limiter}
    plotly_bytes: list[bytes] = []

    def authorized() -> bool:
        if token is None:
            return True
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and hmac.compare_digest(header[7:].encode(), token.reveal().encode()):
            return True
        cookie = request.cookies.get(SESSION_COOKIE, "")
        return bool(cookie) and hmac.compare_digest(cookie.encode(), session_value.encode())

    def known_variant(variant: str) -> str:
        try:
            if not valid_variant_name(variant) or not reader.variant_exists(variant):
                abort(404)
        except DatabaseUnavailable:
            abort(503)
        return variant

    @app.before_request
    def _check_access():
        if request.endpoint in ("login", "static", "plotly"):
            return None
        if authorized():
            return None
        if request.path.startswith("/api/"):
            return jsonify({"error": "unauthorized"}), 401
        return redirect(url_for("login"))

    @app.after_request
    def _headers(response: Response) -> Response:
        response.headers["Content-Security-Policy"] = CONTENT_SECURITY_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["Referrer-Policy"] = "no-referrer"
        response.headers["X-Frame-Options"] = "DENY"
        if request.path.startswith("/api/"):
            response.headers["Cache-Control"] = "no-store"
        return response

    @app.errorhandler(404)
    def _not_found(_error):
        if request.path.startswith("/api/"):
            return jsonify({"error": "not found"}), 404
        return render_template("error.html", message="Not found"), 404

    @app.errorhandler(503)
    def _unavailable(_error):
        if request.path.startswith("/api/"):
            return jsonify({"error": "database unavailable"}), 503
        return render_template("error.html", message="The database is unavailable; retrying."), 503

    @app.errorhandler(DatabaseUnavailable)
    def _database_down(error):
        logger.warning("dashboard: %s", error)
        return _unavailable(error)

    @app.route("/login", methods=["GET", "POST"])
    def login():
        if token is None:
            return redirect(url_for("index"))
        address = request.remote_addr or "?"
        if request.method == "GET":
            return render_template("login.html", failed=False)
        if limiter.blocked(address):
            return render_template("login.html", failed=True, blocked=True), 429
        given = request.form.get("token", "")
        if not hmac.compare_digest(given.encode(), token.reveal().encode()):
            limiter.failed(address)
            return render_template("login.html", failed=True), 401
        response = redirect(url_for("index"))
        response.set_cookie(SESSION_COOKIE, session_value, httponly=True, samesite="Strict",
                            secure=request.is_secure, max_age=12 * 3600)
        return response

    @app.get("/logout")
    def logout():
        response = redirect(url_for("login"))
        response.delete_cookie(SESSION_COOKIE)
        return response

    @app.get("/static/vendor/plotly.min.js")
    def plotly():
        if not plotly_bytes:
            plotly_bytes.append(plotly_js())
        response = Response(plotly_bytes[0], mimetype="application/javascript")
        response.headers["Cache-Control"] = "public, max-age=3600"
        return response

    @app.get("/")
    def index():
        return render_template("index.html", authenticated=token is not None)

    @app.get("/dashboard/<path:variant>")
    def dashboard(variant: str):
        return render_template("dashboard.html", variant=known_variant(variant), authenticated=token is not None)

    @app.get("/api/variants")
    def api_variants():
        return jsonify({"variants": [_card_of(variant) for variant in reader.variants()],
                        "processes": _processes(log_dir), "now": time.time()})

    @app.get("/api/data/<path:variant>")
    def api_data(variant: str):
        known_variant(variant)
        limit = request.args.get("limit", 500)
        return jsonify({"variant": variant, "latest": reader.latest_snapshot(variant),
                        "curve": reader.snapshots(variant, limit), "now": time.time()})

    @app.get("/api/events/<path:variant>")
    def api_events(variant: str):
        known_variant(variant)
        event_type = request.args.get("type") or None
        before = request.args.get("before")
        try:
            before_id = int(before) if before else None
        except ValueError:
            return jsonify({"error": "before must be an integer id"}), 400
        return jsonify({"variant": variant, "types": reader.event_types(variant),
                        "events": reader.events(variant, request.args.get("limit", 200), event_type, before_id)})

    @app.get("/api/bars")
    def api_bars():
        args = request.args
        try:
            start = _parse_time(args.get("start"))
            end = _parse_time(args.get("end"))
            bars = reader.bars(args.get("symbol", ""), args.get("exchange", ""), args.get("interval", "1m"),
                               start, end, args.get("limit", 5000))
        except ValueError as error:
            return jsonify({"error": str(error)}), 400
        return jsonify({"symbol": args.get("symbol"), "exchange": args.get("exchange"), "bars": bars})

    @app.get("/api/health")
    def api_health():
        try:
            reader.ping()
        except DatabaseUnavailable:
            return jsonify({"database": False}), 503
        return jsonify({"database": True})

    @socketio.on("connect")
    def _connect(auth=None):
        if token is not None:
            given = auth.get("token", "") if isinstance(auth, dict) else ""
            cookie = request.cookies.get(SESSION_COOKIE, "")
            ok = (isinstance(given, str) and given and hmac.compare_digest(given.encode(), token.reveal().encode())) \
                or (cookie and hmac.compare_digest(cookie.encode(), session_value.encode()))
            if not ok:
                return False
        pusher.ensure_started()
        return True

    @socketio.on("subscribe")
    def _subscribe(message=None):
        message = message if isinstance(message, dict) else {}
        for room in list(rooms()):
            if room.startswith("variant:") or room == OVERVIEW_ROOM:
                leave_room(room)
        if message.get("overview"):
            join_room(OVERVIEW_ROOM)
            return {"ok": True, "room": OVERVIEW_ROOM}
        variant = message.get("variant")
        try:
            exists = valid_variant_name(variant) and reader.variant_exists(variant)
        except DatabaseUnavailable:
            return {"ok": False, "error": "database unavailable"}
        if not exists:
            return {"ok": False, "error": "unknown variant"}
        join_room(room_of(variant))
        return {"ok": True}

    return app, socketio


def _session_value(token: Secret) -> str:
    return hmac.new(token.reveal().encode(), b"dashboard-session-v1", hashlib.sha256).hexdigest()


def _parse_time(text: str | None) -> datetime | None:
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"cannot read the time {text[:40]!r} (use YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=STORAGE_TIMEZONE)


def _processes(log_dir: Path | None) -> list[dict]:
    """The daemons' children, from their heartbeat files under the log folder (data/logs/<variant>/heartbeat)."""
    if log_dir is None or not log_dir.is_dir():
        return []
    found = []
    for path in sorted(log_dir.glob("*/heartbeat"))[:100]:
        beat = read_beat(path)
        if beat is not None:
            found.append({"process": path.parent.name, "pid": beat.pid, "last_beat": beat.written_at,
                          "age_seconds": max(0.0, time.time() - beat.written_at)})
    return found


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def dashboard_token(environ=os.environ) -> Secret | None:
    value = environ.get("DASHBOARD_TOKEN", "")
    if not value:
        return None
    token = Secret(value)
    if len(value) < MIN_TOKEN_LENGTH:
        raise UserInputError(f"DASHBOARD_TOKEN must be at least {MIN_TOKEN_LENGTH} characters, "
                             f"got {len(value)}")
    return token


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineArgumentParser(prog="python -m src.web.app",
                                   description="The monitoring dashboard (read-only) on the configured database.")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to serve on (default 127.0.0.1; any other "
                        "needs DASHBOARD_TOKEN)")
    parser.add_argument("--port", type=_port, default=DEFAULT_PORT, help="port (default 5007)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a browser")
    parser.add_argument("--stale-seconds", type=_positive, default=None,
                        help="fixed age after which a variant is stale (default: two window bars, from the data)")
    parser.add_argument("--poll-seconds", type=_positive, default=DEFAULT_POLL_SECONDS,
                        help="how often the live pusher looks for new rows (default 0.25)")
    parser.add_argument("--log-dir", type=Path, default=DATA_DIR / "logs",
                        help="where the daemons' heartbeat files are (default data/logs)")
    return parser


def _port(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a port number, got {text!r}") from None
    if not 0 < value < 65536:
        raise argparse.ArgumentTypeError(f"must be 1-65535, got {value}")
    return value


def _positive(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not 0 < value < 1e9:
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    return value


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("werkzeug", "engineio", "socketio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    load_dotenv_file()
    token = dashboard_token()
    if token is None and not is_loopback(args.host):
        raise UserInputError(f"refusing to serve on {args.host} without DASHBOARD_TOKEN (at least "
                             f"{MIN_TOKEN_LENGTH} characters) in .env; serve on 127.0.0.1 and use an SSH tunnel, "
                             f"or set the token")
    settings = database_settings_from_environment()
    reader = MonitorReader(database_location(settings), stale_seconds=args.stale_seconds)
    try:
        reader.ping()
    except DatabaseUnavailable as error:
        raise UserInputError(str(error)) from None
    app, socketio = create_app(reader, token=token, poll_seconds=args.poll_seconds, log_dir=args.log_dir)
    shown_host = "localhost" if args.host in ("127.0.0.1", "localhost") else args.host
    url = f"http://{shown_host}:{args.port}/"
    print(f"dashboard on {url} (database: {reader.describe()}{', token required' if token else ''})", flush=True)
    if not args.no_browser:
        threading.Timer(1.0, lambda: webbrowser.open(url)).start()
    try:
        socketio.run(app, host=args.host, port=args.port, allow_unsafe_werkzeug=True, use_reloader=False,
                     log_output=False)
    except OSError as error:
        raise UserInputError(f"cannot serve on {args.host}:{args.port}: {error.strerror or error}") from None
    return 0


if __name__ == "__main__":
    run_cli(main, prog="python -m src.web.app")
