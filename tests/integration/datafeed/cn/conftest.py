"""A local Tushare Pro server per test, built on the real data folder."""
from __future__ import annotations

import pytest

from tests.datafeed_servers.tushare_pro import TushareProServer


class Token:
    """Stands for the project's Secret: the datafeed only calls reveal()."""

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __bool__(self) -> bool:
        return bool(self._value)

    def __repr__(self) -> str:
        return "Token(***)"


@pytest.fixture
def tushare_server(shared_data):
    server = TushareProServer(shared_data, tokens=("good-token",))
    with server:
        yield server


@pytest.fixture
def sina_server(shared_data, monkeypatch):
    """Sina's endpoints behind a loopback TLS proxy; requests in this process go there through HTTPS_PROXY."""
    from tests.datafeed_servers.sina import SinaServer

    with SinaServer(shared_data) as server:
        for key, value in server.environment().items():
            monkeypatch.setenv(key, value)
        yield server
