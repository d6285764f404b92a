"""The kill switch's table (strategy_control), on SQLite and on the MySQL-compatible server alike."""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from src.strategy.domain.value_object.control_command import ControlCommand
from src.strategy.infrastructure.persistence.control_repository import StrategyControlRepository
from src.strategy.infrastructure.persistence.database_connection import DatabaseConnectionError, DatabaseLocation
from tests.db_backends import execute

SHANGHAI = ZoneInfo("Asia/Shanghai")
START = datetime(2026, 1, 12, 10, 30, 15, 250_000, tzinfo=SHANGHAI)


@pytest.fixture
def repository(database_location):
    repository = StrategyControlRepository.open(database_location)
    yield repository
    repository.close()


def test_the_newest_command_of_a_strategy_is_what_it_reads(repository):
    assert repository.latest("vol") is None
    first = repository.write("vol", ControlCommand.FLATTEN, START, "risk desk")
    repository.write("vol@paper", "stop", START + timedelta(seconds=1))
    assert repository.latest("vol") == first
    assert (first.command, first.requested_at, first.note) == (ControlCommand.FLATTEN, START, "risk desk")
    resumed = repository.write("vol", ControlCommand.RESUME, START + timedelta(seconds=2))
    assert resumed.request_id > first.request_id
    assert repository.latest("vol").command is ControlCommand.RESUME
    assert repository.latest("vol@paper").command is ControlCommand.STOP


def test_the_history_is_kept_newest_first(repository):
    for n, command in enumerate(("stop", "resume", "flatten")):
        repository.write("vol", command, START + timedelta(minutes=n))
    history = repository.history("vol")
    assert [request.command.value for _, request in history] == ["flatten", "resume", "stop"]
    assert {name for name, _ in repository.history()} == {"vol"}
    assert len(repository.history(limit=2)) == 2


def test_a_second_connection_sees_the_command_at_once(repository, database_location):
    reader = StrategyControlRepository.open(database_location)
    try:
        assert reader.latest("vol") is None
        written = repository.write("vol", "flatten", START)
        assert reader.latest("vol") == written
        (count,) = execute(database_location, "SELECT COUNT(*) FROM strategy_control")[0]
        assert count == 1
    finally:
        reader.close()


def test_a_bad_command_or_name_is_refused(repository):
    with pytest.raises(ValueError):
        repository.write("vol", "explode", START)
    with pytest.raises(ValueError):
        repository.write("", "stop", START)


def test_an_unreachable_database_is_one_error_without_the_password():
    location = DatabaseLocation.mysql(database="nothing", host="127.0.0.1", port=1, user="u",
                                      password="hunter2-secret")
    repository = StrategyControlRepository.open(location)
    with pytest.raises(DatabaseConnectionError) as caught:
        repository.latest("vol")
    assert "hunter2-secret" not in str(caught.value)
