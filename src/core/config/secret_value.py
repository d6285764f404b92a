"""Secrets that cannot leak by accident.

A ``Secret`` prints as ``***`` in ``repr``, ``str`` and f-strings; the value is
only available through ``reveal()``. Every revealed value is also registered so
the logging filter can mask it should it reach a log line some other way.
"""
from __future__ import annotations

import logging
import threading

MASK = "***"

_registry_lock = threading.Lock()
_registered_values: set[str] = set()


class Secret:
    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value
        if value:
            with _registry_lock:
                _registered_values.add(value)

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return f"Secret({MASK})"

    def __str__(self) -> str:
        return MASK

    def __format__(self, spec: str) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self):  # pickling would carry the value to places we do not control
        raise TypeError("a Secret cannot be pickled; pass settings by environment instead")


def mask_secrets(text: str) -> str:
    with _registry_lock:
        values = sorted(_registered_values, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


class SecretMaskingFilter(logging.Filter):
    """Replaces any known secret value in a record's final message with ``***``."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = mask_secrets(message)
        if masked != message:
            record.msg = masked
            record.args = None
        if record.exc_info and record.exc_info[1] is not None:
            record.exc_text = mask_secrets(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        return True
