"""The sweep's parts without backtests: the grid file, key-path assignments, objective, genetic search,
walk-forward windows, and the refusal of vnpy's optimiser."""
from __future__ import annotations

import math
import os
import subprocess
import sys
from datetime import date, timedelta

import pytest
from hypothesis import given, settings, strategies as st

from src.backtesting.optimization.genetic import GeneticSettings, genetic_search
from src.backtesting.optimization.objective import Constraint, Objective
from src.backtesting.optimization.space import ParameterSpace, load_parameter_space
from src.backtesting.optimization.walk_forward import walk_forward_windows
from src.backtesting.optimization.worker import TaskResult
from src.core.config.config_loader import load_strategy_config
from src.core.config.errors import ConfigError, UserInputError
from src.paths import PROJECT_ROOT


def test_grid_file_lists_and_ranges(tmp_path):
    path = tmp_path / "g.yaml"
    path.write_text("parameters:\n  strategies[0].setting.strike_level: [2, 3]\n"
                    "  hedging.delta_hedging.hedging_band: {start: 0.5, stop: 1.5, step: 0.5}\n"
                    "  strategies[0].setting.max_positions: {start: 1, stop: 5, step: 2}\n", encoding="utf-8")
    space = load_parameter_space(path)
    assert dict(space.parameters) == {"strategies[0].setting.strike_level": (2, 3),
                                      "hedging.delta_hedging.hedging_band": (0.5, 1.0, 1.5),
                                      "strategies[0].setting.max_positions": (1, 3, 5)}
    assert space.size == 18 and len(set(space.grid())) == 18
    space.check(PROJECT_ROOT / "config" / "strategy_config.yaml", None)


@pytest.mark.parametrize("text, message", [
    ("parameters: {}\n", "parameters: expected a non-empty mapping"),
    ("parameters:\n  a..b: [1]\n", "a..b: not a key path"),
    ("parameters:\n  strategies[0].setting.strike_level: []\n", "the list of values is empty"),
    ("parameters:\n  strategies[0].setting.strike_level: {start: 3, stop: 1, step: 1}\n", "stop >= start"),
    ("grid: 1\n", "expected one top-level key, parameters"),
])
def test_grid_file_errors_name_the_file_and_key(tmp_path, text, message):
    path = tmp_path / "g.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_parameter_space(path)
    assert str(path) in str(caught.value) and message in str(caught.value)


def test_assignments_are_checked_by_the_typed_builder_and_named_after_their_source():
    config = load_strategy_config(assignments={"strategies[0].setting.strike_level": 2,
                                               "hedging.delta_hedging.hedging_band": 1.25},
                                  assignments_source="sweep.yaml")
    assert config.strategies[0].setting.strike_level == 2
    assert config.hedging.delta_hedging.hedging_band == 1.25
    for assignments, message in (
            ({"greeks_risk.nope.delta": 1}, "sweep.yaml: greeks_risk.nope: unknown key"),
            ({"strategies[2].setting.strike_level": 1}, "sweep.yaml: strategies[2]: index out of range"),
            ({"strategies[0].setting.strike_level": 0}, "sweep.yaml: strategies[0].setting.strike_level: must be >= 1"),
            ({"hedging.delta_hedging.enabled": True, "hedging.gamma_scalping.enabled": True},
             "sweep.yaml: hedging.gamma_scalping.enabled:")):
        with pytest.raises(ConfigError) as caught:
            load_strategy_config(assignments=assignments, assignments_source="sweep.yaml")
        assert str(caught.value).startswith(message), str(caught.value)


