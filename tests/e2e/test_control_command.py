"""``python -m src.main.control``: one line and exit 2 for bad input; commands written and listed."""
from __future__ import annotations

import pytest

from tests.e2e.cli import run_command


@pytest.mark.parametrize(("argv", "expected"), [
    (["flatten"], "the following arguments are required: --strategy"),
    (["stop", "--strategy", "has space"], "expected a strategy name"),
    (["resume", "--strategy", "vol@live"], "expected a strategy name"),
    (["explode", "--strategy", "vol"], "invalid choice: 'explode'"),
    (["flatten", "--strategy", "vol", "--note", "x" * 201], "at most 200 characters"),
])
def test_bad_input_is_one_line_and_exit_2(argv, expected, tmp_path):
    result = run_command(["-m", "src.main.control", *argv], database=tmp_path / "control.db", timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and expected in lines[0] and "Traceback" not in result.stderr
    assert not (tmp_path / "control.db").exists(), "nothing written for bad input"


def test_commands_are_written_and_shown_newest_first(tmp_path):
    database = tmp_path / "control.db"
    for command in ("stop", "resume", "flatten"):
        result = run_command(["-m", "src.main.control", command, "--strategy", "volatility_strategy@paper"],
                             database=database, timeout=120)
        assert result.returncode == 0 and f"{command} written for volatility_strategy@paper" in result.stdout
    shown = run_command(["-m", "src.main.control", "show"], database=database, timeout=120)
    assert shown.returncode == 0
    assert [line.split()[-1] for line in shown.stdout.strip().splitlines()] == ["flatten", "resume", "stop"]


def test_an_unreachable_database_is_one_line(tmp_path):
    result = run_command(["-m", "src.main.control", "stop", "--strategy", "vol"], database=tmp_path, timeout=120)
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
