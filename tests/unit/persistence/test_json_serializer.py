"""JsonSerializer round-trips every supported value exactly; MigrationChain upgrades step by step."""
from __future__ import annotations

import json
import math
from datetime import date, datetime, time, timedelta, timezone
from decimal import Decimal
from enum import Enum, IntEnum
from zoneinfo import ZoneInfo

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from src.strategy.infrastructure.persistence.json_serializer import (
    JsonSerializer,
    MigrationChain,
    StateSerializationError,
    StateVersionError,
)


class Side(Enum):
    LONG = "long"
    SHORT = "short"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class Unregistered(Enum):
    ONE = 1


SERIALIZER = JsonSerializer(enums=[Side, Level])
NUMPY_DTYPES = ["bool", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64",
                "float16", "float32", "float64"]


def assert_same(expected, actual, path="state"):
    """Equality that also demands the same types, digits of Decimals, time zones and folds; NaN equals NaN."""
    assert type(actual) is type(expected), f"{path}: {type(actual).__name__} != {type(expected).__name__}"
    if isinstance(expected, dict):
        assert list(actual) == list(expected), f"{path}: keys differ"
        for key in expected:
            assert_same(expected[key], actual[key], f"{path}[{key!r}]")
    elif isinstance(expected, (list, tuple)):
        assert len(actual) == len(expected), f"{path}: lengths differ"
        for index, (left, right) in enumerate(zip(expected, actual, strict=True)):
            assert_same(left, right, f"{path}[{index}]")
    elif isinstance(expected, (set, frozenset)):
        assert actual == expected, path
    elif isinstance(expected, Decimal):
        assert str(actual) == str(expected), path
    elif isinstance(expected, (float, np.floating)):
        same_sign = math.copysign(1, actual) == math.copysign(1, expected)
        assert (math.isnan(expected) and math.isnan(actual)) or (actual == expected and same_sign), path
    elif isinstance(expected, (datetime, time)):
        assert actual == expected and actual.tzinfo == expected.tzinfo and actual.fold == expected.fold, path
        if isinstance(expected, datetime) and expected.tzinfo is not None:
            assert actual.utcoffset() == expected.utcoffset(), path
    else:
        assert actual == expected, path


timezones = st.one_of(st.none(), st.just(timezone.utc),
                      st.builds(lambda minutes: timezone(timedelta(minutes=minutes)), st.integers(-1439, 1439)),
                      st.timezones())
hashable_leaves = st.one_of(
    st.none(), st.booleans(), st.integers(), st.text(max_size=8),
    st.floats(allow_nan=False), st.dates(), st.decimals(allow_nan=False),
    st.sampled_from(list(Side)), st.sampled_from(list(Level)),
)
leaves = st.one_of(
    hashable_leaves,
    st.floats(allow_nan=True, allow_infinity=True),
    st.decimals(allow_nan=True, allow_infinity=True),
    st.datetimes(timezones=timezones),
    st.times(timezones=st.one_of(st.none(), st.just(timezone.utc))),
    st.timedeltas(),
    st.sampled_from(NUMPY_DTYPES).flatmap(lambda dtype: hnp.from_dtype(np.dtype(dtype))),
)
keys = st.one_of(st.text(max_size=8), st.just("__type__"), st.integers(), st.dates(),
                 st.tuples(st.integers(), st.text(max_size=3)))
values = st.recursive(
    leaves,
    lambda children: st.one_of(
        st.lists(children, max_size=4),
        st.lists(children, max_size=4).map(tuple),
        st.sets(hashable_leaves, max_size=4),
        st.frozensets(hashable_leaves, max_size=4),
        st.dictionaries(st.text(max_size=8), children, max_size=4),
        st.dictionaries(keys, children, max_size=4),
    ),
    max_leaves=20,
)
states = st.dictionaries(st.one_of(st.text(max_size=10), keys), values, max_size=6)


@settings(max_examples=300, deadline=None)
@given(states)
def test_every_supported_state_round_trips_exactly(state):
    payload = SERIALIZER.serialize(state)
    restored = SERIALIZER.deserialize(payload)
    assert_same(state, restored)
    assert SERIALIZER.serialize(restored) == payload


@settings(max_examples=100, deadline=None)
@given(st.lists(st.one_of(st.text(max_size=5), st.integers(), st.dates()), max_size=20, unique=True))
def test_equal_sets_give_equal_bytes_whatever_their_insertion_order(items):
    forward, backward = set(), set()
    for item in items:
        forward.add(item)
    for item in reversed(items):
        backward.add(item)
    assert SERIALIZER.serialize({"s": forward}) == SERIALIZER.serialize({"s": backward})


def test_payload_is_a_versioned_envelope_of_plain_json():
    payload = SERIALIZER.serialize({"price": 3.5, "when": date(2024, 1, 2), "side": Side.LONG})
    document = json.loads(payload)
    assert document == {
        "schema_version": 1,
        "state": {"price": 3.5, "when": {"__type__": "date", "value": "2024-01-02"},
                  "side": {"__type__": "enum", "class": f"{__name__}.Side", "name": "LONG"}},
    }


