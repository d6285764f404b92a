"""vnpy's working folder: chosen without importing vnpy, in the data folder, never in the home folder."""
from __future__ import annotations

import os
import subprocess
import sys

from src.paths import PROJECT_ROOT

TIMEOUT = 300


def run_python(code: str, home, **environment) -> subprocess.CompletedProcess:
    env = {**os.environ, "HOME": str(home), **environment}
    return subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True,
                          timeout=TIMEOUT)


def test_the_folder_is_chosen_without_importing_vnpy_and_used_when_vnpy_comes(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = (f"import sys\n"
            f"from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home\n"
            f"folder = ensure_vnpy_home({str(tmp_path / 'data')!r})\n"
            f"print('vnpy.trader.utility' in sys.modules, folder)\n"
            f"from vnpy.trader.utility import TRADER_DIR\n"
            f"from vnpy.trader.setting import SETTINGS\n"
            f"print(TRADER_DIR, SETTINGS['database.timezone'])\n")
    result = run_python(code, home)
    assert result.returncode == 0, result.stderr
    first, second = result.stdout.strip().splitlines()
    assert first == f"False {tmp_path / 'data' / '.vntrader'}"
    assert second == f"{tmp_path / 'data'} Asia/Shanghai"
    assert (tmp_path / "data" / ".vntrader").is_dir()
    assert list(home.iterdir()) == []


def test_an_explicit_folder_beats_the_default_of_a_package_import(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    code = (f"import src.backtesting\n"  # its __init__ asks for the default folder
            f"from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home\n"
            f"ensure_vnpy_home({str(tmp_path / 'mine')!r})\n"
            f"ensure_vnpy_home()\n"
            f"from vnpy.trader.utility import TRADER_DIR\n"
            f"print(TRADER_DIR)\n")
    result = run_python(code, home)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(tmp_path / "mine")


def test_a_second_data_folder_takes_vnpy_the_database_and_the_logs_with_it(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    data = tmp_path / "second-data"
    code = ("from src.core.config.env_settings import DatabaseSettings\n"
            "from src.main.main import DEFAULT_LOG_DIR\n"
            "from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home\n"
            "ensure_vnpy_home()\n"
            "from vnpy.trader.utility import TRADER_DIR\n"
            "print(TRADER_DIR)\n"
            "print(DatabaseSettings.from_environment({}).database)\n"
            "print(DEFAULT_LOG_DIR)\n")
    result = run_python(code, home, VOL_STRATEGY_DATA_DIR=str(data))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(data), str(data / "database.db"), str(data / "logs")]
    assert (data / ".vntrader").is_dir()
    assert list(home.iterdir()) == []


def test_the_state_command_keeps_its_database_in_the_second_folder(tmp_path):
    # What a read-only checkout needs: with VOL_STRATEGY_DATA_DIR set, the default database (and
    # vnpy's folder) go to the second folder, never to the checkout's data/.
    data = tmp_path / "data"
    data.mkdir()
    environment = {key: value for key, value in os.environ.items() if not key.startswith("VNPY_DATABASE_")}
    environment.update(VOL_STRATEGY_DATA_DIR=str(data), HOME=str(tmp_path))
    result = subprocess.run([sys.executable, "-m", "src.main.state", "verify"], cwd=PROJECT_ROOT, env=environment,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0, result.stderr
    assert f"SQLite file {data / 'database.db'}: 0 bad" in result.stdout
    assert (data / "database.db").is_file()
