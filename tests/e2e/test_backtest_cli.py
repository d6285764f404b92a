"""``python -m src.backtesting.cli`` as a user runs it, on the synthetic sample market."""
from __future__ import annotations

import csv
import json

import pytest

from tests.e2e.cli import run_command

START, END = "2026-01-05", "2026-01-16"


@pytest.fixture(scope="module")
def sample_database(tmp_path_factory):
    """A database holding the sample market for two weeks, created by the CLI itself."""
    folder = tmp_path_factory.mktemp("backtest")
    database = folder / "sample.db"
    (folder / "home").mkdir()
    result = run_command(["-m", "src.backtesting.cli", "--sample-market", "--start", START, "--end", END,
                          "--override-config", "config/timeframe/15m.yaml", "--no-progress",
                          "--output-dir", str(folder / "first")], database=database, home=folder / "home")
    assert result.returncode == 0, result.stderr
    assert "Created the synthetic sample market" in result.stdout
    return database, folder, result


def test_backtest_places_option_trades_and_writes_the_report(sample_database):
    database, folder, result = sample_database
    report = folder / "first"
    summary = json.loads((report / "summary.json").read_text(encoding="utf-8"))
    assert summary["option_trade_count"] > 0
    assert summary["trade_count"] == summary["option_trade_count"] + summary["future_trade_count"]
    assert summary["data"].startswith("SYNTHETIC sample market")
    assert "Data: SYNTHETIC sample market" in result.stdout
    assert (summary["start"], summary["end"]) == (START, END)
    for key in ("total_net_pnl", "max_drawdown", "sharpe_ratio", "end_balance", "total_days"):
        assert key in summary
    with (report / "trades.csv").open(encoding="utf-8") as stream:
        trades = list(csv.DictReader(stream))
    assert len(trades) == summary["trade_count"]
    assert {trade["kind"] for trade in trades} == {"option"}
    assert all(trade["vt_symbol"].startswith(("IO", "MO")) for trade in trades)
    opens = sum(1 for trade in trades if trade["offset"] == "Open")
    assert opens and all(trade["direction"] == "Short" for trade in trades if trade["offset"] == "Open")
    chart = (report / "chart.html").read_text(encoding="utf-8")
    assert "plotly" in chart.lower() and "Equity" in chart and "Drawdown" in chart
    log = (report / "backtest.log").read_text(encoding="utf-8")
    assert "SignalEvent" in log and "open SELL_" in log
    assert "Option trades" in result.stdout and str(report) in result.stdout
    assert list((folder / "home").iterdir()) == []


def test_second_run_reuses_the_sample_market(sample_database, tmp_path):
    database, _folder, _first = sample_database
    result = run_command(["-m", "src.backtesting.cli", "--sample-market", "--start", START, "--end", END,
                          "--override-config", "config/timeframe/15m.yaml", "--no-progress",
                          "--output-dir", str(tmp_path / "again")], database=database)
    assert result.returncode == 0, result.stderr
    assert "Created the synthetic sample market" not in result.stdout
    first = json.loads((_folder / "first" / "summary.json").read_text(encoding="utf-8"))
    again = json.loads((tmp_path / "again" / "summary.json").read_text(encoding="utf-8"))
    assert again["trade_count"] == first["trade_count"]
    assert again["total_net_pnl"] == pytest.approx(first["total_net_pnl"])


def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize("case", ["unknown_product", "start_after_end", "unknown_class", "no_bars", "bad_date",
                                  "bad_capital"])
def test_bad_input_is_one_line_and_exit_2(sample_database, tmp_path, case):
    database, _folder, _result = sample_database
    args = ["-m", "src.backtesting.cli", "--no-progress", "--output-dir", str(tmp_path / "out")]
    expected = {
        "unknown_product": "targets.yaml: [1]: unknown product 'XX'",
        "start_after_end": "--start 2026-01-16 is after --end 2026-01-05",
        "unknown_class": "o.yaml: strategies[0].class_name: expected one of 'StrategyEntry', got 'NoSuchStrategy'",
        "no_bars": "no 1-minute bars of IF futures",
        "bad_date": "expected a date YYYY-MM-DD",
        "bad_capital": "must be positive",
    }[case]
    if case == "unknown_product":
        args += ["--trading-target", str(write(tmp_path / "targets.yaml", "- IF\n- XX\n"))]
    elif case == "start_after_end":
        args += ["--start", END, "--end", START]
    elif case == "unknown_class":
        args += ["--override-config", str(write(tmp_path / "o.yaml",
                                                "strategies:\n  - class_name: NoSuchStrategy\n"))]
    elif case == "no_bars":
        args += ["--start", "2024-03-04", "--end", "2024-03-08"]
    elif case == "bad_date":
        args += ["--start", "2026-02-30"]
    elif case == "bad_capital":
        args += ["--capital", "-5"]
    result = run_command(args, database=database)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0], result.stderr
    assert "Traceback" not in result.stderr


def test_empty_database_says_how_to_get_data(tmp_path):
    result = run_command(["-m", "src.backtesting.cli", "--no-progress", "--output-dir", str(tmp_path / "out")],
                         database=tmp_path / "empty.db")
    assert result.returncode == 2
    assert "scripts/run_backtesting.sh" in result.stderr and "import-ticks" in result.stderr
