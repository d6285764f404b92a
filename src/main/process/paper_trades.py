"""``paper_trade``: every simulated fill of a paper process, in the configured database.

vnpy_paperaccount keeps only current positions (in a JSON file) and the replay
gateway keeps its fills in memory, so a paper run leaves its trades here: one
row per fill, tagged with the run (``run_id``), the process variant
(``paper-15m``), the mode (``replay`` or ``paper``) and the strategy that sent
the order. The table lives beside vnpy's bars (same SQLite file or MySQL
database) and is created on first use.

| column | meaning |
| --- | --- |
| run_id | one paper run: ``<variant>-<start time>-<pid>`` |
| variant, mode | the process (``paper-15m``) and ``replay`` or ``paper`` |
| strategy_name | the strategy whose order filled (from the order's reference) |
| vt_symbol, direction, offset, price, volume | the fill |
| trade_time | when it filled, exchange local time (the replayed time in a replay) |
| vt_orderid, vt_tradeid | vnpy's ids; (run_id, vt_tradeid) is unique, so a repeated trade event is stored once |
| recorded_at | when the row was written (machine time) |
"""
from __future__ import annotations

import logging
import os
from datetime import datetime

import peewee
from vnpy.event import Event, EventEngine
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_TRADE
from vnpy.trader.object import TradeData

from src.core.config.env_settings import DatabaseSettings
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation, open_database

logger = logging.getLogger(__name__)

TABLE_NAME = "paper_trade"
STRATEGY_REFERENCE_PREFIX = "PortfolioStrategy_"


def database_location(settings: DatabaseSettings) -> DatabaseLocation:
    return DatabaseLocation(driver=settings.driver, database=settings.database, host=settings.host,
                            port=settings.port, user=settings.user, password=settings.password.reveal())


def _model(database: peewee.Database) -> type[peewee.Model]:
    class PaperTrade(peewee.Model):
        run_id = peewee.CharField(max_length=96, index=True)
        variant = peewee.CharField(max_length=64)
        mode = peewee.CharField(max_length=16)
        strategy_name = peewee.CharField(max_length=128)
        vt_symbol = peewee.CharField(max_length=64)
        direction = peewee.CharField(max_length=8)
        offset = peewee.CharField(max_length=16)
        price = peewee.DoubleField()
        volume = peewee.DoubleField()
        trade_time = peewee.DateTimeField(null=True)
        vt_orderid = peewee.CharField(max_length=96)
        vt_tradeid = peewee.CharField(max_length=96)
        recorded_at = peewee.DateTimeField()

        class Meta:
            table_name = TABLE_NAME
            indexes = ((("run_id", "vt_tradeid"), True),)

    PaperTrade.bind(database)
    return PaperTrade


class PaperTradeStore:
    def __init__(self, location: DatabaseLocation, variant: str, mode: str, run_id: str | None = None) -> None:
        self.location = location
        self.variant = variant
        self.mode = mode
        self.run_id = run_id or f"{variant}-{datetime.now():%Y%m%d-%H%M%S}-{os.getpid()}"
        self.database = open_database(location)
        self.model = _model(self.database)
        self.trades_recorded = 0
        self.database.create_tables([self.model], safe=True)
        self._main_engine: MainEngine | None = None

    def listen(self, main_engine: MainEngine, event_engine: EventEngine) -> None:
        self._main_engine = main_engine
        event_engine.register(EVENT_TRADE, self._process_trade)

    def record(self, trade: TradeData, strategy_name: str = "") -> None:
        moment = trade.datetime.astimezone(EXCHANGE_TIMEZONE).replace(tzinfo=None) if trade.datetime else None
        self.model.insert(
            run_id=self.run_id, variant=self.variant, mode=self.mode, strategy_name=strategy_name,
            vt_symbol=trade.vt_symbol, direction=trade.direction.value if trade.direction else "",
            offset=trade.offset.value, price=trade.price, volume=trade.volume, trade_time=moment,
            vt_orderid=trade.vt_orderid, vt_tradeid=trade.vt_tradeid, recorded_at=datetime.now(),
        ).on_conflict_ignore().execute()
        self.trades_recorded += 1

    def count(self, run_id: str | None = None) -> int:
        query = self.model.select()
        if run_id is not None:
            query = query.where(self.model.run_id == run_id)
        return query.count()

    def close(self) -> None:
        self.database.close()

    def _process_trade(self, event: Event) -> None:
        trade: TradeData = event.data
        try:
            self.record(trade, self._strategy_of(trade))
        except peewee.PeeweeException as error:  # a database outage must not end vnpy's event thread
            logger.error("cannot record paper trade %s in %s: %s", trade.vt_tradeid, self.location.describe(),
                         self.location.mask(str(error)))

    def _strategy_of(self, trade: TradeData) -> str:
        order = self._main_engine.get_order(trade.vt_orderid) if self._main_engine is not None else None
        reference = getattr(order, "reference", "") or ""
        return reference.removeprefix(STRATEGY_REFERENCE_PREFIX)
