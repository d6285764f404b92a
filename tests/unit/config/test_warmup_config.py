"""The ``warmup:`` section: defaults, the shipped values, bad values named by file and key, and the sources built."""
from __future__ import annotations

import logging

import pytest
import yaml

from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.errors import ConfigError
from src.core.config.schema import WarmupConfig
from src.strategy.infrastructure.calendar.holiday_loader import load_cn_calendar


def test_shipped_and_default_values_are_the_same():
    assert load_strategy_config(DEFAULT_STRATEGY_CONFIG).warmup == WarmupConfig() == WarmupConfig(
        fallback=("gateway", "datafeed"), datafeed="", min_gap_minutes=5)


@pytest.mark.parametrize("warmup,key,problem", [
    ({"fallback": ["gateway", "recorder"]}, "warmup.fallback[1]", "expected one of 'gateway', 'datafeed'"),
    ({"fallback": ["datafeed", "datafeed"]}, "warmup.fallback[1]", "'datafeed' is listed twice"),
    ({"fallback": "gateway"}, "warmup.fallback", "expected a list"),
    ({"datafeed": "wind"}, "warmup.datafeed", "expected one of '', 'tushare', 'akshare'"),
    ({"min_gap_minutes": 0}, "warmup.min_gap_minutes", "must be >= 1"),
    ({"gap": 5}, "warmup.gap", "unknown key"),
])
def test_bad_warmup_values_name_file_and_key(tmp_path, warmup, key, problem):
    path = tmp_path / "o.yaml"
    path.write_text(yaml.safe_dump({"warmup": warmup}))
    with pytest.raises(ConfigError) as error:
        load_strategy_config(DEFAULT_STRATEGY_CONFIG, path)
    assert error.value.key == key and problem in error.value.problem and error.value.file == str(path)


def test_a_datafeed_without_its_token_is_left_out_with_one_line(monkeypatch, caplog):
    from vnpy.trader.setting import SETTINGS

    from src.main.process.warmup_sources import warmup_history

    caplog.set_level(logging.INFO)
    monkeypatch.delenv("TUSHARE_TOKEN", raising=False)
    monkeypatch.setitem(SETTINGS, "datafeed.password", "")
    history = warmup_history(WarmupConfig(datafeed="tushare"), None, None, ["IF2601.CFFEX"], load_cn_calendar())
    assert [source.name for source in history.sources] == ["gateway"]
    assert "datafeed tushare left out: tushare: no token" in caplog.text
    assert history.fill("IF2601.CFFEX") and not history.fill("IO2601-C-4000.CFFEX")

    monkeypatch.setenv("TUSHARE_TOKEN", "a-token-never-logged")
    history = warmup_history(WarmupConfig(fallback=("datafeed", "gateway"), datafeed="tushare"), None, None, [],
                             load_cn_calendar())
    assert [source.name for source in history.sources] == ["datafeed tushare", "gateway"]
    assert "a-token-never-logged" not in caplog.text


def test_no_datafeed_configured_means_none(monkeypatch, caplog):
    from vnpy.trader.setting import SETTINGS

    from src.main.process.warmup_sources import warmup_history

    caplog.set_level(logging.INFO)
    monkeypatch.setitem(SETTINGS, "datafeed.name", "")
    history = warmup_history(WarmupConfig(), None, None, [], load_cn_calendar())
    assert [source.name for source in history.sources] == ["gateway"]
    assert "no datafeed (set warmup.datafeed" in caplog.text
