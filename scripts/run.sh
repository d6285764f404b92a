#!/usr/bin/env bash
# Live trading: one daemon per config/timeframe/*.yaml (python src/main/main.py --mode daemon
# --override-config <file>). Each daemon runs its strategy process during runtime.trading_periods,
# restarts it with backoff when it fails or hangs, and logs to data/logs/<timeframe>/ (daemon.log,
# child.log, rotated). Needs CTP_* (and SOPT_*) in .env. Ctrl+C or SIGTERM stops every daemon cleanly.
# Extra arguments go to every daemon, e.g. scripts/run.sh --log-level DEBUG
set -euo pipefail
# "" : without it, bash would hand this script's own arguments to ensure_venv.sh as its "extra".
source "$(dirname "$0")/lib/ensure_venv.sh" ""
source "$PROJECT_ROOT/scripts/lib/daemons.sh"
run_timeframe_daemons "" "$@"