def test_zone_and_fold_survive():
    shanghai = datetime(2024, 3, 1, 9, 30, tzinfo=ZoneInfo("Asia/Shanghai"))
    new_york_repeat = datetime(2023, 11, 5, 1, 30, fold=1, tzinfo=ZoneInfo("America/New_York"))
    restored = SERIALIZER.deserialize(SERIALIZER.serialize({"a": shanghai, "b": new_york_repeat}))
    assert restored["a"].tzinfo == ZoneInfo("Asia/Shanghai")
    assert restored["b"].fold == 1 and restored["b"].utcoffset() == timedelta(hours=-5)


@pytest.mark.parametrize(("state", "message"), [
    ({"a": [1, {"b": object()}]}, "state['a'][1]['b']: cannot serialize a value of type builtins.object"),
    ({"x": Unregistered.ONE}, "state['x']: enum tests.unit.persistence.test_json_serializer.Unregistered is not"),
    ({"arr": np.array([1, 2])}, "state['arr']: cannot serialize a value of type numpy.ndarray"),
    ({"c": np.complex128(1j)}, "state['c']: numpy scalar of dtype complex128 is not supported"),
    ({"b": b"raw"}, "state['b']: cannot serialize a value of type builtins.bytes"),
])
def test_unsupported_values_are_refused_with_their_path(state, message):
    with pytest.raises(StateSerializationError) as caught:
        SERIALIZER.serialize(state)
    assert str(caught.value).startswith(message)


def test_a_state_must_be_a_dict():
    with pytest.raises(StateSerializationError, match="a state must be a dict, got list"):
        SERIALIZER.serialize([1, 2])


@pytest.mark.parametrize(("payload", "message"), [
    (b"{not json", "the payload is not valid JSON"),
    (b'{"schema_version": 1}', "the payload is not a state envelope"),
    (b'{"schema_version": "1", "state": {}}', "schema_version is not an int"),
    (b'{"schema_version": 1, "state": []}', "the payload's state is not an object but list"),
    (b'{"schema_version": 1, "state": {"x": NaN}}', "bare NaN"),
    (b'{"schema_version": 1, "state": {"x": {"__type__": "pickle", "value": ""}}}', "unknown tagged value type"),
    (b'{"schema_version": 1, "state": {"x": {"__type__": "date", "value": "2024-13-01"}}}', "malformed 'date' value"),
    (b'{"schema_version": 1, "state": {"x": {"__type__": "enum", "class": "os.Whatever", "name": "A"}}}',
     "enum os.Whatever is not registered"),
    (b"\xff\xfe\x00garbage", "the payload is not valid JSON"),
])
def test_malformed_payloads_are_refused_clearly(payload, message):
    with pytest.raises(StateSerializationError, match=message):
        SERIALIZER.deserialize(payload)


def test_older_payloads_migrate_step_by_step():
    chain = MigrationChain(current_version=3)
    calls = []

    @chain.step(1)
    def rename_qty(state):
        calls.append(1)
        return {**{k: v for k, v in state.items() if k != "qty"}, "volume": state["qty"]}

    @chain.step(2)
    def add_greeks(state):
        calls.append(2)
        return {**state, "greeks": {}}

    old = JsonSerializer().serialize({"qty": 5})
    assert json.loads(old)["schema_version"] == 1
    assert JsonSerializer(chain).deserialize(old) == {"volume": 5, "greeks": {}}
    assert calls == [1, 2]
    calls.clear()
    assert JsonSerializer(chain).deserialize(JsonSerializer(chain).serialize({"volume": 1})) == {"volume": 1}
    assert calls == []


def test_a_newer_version_refuses_to_load_naming_both_versions():
    newer = JsonSerializer(MigrationChain(current_version=4).register(1, dict).register(2, dict).register(3, dict))
    payload = newer.serialize({"a": 1})
    with pytest.raises(StateVersionError, match="state schema version 4 is newer than version 2 this program knows"):
        JsonSerializer(MigrationChain(current_version=2).register(1, dict)).deserialize(payload)


def test_a_gap_in_the_chain_is_reported():
    chain = MigrationChain(current_version=3).register(1, dict)
    with pytest.raises(StateVersionError, match="no migration step registered from version 2"):
        chain.migrate(1, {})


def test_registering_steps_is_checked():
    chain = MigrationChain(current_version=2)
    with pytest.raises(ValueError, match="must start from a version 1..1"):
        chain.register(2, dict)
    chain.register(1, dict)
    with pytest.raises(ValueError, match="already registered"):
        chain.register(1, dict)
    with pytest.raises(ValueError, match="current_version must be an int >= 1"):
        MigrationChain(current_version=0)


def test_a_step_must_return_a_dict():
    chain = MigrationChain(current_version=2).register(1, lambda state: [state])
    with pytest.raises(StateVersionError, match="migration step from version 1 returned list"):
        chain.migrate(1, {})
