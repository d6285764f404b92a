"""Builds vnpy's database from the environment: SQLite under data/ by default, MySQL by setting.

vnpy keeps one database object per process (``vnpy.trader.database.database``)
and its drivers bind their connection when their module is imported. Creating a
database here sets vnpy's settings first, (re)loads the driver module so it binds
to these settings, and installs the result as vnpy's database, so vnpy's own
engines (BacktestingEngine, data recorder) use the same one.
"""
from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING

from src.core.config.env_settings import DatabaseSettings
from src.core.database_location import (  # noqa: F401  (re-exported: the commands import them from here)
    DatabaseUnavailableError,
    check_database_settings,
    check_sqlite_file,
    database_settings_from_environment,
)
from src.strategy.infrastructure.monitoring.strategy_monitor import StrategyMonitor
from src.strategy.infrastructure.persistence.control_repository import StrategyControlRepository
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.json_serializer import JsonSerializer
from src.strategy.infrastructure.persistence.state_repository import DEFAULT_KEEP, StateRepository
from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home

if TYPE_CHECKING:
    from vnpy.trader.database import BaseDatabase

_DRIVER_MODULES = {
    "sqlite": ("vnpy_sqlite.sqlite_database", "SqliteDatabase"),
    "mysql": ("vnpy_mysql.mysql_database", "MysqlDatabase"),
}


def create_database(settings: DatabaseSettings | None = None) -> BaseDatabase:
    settings = settings or database_settings_from_environment()
    ensure_vnpy_home()
    from vnpy.trader import database as vnpy_database
    from vnpy.trader.setting import SETTINGS

    SETTINGS.update({
        "database.name": settings.driver,
        "database.database": settings.database,
        "database.host": settings.host,
        "database.port": settings.port,
        "database.user": settings.user,
        "database.password": settings.password.reveal(),
    })
    check_database_settings(settings)
    module_name, class_name = _DRIVER_MODULES[settings.driver]
    try:
        module = importlib.reload(sys.modules[module_name]) if module_name in sys.modules \
            else importlib.import_module(module_name)
        database = getattr(module, class_name)()
    except Exception as exc:  # drivers raise peewee/pymysql/sqlite errors of many kinds
        raise DatabaseUnavailableError(
            f"cannot open {settings.describe()}: {type(exc).__name__}: {_first_line(exc)}") from None
    vnpy_database.database = database
    return database


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else "no detail"


def database_location(settings: DatabaseSettings) -> DatabaseLocation:
    """Our tables' location: the same SQLite file or MySQL database as vnpy's bars."""
    return DatabaseLocation(driver=settings.driver, database=settings.database, host=settings.host,
                            port=settings.port, user=settings.user, password=settings.password.reveal())


def create_state_repository(settings: DatabaseSettings | None = None, keep: int = DEFAULT_KEEP,
                            serializer: JsonSerializer | None = None) -> StateRepository:
    """A StateRepository on the configured database (``VNPY_DATABASE_*``; SQLite under data/ by default)."""
    settings = settings or database_settings_from_environment()
    return StateRepository.open(_prepared_location(settings), keep=keep, serializer=serializer)


def create_strategy_monitor(settings: DatabaseSettings | None = None, **options) -> StrategyMonitor:
    """A StrategyMonitor writing to the configured database; ``options`` go to StrategyMonitor."""
    settings = settings or database_settings_from_environment()
    return StrategyMonitor.open(_prepared_location(settings), **options)


def create_control_repository(settings: DatabaseSettings | None = None) -> StrategyControlRepository:
    """The kill switch's table (``strategy_control``) on the configured database."""
    settings = settings or database_settings_from_environment()
    return StrategyControlRepository.open(_prepared_location(settings))


def _prepared_location(settings: DatabaseSettings) -> DatabaseLocation:
    check_database_settings(settings)
    return database_location(settings)
