"""The cycle's clock on a vnpy portfolio strategy engine.

vnpy's backtester keeps the replayed bar's time in ``engine.datetime`` (aware,
exchange time) once the replay started; live and paper engines have none, and
the exchange's wall time is "now".
"""
from __future__ import annotations

from datetime import datetime

from src.strategy.domain.interface.clock import IClock
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE


class VnpyClock(IClock):
    def __init__(self, strategy_engine: object) -> None:
        self._engine = strategy_engine

    def now(self) -> datetime:
        engine_time = getattr(self._engine, "datetime", None)
        if isinstance(engine_time, datetime) and engine_time.tzinfo is not None:
            return engine_time
        return datetime.now(EXCHANGE_TIMEZONE)
