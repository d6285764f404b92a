"""The kill switch's table, ``strategy_control`` (schema migration 5); the repository is ``control_repository``."""
from __future__ import annotations

import peewee

from src.strategy.infrastructure.persistence.model_base import MicrosecondDateTimeField, model_base

CONTROL_TABLE = "strategy_control"
NAME_LENGTH = 128
COMMAND_LENGTH = 16
NOTE_LENGTH = 200


def bind_control_table(database: peewee.Database) -> type[peewee.Model]:
    Base = model_base(database)

    class StrategyControl(Base):
        id = peewee.BigAutoField()
        strategy_name = peewee.CharField(max_length=NAME_LENGTH)
        command = peewee.CharField(max_length=COMMAND_LENGTH)
        requested_at = MicrosecondDateTimeField()
        note = peewee.CharField(max_length=NOTE_LENGTH, default="")

        class Meta:
            table_name = CONTROL_TABLE
            indexes = ((("strategy_name", "id"), False),)

    return StrategyControl


def create_control_table(database: peewee.Database) -> None:
    database.create_tables([bind_control_table(database)], safe=True)
