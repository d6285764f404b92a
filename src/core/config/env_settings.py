"""Settings that come from the environment (and ``.env``): database, CTP, Feishu.

``.env`` at the project root is read once, never overriding variables already
set in the environment. Passwords and tokens are held as ``Secret``.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv import dotenv_values

from src.core.config.errors import ConfigError
from src.core.config.secret_value import Secret
from src.paths import DATA_DIR, PROJECT_ROOT
from src.strategy.infrastructure.notification.feishu_event_handler import FeishuSettings

ENV_FILE = PROJECT_ROOT / ".env"

DATABASE_DRIVERS = ("sqlite", "mysql")
DEFAULT_SQLITE_FILE = "database.db"


def load_dotenv_file(path: Path = ENV_FILE, environ: dict[str, str] | None = None) -> None:
    """Copy ``.env`` entries into the environment unless the environment already has them."""
    target = os.environ if environ is None else environ
    if not path.is_file():
        return
    for key, value in dotenv_values(path).items():
        if value is not None and key not in target:
            target[key] = value


@dataclass(frozen=True)
class DatabaseSettings:
    driver: str
    database: str
    host: str
    port: int
    user: str
    password: Secret

    @classmethod
    def from_environment(cls, environ: Mapping[str, str] | None = None) -> DatabaseSettings:
        env = os.environ if environ is None else environ
        source = "environment"
        driver = env.get("VNPY_DATABASE_DRIVER", "sqlite").strip().lower() or "sqlite"
        if driver not in DATABASE_DRIVERS:
            raise ConfigError(source, "VNPY_DATABASE_DRIVER",
                              f"unknown driver {driver!r} (expected one of: {', '.join(DATABASE_DRIVERS)})")
        database = env.get("VNPY_DATABASE_DATABASE", "").strip()
        if driver == "sqlite":
            path = Path(database or DEFAULT_SQLITE_FILE).expanduser()
            database = str(path if path.is_absolute() else DATA_DIR / path)
        elif not database:
            raise ConfigError(source, "VNPY_DATABASE_DATABASE", "the MySQL database name is required")
        port_text = env.get("VNPY_DATABASE_PORT", "3306").strip() or "3306"
        if not port_text.isdigit() or not 0 < int(port_text) < 65536:
            raise ConfigError(source, "VNPY_DATABASE_PORT", f"expected a port number 1-65535, got {port_text!r}")
        return cls(
            driver=driver,
            database=database,
            host=env.get("VNPY_DATABASE_HOST", "localhost").strip() or "localhost",
            port=int(port_text),
            user=env.get("VNPY_DATABASE_USER", "root").strip() or "root",
            password=Secret(env.get("VNPY_DATABASE_PASSWORD", "")),
        )

    def describe(self) -> str:
        """Where the data lives, for messages (never the password)."""
        if self.driver == "sqlite":
            return f"SQLite file {self.database}"
        return f"MySQL {self.user}@{self.host}:{self.port}/{self.database}"


@dataclass(frozen=True)
class CtpSettings:
    """One account's CTP (or SOPT) login, in the field names vnpy's gateways expect."""

    username: str
    password: Secret
    broker_id: str
    td_server: str
    md_server: str
    product_name: str
    auth_code: Secret
    # CTP's counter environment: "production" (实盘) or "test" (测试, e.g. SimNow's 7x24 front).
    environment: str = "production"

    @classmethod
    def from_environment(cls, prefix: str = "CTP", environ: Mapping[str, str] | None = None) -> CtpSettings | None:
        """None when no login is configured at all; a clear error when it is half configured."""
        env = os.environ if environ is None else environ
        names = ("USERNAME", "PASSWORD", "BROKER_ID", "TD_SERVER", "MD_SERVER", "PRODUCT_NAME", "AUTH_CODE")
        values = {name: env.get(f"{prefix}_{name}", "").strip() for name in names}
        if not any(values.values()):
            return None
        for name in ("USERNAME", "PASSWORD", "BROKER_ID", "TD_SERVER", "MD_SERVER"):
            if not values[name]:
                raise ConfigError("environment", f"{prefix}_{name}", "missing (the other login settings are set)")
        environment = env.get(f"{prefix}_ENVIRONMENT", "").strip().lower() or "production"
        if environment not in COUNTER_ENVIRONMENTS:
            raise ConfigError("environment", f"{prefix}_ENVIRONMENT",
                              f"expected production or test, got {environment!r}")
        return cls(
            username=values["USERNAME"],
            password=Secret(values["PASSWORD"]),
            broker_id=values["BROKER_ID"],
            td_server=values["TD_SERVER"],
            md_server=values["MD_SERVER"],
            product_name=values["PRODUCT_NAME"],
            auth_code=Secret(values["AUTH_CODE"]),
            environment=environment,
        )


COUNTER_ENVIRONMENTS = ("production", "test")


def feishu_settings_from_environment(environ: Mapping[str, str] | None = None) -> FeishuSettings | None:
    """The Feishu bot from ``FEISHU_WEBHOOK_URL`` (+ ``FEISHU_WEBHOOK_SECRET``, ``FEISHU_WEBHOOK_KEYWORD``),
    URL and secret held as ``Secret``; None when no URL is set (or the .env.example placeholder is left)."""
    env = os.environ if environ is None else environ
    url = env.get("FEISHU_WEBHOOK_URL", "").strip()
    if not url or url == "your_feishu_webhook_url":
        return None
    if not url.startswith(("http://", "https://")):
        raise ConfigError("environment", "FEISHU_WEBHOOK_URL", "must start with http:// or https://")
    secret = env.get("FEISHU_WEBHOOK_SECRET", "").strip()
    keyword = env.get("FEISHU_WEBHOOK_KEYWORD", "").strip()
    return FeishuSettings(Secret(url), Secret(secret) if secret else None, keyword or None)
