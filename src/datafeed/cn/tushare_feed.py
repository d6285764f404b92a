"""Tushare Pro through vnpy's datafeed interface, for CFFEX futures and options and ETF options.

``TushareDatafeed`` is vnpy_tushare's datafeed (the one ``datafeed.name = tushare``
selects) with what it lacks for options: vnpy_tushare sends every CFFEX symbol to
``fut_daily`` as a future and every SSE/SZSE symbol to the stock or index APIs, so an
``IO2602-C-4600.CFFEX`` or ``10005000.SSE`` request finds nothing. Here each contract
kind goes to its API:

| contract | daily | minute |
| --- | --- | --- |
| futures, main continuous (``IF.CFX``) | ``fut_daily`` | ``ft_mins`` |
| CFFEX index options, ETF options | ``opt_daily`` | ``opt_mins`` |

Units: ``vol`` is lots; ``amount`` is 10,000 CNY in the daily APIs (times 10,000 into
vnpy's turnover) and CNY in the minute APIs; minute bars are labelled by their end
(``trade_time``) and stored by their start. Rows without a trade (no close) are skipped.

The token: ``TUSHARE_TOKEN`` (from ``.env``) or vnpy's ``datafeed.password``; it is
kept in a ``Secret``-like object and never printed. The client is the real ``tushare``
package; its server address is ``DataApi``'s private ``__http_url``, overridden per
client instance as ``api._DataApi__http_url = url`` (tushare has no public setting for
it), which is how ``TUSHARE_API_URL`` / ``url=`` points it at a local server.

Errors come back from the tushare client as an ``Exception`` carrying Tushare's
message; they are sorted by that message: the per-minute cap (``每分钟最多访问该接口N次``)
is waited out and retried (at most ``max_rate_retries`` times, the pace lowered to the
N the server names), a bad token or a missing permission is a ``VendorError`` at once.
``query_bar_history`` keeps vnpy's contract: on failure it calls ``output`` with one
line and returns ``None``.
"""
from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Protocol

import requests
from tushare.pro.client import DataApi
from vnpy.trader.constant import Interval
from vnpy.trader.object import BarData, HistoryRequest
from vnpy.trader.setting import SETTINGS
from vnpy_tushare.tushare_datafeed import TushareDatafeed as VnpyTushareDatafeed

from src.datafeed.cn.errors import VendorError
from src.datafeed.cn.rate_limit import CallPacer
from src.datafeed.cn.symbols import ContractKind, UnknownSymbolError, classify, to_tushare
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE

SOURCE = "tushare"
DAILY_FIELDS = "ts_code,trade_date,open,high,low,close,vol,amount,oi"
MINUTE_FIELDS = "ts_code,trade_time,open,close,high,low,vol,amount,oi"
DAILY_AMOUNT_UNIT = 10_000.0
_RATE_MESSAGE = re.compile(r"每分钟最多访问该接口(\d+)次")


class _TokenLike(Protocol):
    """The project's ``Secret``: the value only through ``reveal()``."""

    def reveal(self) -> str: ...


