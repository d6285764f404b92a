"""``python -m src.main.config [--config F] [--override-config F]``: check the configuration.

Loads every configuration file the strategy processes load, through the same
checks they use (strategy classes, tradable products), prints a summary of what
was understood, and exits 2 with one line naming the file and key at fault (the
override file when the value came from it).
"""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from src.core.config.config_loader import (
    DEFAULT_RECORDER_SETTING,
    DEFAULT_STRATEGY_CONFIG,
    DEFAULT_TRADING_TARGET,
    load_recorder_setting,
    load_strategy_config,
)
from src.core.contract.trading_targets import load_tradable_targets
from src.core.config.env_settings import CtpSettings, DatabaseSettings, load_dotenv_file
from src.core.cli import OneLineArgumentParser, run_cli

PROG = "python -m src.main.config"


def main(argv: Sequence[str] | None = None) -> int:
    parser = OneLineArgumentParser(prog=PROG, description=__doc__.splitlines()[0])
    parser.add_argument("--config", type=Path, default=DEFAULT_STRATEGY_CONFIG)
    parser.add_argument("--override-config", type=Path, default=None)
    parser.add_argument("--trading-target", type=Path, default=DEFAULT_TRADING_TARGET)
    parser.add_argument("--recorder-setting", type=Path, default=DEFAULT_RECORDER_SETTING)
    args = parser.parse_args(argv)

    config = load_strategy_config(args.config, args.override_config)
    products = load_tradable_targets(args.trading_target)
    recorder = load_recorder_setting(args.recorder_setting)
    load_dotenv_file()
    database = DatabaseSettings.from_environment()
    ctp = CtpSettings.from_environment("CTP")

    for strategy in config.strategies:
        setting = strategy.setting
        print(f"strategy {strategy.strategy_name} ({strategy.class_name}): {setting.bar_window} "
              f"{setting.bar_interval.lower()} bars, max_positions {setting.max_positions}, "
              f"position_ratio {setting.position_ratio}, strike_level {setting.strike_level}")
    periods = ", ".join(f"{p.start:%H:%M}-{p.end:%H:%M}" for p in config.runtime.trading_periods)
    print(f"trading periods: {periods}")
    print(f"products: {', '.join(products)}")
    print(f"recorder: {len(recorder.tick)} tick and {len(recorder.bar)} bar subscriptions")
    print(f"database: {database.describe()}")
    print(f"CTP login: {'configured for ' + ctp.username if ctp else 'not configured'}")
    print("configuration OK")
    return 0


if __name__ == "__main__":
    run_cli(main, prog=PROG)
