"""Parameter sweeps, genetic search and walk-forward over full backtests (``python -m src.backtesting.sweep``).

Every task is one whole backtest run by ``worker.run_task`` in a worker process, which sets up the
database, the configuration tree and the runner itself, exactly as ``python -m src.backtesting.cli``
does, and returns the whole summary. The executor (local process pool or a Dask cluster) is chosen by
``executors.open_executor``; nothing else knows which one runs the tasks.
"""
