"""AllTick's real-time WebSocket protocol (stocks: US, HK, A-shares), as documented.

Endpoint ``wss://quote.alltick.io/quote-stock-b-ws-api?token=...``. Every message
is a JSON envelope ``{"cmd_id", "seq_id", "trace", "data"}``; responses add
``"ret"`` (200 = ok) and ``"msg"``.

=======  ==========================================  =========
request  what                                        response
=======  ==========================================  =========
22000    heartbeat, every 10 s (silent 30 s: drop)   22001
22002    subscribe order book (code, depth_level)    22003
22004    subscribe trades                            22005
22006    cancel (cancel_type 0 all, 1 depth, 2 trade) 22007
=======  ==========================================  =========

Pushes: ``22998`` a trade (``code, seq, tick_time, price, volume, turnover`` as
strings, ``trade_direction`` 0/1/2), ``22999`` an order book (``code, seq,
tick_time, bids[{price, volume}], asks[...]``).

Each subscribe *replaces* the connection's previous list of that kind, so adding
one code means sending the whole list again. At most one request per second per
connection; codes per connection are capped by the plan and extra codes are
silently ignored.

This module is shared by the client and by the tests' local server, so both
speak exactly the same wire format.
"""
from __future__ import annotations

import json
import re
import uuid
from typing import Any

DEFAULT_URL = "wss://quote.alltick.io/quote-stock-b-ws-api"

CMD_HEARTBEAT = 22000
CMD_HEARTBEAT_ACK = 22001
CMD_SUBSCRIBE_DEPTH = 22002
CMD_SUBSCRIBE_DEPTH_ACK = 22003
CMD_SUBSCRIBE_TRADES = 22004
CMD_SUBSCRIBE_TRADES_ACK = 22005
CMD_CANCEL = 22006
CMD_CANCEL_ACK = 22007
CMD_PUSH_TRADE = 22998
CMD_PUSH_DEPTH = 22999

RESPONSE_OF = {
    CMD_HEARTBEAT: CMD_HEARTBEAT_ACK,
    CMD_SUBSCRIBE_DEPTH: CMD_SUBSCRIBE_DEPTH_ACK,
    CMD_SUBSCRIBE_TRADES: CMD_SUBSCRIBE_TRADES_ACK,
    CMD_CANCEL: CMD_CANCEL_ACK,
}

RET_OK = 200
RET_BAD_REQUEST = 400
RET_TOKEN_INVALID = 401
RET_RATE_LIMITED = 429
RET_CODE_INVALID = 600
RET_BODY_EMPTY = 601
RET_CODE_UNAUTHORIZED = 604
RET_TOO_MANY_CODES = 605

ERROR_TEXT = {
    RET_BAD_REQUEST: "bad request",
    RET_TOKEN_INVALID: "token invalid",
    RET_RATE_LIMITED: "too many requests",
    RET_CODE_INVALID: "code invalid",
    RET_BODY_EMPTY: "request body empty",
    RET_CODE_UNAUTHORIZED: "code not authorized for this token",
    RET_TOO_MANY_CODES: "too many codes for this plan",
}

# Errors no retry can fix: the token or the plan must change first.
FATAL_CODES = frozenset({RET_TOKEN_INVALID, RET_CODE_UNAUTHORIZED, RET_TOO_MANY_CODES})

CANCEL_ALL = 0
CANCEL_DEPTH = 1
CANCEL_TRADES = 2

# "700.HK", "9988.HK", "AAPL.US", "600519.SH", "000001.SZ"
CODE_PATTERN = re.compile(r"^[0-9A-Z][0-9A-Z.\-]{0,15}\.(HK|US|SH|SZ)$")
HK_CODE_PATTERN = re.compile(r"^[1-9][0-9]{0,4}\.HK$")


def new_trace() -> str:
    return str(uuid.uuid4())


def request(cmd_id: int, seq_id: int, data: dict[str, Any], trace: str | None = None) -> str:
    return json.dumps({"cmd_id": cmd_id, "seq_id": seq_id, "trace": trace or new_trace(), "data": data},
                      separators=(",", ":"))


def heartbeat(seq_id: int) -> str:
    return request(CMD_HEARTBEAT, seq_id, {})


def subscribe_trades(seq_id: int, codes: list[str] | tuple[str, ...]) -> str:
    return request(CMD_SUBSCRIBE_TRADES, seq_id, {"symbol_list": [{"code": code} for code in codes]})


def subscribe_depth(seq_id: int, codes: list[str] | tuple[str, ...], depth_level: int = 5) -> str:
    return request(CMD_SUBSCRIBE_DEPTH, seq_id,
                   {"symbol_list": [{"code": code, "depth_level": depth_level} for code in codes]})


def cancel(seq_id: int, cancel_type: int = CANCEL_ALL) -> str:
    return request(CMD_CANCEL, seq_id, {"cancel_type": cancel_type})


def response(cmd_id: int, seq_id: Any, trace: Any, ret: int = RET_OK, msg: str = "ok",
             data: dict[str, Any] | None = None) -> str:
    return json.dumps({"ret": ret, "msg": msg, "cmd_id": cmd_id, "seq_id": seq_id, "trace": trace,
                       "data": data if data is not None else {}}, separators=(",", ":"))


def normalise_hk_code(text: str) -> str:
    """``"700.HK"``, ``"0700.hk"``, ``"00700.HK"`` -> ``"700.HK"``; ValueError for anything else."""
    code = text.strip().upper()
    if code.endswith(".HK"):
        digits = code[:-3].lstrip("0")
        code = f"{digits}.HK"
    if not HK_CODE_PATTERN.match(code):
        raise ValueError(f"not a Hong Kong code like 700.HK: {text!r}")
    return code
