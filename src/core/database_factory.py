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

from src.core.config.env_settings import DatabaseSettings, load_dotenv_file
from src.core.config.errors import UserInputError
from src.strategy.infrastructure.monitoring.strategy_monitor import StrategyMonitor
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.json_serializer import JsonSerializer
from src.strategy.infrastructure.persistence.state_repository import DEFAULT_KEEP, StateRepository
from src.paths import DATA_DIR
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
    _ensure_sqlite_folder(settings)
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


def _prepared_location(settings: DatabaseSettings) -> DatabaseLocation:
    _ensure_sqlite_folder(settings)
    return database_location(settings)


SQLITE_HEADER = b"SQLite format 3\x00"


def _ensure_sqlite_folder(settings: DatabaseSettings) -> None:
    """Check the SQLite file before a driver touches it; create only the default data/ folder.

    A path in a folder that does not exist is a typo to report, not a folder to create; a
    folder, or a file that is not an SQLite database, is refused before a driver would.
    """
    if settings.driver != "sqlite":
        return
    check_sqlite_file(Path(settings.database), settings.describe())


def check_sqlite_file(path: Path, described: str = "", data_dir: Path = DATA_DIR) -> None:
    described = described or f"SQLite file {path}"
    folder = path.parent
    if folder.resolve() == Path(data_dir).resolve():
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise DatabaseUnavailableError(f"cannot create the folder of {described}: {exc.strerror}") from None
    elif not folder.is_dir():
        what = "is not a folder" if folder.exists() or _under_a_file(folder) else "does not exist"
        raise DatabaseUnavailableError(
            f"{described}: the folder {folder} {what} (check VNPY_DATABASE_DATABASE; only the default "
            f"data/ folder is created)")
    if path.is_dir():
        raise DatabaseUnavailableError(f"{described} is a folder, not a database file (VNPY_DATABASE_DATABASE)")
    if path.is_file():
        try:
            with path.open("rb") as stream:
                header = stream.read(len(SQLITE_HEADER))
        except OSError as exc:
            raise DatabaseUnavailableError(f"cannot read {described}: {exc.strerror}") from None
        if header and header != SQLITE_HEADER:  # an empty file is a new database to SQLite
            raise DatabaseUnavailableError(f"{described} is not an SQLite database (VNPY_DATABASE_DATABASE)")


def _under_a_file(folder: Path) -> bool:
    return any(parent.is_file() for parent in folder.parents)
