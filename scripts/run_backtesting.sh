#!/usr/bin/env bash
# The main job: creates .venv when missing, installs, creates the synthetic sample
# market in the embedded SQLite database when it has none for the dates, runs the
# default backtest and prints where the report is.
# Extra arguments go to python -m src.backtesting.cli (--start, --end, --capital,
# --config, --override-config, --output-dir).
set -euo pipefail
# "" : without it, bash would hand this script's own arguments to ensure_venv.sh as its "extra".
source "$(dirname "$0")/lib/ensure_venv.sh" ""
exec "$PYTHON_BIN" -m src.backtesting.cli --sample-market "$@"
