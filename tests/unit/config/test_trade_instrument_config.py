"""``strategies[].setting.trade_instrument``: options (default) or futures, checked with file and key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.errors import ConfigError
from src.paths import CONFIG_DIR

REAL_HISTORY = CONFIG_DIR / "examples" / "real_history_if_5m.yaml"


def override(tmp_path: Path, setting: dict, hedging: bool = False) -> Path:
    data = {"strategies": [{"setting": setting}], "hedging": {"delta_hedging": {"enabled": hedging}}}
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_options_by_default_and_futures_in_the_real_history_example():
    assert load_strategy_config().strategies[0].setting.trade_instrument == "options"
    setting = load_strategy_config(DEFAULT_STRATEGY_CONFIG, REAL_HISTORY).strategies[0].setting
    assert setting.trade_instrument == "futures" and setting.futures_stop_loss_ratio is None


def test_an_unknown_value_names_the_file_and_the_key(tmp_path):
    path = override(tmp_path, {"trade_instrument": "future"})
    with pytest.raises(ConfigError) as error:
        load_strategy_config(DEFAULT_STRATEGY_CONFIG, path)
    assert error.value.file == str(path) and error.value.key == "strategies[0].setting.trade_instrument"
    assert "expected one of 'options', 'futures', got 'future'" in str(error.value)


def test_futures_with_hedging_on_is_refused(tmp_path):
    path = override(tmp_path, {"trade_instrument": "futures"}, hedging=True)
    with pytest.raises(ConfigError) as error:
        load_strategy_config(DEFAULT_STRATEGY_CONFIG, path)
    assert error.value.key == "strategies[0].setting.trade_instrument" and error.value.file == str(path)
    assert "hedging.delta_hedging.enabled" in error.value.problem


def test_futures_stop_and_target_are_fractions_and_only_for_futures(tmp_path):
    ok = load_strategy_config(DEFAULT_STRATEGY_CONFIG, override(tmp_path, {
        "trade_instrument": "futures", "futures_stop_loss_ratio": 0.02, "futures_profit_target_ratio": 0.05}))
    assert ok.strategies[0].setting.futures_profit_target_ratio == 0.05
    with pytest.raises(ConfigError, match=r"strategies\[0\]\.setting\.futures_stop_loss_ratio: must be < 1.0"):
        load_strategy_config(DEFAULT_STRATEGY_CONFIG, override(tmp_path, {
            "trade_instrument": "futures", "futures_stop_loss_ratio": 2}))
    with pytest.raises(ConfigError, match=r"strategies\[0\]\.setting\.futures_stop_loss_ratio: applies only with "
                                          r"trade_instrument: futures"):
        load_strategy_config(DEFAULT_STRATEGY_CONFIG, override(tmp_path, {"futures_stop_loss_ratio": 0.02}))
