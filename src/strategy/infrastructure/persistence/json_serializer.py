"""Strategy state <-> versioned JSON bytes, with a migration chain for older versions.

A payload is UTF-8 JSON ``{"schema_version": N, "state": ...}``. The state is a
dict of plain JSON values; the values JSON cannot hold exactly travel as tagged
objects ``{"__type__": TAG, ...}``, so that ``deserialize(serialize(s)) == s``
with the same types:

==================  =====================================================================
Python value        JSON
==================  =====================================================================
None, bool, int,    themselves (floats by their shortest exact repr)
str, finite float
nan, inf, -inf      ``{"__type__": "float", "value": "nan" | "inf" | "-inf"}``
list                a JSON array
tuple               ``{"__type__": "tuple", "items": [...]}``
set / frozenset     ``{"__type__": "set" | "frozenset", "items": [...]}`` (items sorted by
                    their JSON text, so equal sets give equal bytes)
dict, str keys      a JSON object, unless a key is ``"__type__"``
other dicts         ``{"__type__": "map", "items": [[key, value], ...]}`` (non-str keys
                    such as ints, tuples, dates; or a ``"__type__"`` key of the user's)
datetime            ``{"__type__": "datetime", "value": ISO 8601}``; aware values keep
                    their UTC offset, ``ZoneInfo`` ones add ``"zone": key``; ``"fold": 1``
                    when set
date, time,         ``{"__type__": "date" | "time", "value": ISO 8601}`` (time like datetime);
timedelta           ``{"__type__": "timedelta", "days": d, "seconds": s, "microseconds": us}``
Decimal             ``{"__type__": "decimal", "value": str(d)}`` (digits and exponent kept)
Enum member         ``{"__type__": "enum", "class": "module.QualName", "name": member}``;
                    the class must be registered with the serializer (both ways), so a
                    payload never names a class to import
numpy scalar        ``{"__type__": "numpy", "dtype": "int64", "value": v}`` for bool_,
                    int8..int64, uint8..uint64, float16..float64 (non-finite floats as for
                    ``float``)
==================  =====================================================================

Anything else (objects, numpy arrays, bytes) is refused with the path to the value.
"""
from __future__ import annotations

import json
import math
from collections.abc import Callable, Iterable
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import Enum
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

TYPE_KEY = "__type__"
ENVELOPE_VERSION_KEY = "schema_version"
ENVELOPE_STATE_KEY = "state"

_NUMPY_DTYPES = {
    "bool": np.bool_,
    "int8": np.int8, "int16": np.int16, "int32": np.int32, "int64": np.int64,
    "uint8": np.uint8, "uint16": np.uint16, "uint32": np.uint32, "uint64": np.uint64,
    "float16": np.float16, "float32": np.float32, "float64": np.float64,
}
_NON_FINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}
_STR_ONLY = frozenset({str})
# Types json writes exactly as they are (a float only when finite: the fast pass leaves that to
# json's allow_nan=False and redoes the state with _EXACT_LEAVES when it finds one that is not).
_FAST_LEAVES = frozenset({str, int, bool, float, type(None)})
_EXACT_LEAVES = frozenset({str, int, bool, type(None)})


class StateSerializationError(ValueError):
    """A state cannot be written as JSON (unsupported value) or read back (malformed payload)."""


class StateVersionError(StateSerializationError):
    """A payload is of a schema version this program does not know or cannot migrate."""


Migration = Callable[[dict], dict]


