from __future__ import annotations

import pytest

from src.web.app import create_app
from src.web.reader import MonitorReader

TOKEN = "t" * 20 + "0123456789abcdef"  # 36 characters


@pytest.fixture
def dashboard(database_location):
    """(app, socketio, reader, location) over a fresh database of each backend, no token."""
    reader = MonitorReader(database_location, stale_seconds=None)
    app, socketio = create_app(reader, poll_seconds=0.05)
    yield app, socketio, reader, database_location
    app.extensions["dashboard"]["pusher"].stop()
    reader.close()
