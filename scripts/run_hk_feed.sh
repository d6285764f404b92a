#!/usr/bin/env bash
# Hong Kong ticks from AllTick (ALLTICK_TOKEN in .env) into the configured database, under a daemon that runs
# the recorder during HKEX hours and restarts it when it fails (logs in data/logs/datafeed-hk/).
# Arguments go to python -m src.datafeed.hk run, e.g. --codes 700.HK,9988.HK (required), --mode standalone.
set -euo pipefail
# "" : without it, bash would hand this script's own arguments to ensure_venv.sh as its "extra".
source "$(dirname "$0")/lib/ensure_venv.sh" ""
exec "$PYTHON_BIN" -m src.datafeed.hk run "$@"