class MigrationChain:
    """Step functions vN -> vN+1, applied one after the other up to the current version.

    ``current_version`` is the version this program writes. Step ``n`` receives the
    state as version ``n`` had it and returns it as version ``n + 1`` has it.
    """

    def __init__(self, current_version: int = 1) -> None:
        if not isinstance(current_version, int) or isinstance(current_version, bool) or current_version < 1:
            raise ValueError(f"current_version must be an int >= 1, got {current_version!r}")
        self._current_version = current_version
        self._steps: dict[int, Migration] = {}

    @property
    def current_version(self) -> int:
        return self._current_version

    def register(self, from_version: int, step: Migration) -> MigrationChain:
        if not isinstance(from_version, int) or not 1 <= from_version < self._current_version:
            raise ValueError(f"a migration step must start from a version 1..{self._current_version - 1}, "
                             f"got {from_version!r}")
        if from_version in self._steps:
            raise ValueError(f"a migration from version {from_version} is already registered")
        self._steps[from_version] = step
        return self

    def step(self, from_version: int) -> Callable[[Migration], Migration]:
        """Decorator form of ``register``."""
        def decorate(function: Migration) -> Migration:
            self.register(from_version, function)
            return function
        return decorate

    def migrate(self, version: int, state: dict) -> dict:
        if version > self._current_version:
            raise StateVersionError(
                f"state schema version {version} is newer than version {self._current_version} "
                f"this program knows; refusing to load it (upgrade the program or load an older snapshot)")
        if version < 1:
            raise StateVersionError(f"state schema version {version} is invalid (versions start at 1)")
        missing = [n for n in range(version, self._current_version) if n not in self._steps]
        if missing:
            raise StateVersionError(
                f"cannot migrate state from schema version {version} to {self._current_version}: "
                f"no migration step registered from version {missing[0]}")
        for from_version in range(version, self._current_version):
            state = self._steps[from_version](state)
            if not isinstance(state, dict):
                raise StateVersionError(
                    f"migration step from version {from_version} returned {type(state).__name__}, not a dict")
        return state


class _PathError(Exception):
    """Raised deep in the encoder; collects the path to the bad value while unwinding."""

    def __init__(self, problem: str) -> None:
        self.problem = problem
        self.path: list[str] = []


