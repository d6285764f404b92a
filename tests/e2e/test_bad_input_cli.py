"""Bad input to every command: one line on stderr naming what and where, exit code 2, never a traceback.

As root every folder is writable, so "cannot write" is made real with a path under a regular
file, or under /proc (where no file can be created).
"""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.cli import run_command

EXIT_BAD_INPUT = 2


def assert_one_line(result, *expected: str) -> str:
    assert result.returncode == EXIT_BAD_INPUT, (result.returncode, result.stdout, result.stderr)
    assert "Traceback" not in result.stderr and "Traceback" not in result.stdout, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.fixture
def a_file(tmp_path) -> Path:
    path = tmp_path / "plain-file"
    path.write_text("I am a file, not a folder\n")
    return path


@pytest.fixture
def not_a_database(tmp_path) -> Path:
    path = tmp_path / "notes.db"
    path.write_text("these are my notes, not an SQLite database\n" * 20)
    return path


@pytest.mark.parametrize("command", [["verify"], ["show", "--strategy", "vol_15m"]])
def test_state_on_a_file_that_is_not_a_database(not_a_database, command):
    result = run_command(["-m", "src.main.state", *command], database=not_a_database, timeout=300)
    assert_one_line(result, "python -m src.main.state: error:", str(not_a_database), "is not an SQLite database")
    assert not_a_database.read_text().startswith("these are my notes")  # untouched


def test_state_on_a_folder_given_as_the_database(tmp_path):
    result = run_command(["-m", "src.main.state", "verify"], database=tmp_path, timeout=300)
    assert_one_line(result, str(tmp_path), "is a folder, not a database file")


def test_a_database_in_a_folder_that_does_not_exist_is_an_error_and_nothing_is_created(tmp_path):
    missing = tmp_path / "nonexistent" / "dir"
    result = run_command(["-m", "src.main.state", "verify"], database=missing / "x.db", timeout=300)
    assert_one_line(result, f"the folder {missing} does not exist", "VNPY_DATABASE_DATABASE")
    assert not (tmp_path / "nonexistent").exists()


def test_a_database_under_a_regular_file(a_file):
    result = run_command(["-m", "src.main.state", "verify"], database=a_file / "x.db", timeout=300)
    assert_one_line(result, f"the folder {a_file} is not a folder")


@pytest.mark.parametrize("where", ["under a file", "in /proc", "a file"])
def test_backtest_output_dir_that_cannot_be_written(tmp_path, a_file, where):
    output = {"under a file": a_file / "report", "in /proc": Path("/proc/vol-strategy-report"),
              "a file": a_file}[where]
    if where == "in /proc" and not Path("/proc/self").exists():
        pytest.skip("no /proc on this system")
    result = run_command(["-m", "src.backtesting.cli", "--output-dir", str(output), "--no-progress"],
                         database=tmp_path / "db.db", timeout=300)
    assert_one_line(result, "python -m src.backtesting.cli: error: --output-dir", str(output))
    assert not (tmp_path / "db.db").exists()  # stopped before anything was opened


@pytest.mark.parametrize("where", ["under a file", "in /proc", "a folder"])
def test_export_bars_out_that_cannot_be_written(tmp_path, a_file, where):
    out = {"under a file": a_file / "bars.csv", "in /proc": Path("/proc/vol-strategy-bars.csv"),
           "a folder": tmp_path}[where]
    if where == "in /proc" and not Path("/proc/self").exists():
        pytest.skip("no /proc on this system")
    result = run_command(["-m", "src.main.data", "export-bars", "--symbol", "IF2101", "--exchange", "CFFEX",
                          "--out", str(out)], database=tmp_path / "db.db", timeout=300)
    assert_one_line(result, "python -m src.main.data: error: --out", str(out))


def test_import_ticks_on_a_gz_that_is_not_gzip(tmp_path):
    fake = tmp_path / "ticks.csv.gz"
    fake.write_text("timestamp,price,total_volume\n2021-01-04T09:30:00.5+08:00,5230.0,10\n")
    result = run_command(["-m", "src.main.data", "import-ticks", "--file", str(fake), "--symbol", "IF2101",
                          "--exchange", "CFFEX"], database=tmp_path / "db.db", timeout=300)
    assert_one_line(result, f"--file {fake}: not a readable gzip file")
    assert not (tmp_path / "db.db").exists()


def test_import_ticks_on_a_truncated_gz(tmp_path, shared_data):
    whole = (shared_data / "cn_futures_ticks" / "CFFEX_IF2101_tick_20210104_20210105.csv.gz").read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[:len(whole) // 2])
    result = run_command(["-m", "src.main.data", "import-ticks", "--file", str(cut), "--symbol", "IF2101",
                          "--exchange", "CFFEX", "--no-progress"], database=tmp_path / "db.db", timeout=300)
    assert_one_line(result, f"--file {cut}: cannot read on:", "1-minute bars were saved before")


def test_import_bars_on_a_truncated_gz(tmp_path, shared_data):
    whole = (shared_data / "cn_index_futures_bars" / "CFFEX.IF.HOT_m5_2014_2019.csv.gz").read_bytes()
    cut = tmp_path / "cut.csv.gz"
    cut.write_bytes(whole[:len(whole) // 2])
    result = run_command(["-m", "src.main.data", "import-bars", "--file", str(cut), "--symbol", "IF888",
                          "--exchange", "CFFEX", "--layout", "config/examples/import_bars/wondertrader_5m.yaml",
                          "--no-progress"], database=tmp_path / "db.db", timeout=300)
    assert_one_line(result, f"--file {cut}: cannot read on:", " bars were saved before")


def test_import_ticks_on_a_folder(tmp_path):
    result = run_command(["-m", "src.main.data", "import-ticks", "--file", str(tmp_path), "--symbol", "IF2101",
                          "--exchange", "CFFEX"], database=tmp_path / "db.db", timeout=300)
    line = assert_one_line(result, f"--file {tmp_path}: is a folder, not a file")
    assert "not found" not in line


def test_backtest_with_a_database_in_a_missing_folder_makes_no_report_folder(tmp_path):
    missing = tmp_path / "typo"
    report = tmp_path / "report"
    result = run_command(["-m", "src.backtesting.cli", "--output-dir", str(report), "--no-progress"],
                         database=missing / "x.db", timeout=300)
    assert_one_line(result, f"the folder {missing} does not exist")
    assert not missing.exists() and not report.exists()
