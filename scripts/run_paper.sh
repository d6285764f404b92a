#!/usr/bin/env bash
# Paper trading: like run.sh, one daemon per config/timeframe/*.yaml, with --paper (simulated fills).
# On live CTP/SOPT market data by default; offline with --replay, which replays stored bars (with
# --sample-market, the synthetic sample market is created in the database when it has none for the
# dates, never beside real bars) and exits 0 at the end of the data:
#   scripts/run_paper.sh --replay [--sample-market] [--replay-start 2026-01-12] [--replay-end 2026-01-14]
# Fills go to the paper_trade table; logs to data/logs/paper-<timeframe>/. Extra arguments go to
# every daemon.
set -euo pipefail
# "" : without it, bash would hand this script's own arguments to ensure_venv.sh as its "extra".
source "$(dirname "$0")/lib/ensure_venv.sh" ""
source "$PROJECT_ROOT/scripts/lib/daemons.sh"
run_timeframe_daemons "--paper" "$@"
