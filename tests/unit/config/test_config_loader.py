from __future__ import annotations

import dataclasses
from datetime import time
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from src.core.config.config_loader import (
    DEFAULT_STRATEGY_CONFIG,
    load_recorder_setting,
    load_strategy_config,
    load_trading_targets,
)
from src.core.config.errors import ConfigError
from src.paths import CONFIG_DIR

OVERRIDE_15M = CONFIG_DIR / "timeframe" / "15m.yaml"


def write(tmp_path: Path, name: str, data) -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data), encoding="utf-8")
    return path


def shipped_config_dict() -> dict:
    return yaml.safe_load(DEFAULT_STRATEGY_CONFIG.read_text(encoding="utf-8"))


def test_shipped_config_holds_every_key_of_the_spec():
    config = load_strategy_config()
    setting = config.strategies[0].setting
    assert (setting.max_positions, setting.position_ratio, setting.strike_level) == (5, 0.1, 4)
    assert (setting.bar_window, setting.bar_interval) == (1, "MINUTE")
    assert config.strategies[0].class_name == "StrategyEntry"
    assert config.runtime.max_restart_count == 10 and config.runtime.restart_delay == 5.0
    assert [(p.start, p.end) for p in config.runtime.trading_periods] == [
        (time(8, 40), time(11, 30)), (time(13, 0), time(15, 30))]
    assert config.greeks_risk.risk_free_rate == 0.02
    assert config.greeks_risk.position_limits is None and config.greeks_risk.portfolio_limits is None
    cash = config.greeks_risk.cash_limits
    assert (cash.per_underlying.delta.soft, cash.per_underlying.delta.hard) == (10000.0, 20000.0)
    assert (cash.book.vega.soft, cash.book.vega.hard) == (6000.0, 12000.0)
    assert cash.per_underlying.theta is None and cash.on_hard_breach == "close_largest"
    assert config.greeks_risk.time_to_expiry.basis == "trading"
    assert dataclasses.astuple(config.order_execution) == (60.0, 3, 2, 5)
    assert config.hedging.delta_hedging.target_delta == 0.0
    assert config.hedging.delta_hedging.hedging_band == 0.5
    assert config.hedging.gamma_scalping.rebalance_threshold == 0.3
    assert dataclasses.astuple(config.advanced_orders) == (5, 10, 300.0)


def test_timeframe_override_changes_only_what_it_names():
    base = load_strategy_config()
    merged = load_strategy_config(DEFAULT_STRATEGY_CONFIG, OVERRIDE_15M)
    strategy = merged.strategies[0]
    assert strategy.strategy_name == "volatility_strategy_15m"
    assert strategy.class_name == "StrategyEntry"
    assert strategy.setting.bar_window == 15
    assert strategy.setting.max_positions == base.strategies[0].setting.max_positions
    assert merged.greeks_risk == base.greeks_risk


def test_config_objects_are_frozen():
    config = load_strategy_config()
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.runtime.max_restart_count = 3  # type: ignore[misc]


def test_override_list_other_than_strategies_replaces(tmp_path):
    override = write(tmp_path, "night.yaml", {"runtime": {"trading_periods": [{"start": "21:00", "end": "02:30"}]}})
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG, override)
    (period,) = config.runtime.trading_periods
    assert period.crosses_midnight
    assert period.contains(time(23, 59)) and period.contains(time(1, 0)) and not period.contains(time(3, 0))


