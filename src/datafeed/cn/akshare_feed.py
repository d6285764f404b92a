"""AKShare through vnpy's datafeed interface: what it offers free for CFFEX.

| contract | daily | 1-minute |
| --- | --- | --- |
| CFFEX futures (``IF2602``), main continuous (``IF888`` -> Sina's ``IF0``) | ``futures_zh_daily_sina`` | ``futures_zh_minute_sina`` (only the recent days Sina keeps) |
| CFFEX index options IO / MO / HO | ``option_cffex_hs300_daily_sina`` / ``_zz1000_`` / ``_sz50_`` | not offered |
| SSE / SZSE ETF options (``10005000.SSE``) | ``option_sse_daily_sina`` (Sina's ``CON_OP_`` codes) | not offered |

These functions return a contract's whole history (Sina has no date parameters): one answer per
contract is kept for the life of the datafeed and cut to each request's dates. Sina's minute
bars are labelled by their end and are stored by their start; Sina sends no turnover (0) and
its futures ``hold`` becomes the open interest. ``list_options("IO2602")`` lists a series from
``option_cffex_hs300_spot_sina`` (what Sina lists today).

Sina publishes no rate limit but blocks bursts (HTTP 456); calls are paced at
``calls_per_minute`` (60 by default) and a failed call is tried again ``max_retries`` times after
``retry_wait`` seconds. AKShare's functions build their URLs from string literals, so there is
no base URL to change: the standard ``HTTPS_PROXY`` and ``REQUESTS_CA_BUNDLE`` of ``requests`` are
how the tests point them at a local server.
"""
from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta

from vnpy.trader.constant import Exchange, Interval
from vnpy.trader.datafeed import BaseDatafeed
from vnpy.trader.object import BarData, HistoryRequest

from src.datafeed.cn.errors import VendorError
from src.datafeed.cn.rate_limit import CallPacer
from src.datafeed.cn.symbols import ContractKind, UnknownSymbolError, classify, from_akshare, to_akshare
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE

SOURCE = "akshare"
OPTION_FUNCTIONS = {"IO": "option_cffex_hs300", "MO": "option_cffex_zz1000", "HO": "option_cffex_sz50"}


