"""Where OpenD is (``FUTU_HOST``, ``FUTU_PORT``, optional ``FUTU_RSA_KEY_FILE``) and where our tables are
(``VNPY_DATABASE_*``), from the environment and ``.env``."""
from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path

from src.core.config.env_settings import DatabaseSettings
from src.core.config.errors import ConfigError
from src.datafeed.futu.connection import FutuConnectionSettings
from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation

SOURCE = "environment"


def _positive(env: Mapping[str, str], key: str, default: float) -> float:
    text = env.get(key, "").strip()
    if not text:
        return default
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(SOURCE, key, f"expected a number of seconds, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ConfigError(SOURCE, key, f"must be a positive number of seconds, got {text!r}")
    return value


def futu_settings_from_environment(environ: Mapping[str, str] | None = None) -> FutuConnectionSettings:
    env = os.environ if environ is None else environ
    host = env.get("FUTU_HOST", "127.0.0.1").strip() or "127.0.0.1"
    port_text = env.get("FUTU_PORT", "11111").strip() or "11111"
    if not port_text.isdigit() or not 0 < int(port_text) < 65536:
        raise ConfigError(SOURCE, "FUTU_PORT", f"expected a port number 1-65535, got {port_text!r}")
    key_text = env.get("FUTU_RSA_KEY_FILE", "").strip()
    key_file = Path(key_text).expanduser() if key_text else None
    if key_file is not None and not key_file.is_file():
        raise ConfigError(SOURCE, "FUTU_RSA_KEY_FILE", f"no such file {key_file}")
    return FutuConnectionSettings(
        host=host, port=int(port_text), rsa_key_file=key_file,
        connect_timeout_seconds=_positive(env, "FUTU_CONNECT_TIMEOUT", 10.0),
        request_timeout_seconds=_positive(env, "FUTU_REQUEST_TIMEOUT", 12.0))


def database_location_from_environment(environ: Mapping[str, str] | None = None) -> DatabaseLocation:
    settings = DatabaseSettings.from_environment(environ)
    if settings.driver == "sqlite":
        Path(settings.database).parent.mkdir(parents=True, exist_ok=True)
    return DatabaseLocation(driver=settings.driver, database=settings.database, host=settings.host,
                            port=settings.port, user=settings.user, password=settings.password.reveal())
