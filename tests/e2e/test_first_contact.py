"""What a new user meets first: a bad flag answered at once, Ctrl+C leaving a marked report."""
from __future__ import annotations

import signal
import subprocess
import sys
import time

import pytest

from src.paths import PROJECT_ROOT
from tests.e2e.cli import run_command, sigint_by_default
from tests.e2e.sample_database import copy

# What takes seconds to import (vnpy's utility module brings pandas and TA-Lib); vnpy's enums do not.
HEAVY = ("vnpy.trader.utility", "vnpy.trader.database", "vnpy_portfoliostrategy", "pandas", "numpy", "talib",
         "plotly", "peewee")
WAIT = 300  # a ceiling for each wait: every wait ends when what it waits for happens


@pytest.mark.parametrize(("module", "argv"), [
    ("src.backtesting.cli", ["--no-such-flag"]),
    ("src.main.data", ["export-bars", "--symbol", "IF2101", "--exchange", "CFFEX", "--out", "x.csv",
                       "--no-such-flag"]),
    ("src.main.main", ["--no-such-flag"]),
    ("src.main.state", ["verify", "--no-such-flag"]),
    ("src.main.control", ["flatten", "--strategy", "volatility_strategy", "--no-such-flag"]),
    ("src.main.recorder", ["--no-such-flag"]),
])
def test_a_bad_flag_is_rejected_before_the_heavy_imports(module, argv):
    probe = (f"import importlib, sys\n"
             f"try:\n    importlib.import_module({module!r}).main({argv!r})\n"
             f"except SystemExit as exit:\n    code = exit.code\n"
             f"heavy = sorted(set(sys.modules) & set({HEAVY!r}))\n"
             f"print(code, ','.join(heavy) or 'none')\n")
    result = subprocess.run([sys.executable, "-c", probe], cwd=PROJECT_ROOT, capture_output=True, text=True,
                            timeout=WAIT)
    assert result.stdout.split() == ["2", "none"], result.stdout + result.stderr
    assert "--no-such-flag" in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_the_script_form_of_main_rejects_a_bad_flag_with_one_line():
    result = run_command(["src/main/main.py", "--no-such-flag"], timeout=WAIT)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1


def test_ctrl_c_leaves_an_interrupted_line_and_a_marked_report(tmp_path, sample_market_database):
    database = copy(sample_market_database, tmp_path / "db")
    report = tmp_path / "report"
    log = report / "backtest.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "src.backtesting.cli", "--start", "2026-01-12", "--end", "2026-01-13",
         "--output-dir", str(report), "--no-progress"], cwd=PROJECT_ROOT,
        env={**__import__("os").environ, "VNPY_DATABASE_DRIVER": "sqlite", "VNPY_DATABASE_DATABASE": str(database)},
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=sigint_by_default)
    try:
        deadline = time.monotonic() + WAIT
        # Interrupt once the run is under way: the runner has logged what it loads.
        while not (log.exists() and "loading" in log.read_text(errors="replace")):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the backtest never started loading"
            time.sleep(0.05)
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=WAIT)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(WAIT)
    assert process.returncode == 130, err
    assert "Traceback" not in err
    text = log.read_text()
    assert "interrupted (SIGINT) after" in text and "the report in" in text
    mark = (report / "INTERRUPTED").read_text()
    assert mark.startswith("interrupted (SIGINT) at ") and "incomplete" in mark
    assert not (report / "summary.json").exists()
    assert err.strip().splitlines()[-1] == "interrupted"
