"""Turns a merged mapping into frozen dataclasses, checking every key.

The schema is the dataclasses themselves: field types say what a value must be,
`field(metadata=...)` adds ranges and choices. Every error names the key path
(``hedging.delta_hedging.hedging_band``) and the file the value came from.
"""
from __future__ import annotations

import dataclasses
import math
import re
import types
import typing
from collections.abc import Callable, Mapping
from datetime import time
from pathlib import Path
from typing import Any, TypeVar

from src.core.config.errors import ConfigError

T = TypeVar("T")

_TIME_PATTERN = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class InvalidField(ValueError):
    """Raised by a schema's ``__post_init__`` for a rule that spans keys, naming the key at fault."""

    def __init__(self, key: str | int, problem: str) -> None:
        super().__init__(problem)
        self.key = key
        self.problem = problem


def bounded(
    *,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple[Any, ...] | None = None,
    pattern: str | None = None,
) -> dict[str, Any]:
    """Metadata for ``dataclasses.field``: the range or the choices a value must respect."""
    return {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "pattern": pattern}


class OriginMap:
    """Which file supplied the value at each key path (the override wins)."""

    def __init__(self, default_file: str) -> None:
        self.default_file = default_file
        self._origins: dict[str, str] = {}

    def record(self, key_path: str, file: str) -> None:
        self._origins[key_path] = file

    def file_for(self, key_path: str) -> str:
        probe = key_path
        while probe:
            if probe in self._origins:
                return self._origins[probe]
            probe = _parent_path(probe)
        return self.default_file


def _parent_path(key_path: str) -> str:
    cut = max(key_path.rfind("."), key_path.rfind("["))
    return key_path[:cut] if cut > 0 else ""


def _join(prefix: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{prefix}[{key}]"
    return f"{prefix}.{key}" if prefix else key


def build(cls: type[T], data: Any, origins: OriginMap, key_path: str = "") -> T:
    """Build ``cls`` (a dataclass) from ``data``; raise ConfigError on the first problem."""
    if not isinstance(data, Mapping):
        raise _error(origins, key_path, f"expected a mapping, got {_describe(data)}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    unknown = sorted(set(map(str, data)) - set(fields))
    if unknown:
        raise _error(origins, _join(key_path, unknown[0]),
                     f"unknown key (allowed: {', '.join(sorted(fields))})")
    values: dict[str, Any] = {}
    for name, spec in fields.items():
        child_path = _join(key_path, name)
        if name not in data:
            if spec.default is dataclasses.MISSING and spec.default_factory is dataclasses.MISSING:
                raise _error(origins, child_path, "missing key")
            continue
        value = _convert(hints[name], data[name], origins, child_path)
        _check_bounds(spec.metadata, value, origins, child_path)
        values[name] = value
    try:
        return cls(**values)
    except ConfigError:
        raise
    except InvalidField as exc:
        raise _error(origins, _join(key_path, exc.key), exc.problem) from None
    except ValueError as exc:
        # __post_init__ checks that relate several keys name the mapping itself.
        raise _error(origins, key_path or "<root>", str(exc)) from None


def _convert(annotation: Any, value: Any, origins: OriginMap, key_path: str) -> Any:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        non_none = [a for a in args if a is not type(None)]
        return _convert(non_none[0], value, origins, key_path)
    if origin is tuple:
        if not isinstance(value, list):
            raise _error(origins, key_path, f"expected a list, got {_describe(value)}")
        item_type = args[0]
        return tuple(_convert(item_type, item, origins, _join(key_path, i)) for i, item in enumerate(value))
    if origin is typing.Literal:
        if value not in args:
            raise _error(origins, key_path, f"expected one of {', '.join(map(repr, args))}, got {value!r}")
        return value
    if dataclasses.is_dataclass(annotation):
        return build(annotation, value, origins, key_path)
    converter = _SCALARS.get(annotation)
    if converter is None:
        raise TypeError(f"no config conversion for {annotation!r} at {key_path}")
    return converter(value, origins, key_path)


def _as_int(value: Any, origins: OriginMap, key_path: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise _error(origins, key_path, f"expected an integer, got {_describe(value)}")
    return value


def _as_float(value: Any, origins: OriginMap, key_path: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _error(origins, key_path, f"expected a number, got {_describe(value)}")
    if not math.isfinite(value):
        raise _error(origins, key_path, f"expected a finite number, got {value!r}")
    return float(value)


def _as_str(value: Any, origins: OriginMap, key_path: str) -> str:
    if not isinstance(value, str) or not value.strip():
        raise _error(origins, key_path, f"expected a non-empty string, got {_describe(value)}")
    return value


def _as_bool(value: Any, origins: OriginMap, key_path: str) -> bool:
    if not isinstance(value, bool):
        raise _error(origins, key_path, f"expected true or false, got {_describe(value)}")
    return value


def _as_time(value: Any, origins: OriginMap, key_path: str) -> time:
    match = _TIME_PATTERN.match(value) if isinstance(value, str) else None
    if match is None:
        raise _error(origins, key_path, f'expected a time "HH:MM", got {_describe(value)}')
    return time(int(match.group(1)), int(match.group(2)))


_SCALARS: dict[Any, Callable[[Any, OriginMap, str], Any]] = {
    int: _as_int,
    float: _as_float,
    str: _as_str,
    bool: _as_bool,
    time: _as_time,
}


def _check_bounds(metadata: Mapping[str, Any], value: Any, origins: OriginMap, key_path: str) -> None:
    if not metadata or value is None:
        return
    choices = metadata.get("choices")
    if choices is not None and value not in choices:
        raise _error(origins, key_path, f"expected one of {', '.join(map(str, choices))}, got {value!r}")
    pattern = metadata.get("pattern")
    if pattern is not None and not re.fullmatch(pattern, value):
        raise _error(origins, key_path, f"{value!r} does not match the expected form {pattern}")
    for bound, holds, word in (
        ("ge", lambda v, b: v >= b, ">="),
        ("gt", lambda v, b: v > b, ">"),
        ("le", lambda v, b: v <= b, "<="),
        ("lt", lambda v, b: v < b, "<"),
    ):
        limit = metadata.get(bound)
        if limit is not None and not holds(value, limit):
            raise _error(origins, key_path, f"must be {word} {limit}, got {value!r}")


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return f"{type(value).__name__} {value!r}"


def _error(origins: OriginMap, key_path: str, problem: str) -> ConfigError:
    return ConfigError(Path(origins.file_for(key_path)), key_path, problem)
