"""``src/main/main.py`` and ``src.main.recorder`` refuse bad input with one line and exit code 2."""
from __future__ import annotations

import pytest
import yaml

from tests.e2e.cli import run_command
from tests.e2e.sample_database import copy

MAIN = "src/main/main.py"


def write(path, data) -> str:
    path.write_text(yaml.safe_dump(data))
    return str(path)


@pytest.mark.parametrize("args,message", [
    (["--mode", "parent"], "argument --mode: invalid choice: 'parent'"),
    (["--speed", "2"], "--speed needs --replay"),
    (["--replay-start", "2026-01-12"], "--replay-start needs --replay"),
    (["--replay", "--replay-start", "2026-13-01"], "expected a date YYYY-MM-DD, got '2026-13-01'"),
    (["--replay", "--speed", "-1"], "must be a finite number >= 0, got -1"),
    (["--replay", "--replay-start", "2026-01-14", "--replay-end", "2026-01-12"],
     "--replay-start 2026-01-14 is after --replay-end 2026-01-12"),
    (["--log-level", "LOUD"], "argument --log-level: invalid choice: 'LOUD'"),
    (["--capital", "0"], "must be positive, got 0"),
    (["--override-config", "missing.yaml"], "missing.yaml: file not found"),
    (["--trading-target", "missing.yaml"], "missing.yaml: file not found"),
])
def test_bad_flags(args, message):
    result = run_command([MAIN, *args], timeout=60)
    assert result.returncode == 2, result.stderr
    assert result.stderr.count("\n") == 1 and message in result.stderr, result.stderr
    assert result.stderr.startswith("python src/main/main.py: error: ")


def test_bad_runtime_configuration(tmp_path):
    override = write(tmp_path / "bad.yaml", {"runtime": {"max_restart_delay": 1.0}})
    result = run_command(["-m", "src.main.main", "--mode", "daemon", "--override-config", override], timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (f"python src/main/main.py: error: {override}: runtime.max_restart_delay: "
                                     f"must be >= restart_delay (5.0), got 1.0")


def test_live_mode_without_a_login_says_what_to_set(tmp_path):
    result = run_command([MAIN, "--no-ui", "--log-dir", str(tmp_path)], database=tmp_path / "db.db", timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "python src/main/main.py: error: live and paper trading need market data: set CTP_* (and SOPT_* for ETF "
        "options) in .env, or replay stored data offline with --paper --replay")


def test_live_daemon_without_a_login_is_refused_at_start(tmp_path):
    result = run_command([MAIN, "--mode", "daemon", "--log-dir", str(tmp_path)], timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "python src/main/main.py: error: live and paper trading need market data: set CTP_* (and SOPT_* for ETF "
        "options) in .env, or replay stored data offline with --paper --replay")
    assert not (tmp_path / "default" / "daemon.log").exists() or "started child" not in \
        (tmp_path / "default" / "daemon.log").read_text()


def test_replay_without_bars_of_a_product_says_how_to_get_some(tmp_path, sample_market_database):
    # The database holds the sample market (IF and IM): a replay of IH finds no bars and is refused.
    database = copy(sample_market_database, tmp_path / "db")
    targets = tmp_path / "targets.yaml"
    targets.write_text("- IH\n")
    result = run_command([MAIN, "--replay", "--replay-start", "2026-01-12", "--replay-end", "2026-01-12",
                          "--trading-target", str(targets), "--log-dir", str(tmp_path)], database=database,
                         timeout=120)
    assert result.returncode == 2
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("python src/main/main.py: error: no 1-minute bars of IH futures (IH2601.CFFEX, ")
    assert "python -m src.main.data import-ticks" in last


@pytest.mark.parametrize("args,message", [
    (["--replay"], "--replay needs --replay-start and --replay-end"),
    (["--speed", "1"], "--speed needs --replay"),
    (["--recorder-setting", "missing.json"], "missing.json: file not found"),
])
def test_recorder_bad_flags(args, message):
    result = run_command(["-m", "src.main.recorder", *args], timeout=60)
    assert result.returncode == 2 and message in result.stderr and result.stderr.count("\n") == 1, result.stderr


def test_recorder_with_nothing_to_record(tmp_path):
    setting = tmp_path / "empty.json"
    setting.write_text('{"tick": {}, "bar": {}}')
    result = run_command(["-m", "src.main.recorder", "--recorder-setting", str(setting), "--log-dir", str(tmp_path)],
                         database=tmp_path / "db.db", timeout=60)
    assert result.returncode == 2
    assert "nothing to record" in result.stderr.splitlines()[-1]
