"""Where the configured database is, and whether it can be used, checked without opening it.

Light (no vnpy, no driver): the commands check the database settings before they import the
heavy parts or create anything, so a typo in ``VNPY_DATABASE_DATABASE`` is one line and no
half-made report folder. ``src.core.database_factory`` opens the database and re-exports these.
"""
from __future__ import annotations

from pathlib import Path

from src.core.config.env_settings import DatabaseSettings, load_dotenv_file
from src.core.config.errors import UserInputError
from src.paths import DATA_DIR

SQLITE_HEADER = b"SQLite format 3\x00"


class DatabaseUnavailableError(UserInputError):
    """The configured database cannot be opened or reached."""


def database_settings_from_environment() -> DatabaseSettings:
    load_dotenv_file()
    return DatabaseSettings.from_environment()


def check_database_settings(settings: DatabaseSettings) -> None:
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
