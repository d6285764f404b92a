"""The column types and model base shared by every table of the project's own (state, monitor,
statistics, HK ticks, the IB cache), on SQLite and MySQL alike."""
from __future__ import annotations

import peewee


class LongBlobField(peewee.BlobField):
    """MySQL's BLOB stops at 64 KB; states are larger. SQLite maps LONGBLOB to a BLOB."""

    field_type = "LONGBLOB"


class LongTextField(peewee.TextField):
    field_type = "LONGTEXT"


class MicrosecondDateTimeField(peewee.DateTimeField):
    """MySQL's DATETIME drops fractions of a second unless told to keep them."""

    def get_modifiers(self) -> list[int]:
        return [6]


def model_base(database: peewee.Database) -> type[peewee.Model]:
    """The base of every table of the project's own: bound to ``database``, snake_case table names,
    InnoDB and utf8mb4 on MySQL."""
    mysql_options = ["ENGINE=InnoDB", "DEFAULT CHARSET=utf8mb4"] if isinstance(database, peewee.MySQLDatabase) \
        else []

    class Base(peewee.Model):
        class Meta:
            legacy_table_names = False
            table_settings = mysql_options

    Base._meta.database = database
    return Base
