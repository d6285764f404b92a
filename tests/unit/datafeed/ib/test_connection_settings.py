"""Connection settings from the environment (.env): IB_HOST, IB_PORT, IB_CLIENT_ID; always read-only."""
from __future__ import annotations

import pytest

from src.datafeed.ib.connection import ConnectionSettings


def test_defaults_and_values():
    assert ConnectionSettings.from_environment({}) == ConnectionSettings("127.0.0.1", 7497, 17, readonly=True)
    settings = ConnectionSettings.from_environment({"IB_HOST": "10.0.0.5", "IB_PORT": "4002", "IB_CLIENT_ID": "3"})
    assert (settings.host, settings.port, settings.client_id, settings.readonly) == ("10.0.0.5", 4002, 3, True)


@pytest.mark.parametrize("env, name", [({"IB_PORT": "tws"}, "IB_PORT"), ({"IB_PORT": "70000"}, "IB_PORT"),
                                       ({"IB_CLIENT_ID": "-1"}, "IB_CLIENT_ID")])
def test_a_malformed_variable_is_named(env, name):
    with pytest.raises(ValueError, match=name):
        ConnectionSettings.from_environment(env)