BAD_OVERRIDES = [
    ({"hedging": {"delta_hedging": {"hedging_band": -0.5}}}, "hedging.delta_hedging.hedging_band", ">= 0"),
    ({"strategies": [{"setting": {"position_ratio": 0}}]}, "strategies[0].setting.position_ratio", "> 0"),
    ({"strategies": [{"setting": {"position_ratio": 1.01}}]}, "strategies[0].setting.position_ratio", "<= 1"),
    ({"strategies": [{"setting": {"bar_interval": "DAILY"}}]}, "strategies[0].setting.bar_interval", "one of"),
    ({"strategies": [{"setting": {"max_positions": 2.5}}]}, "strategies[0].setting.max_positions", "integer"),
    ({"strategies": [{"setting": {"max_positions": True}}]}, "strategies[0].setting.max_positions", "integer"),
    ({"order_execution": {"max_retries": "3"}}, "order_execution.max_retries", "integer"),
    ({"order_execution": {"timeout_seconds": 0}}, "order_execution.timeout_seconds", "> 0"),
    ({"runtime": {"trading_periods": [{"start": "15:00", "end": "09:00"}]}}, "runtime.trading_periods[0].end",
     "before start"),
    ({"runtime": {"trading_periods": [{"start": "9h", "end": "11:30"}]}}, "runtime.trading_periods[0].start",
     "HH:MM"),
    ({"runtime": {"trading_periods": []}}, "runtime.trading_periods", "at least one"),
    ({"greeks_risk": {"position_limits": {"delta": 0.8, "gamma": 0.1, "vega": 50},
                      "portfolio_limits": {"delta": 5, "gamma": 1, "vega": -1}}},
     "greeks_risk.portfolio_limits.vega", ">= 0"),
    ({"greeks_risk": {"cash_limits": {"per_underlying": {"delta": {"soft": 20000, "hard": 10000}}}}},
     "greeks_risk.cash_limits.per_underlying.delta.hard", ">= soft"),
    ({"greeks_risk": {"cash_limits": {"book": {"vega": {"soft": 0}}}}}, "greeks_risk.cash_limits.book.vega.soft",
     "> 0"),
    ({"greeks_risk": {"cash_limits": {"on_hard_breach": "panic"}}}, "greeks_risk.cash_limits.on_hard_breach",
     "one of"),
    ({"greeks_risk": {"cash_limits": {"book": {"rho": {"soft": 1}}}}}, "greeks_risk.cash_limits.book.rho",
     "unknown key"),
    ({"greeks_risk": {"time_to_expiry": {"non_trading_day_weight": 1.5}}},
     "greeks_risk.time_to_expiry.non_trading_day_weight", "<= 1"),
    ({"greeks_risk": {"position_limit": {}}}, "greeks_risk.position_limit", "unknown key"),
    ({"advanced_orders": {"default_twap_slices": 0}}, "advanced_orders.default_twap_slices", ">= 1"),
    ({"hedging": {"gamma_scalping": None}}, "hedging.gamma_scalping", "mapping"),
    ({"surprise": 1}, "surprise", "unknown key"),
    ({"strategies": [{}, {"strategy_name": "volatility_strategy", "class_name": "StrategyEntry",
                          "setting": {"max_positions": 1, "position_ratio": 0.1, "strike_level": 1,
                                      "bar_window": 1, "bar_interval": "MINUTE"}}]},
     "strategies[1].strategy_name", "already used"),
]


@pytest.mark.parametrize("override,key,problem", BAD_OVERRIDES, ids=[case[1] for case in BAD_OVERRIDES])
def test_bad_override_names_file_and_key(tmp_path, override, key, problem):
    path = write(tmp_path, "override.yaml", override)
    with pytest.raises(ConfigError) as caught:
        load_strategy_config(DEFAULT_STRATEGY_CONFIG, path)
    error = caught.value
    assert error.file == str(path)
    assert error.key == key
    assert problem in error.problem
    assert "\n" not in str(error)


def test_missing_key_in_global_file_is_refused(tmp_path):
    data = shipped_config_dict()
    del data["order_execution"]["slippage_ticks"]
    path = write(tmp_path, "global.yaml", data)
    with pytest.raises(ConfigError) as caught:
        load_strategy_config(path)
    assert (caught.value.file, caught.value.key, caught.value.problem) == (
        str(path), "order_execution.slippage_ticks", "missing key")


def test_value_inherited_from_global_is_blamed_on_global(tmp_path):
    data = shipped_config_dict()
    data["order_execution"]["max_retries"] = -1
    global_path = write(tmp_path, "global.yaml", data)
    override = write(tmp_path, "override.yaml", {"order_execution": {"timeout_seconds": 10}})
    with pytest.raises(ConfigError) as caught:
        load_strategy_config(global_path, override)
    assert caught.value.file == str(global_path)