class _PlainSecret:
    """Holds vnpy's datafeed.password when no Secret was given; prints masked."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Secret(***)"

    __str__ = __repr__


class TushareDatafeed(VnpyTushareDatafeed):
    def __init__(self, token: _TokenLike | None = None, url: str | None = None, calls_per_minute: int = 200,
                 window_seconds: float = 60.0, max_rate_retries: int = 5, timeout: float = 30.0,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.token = token if token is not None else _PlainSecret(SETTINGS.get("datafeed.password", "") or "")
        del self.password  # vnpy_tushare keeps the token in plain text here; ours lives in self.token only
        self.url = url
        self.timeout = timeout
        self.pacer = CallPacer(calls_per_minute, window_seconds, clock=clock, sleep=sleep)
        self.window_seconds = window_seconds
        self.max_rate_retries = max_rate_retries
        self._sleep = sleep
        self.rate_limit_retries = 0
        self.calls = 0
        self.rows_without_trade = 0
        self.pro: DataApi | None = None

    def init(self, output: Callable = print) -> bool:
        if self.inited:
            return True
        if not self.token:
            output("tushare: no token: set TUSHARE_TOKEN in .env (or vnpy's datafeed.password)")
            return False
        # DataApi(token) keeps the token in the client only; tushare's set_token would also write it to ~/tk.csv.
        self.pro = DataApi(token=self.token.reveal(), timeout=self.timeout)
        if self.url:
            self.pro._DataApi__http_url = self.url.rstrip("/")
        self.inited = True
        return True

    def query_bar_history(self, req: HistoryRequest, output: Callable = print) -> list[BarData] | None:
        try:
            return self.fetch(req)
        except VendorError as error:
            output(str(error))
            return None

    def list_options(self, series: str, start, end) -> list:
        """The options of a series (``IO2602``) listed by ``opt_basic`` and alive between the dates."""
        from src.datafeed.cn.symbols import from_tushare

        if not self.init(output=lambda message: None):
            raise VendorError(SOURCE, series, start, end, "no token: set TUSHARE_TOKEN in .env")
        exchange = "CFFEX" if series[:2].upper() in ("IO", "MO", "HO") else ""
        frame = self._call("opt_basic", "ts_code,call_put,exercise_price,list_date,delist_date",
                           {"exchange": exchange} if exchange else {}, series, start, end)
        prefix = f"{series.upper()}-"
        contracts = []
        for row in frame.to_dict("records"):
            code = str(row.get("ts_code", ""))
            if not code.upper().startswith(prefix):
                continue
            listed, delisted = str(row.get("list_date") or "19900101"), str(row.get("delist_date") or "21000101")
            if listed > f"{end:%Y%m%d}" or delisted < f"{start:%Y%m%d}":
                continue
            contracts.append(from_tushare(code))
        if not contracts:
            raise VendorError(SOURCE, series, start, end, "opt_basic lists no option of this series")
        return sorted(contracts, key=lambda c: c.symbol)

    # ------------------------------------------------------------------ fetching
    def fetch(self, req: HistoryRequest) -> list[BarData]:
        """The bars of one request; raises ``VendorError`` with one line naming the contract and the dates."""
        vt_symbol = f"{req.symbol}.{req.exchange.value}"
        start, end = req.start.date(), req.end.date()
        if not self.init(output=lambda message: None):
            raise VendorError(SOURCE, vt_symbol, start, end, "no token: set TUSHARE_TOKEN in .env")
        try:
            contract = classify(req.symbol, req.exchange)
        except UnknownSymbolError as error:
            raise VendorError(SOURCE, vt_symbol, start, end, str(error)) from None
        ts_code = to_tushare(contract, reference_year=start.year)
        option = contract.kind in (ContractKind.INDEX_OPTION, ContractKind.ETF_OPTION)
        if req.interval is Interval.DAILY:
            api, fields = ("opt_daily" if option else "fut_daily"), DAILY_FIELDS
            params = {"ts_code": ts_code, "start_date": f"{start:%Y%m%d}", "end_date": f"{end:%Y%m%d}"}
        elif req.interval is Interval.MINUTE:
            api, fields = ("opt_mins" if option else "ft_mins"), MINUTE_FIELDS
            params = {"ts_code": ts_code, "freq": "1min", "start_date": f"{start:%Y-%m-%d} 00:00:00",
                      "end_date": f"{end:%Y-%m-%d} 23:59:59"}
        else:
            raise VendorError(SOURCE, vt_symbol, start, end, f"interval {req.interval.value} is not offered "
                              "(daily or 1-minute)")
        frame = self._call(api, fields, params, vt_symbol, start, end)
        return self._bars(frame, req, api, ts_code)

    def _call(self, api: str, fields: str, params: dict, vt_symbol: str, start, end):
        for attempt in range(self.max_rate_retries + 1):
            self.pacer.wait()
            self.calls += 1
            try:
                return self.pro.query(api, fields=fields, **params)
            except requests.RequestException as error:
                raise VendorError(SOURCE, vt_symbol, start, end,
                                  f"cannot reach the Tushare server ({type(error).__name__})") from None
            except Exception as error:  # the tushare client raises a bare Exception carrying Tushare's message
                message = str(error)
                limit = _RATE_MESSAGE.search(message)
                if limit is None:
                    raise VendorError(SOURCE, vt_symbol, start, end, _explain(api, message)) from None
                self.pacer.lower_to(int(limit.group(1)))
                if attempt == self.max_rate_retries:
                    raise VendorError(SOURCE, vt_symbol, start, end,
                                      f"{api}: still over the per-minute limit after {attempt} retries: "
                                      f"{message}") from None
                self.rate_limit_retries += 1
                self._sleep(self.window_seconds)
        raise AssertionError("unreachable")

    def _bars(self, frame, req: HistoryRequest, api: str, ts_code: str) -> list[BarData]:
        if frame is None or frame.empty:
            return []
        daily = req.interval is Interval.DAILY
        unit = DAILY_AMOUNT_UNIT if daily else 1.0
        by_time: dict[datetime, BarData] = {}
        for row in frame.to_dict("records"):
            if row.get("ts_code") not in (None, ts_code):
                continue
            close = _number(row.get("close"))
            if close is None or close <= 0:
                self.rows_without_trade += 1
                continue
            if daily:
                moment = datetime.strptime(str(row["trade_date"]), "%Y%m%d").replace(tzinfo=EXCHANGE_TIMEZONE)
            else:
                moment = (datetime.strptime(str(row["trade_time"]), "%Y-%m-%d %H:%M:%S")
                          - timedelta(minutes=1)).replace(tzinfo=EXCHANGE_TIMEZONE)
            open_price = _number(row.get("open")) or close
            high = max(_number(row.get("high")) or close, open_price, close)
            low = min(_number(row.get("low")) or close, open_price, close)
            by_time[moment] = BarData(
                gateway_name="TUSHARE", symbol=req.symbol, exchange=req.exchange, datetime=moment,
                interval=req.interval, open_price=open_price, high_price=high, low_price=low, close_price=close,
                volume=_number(row.get("vol")) or 0.0, turnover=(_number(row.get("amount")) or 0.0) * unit,
                open_interest=_number(row.get("oi")) or 0.0)
        return [by_time[moment] for moment in sorted(by_time)]


def _number(value) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if number != number else number


def _explain(api: str, message: str) -> str:
    if "token" in message:
        return f"bad token ({message})"
    if "权限" in message:
        return f"no permission for {api} ({message})"
    return f"{api}: {message}"