class AkshareDatafeed(BaseDatafeed):
    def __init__(self, calls_per_minute: int = 60, window_seconds: float = 60.0, max_retries: int = 2,
                 retry_wait: float = 5.0, sleep: Callable[[float], None] = time.sleep,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.pacer = CallPacer(calls_per_minute, window_seconds, clock=clock, sleep=sleep)
        self.max_retries = max_retries
        self.retry_wait = retry_wait
        self._sleep = sleep
        self._answers: dict[tuple[str, str], object] = {}
        self.calls = 0
        self.retries = 0
        self.rate_limit_retries = 0   # Sina never says "rate limit" in words; failed calls retried are in .retries
        self._ak = None

    def init(self, output: Callable = print) -> bool:
        if self._ak is None:
            try:
                import akshare
            except ImportError:
                output("akshare: the akshare package is not installed (pip install akshare)")
                return False
            self._ak = akshare
        return True

    def query_bar_history(self, req: HistoryRequest, output: Callable = print) -> list[BarData] | None:
        try:
            return self.fetch(req)
        except VendorError as error:
            output(str(error))
            return None

    def fetch(self, req: HistoryRequest) -> list[BarData]:
        vt_symbol = f"{req.symbol}.{req.exchange.value}"
        start, end = req.start.date(), req.end.date()
        if not self.init(output=lambda message: None):
            raise VendorError(SOURCE, vt_symbol, start, end, "the akshare package is not installed")
        try:
            contract = classify(req.symbol, req.exchange)
        except UnknownSymbolError as error:
            raise VendorError(SOURCE, vt_symbol, start, end, str(error)) from None
        code = to_akshare(contract)
        if contract.exchange is not Exchange.CFFEX and contract.kind is not ContractKind.ETF_OPTION:
            raise VendorError(SOURCE, vt_symbol, start, end, "the AKShare datafeed offers CFFEX futures and "
                              "options and SSE/SZSE ETF options only")
        option = contract.kind in (ContractKind.INDEX_OPTION, ContractKind.ETF_OPTION)
        if req.interval is Interval.DAILY:
            if contract.kind is ContractKind.ETF_OPTION:
                frame = self._ask("option_sse_daily_sina", code, vt_symbol, start, end, symbol=code)
                frame = frame.rename(columns={"日期": "date", "开盘": "open", "最高": "high", "最低": "low",
                                              "收盘": "close", "成交量": "volume"})
            elif option:
                function = OPTION_FUNCTIONS.get(contract.product)
                if function is None:
                    raise VendorError(SOURCE, vt_symbol, start, end, f"no AKShare function for {contract.product}")
                frame = self._ask(f"{function}_daily_sina", code, vt_symbol, start, end, symbol=code)
            else:
                frame = self._ask("futures_zh_daily_sina", code, vt_symbol, start, end, symbol=code)
            moments = [datetime.strptime(str(d)[:10], "%Y-%m-%d") for d in frame["date"]]
        elif req.interval is Interval.MINUTE and not option:
            frame = self._ask("futures_zh_minute_sina", code, vt_symbol, start, end, symbol=code, period="1")
            moments = [datetime.strptime(str(d), "%Y-%m-%d %H:%M:%S") - timedelta(minutes=1)
                       for d in frame["datetime"]]
        else:
            raise VendorError(SOURCE, vt_symbol, start, end, f"interval {req.interval.value} is not offered by "
                              "AKShare for this contract")
        first = req.start.replace(tzinfo=None)
        last = req.end.replace(tzinfo=None)
        bars = []
        holds = frame["hold"] if "hold" in frame.columns else None
        for index, moment in enumerate(moments):
            if not first <= moment <= last:
                continue
            close = float(frame["close"].iloc[index])
            if not close > 0:
                continue
            open_price = float(frame["open"].iloc[index]) or close
            bars.append(BarData(
                gateway_name="AKSHARE", symbol=req.symbol, exchange=req.exchange, interval=req.interval,
                datetime=moment.replace(tzinfo=EXCHANGE_TIMEZONE), open_price=open_price,
                high_price=max(float(frame["high"].iloc[index]), open_price, close),
                low_price=min(float(frame["low"].iloc[index]) or close, open_price, close), close_price=close,
                volume=float(frame["volume"].iloc[index]), turnover=0.0,
                open_interest=float(holds.iloc[index]) if holds is not None else 0.0))
        return sorted(bars, key=lambda bar: bar.datetime)

    def list_options(self, series: str, start, end) -> list:
        product = series[:2].upper()
        function = OPTION_FUNCTIONS.get(product)
        if function is None:
            raise VendorError(SOURCE, series, start, end, "AKShare lists CFFEX option series only (IO, MO, HO)")
        self.init(output=lambda message: None)
        frame = self._ask(f"{function}_spot_sina", series.lower(), series, start, end, symbol=series.lower())
        codes = [str(code) for column in ("看涨合约-标识", "看跌合约-标识") if column in frame.columns
                 for code in frame[column] if isinstance(code, str) and code]
        if not codes:
            raise VendorError(SOURCE, series, start, end, "Sina lists no option of this series")
        return sorted((from_akshare(code, Exchange.CFFEX) for code in codes), key=lambda c: c.symbol)

    def _ask(self, function: str, code: str, vt_symbol: str, start, end, **kwargs):
        key = (function, code)
        if key in self._answers:
            return self._answers[key]
        call = getattr(self._ak, function)
        problem = ""
        for attempt in range(self.max_retries + 1):
            if attempt:
                self.retries += 1
                self._sleep(self.retry_wait)
            self.pacer.wait()
            self.calls += 1
            try:
                frame = call(**kwargs)
            except Exception as error:  # akshare parses whatever came back; any failure surfaces here
                problem = f"{type(error).__name__}: {str(error)[:120]}"
                continue
            if frame is None or len(frame) == 0:
                problem = "empty answer"
                continue
            self._answers[key] = frame
            return frame
        raise VendorError(SOURCE, vt_symbol, start, end,
                          f"{function}({code!r}) gave no usable answer after {self.max_retries + 1} tries ({problem})")
