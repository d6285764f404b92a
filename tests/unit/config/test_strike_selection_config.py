"""``strategies[].setting.strike_selection`` and the delta band, checked with file and key."""
from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.errors import ConfigError


def override(tmp_path: Path, setting: dict) -> Path:
    path = tmp_path / "override.yaml"
    path.write_text(yaml.safe_dump({"strategies": [{"setting": setting}]}), encoding="utf-8")
    return path


def test_delta_by_default_and_strike_level_when_asked(tmp_path):
    setting = load_strategy_config().strategies[0].setting
    assert setting.strike_selection == "delta"
    assert (setting.target_delta_min, setting.target_delta_max) == (0.15, 0.25)
    chosen = load_strategy_config(DEFAULT_STRATEGY_CONFIG, override(tmp_path, {
        "target_delta_min": 0.1, "target_delta_max": 0.2})).strategies[0].setting
    assert (chosen.strike_selection, chosen.target_delta_min, chosen.target_delta_max) == ("delta", 0.1, 0.2)
    simple = load_strategy_config(DEFAULT_STRATEGY_CONFIG, override(tmp_path, {
        "strike_selection": "strike_level", "strike_level": 3})).strategies[0].setting
    assert (simple.strike_selection, simple.strike_level) == ("strike_level", 3)


def test_a_setting_without_the_key_chooses_by_delta():
    """The schema's default, for a configuration file that predates the key."""
    from src.core.config.schema import StrategySetting
    setting = StrategySetting(max_positions=1, position_ratio=0.1, strike_level=4, bar_window=1,
                              bar_interval="MINUTE")
    assert setting.strike_selection == "delta"


@pytest.mark.parametrize("setting, key, problem", [
    ({"strike_selection": "deltas"}, "strike_selection", "expected one of 'strike_level', 'delta', got 'deltas'"),
    ({"target_delta_min": 0}, "target_delta_min", "must be > 0.0"),
    ({"target_delta_max": 1.5}, "target_delta_max", "must be < 1.0"),
    ({"target_delta_min": 0.3, "target_delta_max": 0.2}, "target_delta_max", "0.2 is below target_delta_min 0.3"),
])
def test_bad_values_name_the_file_and_the_key(tmp_path, setting, key, problem):
    path = override(tmp_path, setting)
    with pytest.raises(ConfigError) as error:
        load_strategy_config(DEFAULT_STRATEGY_CONFIG, path)
    assert error.value.file == str(path) and error.value.key == f"strategies[0].setting.{key}"
    assert problem in str(error.value)
