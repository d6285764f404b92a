"""Logging for the project's processes: console and an optional file, secrets masked everywhere."""
from __future__ import annotations

import logging
import logging.handlers
from pathlib import Path

from src.core.config.secret_value import SecretMaskingFilter

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")


def configure_logging(level: str = "INFO", log_file: Path | None = None, console: bool = True,
                      max_bytes: int = 20 * 1024 * 1024, backup_count: int = 10,
                      console_level: str | None = None) -> None:
    """Root logging: ``level`` to the rotating ``log_file``; the console (stderr) at ``console_level`` or ``level``."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
        handler.close()
    root.setLevel(level)
    handlers: list[logging.Handler] = []
    if console:
        stream = logging.StreamHandler()
        stream.setLevel(console_level or level)
        handlers.append(stream)
    if log_file is not None:
        log_file.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.handlers.RotatingFileHandler(
            log_file, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8"))
    masking = SecretMaskingFilter()
    formatter = logging.Formatter(LOG_FORMAT)
    for handler in handlers:
        handler.addFilter(masking)
        handler.setFormatter(formatter)
        root.addHandler(handler)
