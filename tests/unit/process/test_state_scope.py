"""Live, paper and replay processes of the same strategy never read or overwrite each other's state."""
from __future__ import annotations

from src.main.process.state_scope import LIVE, PAPER, REPLAY, ScopedMonitor, ScopedStateRepository, state_key


class RecordingRepository:
    """Stands in for StateRepository: remembers saves, answers loads from them."""

    def __init__(self) -> None:
        self.states: dict[str, dict] = {}

    def load(self, name):
        return self.states.get(name)

    def save(self, name, state):
        self.states[name] = state

    def prepare(self, state):
        return ("prepared", state)

    def save_prepared(self, name, prepared):
        self.states[name] = prepared[1]

    def pop_events(self):
        return []


class RecordingMonitor:
    def __init__(self) -> None:
        self.rows = []

    def record_snapshot(self, name, payload, at):
        self.rows.append(("snapshot", name))

    def record_events(self, name, events):
        self.rows.append(("events", name))


def test_keys_per_mode():
    assert [state_key("vol_15m", mode) for mode in (LIVE, PAPER, REPLAY)] == ["vol_15m", "vol_15m@paper",
                                                                               "vol_15m@replay"]


def test_each_mode_saves_and_restores_its_own_state():
    shared = RecordingRepository()
    shared.save("vol", {"positions": "live"})
    live, paper = ScopedStateRepository(shared, LIVE), ScopedStateRepository(shared, PAPER)
    paper.save_prepared("vol", paper.prepare({"positions": "paper"}))
    assert live.load("vol") == {"positions": "live"}
    assert paper.load("vol") == {"positions": "paper"}


def test_a_replay_starts_empty_but_keeps_its_end_state():
    shared = RecordingRepository()
    replay = ScopedStateRepository(shared, REPLAY)
    replay.save("vol", {"positions": "end of the last replay"})
    assert replay.load("vol") is None
    assert shared.load("vol@replay") == {"positions": "end of the last replay"}
    assert shared.load("vol") is None


def test_monitor_rows_carry_the_mode():
    monitor = RecordingMonitor()
    scoped = ScopedMonitor(monitor, PAPER)
    scoped.record_snapshot("vol", {}, None)
    scoped.record_events("vol", [])
    assert monitor.rows == [("snapshot", "vol@paper"), ("events", "vol@paper")]
