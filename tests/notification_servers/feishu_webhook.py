"""A Feishu custom-bot webhook on 127.0.0.1 that checks what Feishu checks, with fault knobs.

POST /open-apis/bot/v2/hook/<token> with a JSON body. Like Feishu it answers HTTP 200 with a
``code`` (0 accepted) and:

- 19001 for an unknown hook token; 19021 when a secret is set and ``timestamp`` is more than an
  hour off the server's clock or ``sign`` is not base64(HMAC-SHA256(f"{timestamp}\\n{secret}", b""));
- 19024 when a keyword is set and the message text does not contain it;
- 9499 for a body over 20 KB or that is not a JSON message of a known ``msg_type``;
- 11232 past 5 messages in any second or 100 in any minute (the bot's limits).

Knobs: ``script`` (a list of what to answer to the next requests instead: ``("code", N)``,
``("http", status)``, ``("close", None)`` to drop the connection, ``("delay", seconds)``),
``stop()``/``start()`` on the same port for an outage. ``accepted`` records every accepted body
with its arrival time; ``refused`` counts refusals by code.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
from collections import Counter, deque
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOOK_PATH = "/open-apis/bot/v2/hook/"
MAX_BODY = 20 * 1024
MESSAGES = {"text", "post", "interactive", "image", "share_chat"}


def expected_sign(timestamp: str, secret: str) -> str:
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


class FeishuWebhookServer:
    def __init__(self, token: str = "hook-token-1234", secret: str | None = None, keyword: str | None = None,
                 per_second: int = 5, per_minute: int = 100, clock=time.time) -> None:
        self.token = token
        self.secret = secret
        self.keyword = keyword
        self.per_second = per_second
        self.per_minute = per_minute
        self.clock = clock
        self.script: deque[tuple[str, object]] = deque()
        self.accepted: list[tuple[float, dict]] = []
        self.refused: Counter[int] = Counter()
        self.requests = 0
        self.largest_body = 0
        self._arrivals: deque[float] = deque()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK_PATH}{self.token}"

    def start(self) -> FeishuWebhookServer:
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                owner._handle(self)

        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    # ------------------------------------------------------------------ one request
    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(min(length, 1024 * 1024))
        now = time.monotonic()
        with self._lock:
            self.requests += 1
            self.largest_body = max(self.largest_body, len(body))
            action = self.script.popleft() if self.script else None
        if action is not None:
            kind, value = action
            if kind == "close":
                request.close_connection = True
                request.connection.close()
                return
            if kind == "http":
                self._answer(request, int(value), {"code": -1, "msg": "server error"})
                return
            if kind == "delay":
                time.sleep(float(value))
            if kind == "code":
                self._refuse(request, int(value), "scripted")
                return
        if not request.path.startswith(HOOK_PATH) or request.path[len(HOOK_PATH):] != self.token:
            return self._refuse(request, 19001, "param invalid: incoming webhook access token invalid")
        if len(body) > MAX_BODY:
            return self._refuse(request, 9499, "request body too large")
        try:
            message = json.loads(body)
        except ValueError:
            return self._refuse(request, 9499, "Bad Request")
        if not isinstance(message, dict) or message.get("msg_type") not in MESSAGES:
            return self._refuse(request, 9499, "Bad Request")
        if self.secret is not None:
            timestamp = str(message.get("timestamp", ""))
            if not timestamp.isdigit() or abs(int(timestamp) - self.clock()) > 3600 \
                    or not hmac.compare_digest(str(message.get("sign", "")), expected_sign(timestamp, self.secret)):
                return self._refuse(request, 19021, "sign match fail or timestamp is not within one hour from "
                                                    "current time")
        if self.keyword is not None and self.keyword not in json.dumps(message, ensure_ascii=False):
            return self._refuse(request, 19024, "Key Words Not Found")
        with self._lock:
            while self._arrivals and now - self._arrivals[0] >= 60.0:
                self._arrivals.popleft()
            last_second = sum(1 for t in self._arrivals if now - t < 1.0)
            if last_second >= self.per_second or len(self._arrivals) >= self.per_minute:
                limited = True
            else:
                limited = False
                self._arrivals.append(now)
                self.accepted.append((now, message))
        if limited:
            return self._refuse(request, 11232, "frequency limited psm[lark.oapi.app_platform_runtime]")
        self._answer(request, 200, {"code": 0, "data": {}, "msg": "success"})

    def _refuse(self, request, code: int, message: str) -> None:
        with self._lock:
            self.refused[code] += 1
        self._answer(request, 200, {"code": code, "data": {}, "msg": message})

    @staticmethod
    def _answer(request, status: int, payload: dict) -> None:
        data = json.dumps(payload).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)

    # ------------------------------------------------------------------ what arrived
    def max_in_any_second(self) -> int:
        times = [t for t, _ in self.accepted]
        return max((sum(1 for u in times if t <= u < t + 1.0) for t in times), default=0)
