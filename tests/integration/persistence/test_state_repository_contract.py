"""The StateRepository contract, on SQLite and on the MySQL-compatible server alike."""
from __future__ import annotations

import hashlib
import json
import logging
import socket
from datetime import datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from src.strategy.infrastructure.persistence.database_connection import DatabaseConnectionError, DatabaseLocation
from src.strategy.infrastructure.persistence.json_serializer import JsonSerializer, MigrationChain, StateVersionError
from src.strategy.infrastructure.persistence.state_repository import StateCorruptionDetected, StateRepository
from tests.db_backends import execute

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2024, 3, 1, 9, 30, tzinfo=SHANGHAI)


class SteppingClock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        self.now += timedelta(seconds=1)
        return self.now


@pytest.fixture
def clock():
    return SteppingClock()


@pytest.fixture
def repository(database_location, clock):
    repository = StateRepository.open(database_location, keep=3, clock=clock)
    yield repository
    repository.close()


def state_of(counter: int) -> dict:
    return {"counter": counter, "positions": [("IO2403-C-3500", 2, Decimal("35.2"))], "opened": START}


def test_a_state_round_trips_and_an_unknown_strategy_has_none(repository):
    repository.save("vol_15m", state_of(1))
    assert repository.load("vol_15m") == state_of(1)
    assert repository.load("vol_30m") is None
    assert repository.pop_events() == []


def test_only_the_newest_snapshots_are_kept_per_strategy(repository):
    for counter in range(5):
        repository.save("vol_15m", state_of(counter))
    repository.save("other", state_of(100))
    snapshots = repository.snapshots("vol_15m")
    assert len(snapshots) == 3
    assert [s.saved_at for s in snapshots] == [START + timedelta(seconds=n) for n in (5, 4, 3)]
    assert snapshots[0].snapshot_id > snapshots[1].snapshot_id > snapshots[2].snapshot_id
    assert repository.load("vol_15m")["counter"] == 4
    assert repository.load("other")["counter"] == 100
    assert repository.count_snapshots() == 4
    assert repository.strategy_names() == ["other", "vol_15m"]


def test_snapshot_metadata_describes_the_stored_payload(repository, database_location):
    repository.save("vol_15m", state_of(1))
    info = repository.snapshots("vol_15m")[0]
    (payload,) = execute(database_location, "SELECT payload FROM strategy_state WHERE id = ?", (info.snapshot_id,))[0]
    payload = bytes(payload)
    assert info.checksum == hashlib.sha256(payload).hexdigest()
    assert info.size_bytes == len(payload)
    assert info.schema_version == 1 and json.loads(payload)["schema_version"] == 1
    assert info.saved_at == START + timedelta(seconds=1)
    assert repository.newest_good_snapshot("vol_15m") == info


