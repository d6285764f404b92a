"""``AllTickGateway``: Hong Kong market data from AllTick as a vnpy gateway (market data only).

The data recorder, BarPipeline and strategies then use HK stocks like any other
contract: ``700.SEHK`` is AllTick's ``700.HK``.

- ``connect(setting)``: ``token`` (empty: ``ALLTICK_TOKEN`` from the environment
  or ``.env``, the better place, since vnpy's window saves connection settings in
  a file; a string is wrapped in ``Secret`` at once), ``codes`` ("700.HK,9988.HK": their
  contracts are published, so the recorder can subscribe them), and optionally
  the client's intervals (``heartbeat_interval``, ``stall_timeout``, ...; see
  ``ClientSettings``). The client runs in a thread of its own with an asyncio loop.
- ``subscribe(req)``: adds the code and sends the whole list again (a subscribe
  replaces the previous list on an AllTick connection).
- ``on_tick``: a ``TickData`` for every trade, with the levels of the code's last
  order book, and one for every order book once the code has traded (see
  ``ticks.py``).
- No orders: ``send_order`` returns "" and logs that this gateway is data only.
"""
from __future__ import annotations

import asyncio
import os
import threading
from dataclasses import fields

from vnpy.event import EventEngine
from vnpy.trader.constant import Exchange, Product
from vnpy.trader.gateway import BaseGateway
from vnpy.trader.object import CancelRequest, ContractData, OrderRequest, SubscribeRequest

from src.core.config.env_settings import load_dotenv_file
from src.core.config.secret_value import Secret
from src.datafeed.hk import protocol as p
from src.datafeed.hk.client import AllTickClient, ClientSettings, FatalFeedError, FeedSettingsError
from src.datafeed.hk.pipeline import FeedProcessor
from src.datafeed.hk.storage import TickStore
from src.datafeed.hk.ticks import TickBuilder, code_of, symbol_of
from src.datafeed.hk.validation import Depth, Trade

GATEWAY_NAME = "ALLTICK"
_CLIENT_FIELDS = {f.name: f.type for f in fields(ClientSettings)}


class AllTickGateway(BaseGateway):
    default_name = GATEWAY_NAME
    default_setting: dict[str, str | int | float | bool] = {
        "token": "",
        "codes": "",
        "url": p.DEFAULT_URL,
        "depth_level": 5,
    }
    exchanges = [Exchange.SEHK]

    def __init__(self, event_engine: EventEngine, gateway_name: str = GATEWAY_NAME) -> None:
        super().__init__(event_engine, gateway_name)
        self.client: AllTickClient | None = None
        self.processor: FeedProcessor | None = None
        self.store: TickStore | None = None  # optional: also keep every trade loss-free (set before connect)
        self.subscribed: list[str] = []
        self._thread: threading.Thread | None = None
        self._ticks = TickBuilder(gateway_name)
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ vnpy API

    def connect(self, setting: dict) -> None:
        token = setting.get("token", "")
        if not token:
            # Preferred: the token stays in .env, not in vnpy's saved connection settings.
            load_dotenv_file()
            token = os.environ.get("ALLTICK_TOKEN", "").strip()
        token = token if hasattr(token, "reveal") else Secret(str(token))
        if not token.reveal():
            self.write_log("AllTick: no token (set ALLTICK_TOKEN in .env)")
            return
        try:
            settings = self._client_settings(setting)
            codes = [p.normalise_hk_code(c) for c in str(setting.get("codes", "")).split(",") if c.strip()]
        except (FeedSettingsError, ValueError, TypeError) as error:
            self.write_log(f"AllTick: bad setting: {error}")
            return
        self.processor = FeedProcessor(self.subscribed, self.store)
        self.processor.trade_listeners.append(self._on_trade)
        self.processor.depth_listeners.append(self._on_depth)
        self.client = AllTickClient(token, self.subscribed, self.processor.on_push, settings,
                                    on_fatal=self._on_fatal, on_connected=self._on_connected)
        self._thread = threading.Thread(target=self._run, name="alltick-gateway", daemon=True)
        self._thread.start()
        for code in codes:
            self.on_contract(ContractData(gateway_name=self.gateway_name, symbol=symbol_of(code),
                                          exchange=Exchange.SEHK, name=code, product=Product.EQUITY, size=1,
                                          pricetick=0.001, min_volume=1, history_data=False))
        self.write_log(f"AllTick: connecting to {settings.url} for {len(codes)} contracts")

    def _client_settings(self, setting: dict) -> ClientSettings:
        values = {}
        for key, value in setting.items():
            if key in _CLIENT_FIELDS and key not in ("token",):
                default = getattr(ClientSettings, key, None)
                if isinstance(default, bool) and isinstance(value, str):
                    value = value.strip().lower() in ("1", "true", "yes", "on")
                elif isinstance(default, (int, float)) and isinstance(value, str):
                    value = float(value) if "." in value else int(value)
                values[key] = value
        return ClientSettings(**values)

    def _run(self) -> None:
        asyncio.run(self.client.run())

    def subscribe(self, req: SubscribeRequest) -> None:
        if req.exchange is not Exchange.SEHK:
            self.write_log(f"AllTick: only SEHK contracts, not {req.symbol}.{req.exchange.value}")
            return
        try:
            code = code_of(req.symbol)
        except ValueError as error:
            self.write_log(f"AllTick: {error}")
            return
        with self._lock:
            if code in self.subscribed:
                return
            codes = [*self.subscribed, code]
            try:
                if self.client is not None:
                    self.client.set_codes(codes)
            except FeedSettingsError as error:
                self.write_log(f"AllTick: {code} not subscribed: {error}")
                return
            self.subscribed = codes
            if self.processor is not None:
                self.processor.set_codes(codes)

    def send_order(self, req: OrderRequest) -> str:
        self.write_log("AllTick is a market-data gateway: no orders")
        return ""

    def cancel_order(self, req: CancelRequest) -> None:
        return None

    def query_account(self) -> None:
        return None

    def query_position(self) -> None:
        return None

    def close(self) -> None:
        """Stop the client and wait for its thread; write what the optional store holds (idempotent)."""
        client, thread, store = self.client, self._thread, self.store
        self.client = self._thread = self.store = None
        if client is not None:
            client.stop()
        if thread is not None:
            thread.join(timeout=10)
        if store is not None:
            store.close()

    # ------------------------------------------------------------------ feed -> vnpy

    def _on_connected(self) -> None:
        self.write_log("AllTick: connected")

    def _on_fatal(self, error: FatalFeedError) -> None:
        self.write_log(f"AllTick: stopped: {error}")

    def _on_trade(self, trade: Trade) -> None:
        self.on_tick(self._ticks.trade(trade))

    def _on_depth(self, depth: Depth) -> None:
        tick = self._ticks.depth(depth)
        if tick is not None:
            self.on_tick(tick)
