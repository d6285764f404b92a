#!/usr/bin/env bash
# Data recorder: records the ticks and 1-minute bars of config/general/data_recorder_setting.json
# from the CTP/SOPT gateways of .env into the configured database, under a daemon that runs it
# during runtime.trading_periods and restarts it when it fails (logs in data/logs/recorder/).
# Extra arguments go to python -m src.main.recorder, e.g. --mode standalone, --recorder-setting F.
set -euo pipefail
# "" : without it, bash would hand this script's own arguments to ensure_venv.sh as its "extra".
source "$(dirname "$0")/lib/ensure_venv.sh" ""
exec "$PYTHON_BIN" -m src.main.recorder --mode daemon "$@"