def flip_a_byte(location: DatabaseLocation, snapshot_id: int) -> None:
    (payload,) = execute(location, "SELECT payload FROM strategy_state WHERE id = ?", (snapshot_id,))[0]
    damaged = bytearray(payload)
    damaged[len(damaged) // 2] ^= 0x20
    execute(location, "UPDATE strategy_state SET payload = ? WHERE id = ?", (bytes(damaged), snapshot_id))


def truncate(location: DatabaseLocation, snapshot_id: int) -> None:
    execute(location, "UPDATE strategy_state SET payload = SUBSTR(payload, 1, LENGTH(payload) - 7) WHERE id = ?",
            (snapshot_id,))


@pytest.mark.parametrize("damage", [flip_a_byte, truncate])
def test_a_corrupt_newest_snapshot_is_reported_and_the_previous_one_loads(repository, database_location, damage,
                                                                            caplog):
    repository.save("vol_15m", state_of(1))
    repository.save("vol_15m", state_of(2))
    newest = repository.snapshots("vol_15m")[0]
    damage(database_location, newest.snapshot_id)

    with caplog.at_level(logging.WARNING):
        assert repository.load("vol_15m") == state_of(1)
    events = repository.pop_events()
    assert len(events) == 1
    event = events[0]
    assert isinstance(event, StateCorruptionDetected)
    assert (event.strategy_name, event.snapshot_id, event.saved_at) == ("vol_15m", newest.snapshot_id, newest.saved_at)
    assert event.reason.startswith("checksum mismatch")
    assert event.event_type == "StateCorruptionDetected"
    assert f"state snapshot {newest.snapshot_id} of strategy 'vol_15m'" in caplog.text
    assert repository.pop_events() == []

    bad = repository.verify()
    assert [(b.snapshot_id, b.strategy_name) for b in bad] == [(newest.snapshot_id, "vol_15m")]
    assert repository.newest_good_snapshot("vol_15m").snapshot_id < newest.snapshot_id


def test_a_payload_that_matches_its_checksum_but_does_not_parse_is_skipped(repository, database_location):
    repository.save("vol_15m", state_of(1))
    repository.save("vol_15m", state_of(2))
    newest = repository.snapshots("vol_15m")[0]
    garbage = b'{"schema_version": 1, "state": {"x": {"__type__": "nope"}}}'
    execute(database_location, "UPDATE strategy_state SET payload = ?, checksum = ? WHERE id = ?",
            (garbage, hashlib.sha256(garbage).hexdigest(), newest.snapshot_id))
    assert repository.load("vol_15m") == state_of(1)
    (event,) = repository.pop_events()
    assert event.reason == "unparsable payload: unknown tagged value type 'nope'"


def test_when_every_snapshot_is_corrupt_nothing_loads_and_each_is_reported(repository, database_location):
    repository.save("vol_15m", state_of(1))
    repository.save("vol_15m", state_of(2))
    for info in repository.snapshots("vol_15m"):
        flip_a_byte(database_location, info.snapshot_id)
    assert repository.load("vol_15m") is None
    assert len(repository.pop_events()) == 2
    assert len(repository.verify("vol_15m")) == 2


def test_older_versions_migrate_and_newer_ones_refuse_to_load(database_location, clock):
    version_one = StateRepository.open(database_location, clock=clock)
    version_one.save("vol_15m", {"qty": 3})
    chain = MigrationChain(current_version=2).register(1, lambda s: {"volume": s["qty"]})
    version_two = StateRepository.open(database_location, clock=clock, serializer=JsonSerializer(chain))
    assert version_two.load("vol_15m") == {"volume": 3}

    version_two.save("vol_15m", {"volume": 4})
    with pytest.raises(StateVersionError, match="version 2 is newer than version 1"):
        version_one.load("vol_15m")
    # Tools that only look (state show / verify) still see it as a good snapshot.
    assert version_one.newest_good_snapshot("vol_15m").schema_version == 2
    assert version_one.verify() == []
    version_one.close()
    version_two.close()


@pytest.mark.parametrize("name", ["", "   ", "x" * 129, None])
def test_bad_strategy_names_are_refused(repository, name):
    with pytest.raises(ValueError, match="a strategy name must be"):
        repository.save(name, {})


def test_an_unserializable_state_writes_nothing(repository):
    with pytest.raises(ValueError, match=r"state\['bad'\]: cannot serialize"):
        repository.save("vol_15m", {"bad": object()})
    assert repository.snapshots("vol_15m") == []


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_an_unreachable_mysql_server_is_one_clear_error_without_the_password():
    location = DatabaseLocation.mysql("strategy", host="127.0.0.1", port=closed_port(), user="trader",
                                      password="s3cret-pw")
    repository = StateRepository.open(location)
    with pytest.raises(DatabaseConnectionError) as caught:
        repository.save("vol_15m", {"a": 1})
    message = str(caught.value)
    assert message.startswith(f"cannot save state to MySQL trader@127.0.0.1:{location.port}/strategy: OperationalError")
    assert "s3cret-pw" not in message and "\n" not in message
    assert "s3cret-pw" not in repr(location)
