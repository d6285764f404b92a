"""Small checks shared by the value objects' ``__post_init__``.

Each raises ValueError (TypeError for a wrong kind of value) with a message
naming the owner and the field, so a bad input is found where it was made.
"""
from __future__ import annotations

import math
from datetime import datetime
from enum import Enum
from numbers import Integral, Real


def require_text(owner: str, name: str, value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"{owner}.{name} must be a non-empty string, got {value!r}")
    return value


def require_real(owner: str, name: str, value: object) -> float:
    kind = type(value)
    # Plain floats and ints first: the abstract-class check below costs more than the rest of a
    # value object's validation, and market data builds hundreds of thousands of them.
    if kind is not float and kind is not int and (isinstance(value, bool) or not isinstance(value, Real)):
        raise TypeError(f"{owner}.{name} must be a real number, got {type(value).__name__}")
    number = float(value)
    if not math.isfinite(number):
        raise ValueError(f"{owner}.{name} must be finite, got {number}")
    return number


def require_positive(owner: str, name: str, value: object) -> float:
    number = require_real(owner, name, value)
    if number <= 0:
        raise ValueError(f"{owner}.{name} must be > 0, got {number}")
    return number


def require_non_negative(owner: str, name: str, value: object) -> float:
    number = require_real(owner, name, value)
    if number < 0:
        raise ValueError(f"{owner}.{name} must be >= 0, got {number}")
    return number


def is_plain_non_negative(value: object) -> bool:
    """True for a float ``require_non_negative`` would return unchanged: the test of a fast path for
    value objects made once per contract per bar, which skips the owner's message and the checks."""
    return type(value) is float and 0.0 <= value < math.inf


def require_int(owner: str, name: str, value: object, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral):
        raise TypeError(f"{owner}.{name} must be an integer, got {type(value).__name__}")
    number = int(value)
    if number < minimum:
        raise ValueError(f"{owner}.{name} must be >= {minimum}, got {number}")
    return number


def require_aware(owner: str, name: str, value: object) -> datetime:
    """Naive and aware datetimes cannot be compared, so the domain takes aware ones only."""
    if not isinstance(value, datetime):
        raise TypeError(f"{owner}.{name} must be a datetime, got {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{owner}.{name} must be timezone-aware, got naive {value.isoformat()}")
    return value


def require_enum(owner: str, name: str, value: object, kind: type[Enum]) -> Enum:
    if not isinstance(value, kind):
        raise TypeError(f"{owner}.{name} must be a {kind.__name__}, got {value!r}")
    return value
