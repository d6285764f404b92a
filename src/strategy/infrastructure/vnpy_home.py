"""Keeps vnpy out of the user's home folder, without importing vnpy before it is needed.

vnpy picks its working folder when ``vnpy.trader.utility`` is first imported:
``./.vntrader`` if it exists in the current folder, otherwise it creates
``~/.vntrader``. ``ensure_vnpy_home`` arranges that this first import runs from
inside the data folder, so ``<data>/.vntrader`` is vnpy's folder for the whole
process (settings file, vnpy's own logs), and that the database timezone is fixed
to the exchanges' (Asia/Shanghai) as soon as vnpy's settings are loaded.

It does so with an import hook, not by importing vnpy at once: vnpy brings pandas
and TA-Lib with it (several seconds on a busy machine), and the command lines
check their flags before paying for that. When vnpy is already imported, the
settings are fixed on the spot. The first call decides the folder: later calls
(every package's ``__init__`` makes one) keep it; only a call naming a folder
replaces the default before vnpy is imported (the tests' throwaway folder).

The process timezone is set to Asia/Shanghai too: vnpy's database drivers store
naive exchange-local datetimes and read them back with ``naive.timestamp()``,
which uses the machine's timezone, so on a machine not set to China time every
loaded bar would be shifted by the difference (8 hours on a UTC server).
"""
from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import sys
import time
from pathlib import Path

from src.paths import DATA_DIR
from src.strategy.domain.value_object.exchange_time import EXCHANGE_TIMEZONE_NAME

VNPY_FOLDER = ".vntrader"
_UTILITY = "vnpy.trader.utility"
_SETTING = "vnpy.trader.setting"


def ensure_vnpy_home(data_dir: Path | None = None) -> Path:
    """Make ``<data_dir>/.vntrader`` vnpy's working folder (default: the data folder); return vnpy's folder.

    Cheap: vnpy itself is imported only by the first module that needs it.
    """
    _use_exchange_timezone()
    if _UTILITY in sys.modules:
        _fix_database_timezone()
        from vnpy.trader.utility import TEMP_DIR
        return TEMP_DIR
    hook = _installed_hook()
    if hook is None:
        hook = _VnpyHomeHook(Path(data_dir if data_dir is not None else DATA_DIR))
        sys.meta_path.insert(0, hook)
    elif data_dir is not None and not hook.explicit:  # a folder asked for beats the default of a package init
        hook.data_dir = Path(data_dir)
    hook.explicit = hook.explicit or data_dir is not None
    if _SETTING in sys.modules:  # imported by a path that bypassed nothing: fix it now
        _fix_database_timezone()
    return hook.data_dir / VNPY_FOLDER


def _installed_hook() -> _VnpyHomeHook | None:
    for finder in sys.meta_path:
        if isinstance(finder, _VnpyHomeHook):
            return finder
    return None


class _VnpyHomeHook(importlib.abc.MetaPathFinder):
    """Runs the first import of vnpy's utility module from inside the data folder."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = data_dir
        self.explicit = False

    def find_spec(self, name, path, target=None):
        if name not in (_UTILITY, _SETTING):
            return None
        spec = importlib.machinery.PathFinder.find_spec(name, path)
        if spec is None or spec.loader is None:
            return None
        spec.loader = _Loader(spec.loader, self.data_dir, name)
        return spec


class _Loader(importlib.abc.Loader):
    def __init__(self, loader, data_dir: Path, name: str) -> None:
        self._loader = loader
        self._data_dir = data_dir
        self._name = name

    def create_module(self, spec):
        return self._loader.create_module(spec)

    def exec_module(self, module) -> None:
        if self._name == _SETTING:
            self._loader.exec_module(module)
            module.SETTINGS["database.timezone"] = EXCHANGE_TIMEZONE_NAME
            return
        (self._data_dir / VNPY_FOLDER).mkdir(parents=True, exist_ok=True)
        previous = os.getcwd()
        os.chdir(self._data_dir)
        try:
            self._loader.exec_module(module)
        finally:
            os.chdir(previous)


def _fix_database_timezone() -> None:
    from vnpy.trader.setting import SETTINGS

    SETTINGS["database.timezone"] = EXCHANGE_TIMEZONE_NAME


def _use_exchange_timezone() -> None:
    if os.environ.get("TZ") == EXCHANGE_TIMEZONE_NAME or not hasattr(time, "tzset"):
        return  # on Windows there is no tzset: the machine's own zone must be China Standard Time
    os.environ["TZ"] = EXCHANGE_TIMEZONE_NAME
    time.tzset()
