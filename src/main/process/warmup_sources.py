"""The live warm-up's history: the database's bars, and the futures' missing minutes from the gateway or a datafeed.

``warmup_history`` builds the ``WarmupHistory`` a live or paper child hands its
strategies (``StrategyRuntime.history``) from the ``warmup:`` section of the
configuration: the sources of ``warmup.fallback`` in order; the datafeed is
``warmup.datafeed`` or vnpy's ``datafeed.name`` (Tushare: ``TUSHARE_TOKEN`` of
``.env``, ``TUSHARE_API_URL`` for another server; AKShare: no token). A
datafeed that cannot be set up (no token) is left out with one log line: the
warm-up then uses what the other sources have.
"""
from __future__ import annotations

import logging
from collections.abc import Iterable

from src.core.config.errors import UserInputError
from src.core.config.schema import WarmupConfig
from src.strategy.domain.domain_service.trading_clock import TradingClocks
from src.strategy.domain.value_object.trading_calendar import TradingCalendar
from src.strategy.infrastructure.persistence.warmup_history import (
    DatafeedHistorySource,
    GatewayHistorySource,
    WarmupHistory,
)

logger = logging.getLogger("child")

DATAFEED_CALLS_PER_MINUTE = 200


def warmup_history(config: WarmupConfig, database, main_engine, futures: Iterable[str],
                   calendar: TradingCalendar) -> WarmupHistory:
    sources = []
    for name in config.fallback:
        if name == "gateway":
            sources.append(GatewayHistorySource(main_engine))
        else:
            datafeed = _datafeed_source(config.datafeed)
            if datafeed is not None:
                sources.append(datafeed)
    filled = frozenset(futures)
    logger.info("warm-up history: the database's bars, and gaps of %d+ minutes of the %d futures filled from %s",
                config.min_gap_minutes, len(filled), ", then ".join(s.name for s in sources) or "nowhere")
    return WarmupHistory(database, sources, TradingClocks(calendar=calendar), fill=filled.__contains__,
                         min_gap_minutes=config.min_gap_minutes)


def _datafeed_source(configured: str) -> DatafeedHistorySource | None:
    from src.main.download_command import SOURCES, make_datafeed
    from vnpy.trader.setting import SETTINGS

    name = configured or (SETTINGS.get("datafeed.name") or "").strip().lower()
    if not name:
        logger.info("warm-up history: no datafeed (set warmup.datafeed or vnpy's datafeed.name to use one)")
        return None
    if name not in SOURCES:
        logger.warning("warm-up history: vnpy's datafeed.name %r is not one of ours (%s): no datafeed", name,
                       ", ".join(SOURCES))
        return None
    try:
        return DatafeedHistorySource(make_datafeed(name, DATAFEED_CALLS_PER_MINUTE), name)
    except UserInputError as error:
        logger.warning("warm-up history: datafeed %s left out: %s", name, error)
        return None