def test_objective_with_constraints():
    objective = Objective("sharpe_ratio", True, (Constraint.parse("max_ddpercent>-10"),
                                                 Constraint.parse("trade_count >= 5")))
    assert objective.score({"sharpe_ratio": 1.5, "max_ddpercent": -3.0, "trade_count": 5}) == 1.5
    assert objective.score({"sharpe_ratio": 9.0, "max_ddpercent": -12.0, "trade_count": 50}) == -math.inf
    assert objective.score(None) == -math.inf
    assert Objective("max_ddpercent", False).score({"max_ddpercent": -2.0}) == 2.0
    with pytest.raises(UserInputError):
        Constraint.parse("sharpness>1")


def _fake_space():
    return ParameterSpace("g.yaml", (("a", tuple(range(6))), ("b", tuple(range(5))), ("c", (0, 1))))


def test_genetic_search_never_runs_a_setting_twice_and_finds_a_good_one():
    space = _fake_space()
    runs = []

    def evaluate(batch):
        runs.extend(batch)
        return [TaskResult(i, s, "", {"sharpe_ratio": -((dict(s)["a"] - 4) ** 2) - (dict(s)["b"] - 1) ** 2
                                      + dict(s)["c"]}) for i, s in enumerate(batch)]
    results = genetic_search(space, Objective(), GeneticSettings(population=10, generations=8, seed=3), evaluate)
    assert len(runs) == len(set(runs)) == len(results)
    best = max(results, key=lambda r: r.summary["sharpe_ratio"])
    assert best.summary["sharpe_ratio"] >= -2
    again = genetic_search(space, Objective(), GeneticSettings(population=10, generations=8, seed=3),
                           lambda batch: [TaskResult(0, s, "", {"sharpe_ratio": -((dict(s)["a"] - 4) ** 2)
                                          - (dict(s)["b"] - 1) ** 2 + dict(s)["c"]}) for s in batch])
    assert [r.assignments for r in again] == [r.assignments for r in results]


@settings(max_examples=200, deadline=None)
@given(total=st.integers(1, 120), in_days=st.integers(1, 30), out_days=st.integers(1, 20))
def test_walk_forward_windows_never_overlap_their_out_of_sample_data(total, in_days, out_days):
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(total)]
    if in_days + out_days > total:
        with pytest.raises(UserInputError):
            walk_forward_windows(days, in_days, out_days)
        return
    windows = walk_forward_windows(days, in_days, out_days)
    assert len(windows) == (total - in_days) // out_days
    previous_out_end = None
    for window in windows:
        in_sample = [d for d in days if window.in_start <= d <= window.in_end]
        out_sample = [d for d in days if window.out_start <= d <= window.out_end]
        assert len(in_sample) == in_days and len(out_sample) == out_days
        assert window.in_end < window.out_start
        assert days.index(window.out_start) == days.index(window.in_end) + 1
        if previous_out_end is not None:
            assert window.out_start > previous_out_end  # out-of-sample periods never overlap each other
            assert days.index(window.out_start) == days.index(previous_out_end) + 1  # and leave no gap
        previous_out_end = window.out_end


def test_vnpy_optimiser_is_refused_in_one_line_and_nothing_is_written_to_home(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = ("from src.backtesting.engine import OptionBacktestingEngine\n"
            "from vnpy.trader.optimize import OptimizationSetting\n"
            "setting = OptimizationSetting(); setting.add_parameter('strike_level', 1, 2, 1)\n"
            "setting.set_target('sharpe_ratio')\n"
            "engine = OptionBacktestingEngine()\n"
            "for name in ('run_bf_optimization', 'run_ga_optimization', 'run_optimization'):\n"
            "    try:\n"
            "        getattr(engine, name)(setting)\n"
            "    except Exception as exc:\n"
            "        print(type(exc).__name__, exc)\n")
    result = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=120, env={**os.environ, "HOME": str(home)})
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 3
    for line, name in zip(lines, ("run_bf_optimization", "run_ga_optimization", "run_bf_optimization")):
        assert line.startswith(f"OptimiserRefusedError OptionBacktestingEngine.{name} is not supported")
        assert "python -m src.backtesting.sweep" in line
    assert list(home.iterdir()) == []
