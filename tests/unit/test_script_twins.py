"""Every scripts/*.sh has a .bat twin that does the same steps with the same flags (read, not run).

Windows cannot be run here, so the .bat files are parsed: the venv set-up and its extra, the
Python command and its flags, the daemons' mode flags, the MariaDB handling of the tests, and
the batch rules cmd.exe itself needs (CRLF line endings, every goto's label, every called file).
"""
from __future__ import annotations

import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

from src.paths import PROJECT_ROOT

SCRIPTS = PROJECT_ROOT / "scripts"
SHELL_SCRIPTS = sorted(SCRIPTS.glob("*.sh"))
SHELL_LIBRARIES_WITH_TWINS = ("ensure_venv.sh", "daemons.sh")  # mariadb.sh: test.bat says what replaces it


def steps_of_shell(text: str) -> list[tuple[str, str]]:
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line.startswith("#"):
            continue
        if match := re.search(r'lib/ensure_venv\.sh"\s*(\S*)', line):
            steps.append(("venv", match.group(1).strip('"')))
        elif match := re.search(r'"\$PYTHON_BIN"\s+(.*?)\s+"\$@"', line):
            steps.append(("python", " ".join(shlex.split(match.group(1)))))
        elif match := re.search(r'run_timeframe_daemons\s+"([^"]*)"\s+"\$@"', line):
            steps.append(("daemons", match.group(1)))
        elif "lib/mariadb.sh" in line:
            steps.append(("mariadb", ""))
    return steps


def steps_of_batch(text: str) -> list[tuple[str, str]]:
    steps = []
    for line in text.splitlines():
        line = line.strip()
        if line.lower().startswith("rem") or line.startswith("::"):
            continue
        if match := re.search(r'lib\\ensure_venv\.bat"\s*(\w*)', line):
            steps.append(("venv", match.group(1)))
        elif match := re.search(r'"%PYTHON_BIN%"\s+(.*?)\s+%\*', line):
            steps.append(("python", " ".join(shlex.split(match.group(1).replace("\\", "/")))))
        elif match := re.search(r'lib\\daemons\.bat"\s+"([^"]*)"\s+%\*', line):
            steps.append(("daemons", match.group(1)))
        elif line.startswith("if not defined TEST_MYSQL_HOST"):
            steps.append(("mariadb", ""))
    return steps


@pytest.mark.parametrize("shell", SHELL_SCRIPTS, ids=lambda path: path.name)
def test_every_shell_script_has_a_batch_twin_with_the_same_steps(shell):
    batch = shell.with_suffix(".bat")
    assert batch.is_file(), f"{shell.name} has no Windows twin {batch.name}"
    shell_steps = steps_of_shell(shell.read_text(encoding="utf-8"))
    assert shell_steps and shell_steps[0][0] == "venv", shell_steps
    assert steps_of_batch(batch.read_text(encoding="utf-8")) == shell_steps


def test_the_steps_are_read_from_the_scripts():
    # The parsers see what they should: a change of flags in one twin only would show.
    assert steps_of_shell((SCRIPTS / "run_backtesting.sh").read_text()) == [
        ("venv", ""), ("python", "-m src.backtesting.cli --sample-market")]
    assert steps_of_shell((SCRIPTS / "test.sh").read_text()) == [("venv", "dev"), ("mariadb", ""),
                                                                 ("python", "-m pytest")]
    assert ("daemons", "--paper") in steps_of_shell((SCRIPTS / "run_paper.sh").read_text())


@pytest.mark.parametrize("library", SHELL_LIBRARIES_WITH_TWINS)
def test_sourced_libraries_have_twins(library):
    assert (SCRIPTS / "lib" / library).with_suffix(".bat").is_file()


def batch_files() -> list[Path]:
    return sorted(SCRIPTS.glob("*.bat")) + sorted((SCRIPTS / "lib").glob("*.bat"))


@pytest.mark.parametrize("batch", batch_files(), ids=lambda path: path.name)
def test_batch_files_are_well_formed_for_cmd(batch):
    raw = batch.read_bytes()
    assert raw.count(b"\n") == raw.count(b"\r\n"), f"{batch.name}: cmd.exe needs CRLF line endings"
    text = raw.decode("ascii")
    assert text.startswith("@echo off")
    code = [line.strip() for line in text.splitlines() if not line.strip().lower().startswith("rem")]
    labels = {line[1:].split()[0].lower() for line in code if line.startswith(":") and not line.startswith("::")}
    for target in re.findall(r"\bgoto\s+(\w+)", "\n".join(code), flags=re.IGNORECASE):
        assert target.lower() in labels or target.lower() == "eof", f"{batch.name}: goto {target} has no label"
    for called in re.findall(r'call\s+"%~dp0([^"]+)"', text):
        assert (batch.parent / called.replace("\\", "/")).is_file(), f"{batch.name}: calls a missing {called}"
    depth = 0
    for line in code:
        unquoted = re.sub(r'"[^"]*"', "", line).replace("^(", "").replace("^)", "")
        depth += unquoted.count("(") - unquoted.count(")")
        assert depth >= 0, f"{batch.name}: ')' without '(' at {line!r}"
    assert depth == 0, f"{batch.name}: unbalanced parentheses"
    assert re.search(r"exit /b", text), f"{batch.name}: no exit code passed on"


def test_ensure_venv_twins_check_python_311_and_stamp_each_extra_by_the_pyproject_hash(tmp_path):
    shell = (SCRIPTS / "lib" / "ensure_venv.sh").read_text()
    batch = (SCRIPTS / "lib" / "ensure_venv.bat").read_text()
    assert "sys.version_info[:2] == (3, 11)" in shell and "sys.version_info[:2] == (3, 11)" in batch
    for text in (shell, batch):
        # pip is not quiet: a first install names what it collects and builds instead of minutes of silence.
        assert ".installed-" in text and "-dev" in text and "pip install --progress-bar off -e" in text
    # The batch file's stamp hash is the shell's (sha256sum | cut -c1-16): run both on one file.
    code = re.search(r'python\.exe -c "(import hashlib[^"]+)"', batch).group(1)
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    from_batch = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                                timeout=60).stdout.strip()
    from_shell = subprocess.run(["bash", "-c", "sha256sum pyproject.toml | cut -c1-16"], cwd=tmp_path,
                                capture_output=True, text=True, timeout=60).stdout.strip()
    assert len(from_batch) == 16 and from_batch == from_shell


def test_daemons_bat_waits_for_the_daemons_and_passes_their_exit_code():
    batch = (SCRIPTS / "lib" / "daemons.bat").read_text()
    assert "start " not in batch.lower(), "start /b returns at once: no waiting, no exit codes"
    assert re.search(r'"%PYTHON_BIN%" scripts\\lib\\run_daemons\.py %MODE_FLAGS% -- %EXTRA%\r?\nexit /b %ERRORLEVEL%',
                     batch)


def test_test_bat_says_how_to_give_the_mysql_server():
    batch = (SCRIPTS / "test.bat").read_text()
    for name in ("TEST_MYSQL_HOST", "TEST_MYSQL_PORT", "TEST_MYSQL_USER", "TEST_MYSQL_PASSWORD", "TEST_MYSQL_DATABASE"):
        assert name in batch
    assert re.search(r'if /i "%CI%"=="true"', batch)


def test_gitattributes_keeps_batch_files_crlf():
    assert "*.bat -text" in (PROJECT_ROOT / ".gitattributes").read_text()
