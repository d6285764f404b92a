"""AutoSaveService with a fake repository and time passed in."""
from __future__ import annotations

import os
import signal
import threading
import time

import pytest

from src.strategy.infrastructure.persistence.auto_save_service import AutoSaveService
from src.strategy.infrastructure.persistence.json_serializer import JsonSerializer
from src.strategy.infrastructure.persistence.state_repository import PreparedState, payload_checksum


class FakeRepository:
    """Implements what AutoSaveService needs of StateRepository, and remembers what was saved."""

    def __init__(self) -> None:
        self.serializer = JsonSerializer()
        self.saved: list[tuple[str, dict]] = []
        self.fail_next = 0
        self.during_save = None

    def prepare(self, state: dict) -> PreparedState:
        payload = self.serializer.serialize(state)
        return PreparedState(1, payload, payload_checksum(payload))

    def save_prepared(self, strategy_name: str, prepared: PreparedState) -> None:
        if self.during_save is not None:
            self.during_save()
        if self.fail_next:
            self.fail_next -= 1
            raise ConnectionError("database unreachable")
        self.saved.append((strategy_name, self.serializer.deserialize(prepared.payload)))


class Strategy:
    def __init__(self) -> None:
        self.state = {"counter": 0}

    def snapshot(self) -> dict:
        return dict(self.state)


@pytest.fixture
def parts():
    return FakeRepository(), Strategy()


def test_saves_once_per_interval_and_only_when_the_state_changed(parts):
    repository, strategy = parts
    service = AutoSaveService(repository, "s1", strategy.snapshot, interval_seconds=60, clock=lambda: 0.0)
    assert service.tick(0.0) is False          # the first tick starts the clock
    strategy.state["counter"] = 1
    assert service.tick(59.9) is False         # interval not over
    assert service.tick(60.0) is True
    assert repository.saved == [("s1", {"counter": 1})]
    assert service.tick(120.0) is False        # unchanged: no write
    strategy.state["counter"] = 2
    assert service.tick(150.0) is False        # changed, but the next check is at 180
    assert service.tick(180.0) is True
    assert [state for _, state in repository.saved] == [{"counter": 1}, {"counter": 2}]
    assert service.saves == 2


def test_stop_saves_a_changed_state_and_nothing_otherwise(parts):
    repository, strategy = parts
    service = AutoSaveService(repository, "s1", strategy.snapshot, interval_seconds=60)
    assert service.stop() is True
    assert service.stop() is False
    strategy.state["counter"] = 7
    assert service.stop() is True
    assert repository.saved[-1] == ("s1", {"counter": 7})


def test_a_failed_save_is_logged_and_retried_at_the_next_interval(parts, caplog):
    repository, strategy = parts
    repository.fail_next = 1
    service = AutoSaveService(repository, "s1", strategy.snapshot, interval_seconds=10)
    service.tick(0)
    assert service.tick(10) is False
    assert "database unreachable" in service.last_error
    assert "auto-save of strategy 's1' failed: ConnectionError: database unreachable" in caplog.text
    assert service.tick(20) is True
    assert service.last_error is None
    assert repository.saved == [("s1", {"counter": 0})]


def test_a_failing_state_provider_does_not_raise(parts):
    repository, _ = parts

    def broken() -> dict:
        raise RuntimeError("half-built state")

    service = AutoSaveService(repository, "s1", broken, interval_seconds=1)
    service.tick(0)
    assert service.tick(1) is False
    assert service.last_error == "RuntimeError: half-built state"


def test_the_thread_runner_saves_changes_and_stops(parts):
    repository, strategy = parts
    service = AutoSaveService(repository, "s1", strategy.snapshot, interval_seconds=0.05)
    service.start(poll_seconds=0.01)
    strategy.state["counter"] = 3
    deadline = time.monotonic() + 60  # a ceiling: the loop ends at the first save
    while not repository.saved and time.monotonic() < deadline:
        time.sleep(0.01)
    strategy.state["counter"] = 4
    service.stop()
    assert repository.saved[0] == ("s1", {"counter": 3})
    assert repository.saved[-1] == ("s1", {"counter": 4})
    assert not any(thread.name == "auto-save-s1" for thread in threading.enumerate())


@pytest.mark.parametrize("bad", [0, -1, "60"])
def test_the_interval_must_be_positive(parts, bad):
    repository, strategy = parts
    with pytest.raises(ValueError, match="interval_seconds must be a number > 0"):
        AutoSaveService(repository, "s1", strategy.snapshot, interval_seconds=bad)


def test_a_signal_saves_then_calls_the_previous_handler(parts):
    repository, strategy = parts
    received = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(signum))
    try:
        service = AutoSaveService(repository, "s1", strategy.snapshot)
        service.install_signal_handlers([signal.SIGUSR1])
        strategy.state["counter"] = 9
        os.kill(os.getpid(), signal.SIGUSR1)
        assert repository.saved == [("s1", {"counter": 9})]
        assert received == [signal.SIGUSR1]
        service.restore_signal_handlers()
    finally:
        signal.signal(signal.SIGUSR1, previous)


def test_a_signal_during_a_save_waits_for_it_then_saves_the_latest_state(parts):
    repository, strategy = parts
    received = []
    previous = signal.signal(signal.SIGUSR1, lambda signum, frame: received.append(repository.saved[:]))
    try:
        service = AutoSaveService(repository, "s1", strategy.snapshot)
        service.install_signal_handlers([signal.SIGUSR1])

        def change_and_signal_mid_save() -> None:
            repository.during_save = None
            strategy.state["counter"] = 2
            os.kill(os.getpid(), signal.SIGUSR1)  # the handler runs here, inside the save

        strategy.state["counter"] = 1
        repository.during_save = change_and_signal_mid_save
        assert service.save_if_changed() is True
        # The interrupted save completed, then the final save of the newer state, then the chained handler.
        assert repository.saved == [("s1", {"counter": 1}), ("s1", {"counter": 2})]
        assert received == [[("s1", {"counter": 1}), ("s1", {"counter": 2})]]
        service.restore_signal_handlers()
    finally:
        signal.signal(signal.SIGUSR1, previous)
