#!/usr/bin/env bash
# Parameter sweep / genetic search / walk-forward over full backtests.
# Creates .venv when missing, creates the synthetic sample market when the database has none for the
# dates, then runs python -m src.backtesting.sweep. Default grid: config/examples/sweep.yaml.
# Extra arguments go to the sweep command (--grid, --objective, --constraint, --walk-forward,
# --workers, --scheduler tcp://host:8786, --results, --start, --end, ...).
set -euo pipefail
source "$(dirname "$0")/lib/ensure_venv.sh" ""
exec "$PYTHON_BIN" -m src.backtesting.sweep --sample-market "$@"
