"""A local Tushare Pro server: the HTTP JSON protocol the real ``tushare`` client speaks, on 127.0.0.1.

POST ``/dataapi/<api_name>`` (the client's URL is ``<base>/<api_name>``) with the JSON body
``{"api_name", "token", "params", "fields"}``; the answer is always HTTP 200 with
``{"code": 0, "msg": "", "data": {"fields": [...], "items": [[...], ...]}}`` or, on failure,
a non-zero code and Tushare's own message (which the client raises as an ``Exception``):

| code | message | when |
| --- | --- | --- |
| 40101 | 您的token不对，请确认。 | unknown token |
| 40203 | 抱歉，您没有访问该接口的权限，... | the token's points do not cover the API (``permissions``) |
| 40203 | 抱歉，您每分钟最多访问该接口N次，... | more than ``calls_per_window`` calls in ``window_seconds`` |

APIs: ``fut_daily``, ``ft_mins``, ``opt_daily``, ``opt_basic`` (see ``market.py`` for the data:
IF main-contract daily bars, IF2101 minutes and 50ETF option closes (``*.SH``) are real, the IO
chain is synthetic).
Like Tushare, rows come newest first, and each call returns at most ``max_rows`` rows.

Knobs (attributes, change them while it runs): ``tokens``, ``permissions``, ``calls_per_window``,
``window_seconds``, ``max_rows``, ``fail_next`` (a list of (code, msg) answered to the next calls).
``requests`` records every call (api_name, params) for the tests.

Run alone: ``python -m tests.datafeed_servers.tushare_pro --port 8999 --data-dir ../shared/data``.
"""
from __future__ import annotations

import argparse
import json
import threading
import time
from collections import deque
from datetime import date, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pandas as pd

from tests.datafeed_servers import market

BAD_TOKEN = (40101, "您的token不对，请确认。")
NO_PERMISSION = (40203, "抱歉，您没有访问该接口的权限，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。")
RATE_LIMIT = "抱歉，您每分钟最多访问该接口{cap}次，权限的具体详情访问：https://tushare.pro/document/1?doc_id=108。"
IO_START, IO_END = date(2026, 1, 5), date(2026, 2, 27)


