"""Keeps vnpy out of the user's home folder.

vnpy picks its working folder when ``vnpy.trader.utility`` is first imported:
``./.vntrader`` if it exists in the current folder, otherwise it creates
``~/.vntrader``. Importing it once from inside ``data/`` makes ``data/.vntrader``
vnpy's folder for the whole process (settings file, vnpy's own logs). The
database timezone is fixed to the exchanges' (Asia/Shanghai) before vnpy's
database module reads it.
"""
from __future__ import annotations

import importlib
import os
import sys
from pathlib import Path

from src.paths import DATA_DIR

EXCHANGE_TIMEZONE = "Asia/Shanghai"


def ensure_vnpy_home(data_dir: Path = DATA_DIR) -> Path:
    """Import vnpy's utility module with ``data_dir`` as its working folder; return vnpy's folder."""
    if "vnpy.trader.utility" not in sys.modules:
        (data_dir / ".vntrader").mkdir(parents=True, exist_ok=True)
        previous = os.getcwd()
        os.chdir(data_dir)
        try:
            importlib.import_module("vnpy.trader.utility")
            importlib.import_module("vnpy.trader.setting")
        finally:
            os.chdir(previous)
    from vnpy.trader.setting import SETTINGS
    from vnpy.trader.utility import TEMP_DIR

    SETTINGS["database.timezone"] = EXCHANGE_TIMEZONE
    return TEMP_DIR
