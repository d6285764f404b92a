"""The IB connection: read-only, every error code fed to the governor, reconnects bounded in time.

TWS restarts once a day and drops every API client; a lost IB link shows as 1100 (then 1101 data
lost / 1102 data maintained) on a socket that stays open. ``ensure()`` reconnects with a doubling
backoff until its deadline and re-sends the market data type (it is per connection).
"""
from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from ib_async import IB

from src.datafeed.ib.governor import RateGovernor

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionSettings:
    host: str = "127.0.0.1"
    port: int = 7497
    client_id: int = 17
    connect_timeout: float = 10.0
    readonly: bool = True

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("IB_HOST is empty")
        if not 0 < self.port < 65536:
            raise ValueError(f"IB_PORT must be 1-65535, got {self.port}")
        if not 0 <= self.client_id < 2**31:
            raise ValueError(f"IB_CLIENT_ID must be a non-negative integer, got {self.client_id}")

    def describe(self) -> str:
        return f"TWS {self.host}:{self.port} clientId {self.client_id}"

    @classmethod
    def from_environment(cls, env: Mapping[str, str]) -> ConnectionSettings:
        """``IB_HOST`` (127.0.0.1), ``IB_PORT`` (7497, TWS paper), ``IB_CLIENT_ID`` (17); always read-only.

        ValueError naming the variable when one is malformed."""
        host = env.get("IB_HOST", "").strip() or "127.0.0.1"
        values = {}
        for name, default in (("IB_PORT", 7497), ("IB_CLIENT_ID", 17)):
            text = env.get(name, "").strip()
            if not text:
                values[name] = default
                continue
            if not text.isdigit():
                raise ValueError(f"{name}: expected a whole number, got {text!r}")
            values[name] = int(text)
        if not 0 < values["IB_PORT"] < 65536:
            raise ValueError(f"IB_PORT: expected a port number 1-65535, got {values['IB_PORT']}")
        return cls(host=host, port=values["IB_PORT"], client_id=values["IB_CLIENT_ID"], readonly=True)


class ConnectionLost(Exception):
    """TWS could not be reached again before the deadline."""


ErrorListener = Callable[[int, int, str, object], None]


class IbConnection:
    def __init__(self, settings: ConnectionSettings, governor: RateGovernor, *, ib: IB | None = None) -> None:
        self.settings = settings
        self.governor = governor
        self.ib = ib or IB()
        self.market_data_type = 1
        self.connects = 0
        self.listeners: list[ErrorListener] = []
        self.ib.errorEvent += self._on_error

    def _on_error(self, req_id: int, code: int, message: str, contract) -> None:
        self.governor.on_error(code)
        for listener in self.listeners:
            listener(req_id, code, message, contract)

    @property
    def connected(self) -> bool:
        return self.ib.isConnected() and self.ib.client.isReady()

    async def connect(self) -> None:
        s = self.settings
        await self.ib.connectAsync(s.host, s.port, clientId=s.client_id, timeout=s.connect_timeout,
                                   readonly=s.readonly)
        self.connects += 1
        self.governor.connection_reset()
        await self.set_market_data_type(self.market_data_type)
        LOG.info("connected to %s (connection %d)", s.describe(), self.connects)

    async def set_market_data_type(self, market_data_type: int) -> None:
        if market_data_type not in (1, 2, 3, 4):
            raise ValueError(f"market data type must be 1-4, got {market_data_type}")
        self.market_data_type = market_data_type
        if self.connected:
            await self.governor.message()
            self.ib.reqMarketDataType(market_data_type)

    async def ensure(self, within: float) -> None:
        """Connected on return, or ``ConnectionLost`` after ``within`` seconds of attempts."""
        if self.connected:
            return
        deadline = time.monotonic() + within
        delay = 0.2
        last_error: BaseException | None = None
        for attempt in range(1, 1000):
            try:
                if self.ib.isConnected():
                    self.ib.disconnect()
                await self.connect()
                return
            except (OSError, asyncio.TimeoutError, ConnectionError) as error:
                last_error = error
                LOG.warning("connecting to %s failed (attempt %d): %s", self.settings.describe(), attempt,
                            type(error).__name__)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                break
            await asyncio.sleep(min(delay, remaining))
            delay = min(delay * 2, 30.0)
        raise ConnectionLost(f"cannot reach {self.settings.describe()} within {within:g} s: "
                             f"{type(last_error).__name__ if last_error else 'no attempt'}")

    def disconnect(self) -> None:
        if self.ib.isConnected():
            self.ib.disconnect()
