"""Tables of the Hong Kong tick feed (AllTick), created by schema migration 4.

- ``hk_trade_tick``: every trade, keyed by (code, seq). vnpy's tick table keys on
  (symbol, exchange, datetime) and would keep one of two trades stamped in the
  same millisecond; the vendor's seq tells them apart.
- ``hk_depth_snapshot``: order books, keyed by (code, seq); best bid/ask as
  columns, the levels as JSON ``[[price, volume], ...]``.
- ``hk_seq_gap``: seq ranges missing per code, by cause (``feed``: the vendor's
  sequence jumped; ``overflow``: received but dropped by the full buffer), and
  how many were filled later.
- ``hk_feed_checkpoint``: per code and stream, the last seq and exchange time
  stored, written in the same transaction as the rows, so a restart knows where
  it stopped.

Times are naive exchange time (Hong Kong, UTC+8 all year, the same wall clock
as the project's Asia/Shanghai storage time), microseconds kept: ``tick_time``
is the exchange's time of the trade, ``received_at`` when the client read it.
"""
from __future__ import annotations

from dataclasses import dataclass

import peewee

from src.strategy.infrastructure.persistence.model_base import LongTextField, MicrosecondDateTimeField, model_base

TRADE_TABLE = "hk_trade_tick"
DEPTH_TABLE = "hk_depth_snapshot"
GAP_TABLE = "hk_seq_gap"
CHECKPOINT_TABLE = "hk_feed_checkpoint"
HK_TABLES = (TRADE_TABLE, DEPTH_TABLE, GAP_TABLE, CHECKPOINT_TABLE)
CODE_LENGTH = 16
STREAM_LENGTH = 8


@dataclass(frozen=True)
class HkTables:
    trade: type[peewee.Model]
    depth: type[peewee.Model]
    gap: type[peewee.Model]
    checkpoint: type[peewee.Model]

    @property
    def all(self) -> list[type[peewee.Model]]:
        return [self.trade, self.depth, self.gap, self.checkpoint]


def bind_hk_tables(database: peewee.Database) -> HkTables:
    Base = model_base(database)

    class HkTradeTick(Base):
        code = peewee.CharField(max_length=CODE_LENGTH)
        seq = peewee.BigIntegerField()
        tick_time = MicrosecondDateTimeField()
        received_at = MicrosecondDateTimeField()
        price = peewee.DoubleField()
        volume = peewee.DoubleField()
        turnover = peewee.DoubleField()
        trade_direction = peewee.SmallIntegerField()

        class Meta:
            table_name = TRADE_TABLE
            primary_key = peewee.CompositeKey("code", "seq")
            indexes = ((("code", "tick_time"), False),)

    class HkDepthSnapshot(Base):
        code = peewee.CharField(max_length=CODE_LENGTH)
        seq = peewee.BigIntegerField()
        tick_time = MicrosecondDateTimeField()
        received_at = MicrosecondDateTimeField()
        bid_price_1 = peewee.DoubleField(null=True)
        ask_price_1 = peewee.DoubleField(null=True)
        bids = LongTextField()
        asks = LongTextField()

        class Meta:
            table_name = DEPTH_TABLE
            primary_key = peewee.CompositeKey("code", "seq")
            indexes = ((("code", "tick_time"), False),)

    class HkSeqGap(Base):
        id = peewee.BigAutoField()
        code = peewee.CharField(max_length=CODE_LENGTH)
        stream = peewee.CharField(max_length=STREAM_LENGTH)
        first_missing = peewee.BigIntegerField()
        last_missing = peewee.BigIntegerField()
        detected_at = MicrosecondDateTimeField()
        filled_count = peewee.IntegerField(default=0)
        cause = peewee.CharField(max_length=STREAM_LENGTH)  # feed: never received; overflow: dropped by us

        class Meta:
            table_name = GAP_TABLE
            indexes = ((("code", "stream", "first_missing"), True),)

    class HkFeedCheckpoint(Base):
        code = peewee.CharField(max_length=CODE_LENGTH)
        stream = peewee.CharField(max_length=STREAM_LENGTH)
        last_seq = peewee.BigIntegerField()
        last_tick_time = MicrosecondDateTimeField()
        updated_at = MicrosecondDateTimeField()

        class Meta:
            table_name = CHECKPOINT_TABLE
            primary_key = peewee.CompositeKey("code", "stream")

    return HkTables(HkTradeTick, HkDepthSnapshot, HkSeqGap, HkFeedCheckpoint)


def create_hk_tables(database: peewee.Database) -> None:
    """Migration 4: the HK feed's tables (safe to run twice)."""
    database.create_tables(bind_hk_tables(database).all, safe=True)
