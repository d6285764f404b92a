"""Where the project's folders are, independent of the current directory.

``DATA_DIR`` (the SQLite database, logs, backtest reports, vnpy's ``.vntrader``) is the
project's ``data/`` unless the environment variable ``VOL_STRATEGY_DATA_DIR`` names another
folder: a read-only checkout, or a second set of data beside the first. It is read from the
environment when the program starts, not from ``.env`` (which is read later).
"""
import os
from pathlib import Path

DATA_DIR_VARIABLE = "VOL_STRATEGY_DATA_DIR"

PROJECT_ROOT = Path(__file__).resolve().parents[1]
CONFIG_DIR = PROJECT_ROOT / "config"
DATA_DIR = Path(os.environ[DATA_DIR_VARIABLE]).expanduser().resolve() if os.environ.get(DATA_DIR_VARIABLE, "").strip() \
    else PROJECT_ROOT / "data"
