"""The daemon's runtime keys: defaults, the shipped values, and the rules that relate them."""
from __future__ import annotations

import pytest
import yaml

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.errors import ConfigError


def override(tmp_path, runtime: dict):
    path = tmp_path / "o.yaml"
    path.write_text(yaml.safe_dump({"runtime": runtime}))
    return path


def test_shipped_runtime_keys():
    runtime = load_strategy_config(DEFAULT_STRATEGY_CONFIG).runtime
    assert (runtime.max_restart_delay, runtime.healthy_reset_seconds, runtime.heartbeat_interval,
            runtime.heartbeat_timeout, runtime.stop_timeout, runtime.gateway_connect_timeout,
            runtime.trading_days_only) == (300.0, 3600.0, 5.0, 60.0, 30.0, 120.0, True)


def test_shipped_gap_keys_keep_the_child_through_the_lunch_break():
    runtime = load_strategy_config(DEFAULT_STRATEGY_CONFIG).runtime
    assert (runtime.keep_child_through_gap, runtime.gap_working_orders) == (7200.0, "keep")


def test_new_keys_have_defaults_so_older_files_still_load(tmp_path):
    text = DEFAULT_STRATEGY_CONFIG.read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["runtime"] = {key: data["runtime"][key] for key in ("max_restart_count", "restart_delay", "trading_periods")}
    path = tmp_path / "old.yaml"
    path.write_text(yaml.safe_dump(data))
    runtime = load_strategy_config(path).runtime
    assert runtime.max_restart_delay == 300.0 and runtime.heartbeat_timeout == 60.0
    assert runtime.keep_child_through_gap == 7200.0 and runtime.gap_working_orders == "keep"


@pytest.mark.parametrize("runtime,key,problem", [
    ({"max_restart_delay": 1.0}, "runtime.max_restart_delay", "must be >= restart_delay"),
    ({"heartbeat_interval": 10.0, "heartbeat_timeout": 15.0}, "runtime.heartbeat_timeout", "at least twice"),
    ({"heartbeat_interval": 0}, "runtime.heartbeat_interval", "must be > 0.0"),
    ({"stop_timeout": -1}, "runtime.stop_timeout", "must be > 0.0"),
    ({"healthy_reset_seconds": "1h"}, "runtime.healthy_reset_seconds", "expected a number"),
    ({"trading_days_only": "yes"}, "runtime.trading_days_only", "expected true or false"),
    ({"heartbeat": 5}, "runtime.heartbeat", "unknown key"),
    ({"keep_child_through_gap": -1}, "runtime.keep_child_through_gap", "must be >= 0.0"),
    ({"keep_child_through_gap": 100000}, "runtime.keep_child_through_gap", "must be <= 86400.0"),
    ({"keep_child_through_gap": "2h"}, "runtime.keep_child_through_gap", "expected a number"),
    ({"gap_working_orders": "flatten"}, "runtime.gap_working_orders", "expected one of 'keep', 'cancel'"),
])
def test_bad_runtime_values_name_file_and_key(tmp_path, runtime, key, problem):
    path = override(tmp_path, runtime)
    with pytest.raises(ConfigError) as error:
        load_strategy_config(DEFAULT_STRATEGY_CONFIG, path)
    assert error.value.key == key and problem in error.value.problem
    assert error.value.file == str(path)
