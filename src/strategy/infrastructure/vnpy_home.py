"""Keeps vnpy out of the user's home folder.

vnpy picks its working folder when ``vnpy.trader.utility`` is first imported:
``./.vntrader`` if it exists in the current folder, otherwise it creates
``~/.vntrader``. Importing it once from inside ``data/`` makes ``data/.vntrader``
vnpy's folder for the whole process (settings file, vnpy's own logs). The
database timezone is fixed to the exchanges' (Asia/Shanghai) before vnpy's
database module reads it.

The process timezone is set to Asia/Shanghai too: vnpy's database drivers store
naive exchange-local datetimes and read them back with ``naive.timestamp()``,
which uses the machine's timezone, so on a machine not set to China time every
loaded bar would be shifted by the difference (8 hours on a UTC server).
"""
from __future__ import annotations

import importlib
import os
import sys
import time
from pathlib import Path

from src.paths import DATA_DIR
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE_NAME


def ensure_vnpy_home(data_dir: Path = DATA_DIR) -> Path:
    """Import vnpy's utility module with ``data_dir`` as its working folder; return vnpy's folder."""
    _use_exchange_timezone()
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

    SETTINGS["database.timezone"] = EXCHANGE_TIMEZONE_NAME
    return TEMP_DIR


def _use_exchange_timezone() -> None:
    if os.environ.get("TZ") == EXCHANGE_TIMEZONE_NAME or not hasattr(time, "tzset"):
        return  # on Windows there is no tzset: the machine's own zone must be China Standard Time
    os.environ["TZ"] = EXCHANGE_TIMEZONE_NAME
    time.tzset()
