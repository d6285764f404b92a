"""StrategyEntry takes its configuration from the tree the process loaded, never from the files again."""
from __future__ import annotations

import dataclasses
from datetime import datetime

import pytest
from vnpy.trader.constant import Interval
from vnpy_portfoliostrategy import BacktestingEngine

from src.core.config import config_loader
from src.core.config.config_loader import DEFAULT_STRATEGY_CONFIG, load_strategy_config
from src.core.config.errors import ConfigError
from src.strategy.application.bootstrap import StrategyRuntime
from src.strategy.strategy_entry import StrategyEntry

SYMBOLS = ["IF2602.CFFEX", "IO2602-C-4600.CFFEX", "IO2602-P-4200.CFFEX"]


def engine_with_entry(setting: dict) -> BacktestingEngine:
    engine = BacktestingEngine()
    engine.set_parameters(vt_symbols=SYMBOLS, interval=Interval.MINUTE, start=datetime(2026, 1, 5),
                          end=datetime(2026, 1, 9), rates=dict.fromkeys(SYMBOLS, 0.0),
                          slippages=dict.fromkeys(SYMBOLS, 0.0), sizes=dict.fromkeys(SYMBOLS, 100),
                          priceticks=dict.fromkeys(SYMBOLS, 0.2), capital=1_000_000)
    engine.add_strategy(StrategyEntry, setting)
    return engine


@pytest.fixture
def tree():
    config = load_strategy_config(DEFAULT_STRATEGY_CONFIG)
    definition = config.strategies[0]
    changed = dataclasses.replace(definition, setting=dataclasses.replace(definition.setting, strike_level=2,
                                                                          max_positions=3))
    return dataclasses.replace(config, strategies=(changed,))


def test_the_strategy_uses_the_given_tree_and_reads_no_file(tree, monkeypatch):
    def no_file(path):
        raise AssertionError(f"the strategy read {path} although it was given its configuration")

    monkeypatch.setattr(config_loader, "_read_text", no_file)
    strategy = engine_with_entry({}).strategy
    strategy.configure(StrategyRuntime(tree))
    strategy.on_init()
    assert (strategy.setting.strike_level, strategy.setting.max_positions) == (2, 3)
    assert strategy.cycle.services.option_selector.settings.strike_level == 2


def test_parameters_given_to_the_strategy_override_the_tree_and_are_checked_like_it(tree):
    strategy = engine_with_entry({"strike_level": 5}).strategy
    strategy.configure(StrategyRuntime(tree))
    strategy.on_init()
    assert strategy.setting.strike_level == 5

    bad = engine_with_entry({"position_ratio": 1.5}).strategy
    bad.configure(StrategyRuntime(tree))
    with pytest.raises(ConfigError, match="position_ratio"):
        bad.on_init()
