"""scripts/lib/run_daemons.py (the daemons of the Windows scripts), run here on Linux."""
from __future__ import annotations

from src.paths import PROJECT_ROOT
from tests.e2e.cli import run_command

HELPER = str(PROJECT_ROOT / "scripts" / "lib" / "run_daemons.py")


def test_one_daemon_per_timeframe_waited_for_and_the_exit_code_passed_on(tmp_path):
    timeframes = tmp_path / "timeframe"
    timeframes.mkdir()
    for name in ("5m", "15m"):
        (timeframes / f"{name}.yaml").write_text("strategies:\n  - strategy_name: s\n")
    result = run_command([HELPER, "--paper", "--timeframes", str(timeframes), "--", "--no-such-flag"], timeout=300)
    assert result.returncode == 2  # each daemon refused the flag with exit code 2; the helper waited for both
    assert result.stdout.splitlines() == ["starting the daemon for 15m.yaml", "starting the daemon for 5m.yaml"]
    assert result.stderr.count("unrecognized arguments: --no-such-flag") == 2


def test_no_timeframe_file_is_exit_2(tmp_path):
    result = run_command([HELPER, "--timeframes", str(tmp_path)], timeout=120)
    assert result.returncode == 2 and "add one file per timeframe" in result.stderr
