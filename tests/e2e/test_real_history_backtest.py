"""The default strategy's signals traded in the IF future on a quarter of the real IF 5-minute history, through the
normal CLI (config/examples/real_history_if_5m.yaml: trade_instrument futures)."""
from __future__ import annotations

import json

import pytest

from tests.e2e.cli import run_command

IF_HOT_5M = "cn_index_futures_bars/CFFEX.IF.HOT_m5_2014_2019.csv.gz"


@pytest.mark.slow
def test_signals_trade_the_dominant_future_and_positions_roll_with_it(shared_data, tmp_path):
    database = tmp_path / "bars.db"
    imported = run_command(["-m", "src.main.data", "import-bars", "--file", str(shared_data / IF_HOT_5M),
                            "--symbol", "IF", "--exchange", "CFFEX", "--layout",
                            "config/examples/import_bars/wondertrader_5m.yaml", "--main-contract-roll", "5",
                            "--no-progress"], database=database)
    assert imported.returncode == 0, imported.stderr
    out = tmp_path / "report"
    result = run_command(["-m", "src.backtesting.cli", "--override-config", "config/examples/real_history_if_5m.yaml",
                          "--trading-target", "config/examples/trading_target_if.yaml", "--futures-only",
                          "--start", "2015-01-05", "--end", "2015-03-31", "--capital", "5000000",
                          "--fills", "vnpy", "--output-dir", str(out), "--no-progress"], database=database)
    assert result.returncode == 0, result.stderr
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["fill_model"] == "vnpy"
    assert summary["contracts"] == 4 and summary["trade_count"] > 10
    assert summary["future_trade_count"] == summary["trade_count"] and summary["option_trade_count"] == 0
    assert summary["settled_positions"] == 0 and summary["hedge_trade_count"] == 0
    assert summary["close_today_fees"] > 0 and summary["strategy_fees"] == summary["fee_schedule_total"]
    log = (out / "backtest.log").read_text(encoding="utf-8")
    assert "option_selection" not in log
    rolls = [line.rsplit("vt_symbol=", 1)[1].strip() for line in log.splitlines()
             if "StrategyEntry ActiveContractChangedEvent" in line]
    assert rolls == ["IF1501.CFFEX", "IF1502.CFFEX", "IF1503.CFFEX", "IF1504.CFFEX"]
    assert "StrategyEntry FuturesRolledEvent" in log


def test_without_futures_only_a_market_without_options_is_still_refused(shared_data, tmp_path):
    database = tmp_path / "bars.db"
    bars = tmp_path / "bars.csv"
    bars.write_text("datetime,open,high,low,close,volume\n2015-01-05 09:30:00,3600,3601,3599,3600,10\n",
                    encoding="utf-8")
    imported = run_command(["-m", "src.main.data", "import-bars", "--file", str(bars), "--symbol", "IF1501",
                            "--exchange", "CFFEX", "--bar-minutes", "5", "--no-progress"], database=database)
    assert imported.returncode == 0, imported.stderr
    result = run_command(["-m", "src.backtesting.cli", "--trading-target", "config/examples/trading_target_if.yaml",
                          "--start", "2015-01-05", "--end", "2015-01-05", "--output-dir", str(tmp_path / "r"),
                          "--no-progress"], database=database)
    assert result.returncode == 2
    assert "no option bars for IF1501.CFFEX" in result.stderr
