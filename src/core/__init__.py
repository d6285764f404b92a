"""The shared kernel below the processes (``src.main``) and the backtester.

Configuration (loader, schema, typed builder, ``UserInputError``, secrets),
contract reference data (product specs, exchanges, expiries, the contract
registry and discovery), the command-line helpers and the daemon primitives
serve live trading and backtests alike, so they live here: ``src.main`` and
``src.backtesting`` both import this package and never each other.
"""
# vnpy must find its working folder under data/ before any module here imports it.
from src.strategy.infrastructure.vnpy_home import ensure_vnpy_home

ensure_vnpy_home()
