"""A local TWS for tests: an asyncio server speaking the real TWS API wire protocol on 127.0.0.1.

Protocol (as the unmodified ``ib_async`` client speaks it, server version 178):

- handshake: the client sends ``API\\0`` then one length-prefixed ``v157..178``; the server answers
  one frame of two fields, its version and its time;
- afterwards every message both ways is a big-endian u32 length and ``\\0``-terminated fields;
  a contract travels as 12 fields (conId, symbol, secType, lastTradeDate, strike, right,
  multiplier, exchange, primaryExchange, currency, localSymbol, tradingClass);
- ``71`` startApi → ``15`` managedAccounts + ``9`` nextValidId; the six start-up requests of
  ``IB.connectAsync`` (61, 5, 99, 6, 76, 7) are answered with their end messages.

It serves the real chains of ``cboe_chain.CboeChain`` (Cboe SPX/SPY files) with deterministic
conIds. Fault knobs (attributes of ``FaultKnobs``, changeable while running):

- ``rate_limit``: a token bucket of that many messages per second (burst = one second's worth);
  a message over it is dropped and answered with error 100, as TWS does over 50 msg/s;
- ``unknown`` contracts → 200; a snapshot with generic ticks → 321; ``unsubscribed_symbols`` → 354;
  ``partial_symbols`` → 10090; more streams than ``max_lines`` → 101; historical pacing → 162;
- ``drop_after_snapshots``: close the socket after that many snapshot requests (once), as the
  daily TWS restart does mid-batch; ``outage_after_snapshots``: send 1100, answer nothing for
  ``outage_seconds``, then 1101 (``outage_data_lost``) or 1102;
- ``market_open`` false: type 1 market data gives ``closed_price`` (-1 or nan) for bid/ask/last and
  unknown Greeks; type 2 (frozen) gives the file's values flagged as frozen;
- ``snapshot_latency``: seconds between a snapshot request and its answer.

Bid/ask sizes are not in the Cboe files: the fake derives a size from the conId.
"""
from __future__ import annotations

import asyncio
import math
import struct
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone

from tests.integration.datafeed.ib.cboe_chain import CboeChain, ListedOption

SERVER_VERSION = 178
MIN_CLIENT_VERSION = 157
ACCOUNT = "DU1234567"
SCAN_CODES = ("OPT_VOLUME_MOST_ACTIVE", "HOT_BY_OPT_VOLUME", "HIGH_OPT_VOLUME_PUT_CALL_RATIO",
              "TOP_PERC_GAIN", "MOST_ACTIVE")
UNSET_DOUBLE_TEXT = "1.7976931348623157E308"


@dataclass
class FaultKnobs:
    rate_limit: float = 50.0
    max_lines: int = 100
    snapshot_latency: float = 0.0
    market_open: bool = True
    closed_price: str = "-1"              # what a closed market sends for bid/ask/last: "-1" or "nan"
    unsubscribed_symbols: set[str] = field(default_factory=set)
    partial_symbols: set[str] = field(default_factory=set)
    drop_after_snapshots: int | None = None
    outage_after_snapshots: int | None = None
    outage_seconds: float = 0.5
    outage_data_lost: bool = True
    historical_pacing: bool = True


@dataclass
class FakeTwsStats:
    received: Counter = field(default_factory=Counter)          # message id → count (accepted)
    errors_sent: Counter = field(default_factory=Counter)       # error code → count
    snapshots_by_con_id: Counter = field(default_factory=Counter)
    streams_by_con_id: Counter = field(default_factory=Counter)
    contract_details_requests: int = 0
    secdef_requests: int = 0
    historical_requests: int = 0
    connections: int = 0
    message_times: list[float] = field(default_factory=list)   # arrival times of accepted messages


