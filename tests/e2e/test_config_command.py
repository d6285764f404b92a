"""The configuration checker refuses what the commands refuse, naming the file the value came from."""
from __future__ import annotations

import typing

import pytest

from src.core.config.schema import STRATEGY_CLASS_NAMES, StrategyClassName
from src.strategy.strategy_entry import STRATEGY_CLASSES
from tests.e2e.cli import run_command

CHECK = ["-m", "src.main.config"]
BACKTEST = ["-m", "src.backtesting.cli", "--no-progress"]
MAIN = ["src/main/main.py", "--replay", "--no-ui"]


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_the_schema_admits_exactly_the_registered_strategy_classes():
    assert set(STRATEGY_CLASS_NAMES) == set(STRATEGY_CLASSES) == set(typing.get_args(StrategyClassName))


@pytest.mark.parametrize("command", [CHECK, BACKTEST, MAIN], ids=["config", "backtest", "main"])
def test_an_unknown_class_from_the_override_is_refused_naming_the_override(tmp_path, command):
    override = write(tmp_path / "mine.yaml", "strategies:\n  - class_name: NoSuchStrategy\n")
    extra = ["--output-dir", str(tmp_path / "out")] if command is BACKTEST else \
        ["--log-dir", str(tmp_path / "logs")] if command is MAIN else []
    result = run_command(command + ["--override-config", str(override)] + extra, database=tmp_path / "db.db",
                         timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"{override}: strategies[0].class_name: expected one of 'StrategyEntry', got 'NoSuchStrategy'" in last
    assert "strategy_config.yaml" not in last


@pytest.mark.parametrize("command", [CHECK, BACKTEST, MAIN], ids=["config", "backtest", "main"])
@pytest.mark.parametrize("product,problem", [("XX", "unknown product 'XX'"),
                                             ("T", "product T has no listed options to trade")])
def test_an_untradable_product_is_refused_by_every_command_alike(tmp_path, command, product, problem):
    targets = write(tmp_path / "targets.yaml", f"- IF\n- {product}\n")
    extra = ["--output-dir", str(tmp_path / "out")] if command is BACKTEST else \
        ["--log-dir", str(tmp_path / "logs")] if command is MAIN else []
    result = run_command(command + ["--trading-target", str(targets)] + extra, database=tmp_path / "db.db",
                         timeout=300)
    assert result.returncode == 2, result.stdout + result.stderr
    last = result.stderr.strip().splitlines()[-1]
    assert f"{targets}: [1]: {problem}" in last
    assert not (tmp_path / "db.db").exists(), "a refused command must not create the database"


def test_a_good_configuration_is_reported_ok(tmp_path):
    result = run_command(CHECK, database=tmp_path / "db.db", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "configuration OK" in result.stdout and "products: IF, IM" in result.stdout
