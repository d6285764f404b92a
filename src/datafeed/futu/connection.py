"""How to reach OpenD (no futu import here, so commands that only read the database never load futu)."""
from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path


class FutuConnectionError(Exception):
    """OpenD could not be reached (or did not finish InitConnect) in time."""


@dataclass(frozen=True)
class FutuConnectionSettings:
    host: str = "127.0.0.1"
    port: int = 11111
    connect_timeout_seconds: float = 10.0
    request_timeout_seconds: float = 12.0
    reconnect_interval_seconds: float = 2.0
    rsa_key_file: Path | None = None

    def __post_init__(self) -> None:
        if not self.host:
            raise ValueError("FUTU_HOST is empty")
        if not isinstance(self.port, int) or not 0 < self.port < 65536:
            raise ValueError(f"FUTU_PORT must be 1-65535, got {self.port!r}")
        for name in ("connect_timeout_seconds", "request_timeout_seconds", "reconnect_interval_seconds"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"{name} must be a positive number, got {value!r}")
        if self.rsa_key_file is not None and not Path(self.rsa_key_file).is_file():
            raise ValueError(f"FUTU_RSA_KEY_FILE: no such file {self.rsa_key_file}")

    def describe(self) -> str:
        return f"Futu OpenD at {self.host}:{self.port}"