class TushareProServer:
    def __init__(self, data_dir: Path, tokens: tuple[str, ...] = ("good-token",), port: int = 0) -> None:
        self.data_dir = Path(data_dir)
        self.tokens = set(tokens)
        self.permissions: dict[str, set[str]] = {}      # token -> APIs refused
        self.calls_per_window = 500
        self.window_seconds = 60.0
        self.max_rows = 8000
        self.fail_next: list[tuple[int, str]] = []
        self.requests: list[tuple[str, dict]] = []
        self._recent: dict[tuple[str, str], deque[float]] = {}
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer(("127.0.0.1", port), self._handler())
        self._httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    # --------------------------------------------------------------- lifecycle
    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}/dataapi"

    def start(self) -> "TushareProServer":
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="tushare-pro-server", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> "TushareProServer":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ------------------------------------------------------------------ answers
    def answer(self, body: dict) -> dict:
        api = str(body.get("api_name", ""))
        token = str(body.get("token", ""))
        params = body.get("params") or {}
        with self._lock:
            self.requests.append((api, dict(params)))
            if self.fail_next:
                code, msg = self.fail_next.pop(0)
                return _error(code, msg)
            if token not in self.tokens:
                return _error(*BAD_TOKEN)
            if api in self.permissions.get(token, set()):
                return _error(*NO_PERMISSION)
            now = time.monotonic()
            recent = self._recent.setdefault((token, api), deque())
            while recent and now - recent[0] >= self.window_seconds:
                recent.popleft()
            if len(recent) >= self.calls_per_window:
                return _error(40203, RATE_LIMIT.format(cap=self.calls_per_window))
            recent.append(now)
        handler = getattr(self, f"_api_{api}", None)
        if handler is None:
            return _error(-2001, f"请求的接口{api}不存在")
        frame = handler(params)
        fields = [f.strip() for f in str(body.get("fields") or "").split(",") if f.strip()] or list(frame.columns)
        fields = [f for f in fields if f in frame.columns]
        frame = frame.head(self.max_rows)
        items = [[_plain(value) for value in row] for row in frame[fields].itertuples(index=False, name=None)]
        return {"request_id": "local", "code": 0, "msg": "", "data": {"fields": fields, "items": items,
                                                                        "has_more": False}}

    def _api_fut_daily(self, params: dict) -> pd.DataFrame:
        code = str(params.get("ts_code", ""))
        start, end = str(params.get("start_date") or "19900101"), str(params.get("end_date") or "21000101")
        if code == "IF.CFX":
            frame = market.if_main_daily(self.data_dir)
            frame = frame[(frame["trade_date"] >= start) & (frame["trade_date"] <= end)]
            frame = frame.assign(ts_code=code, amount=float("nan"), oi=float("nan"))
            return frame.iloc[::-1]
        return pd.DataFrame(columns=["ts_code", "trade_date", "open", "high", "low", "close", "vol", "amount", "oi"])

    def _api_ft_mins(self, params: dict) -> pd.DataFrame:
        code = str(params.get("ts_code", ""))
        start, end = str(params.get("start_date") or ""), str(params.get("end_date") or "9999")
        columns = ["ts_code", "trade_time", "open", "close", "high", "low", "vol", "amount", "oi"]
        if code != "IF2101.CFX" or params.get("freq", "1min") != "1min":
            return pd.DataFrame(columns=columns)
        frame = market.if2101_minutes(self.data_dir)
        frame = frame[(frame["trade_time"] >= start) & (frame["trade_time"] <= end)].assign(ts_code=code)
        return frame.iloc[::-1][columns]

    def _api_opt_daily(self, params: dict) -> pd.DataFrame:
        code = str(params.get("ts_code", ""))
        if code.endswith(".SH") or params.get("exchange") == "SSE":
            return self._etf_option_daily(code, params)
        contracts, frame = market.io_chain_daily(IO_START, IO_END)
        start = str(params.get("start_date") or params.get("trade_date") or "19900101")
        end = str(params.get("end_date") or params.get("trade_date") or "21000101")
        frame = frame.assign(ts_code=frame["symbol"] + ".CFX", exchange="CFFEX")
        if code:
            frame = frame[frame["ts_code"] == code]
        frame = frame[(frame["trade_date"] >= start) & (frame["trade_date"] <= end)]
        return frame.sort_values(["trade_date", "ts_code"], ascending=[False, True])

    def _etf_option_daily(self, code: str, params: dict) -> pd.DataFrame:
        frame = market.etf50_options(self.data_dir)
        start = str(params.get("start_date") or params.get("trade_date") or "19900101")
        end = str(params.get("end_date") or params.get("trade_date") or "21000101")
        frame = frame.assign(ts_code=frame["code"] + ".SH", exchange="SSE", open=frame["close"],
                             high=frame["close"], low=frame["close"], vol=float("nan"), amount=float("nan"),
                             oi=float("nan"))
        if code:
            frame = frame[frame["ts_code"] == code]
        frame = frame[(frame["trade_date"] >= start) & (frame["trade_date"] <= end)]
        return frame.sort_values(["trade_date", "ts_code"], ascending=[False, True])

    def _api_opt_basic(self, params: dict) -> pd.DataFrame:
        contracts, _frame = market.io_chain_daily(IO_START, IO_END)
        rows = [{"ts_code": f"{c.vnpy_symbol}.CFX", "exchange": "CFFEX",
                 "name": f"沪深300股指期权{c.month}{'认购' if c.right == 'C' else '认沽'}{c.strike}",
                 "call_put": c.right, "exercise_price": float(c.strike), "list_date": f"{IO_START:%Y%m%d}",
                 "delist_date": f"{c.expiry:%Y%m%d}", "opt_code": "OP300.CFX"} for c in contracts]
        frame = pd.DataFrame(rows)
        if params.get("exchange") and params["exchange"] != "CFFEX":
            return frame.iloc[0:0]
        return frame

    # ------------------------------------------------------------------- plumbing
    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except json.JSONDecodeError:
                    body = {}
                answer = server.answer(body if isinstance(body, dict) else {})
                payload = json.dumps(answer, ensure_ascii=False).encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "application/json; charset=utf-8")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            def log_message(self, *args) -> None:
                pass

        return Handler


def _error(code: int, msg: str) -> dict:
    return {"request_id": "local", "code": code, "msg": msg, "data": None}


def _plain(value):
    if isinstance(value, float) and value != value:
        return None
    if hasattr(value, "item"):
        value = value.item()
        if isinstance(value, float) and value != value:
            return None
    return value


def main() -> None:
    from src.paths import PROJECT_ROOT

    parser = argparse.ArgumentParser(description="local Tushare Pro server (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8999)
    parser.add_argument("--data-dir", type=Path, default=PROJECT_ROOT.parent / "shared" / "data")
    parser.add_argument("--token", default="good-token")
    parser.add_argument("--calls-per-minute", type=int, default=500)
    args = parser.parse_args()
    server = TushareProServer(args.data_dir, tokens=(args.token,), port=args.port)
    server.calls_per_window = args.calls_per_minute
    print(f"Tushare Pro stand-in at {server.url} (token {args.token!r}); Ctrl+C stops it", flush=True)
    server.start()
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        server.stop()


if __name__ == "__main__":
    main()