@pytest.mark.parametrize("text,problem", [
    ("runtime: [\n", "not valid YAML: line 2"),
    ("- a\n- b\n", "mapping of keys at the top level"),
])
def test_unreadable_override(tmp_path, text, problem):
    path = write(tmp_path, "override.yaml", text)
    with pytest.raises(ConfigError, match=problem):
        load_strategy_config(DEFAULT_STRATEGY_CONFIG, path)


def test_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="file not found"):
        load_strategy_config(tmp_path / "absent.yaml")


@settings(max_examples=60, deadline=None)
@given(ratio=st.floats(allow_nan=False, allow_infinity=False, min_value=-10, max_value=10))
def test_position_ratio_accepted_exactly_inside_zero_one(tmp_path_factory, ratio):
    path = write(tmp_path_factory.mktemp("ratio"), "o.yaml", {"strategies": [{"setting": {"position_ratio": ratio}}]})
    if 0 < ratio <= 1:
        assert load_strategy_config(DEFAULT_STRATEGY_CONFIG, path).strategies[0].setting.position_ratio == ratio
    else:
        with pytest.raises(ConfigError) as caught:
            load_strategy_config(DEFAULT_STRATEGY_CONFIG, path)
        assert caught.value.key == "strategies[0].setting.position_ratio"


@settings(max_examples=60, deadline=None)
@given(start=st.times(), end=st.times())
def test_trading_period_rule(tmp_path_factory, start, end):
    start, end = start.replace(second=0, microsecond=0), end.replace(second=0, microsecond=0)
    period = {"start": f"{start:%H:%M}", "end": f"{end:%H:%M}"}
    path = write(tmp_path_factory.mktemp("period"), "o.yaml", {"runtime": {"trading_periods": [period]}})
    night = start >= time(18) and end <= time(6)
    if start < end or (end < start and night):
        assert load_strategy_config(DEFAULT_STRATEGY_CONFIG, path).runtime.trading_periods[0].start == start
    else:
        with pytest.raises(ConfigError):
            load_strategy_config(DEFAULT_STRATEGY_CONFIG, path)


def test_trading_targets(tmp_path):
    assert load_trading_targets() == ("IF", "IM")
    for text, key in [("- IF\n- 12\n", "[1]"), ("- IF\n- IF\n", "[1]"), ("IF: 1\n", ""), ("- IF2101\n", "[0]")]:
        with pytest.raises(ConfigError) as caught:
            load_trading_targets(write(tmp_path, "targets.yaml", text))
        assert caught.value.key == key


def test_recorder_setting(tmp_path):
    assert load_recorder_setting().tick == ()
    good = write(tmp_path, "rec.json", '{"tick": {"IF2101.CFFEX": {"symbol": "IF2101", "exchange": "CFFEX", '
                                       '"gateway_name": "CTP"}}, "bar": {}}')
    assert load_recorder_setting(good).tick[0].vt_symbol == "IF2101.CFFEX"
    cases = [
        ('{"tick": {"IF2101.CFFEX": {"symbol": "IF2101", "exchange": "XXX", "gateway_name": "CTP"}}}',
         "tick.IF2101.CFFEX.exchange"),
        ('{"tick": {"IF2102.CFFEX": {"symbol": "IF2101", "exchange": "CFFEX", "gateway_name": "CTP"}}}',
         "tick.IF2102.CFFEX"),
        ('{"bar": {"IF2101.CFFEX": {"symbol": "IF2101", "exchange": "CFFEX"}}}', "bar.IF2101.CFFEX.gateway_name"),
        ('{"ticks": {}}', "ticks"),
        ('{"tick": [1]', ""),
    ]
    for text, key in cases:
        with pytest.raises(ConfigError) as caught:
            load_recorder_setting(write(tmp_path, "rec.json", text))
        assert caught.value.key == key
