"""futu-api's OpenQuoteContext, opened so that it cannot hang and always closed.

What the real client does, and what this module does about it:

- its constructor blocks forever, retrying every 6 s, while OpenD is absent: we construct it with
  ``is_async_connect=True`` and wait for ``READY`` ourselves at most ``connect_timeout_seconds``; if it
  does not come, the context is closed (which stops its retry timer) and one ``FutuConnectionError``
  names the address;
- a query made while the connection is down waits for it forever: ``set_sync_query_connect_timeout``
  bounds that wait;
- a request times out after 12 s (``_query_timeout``, an attribute without a public setter): we set
  it from ``request_timeout_seconds`` so the timeout is a setting (and tests need not wait 12 s);
- it leaves non-daemon threads unless told: ``SysConfig.set_all_thread_daemon(True)``;
- after a connection dropped half-way through a reply it keeps the half frame in its receive buffer
  and misreads everything the next connection brings (its reconnect then never becomes ready; seen
  against the local OpenD): a context that is not ready when we need it is closed and a fresh one
  opened in its place;
- it logs under ``~/.com.futunn.FutuOpenD/`` (the folder is chosen when futu is imported: point HOME
  elsewhere before importing this module to move it) and echoes its lines on stdout, which we
  silence (our own log says what matters; its file keeps the rest).
"""
from __future__ import annotations

import logging
import math
import time
from datetime import date

from futu import RET_OK, OpenQuoteContext, SysConfig
from futu.common.constant import ContextStatus
from futu.common.ft_logger import logger as futu_logger

from src.datafeed.futu.connection import FutuConnectionError, FutuConnectionSettings
from src.datafeed.futu.statistics import PageResult, RawStatisticRow

__all__ = ["FutuConnectionError", "FutuConnectionSettings", "FutuStatisticsClient"]

LOG = logging.getLogger(__name__)
POLL_SECONDS = 0.05


def _nullable(value):
    if value is None or (isinstance(value, str) and value.strip().upper() in ("N/A", "")):
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _int_or_none(value) -> int | None:
    value = _nullable(value)
    try:
        return None if value is None else int(value)
    except (TypeError, ValueError):
        return None


def _float_or_none(value) -> float | None:
    value = _nullable(value)
    try:
        return None if value is None else float(value)
    except (TypeError, ValueError):
        return None


class FutuStatisticsClient:
    """``with FutuStatisticsClient(settings) as client: client.fetch_page(...)``."""

    def __init__(self, settings: FutuConnectionSettings) -> None:
        self.settings = settings
        self._context: OpenQuoteContext | None = None
        self.requests_sent = 0
        self.connections = 0
        self.reconnections = 0

    def open(self) -> FutuStatisticsClient:
        self._connect()
        return self

    def _connect(self) -> None:
        settings = self.settings
        SysConfig.set_all_thread_daemon(True)
        futu_logger.console_level = logging.CRITICAL  # its own log file keeps everything; stdout is ours
        # futu keeps encryption in process-wide settings: set them for this context, on or off
        SysConfig.enable_proto_encrypt(settings.rsa_key_file is not None)
        SysConfig.set_init_rsa_file(str(settings.rsa_key_file) if settings.rsa_key_file is not None else "")
        context = OpenQuoteContext(host=settings.host, port=settings.port,
                                   is_encrypt=settings.rsa_key_file is not None, is_async_connect=True)
        self._context = context
        try:
            context.reconnect_interval = settings.reconnect_interval_seconds
            context.set_sync_query_connect_timeout(settings.connect_timeout_seconds)
            context._query_timeout = settings.request_timeout_seconds  # no public setter (12 s by default)
            deadline = time.monotonic() + settings.connect_timeout_seconds
            while context.status != ContextStatus.READY:
                if time.monotonic() >= deadline:
                    raise FutuConnectionError(
                        f"cannot connect to {settings.describe()} within {settings.connect_timeout_seconds:g} s "
                        f"(is OpenD running and logged in? FUTU_HOST/FUTU_PORT in .env)")
                time.sleep(POLL_SECONDS)
        except BaseException:
            self.close()
            raise
        self.connections += 1
        LOG.info("connected to %s", settings.describe())

    def close(self) -> None:
        context, self._context = self._context, None
        if context is not None:
            context.close()

    def __enter__(self) -> FutuStatisticsClient:
        return self.open()

    def __exit__(self, *exc) -> None:
        self.close()

    def fetch_page(self, market: str, data_type: str, begin: date, end: date,
                   page_key: bytes | None) -> PageResult:
        if self._context is None:
            raise RuntimeError("the client is not open")
        if self._context.status != ContextStatus.READY:  # dropped: a fresh context (see the module's notes)
            self.close()
            self.reconnections += 1
            self._connect()
        self.requests_sent += 1
        ret, data, next_key = self._context.get_option_market_statistic(
            market, data_type, begin_time=begin.isoformat(), end_time=end.isoformat(), page_req_key=page_key)
        if ret != RET_OK:
            return PageResult(ok=False, message=str(data))
        rows = tuple(
            RawStatisticRow(time=str(record.get("time", "")), timestamp=_float_or_none(record.get("timestamp")),
                            call_value=_int_or_none(record.get("call_value")),
                            put_value=_int_or_none(record.get("put_value")),
                            total_value=_int_or_none(record.get("total_value")),
                            ratio=_float_or_none(record.get("ratio")))
            for record in data.to_dict("records"))
        return PageResult(ok=True, rows=rows, next_page_key=bytes(next_key) if next_key else None)