class JsonSerializer:
    """Encodes state dicts as versioned JSON bytes and decodes (and migrates) them back."""

    def __init__(self, migrations: MigrationChain | None = None, enums: Iterable[type[Enum]] = ()) -> None:
        self._migrations = migrations or MigrationChain()
        self._enums: dict[str, type[Enum]] = {}
        for enum_class in enums:
            self.register_enum(enum_class)

    @property
    def schema_version(self) -> int:
        return self._migrations.current_version

    @property
    def migrations(self) -> MigrationChain:
        return self._migrations

    def register_enum(self, enum_class: type[Enum]) -> None:
        if not (isinstance(enum_class, type) and issubclass(enum_class, Enum)):
            raise TypeError(f"expected an Enum class, got {enum_class!r}")
        self._enums[_class_name(enum_class)] = enum_class

    # ------------------------------------------------------------------ writing
    def serialize(self, state: dict) -> bytes:
        if not isinstance(state, dict):
            raise StateSerializationError(f"a state must be a dict, got {type(state).__name__}")
        try:
            try:
                return self._dump(self._encode(state, _FAST_LEAVES))
            except ValueError:
                # json refused a NaN or infinity inside a container passed through as is: tag every float.
                return self._dump(self._encode(state, _EXACT_LEAVES))
        except _PathError as error:
            where = "state" + "".join(reversed(error.path))
            raise StateSerializationError(f"{where}: {error.problem}") from None
        except RecursionError:
            raise StateSerializationError("the state is nested too deeply or contains a reference cycle") from None

    def _dump(self, encoded: dict) -> bytes:
        envelope = {ENVELOPE_VERSION_KEY: self.schema_version, ENVELOPE_STATE_KEY: encoded}
        return json.dumps(envelope, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")

    # Containers whose contents need no tagging are passed to json as they are, checked by
    # set(map(type, ...)) at C speed: walking every value in Python would cost as much as the
    # dump itself on a large state.
    def _encode(self, value: Any, leaves: frozenset) -> Any:
        kind = type(value)
        if kind in leaves:
            return value
        if kind is float:
            return value if math.isfinite(value) else {TYPE_KEY: "float", "value": _non_finite_name(value)}
        if kind is list:
            if set(map(type, value)) <= leaves:
                return value
            return self._encode_items(value, leaves)
        if kind is dict:
            return value if _is_plain_dict(value, leaves) else self._encode_dict(value, leaves)
        return self._encode_other(value, leaves)

    def _encode_items(self, items: Iterable, leaves: frozenset) -> list:
        encoded = []
        append = encoded.append
        for index, item in enumerate(items):
            kind = type(item)
            if kind in leaves or (kind is dict and _is_plain_dict(item, leaves)):
                append(item)
                continue
            try:
                append(self._encode(item, leaves))
            except _PathError as error:
                error.path.append(f"[{index}]")
                raise
        return encoded

    def _encode_dict(self, mapping: dict, leaves: frozenset) -> dict:
        if TYPE_KEY in mapping or not set(map(type, mapping)) <= _STR_ONLY:
            pairs = ([key, value] for key, value in mapping.items())
            return {TYPE_KEY: "map", "items": self._encode_items(pairs, leaves)}
        encoded = {}
        for key, item in mapping.items():
            if type(item) in leaves:
                encoded[key] = item
                continue
            try:
                encoded[key] = self._encode(item, leaves)
            except _PathError as error:
                error.path.append(f"[{key!r}]")
                raise
        return encoded

    def _encode_other(self, value: Any, leaves: frozenset) -> Any:
        # Order matters: Enum before its mixin base (IntEnum is an int), datetime before date.
        if isinstance(value, Enum):
            name = _class_name(type(value))
            if self._enums.get(name) is not type(value):
                raise _PathError(f"enum {name} is not registered with the serializer (register_enum)")
            return {TYPE_KEY: "enum", "class": name, "name": value.name}
        if isinstance(value, np.generic):
            return _encode_numpy(value)
        if isinstance(value, (int, str, float)):
            raise _PathError(f"subclass {type(value).__name__} of {type(value).__mro__[1].__name__} "
                             f"would come back as a plain value")
        if isinstance(value, datetime):
            return _encode_datetime(value)
        if isinstance(value, date):
            return {TYPE_KEY: "date", "value": value.isoformat()}
        if isinstance(value, time):
            return _encode_time(value)
        if isinstance(value, timedelta):
            return {TYPE_KEY: "timedelta", "days": value.days, "seconds": value.seconds,
                    "microseconds": value.microseconds}
        if isinstance(value, Decimal):
            return {TYPE_KEY: "decimal", "value": str(value)}
        if type(value) is tuple:
            return {TYPE_KEY: "tuple", "items": self._encode_items(value, leaves)}
        if type(value) in (set, frozenset):
            items = self._encode_items(value, leaves)
            items.sort(key=lambda item: json.dumps(item, sort_keys=True, ensure_ascii=False))
            return {TYPE_KEY: type(value).__name__, "items": items}
        raise _PathError(f"cannot serialize a value of type {type(value).__module__}.{type(value).__qualname__}")

    # ------------------------------------------------------------------ reading
    def deserialize(self, payload: bytes | str) -> dict:
        """The state of a payload, migrated to the current schema version."""
        version, state = self.decode(payload)
        return self._migrations.migrate(version, state)

    def decode(self, payload: bytes | str) -> tuple[int, dict]:
        """The schema version and state of a payload as written (no migration)."""
        try:
            envelope = json.loads(payload, object_hook=self._decode_object, parse_constant=_reject_constant)
        except StateSerializationError:
            raise
        except (ValueError, UnicodeDecodeError, RecursionError) as error:
            raise StateSerializationError(f"the payload is not valid JSON: {_first_line(error)}") from None
        if not isinstance(envelope, dict) or set(envelope) != {ENVELOPE_VERSION_KEY, ENVELOPE_STATE_KEY}:
            raise StateSerializationError(
                f"the payload is not a state envelope {{{ENVELOPE_VERSION_KEY!r}, {ENVELOPE_STATE_KEY!r}}}")
        version, state = envelope[ENVELOPE_VERSION_KEY], envelope[ENVELOPE_STATE_KEY]
        if type(version) is not int:
            raise StateSerializationError(f"the payload's schema_version is not an int: {version!r}")
        if not isinstance(state, dict):
            raise StateSerializationError(f"the payload's state is not an object but {type(state).__name__}")
        return version, state

    def _decode_object(self, obj: dict) -> Any:
        tag = obj.get(TYPE_KEY)
        if tag is None:
            return obj
        try:
            return self._decode_tagged(tag, obj)
        except StateSerializationError:
            raise
        except (KeyError, TypeError, ValueError, OverflowError) as error:
            raise StateSerializationError(f"malformed {tag!r} value: {_first_line(error) or type(error).__name__}") \
                from None

    def _decode_tagged(self, tag: str, obj: dict) -> Any:
        if tag == "float":
            return _NON_FINITE[obj["value"]]
        if tag == "tuple":
            return tuple(obj["items"])
        if tag == "set":
            return set(obj["items"])
        if tag == "frozenset":
            return frozenset(obj["items"])
        if tag == "map":
            return {key: value for key, value in obj["items"]}
        if tag == "datetime":
            return _decode_datetime(obj)
        if tag == "date":
            return date.fromisoformat(obj["value"])
        if tag == "time":
            return _decode_time(obj)
        if tag == "timedelta":
            return timedelta(days=obj["days"], seconds=obj["seconds"], microseconds=obj["microseconds"])
        if tag == "decimal":
            return Decimal(obj["value"])
        if tag == "enum":
            enum_class = self._enums.get(obj["class"])
            if enum_class is None:
                raise StateSerializationError(
                    f"enum {obj['class']} is not registered with the serializer (register_enum)")
            return enum_class[obj["name"]]
        if tag == "numpy":
            return _decode_numpy(obj)
        raise StateSerializationError(f"unknown tagged value type {tag!r}")


def _is_plain_dict(mapping: dict, leaves: frozenset) -> bool:
    """A dict json writes as we would: str keys (none of them the tag key) and leaf values only."""
    return (TYPE_KEY not in mapping and set(map(type, mapping)) <= _STR_ONLY
            and set(map(type, mapping.values())) <= leaves)


def _class_name(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _non_finite_name(value: float) -> str:
    if math.isnan(value):
        return "nan"
    return "inf" if value > 0 else "-inf"


def _reject_constant(name: str) -> Any:
    raise StateSerializationError(f"the payload contains a bare {name}, which this format never writes")


def _zone_fields(tzinfo: Any, where: str) -> dict:
    if tzinfo is None or isinstance(tzinfo, timezone):
        return {}
    if isinstance(tzinfo, ZoneInfo) and tzinfo.key:
        return {"zone": tzinfo.key}
    raise _PathError(f"{where} with tzinfo {type(tzinfo).__name__} cannot be restored exactly "
                     f"(use datetime.timezone or zoneinfo.ZoneInfo)")


def _encode_datetime(value: datetime) -> dict:
    encoded = {TYPE_KEY: "datetime", "value": value.isoformat(), **_zone_fields(value.tzinfo, "a datetime")}
    if value.fold:
        encoded["fold"] = 1
    return encoded


def _encode_time(value: time) -> dict:
    encoded = {TYPE_KEY: "time", "value": value.isoformat(), **_zone_fields(value.tzinfo, "a time")}
    if value.fold:
        encoded["fold"] = 1
    return encoded


def _decode_datetime(obj: dict) -> datetime:
    value = datetime.fromisoformat(obj["value"])
    if "zone" in obj:
        value = value.replace(tzinfo=ZoneInfo(obj["zone"]))
    return value.replace(fold=obj.get("fold", 0))


def _decode_time(obj: dict) -> time:
    value = time.fromisoformat(obj["value"])
    if "zone" in obj:
        value = value.replace(tzinfo=ZoneInfo(obj["zone"]))
    return value.replace(fold=obj.get("fold", 0))


def _encode_numpy(value: np.generic) -> dict:
    dtype = value.dtype.name
    if dtype not in _NUMPY_DTYPES:
        raise _PathError(f"numpy scalar of dtype {dtype} is not supported")
    plain = value.item()
    if isinstance(plain, float) and not math.isfinite(plain):
        plain = _non_finite_name(plain)
    return {TYPE_KEY: "numpy", "dtype": dtype, "value": plain}


def _decode_numpy(obj: dict) -> np.generic:
    scalar_type = _NUMPY_DTYPES[obj["dtype"]]
    value = obj["value"]
    if isinstance(value, str):
        value = _NON_FINITE[value]
    return scalar_type(value)


def _first_line(error: BaseException) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else ""