class _TokenBucket:
    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.stamp = time.monotonic()

    def take(self, rate: float) -> bool:
        now = time.monotonic()
        self.rate = rate
        self.tokens = min(rate, self.tokens + (now - self.stamp) * rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


class FakeTws:
    """``async with FakeTws([chain]) as tws:`` then connect ib_async to ``tws.port``."""

    def __init__(self, chains: list[CboeChain], knobs: FaultKnobs | None = None) -> None:
        self.chains = {chain.symbol: chain for chain in chains}
        self.knobs = knobs or FaultKnobs()
        self.stats = FakeTwsStats()
        self.options: dict[int, ListedOption] = {o.con_id: o for c in chains for o in c.options}
        self.by_expiry: dict[tuple[str, str], list[ListedOption]] = {}
        for chain in chains:
            for option in chain.options:
                self.by_expiry.setdefault((chain.symbol, option.expiry_text), []).append(option)
        self.underlyings = {chain.underlying_con_id: chain for chain in chains}
        self._server: asyncio.base_events.Server | None = None
        self._sessions: set[_Session] = set()
        self._snapshots_served = 0
        self._dropped = False
        self._outage_done = False
        self.port = 0

    async def __aenter__(self) -> FakeTws:
        await self.start()
        return self

    async def __aexit__(self, *exc) -> None:
        await self.stop()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for session in list(self._sessions):
            session.close()
        if self._server is not None:
            self._server.close()
            await asyncio.wait_for(self._server.wait_closed(), 5)

    def drop_all(self) -> None:
        """Close every client connection now (the daily restart)."""
        for session in list(self._sessions):
            session.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = _Session(self, reader, writer)
        self._sessions.add(session)
        self.stats.connections += 1
        try:
            await session.run()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._sessions.discard(session)
            session.close()

    # ------------------------------------------------------------ lookups

    def find_contracts(self, fields: list[str]) -> list[tuple[str, object]]:
        """Matches of a 12-field contract: ("OPT", ListedOption) or ("UND", CboeChain)."""
        con_id, symbol, sec_type, expiry, strike, right, _mult, _exch, _pexch, _ccy, local, trading_class = fields
        con_id = int(con_id or 0)
        if con_id:
            if con_id in self.options:
                return [("OPT", self.options[con_id])]
            if con_id in self.underlyings:
                return [("UND", self.underlyings[con_id])]
            return []
        if sec_type in ("STK", "IND") and symbol in self.chains:
            chain = self.chains[symbol]
            return [("UND", chain)] if chain.underlying_sec_type == sec_type else []
        if sec_type != "OPT":
            return []
        if local:
            return [("OPT", o) for o in self.options.values() if o.local_symbol == local]
        if expiry:
            candidates = self.by_expiry.get((symbol, expiry), [])
        else:
            candidates = [o for o in self.options.values() if o.symbol == symbol]
        strike_value = float(strike) if strike and strike != "0.0" else 0.0
        right = {"CALL": "C", "PUT": "P"}.get(right, right)
        return [("OPT", o) for o in candidates
                if (not strike_value or abs(o.strike - strike_value) < 1e-9)
                and (not right or right == "?" or o.right == right)
                and (not trading_class or o.trading_class == trading_class)]

    def note_snapshot(self) -> str | None:
        """Counts a snapshot request; the fault due now, if any."""
        self._snapshots_served += 1
        knobs = self.knobs
        if knobs.drop_after_snapshots is not None and not self._dropped \
                and self._snapshots_served > knobs.drop_after_snapshots:
            self._dropped = True
            return "drop"
        if knobs.outage_after_snapshots is not None and not self._outage_done \
                and self._snapshots_served > knobs.outage_after_snapshots:
            self._outage_done = True
            return "outage"
        return None


class _Session:
    def __init__(self, tws: FakeTws, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.tws = tws
        self.reader = reader
        self.writer = writer
        self.bucket = _TokenBucket(tws.knobs.rate_limit)
        self.market_data_type = 1
        self.streams: dict[int, int] = {}          # reqId → conId
        self.pending: set[int] = set()             # snapshot reqIds not answered yet
        self.outage_until = 0.0
        self.history: deque[tuple[float, tuple]] = deque()
        self.tasks: set[asyncio.Task] = set()
        self.closed = False

    # ------------------------------------------------------------ framing

    def send(self, *fields) -> None:
        if self.closed:
            return
        payload = b"".join(_text(f).encode() + b"\0" for f in fields)
        self.writer.write(struct.pack(">I", len(payload)) + payload)

    def error(self, req_id: int, code: int, message: str) -> None:
        self.tws.stats.errors_sent[code] += 1
        self.send(4, 2, req_id, code, message, "")

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        for task in self.tasks:
            task.cancel()
        transport = self.writer.transport
        if transport is not None:
            transport.abort()

    async def read_frame(self) -> bytes:
        size = struct.unpack(">I", await self.reader.readexactly(4))[0]
        return await self.reader.readexactly(size)

    async def run(self) -> None:
        prefix = await asyncio.wait_for(self.reader.readexactly(4), 10)
        if prefix != b"API\0":
            raise ConnectionError("not an API client")
        versions = (await asyncio.wait_for(self.read_frame(), 10)).decode()
        low, high = versions.split(" ")[0].lstrip("v").split("..")
        if int(high) < MIN_CLIENT_VERSION:
            raise ConnectionError("client too old")
        version = min(SERVER_VERSION, int(high))
        now = datetime.now(timezone.utc).strftime("%Y%m%d %H:%M:%S UTC")
        self.send(version, now)
        while not self.closed:
            frame = await self.read_frame()
            fields = frame.decode().split("\0")[:-1]
            if not fields:
                continue
            self.dispatch(fields)
            await self.writer.drain()

    # ------------------------------------------------------------ requests

    def dispatch(self, fields: list[str]) -> None:
        msg_id = int(fields[0])
        req_id = _req_id_of(msg_id, fields)
        if not self.bucket.take(self.tws.knobs.rate_limit):
            self.error(req_id, 100, "Max rate of messages per second has been exceeded:max=50 rec=51 (1)")
            return
        stats = self.tws.stats
        stats.received[msg_id] += 1
        stats.message_times.append(time.monotonic())
        handler = getattr(self, f"on_{msg_id}", None)
        if handler is not None:
            handler(fields)

    def on_71(self, fields):  # startApi
        self.send(15, 1, ACCOUNT)
        self.send(9, 1, 1)

    def on_61(self, fields):  # reqPositions
        self.send(62, 1)

    def on_5(self, fields):  # reqOpenOrders
        self.send(53, 1)

    def on_99(self, fields):  # reqCompletedOrders
        self.send(102)

    def on_6(self, fields):  # reqAccountUpdates
        self.send(8, 1, datetime.now(timezone.utc).strftime("%H:%M"))
        self.send(54, 1, fields[3])

    def on_76(self, fields):  # reqAccountUpdatesMulti
        self.send(74, 1, fields[2])

    def on_7(self, fields):  # reqExecutions
        self.send(55, 1, fields[2])

    def on_59(self, fields):  # reqMarketDataType
        self.market_data_type = int(fields[2])

    def on_9(self, fields):  # reqContractDetails: 9, 8, reqId, contract(12), includeExpired, secIdType, secId[, issuerId]
        self.tws.stats.contract_details_requests += 1
        req_id = int(fields[2])
        matches = self.tws.find_contracts(fields[3:15])
        if not matches:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        for kind, item in matches:
            self.send(*(_option_details(req_id, item) if kind == "OPT" else _underlying_details(req_id, item)))
        self.send(52, 1, req_id)

    def on_78(self, fields):  # reqSecDefOptParams: 78, reqId, symbol, futFopExchange, secType, conId
        self.tws.stats.secdef_requests += 1
        req_id, symbol, fut_fop_exchange, _sec_type, con_id = int(fields[1]), fields[2], fields[3], fields[4], \
            int(fields[5] or 0)
        chain = self.tws.chains.get(symbol)
        if chain is not None and con_id == chain.underlying_con_id and not fut_fop_exchange:
            classes: dict[str, list[ListedOption]] = {}
            for option in chain.options:
                classes.setdefault(option.trading_class, []).append(option)
            for exchange in ("SMART", "CBOE"):
                for trading_class, options in sorted(classes.items()):
                    expiries = sorted({o.expiry_text for o in options})
                    strikes = sorted({o.strike for o in options})
                    self.send(75, req_id, exchange, con_id, trading_class, 100, len(expiries), *expiries,
                              len(strikes), *strikes)
        self.send(76, req_id)

    def on_1(self, fields):  # reqMktData
        req_id = int(fields[2])
        contract = fields[3:15]
        rest = fields[15:]
        if rest[0] == "1":
            rest = rest[4:]
        else:
            rest = rest[1:]
        generic, snapshot = rest[0], rest[1] == "1"
        if snapshot and generic:
            self.error(req_id, 321, "Error validating request.-'bW' : cause - Snapshot market data subscription "
                                    "is not applicable to generic ticks")
            return
        matches = self.tws.find_contracts(contract)
        if len(matches) != 1:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        kind, item = matches[0]
        symbol = item.symbol
        if symbol in self.tws.knobs.unsubscribed_symbols:
            self.error(req_id, 354, "Requested market data is not subscribed.")
            return
        lines_used = len(self.streams) + len(self.pending)
        if lines_used >= self.tws.knobs.max_lines:
            self.error(req_id, 101, f"Max number of tickers has been reached:{self.tws.knobs.max_lines}")
            return
        con_id = item.con_id if kind == "OPT" else item.underlying_con_id
        if snapshot:
            self.tws.stats.snapshots_by_con_id[con_id] += 1
            fault = self.tws.note_snapshot()
            if fault == "drop":
                self.close()
                return
            if fault == "outage":
                self.start_outage()
            self.pending.add(req_id)
            self.later(self.tws.knobs.snapshot_latency, self.answer_snapshot, req_id, kind, item)
        else:
            self.tws.stats.streams_by_con_id[con_id] += 1
            self.streams[req_id] = con_id
            self.later(self.tws.knobs.snapshot_latency, self.answer_stream, req_id, kind, item, generic)

    def on_2(self, fields):  # cancelMktData
        self.streams.pop(int(fields[2]), None)

    def on_20(self, fields):  # reqHistoricalData
        self.tws.stats.historical_requests += 1
        req_id = int(fields[1])
        contract = fields[2:14]
        end, bar_size, duration, use_rth, what = fields[15], fields[16], fields[17], fields[18], fields[19]
        key = (tuple(contract), end, bar_size, duration, use_rth, what)
        violation = self.pacing_violation(key, contract[0] or contract[1], what)
        if violation:
            self.error(req_id, 162, f"Historical Market Data Service error message:{violation}")
            return
        matches = self.tws.find_contracts(contract)
        if len(matches) != 1:
            self.error(req_id, 200, "No security definition has been found for the request")
            return
        kind, item = matches[0]
        chain = item if kind == "UND" else self.tws.chains[item.symbol]
        day = chain.trade_date.strftime("%Y%m%d")
        if kind == "UND":
            close = chain.spot
            volume = 0.0
        elif what == "OPTION_IMPLIED_VOLATILITY":
            close = item.iv if item.iv > 0 else math.nan
            volume = 0.0
        else:
            close = item.last if item.last > 0 else _mid(item)
            volume = item.volume
        if not math.isfinite(close):
            self.send(17, req_id, day, day, 0)
            return
        self.send(17, req_id, f"{day} 00:00:00", f"{day} 23:59:59", 1, day, close, close, close, close, volume,
                  close, 1)

    def pacing_violation(self, key: tuple, contract_key: str, what: str) -> str | None:
        if not self.tws.knobs.historical_pacing:
            return None
        now = time.monotonic()
        history = self.history
        while history and now - history[0][0] > 600:
            history.popleft()
        if any(k == key and now - t < 15 for t, k in history):
            return "Historical data request pacing violation (identical request within 15 seconds)"
        same = sum(1 for t, k in history if now - t < 2 and (k[0][0] or k[0][1]) == contract_key and k[5] == what)
        if same >= 6:
            return "Historical data request pacing violation (6 requests for one contract within 2 seconds)"
        if len(history) >= 60:
            return "Historical data request pacing violation (60 requests within 10 minutes)"
        history.append((now, key))
        return None

    def on_24(self, fields):  # reqScannerParameters
        scan_types = "".join(f"<ScanType><displayName>{code}</displayName><scanCode>{code}</scanCode>"
                             f"<instruments>STK,STOCK.NA,STOCK.EU</instruments></ScanType>" for code in SCAN_CODES)
        self.send(19, 1, f"<?xml version=\"1.0\"?><ScanParameterResponse><ScanTypeList>{scan_types}"
                         f"</ScanTypeList></ScanParameterResponse>")

    def on_22(self, fields):  # reqScannerSubscription: 22, reqId, rows, instrument, location, scanCode, ...
        req_id, rows, scan_code = int(fields[1]), int(fields[2] or -1), fields[5]
        rows = rows if rows > 0 else 50
        if scan_code not in SCAN_CODES:
            self.error(req_id, 162, f"Historical Market Data Service error message:Scanner type with code "
                                    f"{scan_code} is invalid")
            return
        ranked = sorted(self.tws.chains.values(), key=lambda c: -sum(o.volume for o in c.options
                                                                        if math.isfinite(o.volume)))[:rows]
        body: list = []
        for rank, chain in enumerate(ranked):
            body += [rank, chain.underlying_con_id, chain.symbol, chain.underlying_sec_type, "", 0.0, "",
                     chain.underlying_exchange, "USD", chain.symbol, chain.symbol, chain.symbol, "", "", "", ""]
        self.send(20, 3, req_id, len(ranked), *body)

    def on_23(self, fields):  # cancelScannerSubscription
        pass

    # ------------------------------------------------------------ answers

    def later(self, delay: float, function, *args) -> None:
        async def run():
            if delay > 0:
                await asyncio.sleep(delay)
            while time.monotonic() < self.outage_until:
                await asyncio.sleep(0.01)
            if not self.closed:
                function(*args)
                await self.writer.drain()
        task = asyncio.get_running_loop().create_task(run())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def start_outage(self) -> None:
        self.error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
        self.outage_until = time.monotonic() + self.tws.knobs.outage_seconds
        data_lost = self.tws.knobs.outage_data_lost

        async def restore():
            await asyncio.sleep(self.tws.knobs.outage_seconds)
            if data_lost:
                self.pending.clear()   # requests in flight are lost: never answered
                self.error(-1, 1101, "Connectivity between IB and TWS has been restored- data lost.")
            else:
                self.error(-1, 1102, "Connectivity between IB and TWS has been restored- data maintained.")
            await self.writer.drain()
        task = asyncio.get_running_loop().create_task(restore())
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    def effective_type(self) -> int:
        if self.tws.knobs.market_open:
            return 1
        return 2 if self.market_data_type in (2, 4) else 1

    def answer_snapshot(self, req_id: int, kind: str, item) -> None:
        if req_id not in self.pending:
            return
        self.pending.discard(req_id)
        self.send_ticks(req_id, kind, item)
        if kind == "OPT" and item.symbol in self.tws.knobs.partial_symbols:
            self.error(req_id, 10090, "Part of requested market data is not subscribed. Subscription-independent "
                                      "ticks are still active.")
        self.send(57, 1, req_id)

    def answer_stream(self, req_id: int, kind: str, item, generic: str) -> None:
        if req_id not in self.streams:
            return
        self.send_ticks(req_id, kind, item)
        ticks = {t.strip() for t in generic.split(",") if t.strip()}
        if kind == "OPT":
            frozen_or_open = self.effective_type() == 2 or self.tws.knobs.market_open
            if "101" in ticks and frozen_or_open:
                self.send(2, 6, req_id, 27 if item.right == "C" else 28, _size(item.open_interest))
            if "100" in ticks and frozen_or_open:
                self.send(2, 6, req_id, 29 if item.right == "C" else 30, _size(item.volume))
            if "106" in ticks and item.iv > 0 and frozen_or_open:
                self.send(45, 6, req_id, 24, item.iv)

    def send_ticks(self, req_id: int, kind: str, item) -> None:
        data_type = self.effective_type()
        self.send(81, req_id, 0.01, "a6", 3)
        self.send(58, 1, req_id, data_type)
        closed = not self.tws.knobs.market_open and data_type == 1
        if kind == "UND":
            price = self.tws.knobs.closed_price if closed else item.spot
            self.send(1, 6, req_id, 4, price, 0, 0)
            self.send(1, 6, req_id, 9, item.spot, 0, 0)
            return
        size = 10 + item.con_id % 90
        if closed:
            placeholder = self.tws.knobs.closed_price
            self.send(1, 6, req_id, 1, placeholder, 0, 0)
            self.send(1, 6, req_id, 2, placeholder, 0, 0)
            self.send(1, 6, req_id, 4, placeholder, 0, 0)
            if item.last > 0:
                self.send(1, 6, req_id, 9, item.last, 0, 0)
            self.send(21, req_id, 13, 0, -1, -2, -1, -1, -2, -2, -2, -1)
            return
        bid_price, bid_size = (item.bid, size) if item.bid > 0 else (-1, 0)
        ask_price, ask_size = (item.ask, size + 1) if item.ask > 0 else (-1, 0)
        self.send(1, 6, req_id, 1, bid_price, bid_size, 0)
        self.send(1, 6, req_id, 2, ask_price, ask_size, 0)
        if item.last > 0:
            self.send(1, 6, req_id, 4, item.last, 1, 0)
            self.send(1, 6, req_id, 9, item.last, 0, 0)
        self.send(2, 6, req_id, 8, _size(item.volume))
        spot = self.tws.chains[item.symbol].spot
        if item.symbol not in self.tws.knobs.partial_symbols:
            iv = item.iv if item.iv > 0 else -1
            delta = item.delta if math.isfinite(item.delta) else -2
            gamma = item.gamma if math.isfinite(item.gamma) else -2
            mid = _mid(item)
            price = mid if math.isfinite(mid) else -1
            for tick_type in (10, 11, 13):
                self.send(21, req_id, tick_type, 0, iv, delta, price, 0, gamma, -2, -2, spot)


def _req_id_of(msg_id: int, fields: list[str]) -> int:
    try:
        if msg_id in (1, 2, 9, 76, 7):
            return int(fields[2])
        if msg_id in (20, 22, 78):
            return int(fields[1])
    except (IndexError, ValueError):
        pass
    return -1


def _text(value) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        return repr(value)
    return str(value)


def _size(value: float) -> str:
    return str(int(value)) if math.isfinite(value) else "0"


def _mid(option: ListedOption) -> float:
    if option.bid > 0 and option.ask > 0:
        return 0.5 * (option.bid + option.ask)
    return math.nan


def _option_details(req_id: int, o: ListedOption) -> list:
    chain_con_id = {"SPX": 416904, "SPY": 756733, "NDX": 416843, "QQQ": 320227571}.get(o.symbol, 0)
    hours = "20220610:0930-20220610:1615"
    return [10, req_id, o.symbol, "OPT", o.expiry_text, o.strike, o.right, "SMART", "USD", o.local_symbol,
            o.trading_class, o.trading_class, o.con_id, 0.01, 100, "ACTIVETIM,AD,ALERT,LMT,MKT", "SMART,CBOE",
            1, chain_con_id, f"{o.symbol} {o.expiry_text} {o.strike} {o.right}", "", o.expiry.strftime("%Y%m"),
            "", "", "", "US/Eastern", hours, hours, "", "", 0,
            1, o.symbol, "IND" if o.symbol in ("SPX", "NDX") else "STK", "26,26", o.expiry_text, "", 1, 1, 1]


def _underlying_details(req_id: int, chain: CboeChain) -> list:
    hours = "20220610:0930-20220610:1600"
    return [10, req_id, chain.symbol, chain.underlying_sec_type, "", 0.0, "", chain.underlying_exchange, "USD",
            chain.symbol, chain.symbol, chain.symbol, chain.underlying_con_id, 0.01, "", "ACTIVETIM,AD",
            chain.underlying_exchange, 1, 0, chain.symbol, chain.underlying_exchange, "", "", "", "",
            "US/Eastern", hours, hours, "", "", 0, 1, "", "", "26", "", "", 1, 1, 1]
