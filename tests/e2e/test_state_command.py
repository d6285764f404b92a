"""``python -m src.main.state`` as an operator runs it, after corrupting rows with plain SQL."""
from __future__ import annotations

import json
import socket

import pytest

from src.strategy.infrastructure.persistence.database_connection import DatabaseLocation
from src.strategy.infrastructure.persistence.state_repository import StateRepository
from tests.db_backends import database_environment, execute
from tests.e2e.cli import run_command

STATE = ["-m", "src.main.state"]


def run_state(location: DatabaseLocation, *args: str):
    return run_command([*STATE, *args], env=database_environment(location), timeout=60)


def saved_twice(location: DatabaseLocation) -> list:
    repository = StateRepository.open(location)
    repository.save("vol_15m", {"counter": 1})
    repository.save("vol_15m", {"counter": 2})
    repository.save("vol_30m", {"counter": 1})
    snapshots = repository.snapshots("vol_15m")
    repository.close()
    return snapshots


def test_show_and_verify_see_the_corruption_done_with_sql(database_location):
    newest, previous = saved_twice(database_location)

    shown = run_state(database_location, "show", "--strategy", "vol_15m")
    assert shown.returncode == 0, shown.stderr
    document = json.loads(shown.stdout)
    assert document == {"strategy_name": "vol_15m", "snapshot_id": newest.snapshot_id, "schema_version": 1,
                        "saved_at": newest.saved_at.isoformat(), "checksum": newest.checksum,
                        "size_bytes": newest.size_bytes}
    clean = run_state(database_location, "verify")
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.strip().endswith("checked 3 snapshots of 2 strategies in "
                                         f"{database_location.describe()}: 0 bad")

    execute(database_location, "UPDATE strategy_state SET payload = SUBSTR(payload, 1, 20) WHERE id = ?",
            (newest.snapshot_id,))
    shown = run_state(database_location, "show", "--strategy", "vol_15m")
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["snapshot_id"] == previous.snapshot_id
    assert f"state snapshot {newest.snapshot_id} of strategy 'vol_15m'" in shown.stderr
    assert "is corrupt and was skipped: checksum mismatch" in shown.stderr

    dirty = run_state(database_location, "verify")
    assert dirty.returncode == 3  # bad snapshots found: not 1 (an unexpected error), not 2 (bad input)
    lines = dirty.stdout.strip().splitlines()
    assert lines[0].startswith(f"BAD strategy 'vol_15m' snapshot {newest.snapshot_id} saved at ")
    assert "checksum mismatch" in lines[0]
    assert lines[-1].endswith(": 1 bad")


def test_a_strategy_without_a_good_snapshot_is_one_line_and_exit_2(tmp_path):
    location = DatabaseLocation.sqlite(tmp_path / "database.db")
    result = run_state(location, "show", "--strategy", "nobody")
    assert result.returncode == 2
    assert result.stderr.strip() == (f"python -m src.main.state: error: no good state snapshot of strategy 'nobody' "
                                     f"in SQLite file {location.database} (none stored); "
                                     f"no strategy has saved state there")


def test_not_found_lists_the_stored_names_and_points_at_the_replay_one(tmp_path):
    # The README's replay saves volatility_strategy_15m@replay; its state example asks for the plain name.
    location = DatabaseLocation.sqlite(tmp_path / "database.db")
    repository = StateRepository.open(location)
    repository.save("volatility_strategy_15m@replay", {"counter": 1})
    repository.save("other_strategy", {"counter": 2})
    repository.close()
    result = run_state(location, "show", "--strategy", "volatility_strategy_15m")
    assert result.returncode == 2
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1
    assert line.endswith("(none stored); stored strategies: other_strategy, volatility_strategy_15m@replay; "
                         "did you mean 'volatility_strategy_15m@replay'?"), line
    assert run_state(location, "show", "--strategy", "volatility_strategy_15m@replay").returncode == 0


@pytest.mark.parametrize(("args", "message"), [
    (["show"], "the following arguments are required: --strategy"),
    (["show", "--strategy", " "], "--strategy: a strategy name must be a non-empty string"),
    (["fix"], "invalid choice: 'fix'"),
])
def test_bad_arguments_are_one_line_and_exit_2(tmp_path, args, message):
    result = run_state(DatabaseLocation.sqlite(tmp_path / "database.db"), *args)
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert message in result.stderr


def test_an_unreachable_mysql_server_is_one_line_without_the_password():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    location = DatabaseLocation.mysql("strategy", host="127.0.0.1", port=port, user="trader", password="hunter2-secret")
    result = run_state(location, "verify")
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert f"cannot read snapshots from MySQL trader@127.0.0.1:{port}/strategy" in result.stderr
    assert "hunter2-secret" not in result.stderr + result.stdout
