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
from pathlib import Path
from typing import TYPE_CHECKING

from src.main.config.env_settings import DatabaseSettings, load_dotenv_file
from src.main.config.errors import UserInputError
from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home

if TYPE_CHECKING:
    from vnpy.trader.database import BaseDatabase

_DRIVER_MODULES = {
    "sqlite": ("vnpy_sqlite.sqlite_database", "SqliteDatabase"),
    "mysql": ("vnpy_mysql.mysql_database", "MysqlDatabase"),
}


class DatabaseUnavailableError(UserInputError):
    """The configured database cannot be opened or reached."""


def database_settings_from_environment() -> DatabaseSettings:
    load_dotenv_file()
    return DatabaseSettings.from_environment()


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
    if settings.driver == "sqlite":
        try:
            Path(settings.database).parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(
                f"cannot create the folder of {settings.describe()}: {exc.strerror}") from None
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
