"""Sina Finance's quote endpoints, as AKShare reads them, answered locally through ``InterceptingProxy``.

Endpoints and their recorded response formats (JSONP, values as strings):

| AKShare function | path | body |
| --- | --- | --- |
| ``futures_zh_daily_sina`` | ``/futures/api/jsonp.php/var%20_V...=/InnerFuturesNewService.getDailyKLine?symbol=IF0&type=...`` | ``var _V...=([{"d","o","h","l","c","v","p","s"}, ...]);`` |
| ``futures_zh_minute_sina`` | ``/futures/api/jsonp.php/=/InnerFuturesNewService.getFewMinLine?symbol=IF2101&type=1`` | ``=([{"d","o","h","l","c","v","p"}, ...]);`` (d = end of the minute) |
| ``option_cffex_hs300_daily_sina`` | ``/futures/api/jsonp.php/var%20_io...=/FutureOptionAllService.getOptionDayline?symbol=io2602C4600`` | ``var _io...=([{"o","h","l","c","v","d"}, ...]);`` |
| ``option_sse_daily_sina`` | ``/futures/api/jsonp_v2.php//StockOptionDaylineService.getSymbolInfo?symbol=CON_OP_10000001`` | ``/*...*/\n([{"d","o","h","l","c","v"}, ...]);`` |
| ``option_cffex_hs300_spot_sina`` | ``/futures/api/openapi.php/OptionService.getOptionData?...&pinzhong=io2602`` | ``{"result": {"data": {"up": [...], "down": [...]}}}`` |

Data (``market.py``): IF0 (the main contract) daily bars are the real 5-minute file aggregated
(hold and settle are not in that file: sent as 0); IF2101 minutes are the real ticks aggregated;
SSE 50ETF option closes are the real ones (codes numbered by us, open/high/low = close);
the IO chain is synthetic. ``blocked = True`` answers HTTP 456, Sina's "too many requests" page.
"""
from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from tests.datafeed_servers import market
from tests.datafeed_servers.tls_proxy import Answer, InterceptingProxy

HOSTS = ("stock.finance.sina.com.cn", "stock2.finance.sina.com.cn")
IO_START, IO_END = date(2026, 1, 5), date(2026, 2, 27)
JS = "application/javascript; charset=utf-8"


class SinaServer:
    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.blocked = False
        self.requests: list[str] = []
        self.proxy = InterceptingProxy(HOSTS, self.answer)

    def __enter__(self) -> "SinaServer":
        self.proxy.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self.proxy.stop()

    def environment(self) -> dict[str, str]:
        return self.proxy.environment()

    def answer(self, host: str, path: str) -> Answer:
        self.requests.append(path)
        if self.blocked:
            return 456, "text/html; charset=utf-8", "<html><body>访问受限 (456)</body></html>".encode()
        parts = urlsplit(path)
        query = {key: values[0] for key, values in parse_qs(parts.query).items()}
        symbol = query.get("symbol", "")
        if parts.path.endswith("InnerFuturesNewService.getDailyKLine"):
            prefix = parts.path.split("/jsonp.php/", 1)[1].split("=/", 1)[0].replace("%20", " ")
            return 200, JS, f"{prefix}=({json.dumps(self._futures_daily(symbol))});".encode()
        if parts.path.endswith("InnerFuturesNewService.getFewMinLine"):
            return 200, JS, f"=({json.dumps(self._futures_minutes(symbol, query.get('type', '1')))});".encode()
        if parts.path.endswith("FutureOptionAllService.getOptionDayline"):
            prefix = parts.path.split("/jsonp.php/", 1)[1].split("=/", 1)[0].replace("%20", " ")
            rows = self._option_daily(symbol)
            body = "null" if rows is None else json.dumps(rows)
            return 200, JS, f"/*<script>location.href='//sina.com';</script>*/\n{prefix}=({body});".encode()
        if parts.path.endswith("StockOptionDaylineService.getSymbolInfo"):
            rows = self._etf_option_daily(symbol.removeprefix("CON_OP_"))
            body = "null" if rows is None else json.dumps(rows)
            return 200, JS, f"/*<script>location.href='//sina.com';</script>*/\n({body});".encode()
        if parts.path.endswith("OptionService.getOptionData"):
            return 200, "application/json", json.dumps(self._option_chain(query.get("pinzhong", ""))).encode()
        return 404, "text/plain", b"not found"

    def _futures_daily(self, symbol: str):
        if symbol != "IF0":
            return None
        frame = market.if_main_daily(self.data_dir)
        return [{"d": f"{d[:4]}-{d[4:6]}-{d[6:]}", "o": f"{o}", "h": f"{h}", "l": f"{lo}", "c": f"{c}",
                 "v": f"{int(v)}", "p": "0", "s": "0"}
                for d, o, h, lo, c, v in frame[["trade_date", "open", "high", "low", "close", "vol"]]
                .itertuples(index=False, name=None)]

    def _futures_minutes(self, symbol: str, period: str):
        if symbol != "IF2101" or period != "1":
            return None
        frame = market.if2101_minutes(self.data_dir)
        return [{"d": t, "o": f"{o}", "h": f"{h}", "l": f"{lo}", "c": f"{c}", "v": f"{int(v)}", "p": f"{int(p)}"}
                for t, o, h, lo, c, v, p in frame[["trade_time", "open", "high", "low", "close", "vol", "oi"]]
                .itertuples(index=False, name=None)]

    def _option_daily(self, symbol: str):
        _contracts, frame = market.io_chain_daily(IO_START, IO_END)
        wanted = frame[frame["symbol"].str.replace("-", "").str.lower() == symbol.lower()]
        if wanted.empty:
            return None
        return [{"o": f"{o}", "h": f"{h}", "l": f"{lo}", "c": f"{c}", "v": f"{int(v)}",
                 "d": f"{d[:4]}-{d[4:6]}-{d[6:]}"}
                for o, h, lo, c, v, d in wanted[["open", "high", "low", "close", "vol", "trade_date"]]
                .itertuples(index=False, name=None)]

    def _etf_option_daily(self, code: str):
        frame = market.etf50_options(self.data_dir)
        wanted = frame[frame["code"] == code].sort_values("trade_date")
        if wanted.empty:
            return None
        return [{"d": f"{d[:4]}-{d[4:6]}-{d[6:]}", "o": f"{c}", "h": f"{c}", "l": f"{c}", "c": f"{c}", "v": "0"}
                for d, c in wanted[["trade_date", "close"]].itertuples(index=False, name=None)]

    def _option_chain(self, series: str):
        contracts, _frame = market.io_chain_daily(IO_START, IO_END)
        mine = [c for c in contracts if f"{c.product}{c.month}".lower() == series.lower()]
        up = [["1", "10.0", "10.2", "10.4", "1", "100", "0.1", str(c.strike), f"io{c.month}C{c.strike}"]
              for c in mine if c.right == "C"]
        down = [["1", "10.0", "10.2", "10.4", "1", "100", "0.1", f"io{c.month}P{c.strike}"]
                for c in mine if c.right == "P"]
        return {"result": {"status": {"code": 0}, "data": {"up": up, "down": down}}}
