#!/usr/bin/env bash
# The monitoring dashboard on http://localhost:5007 (read-only, over the configured database's
# monitor_signal_snapshot and strategy_event tables); opens the browser unless --no-browser.
#   scripts/run_dashboard.sh [--host 127.0.0.1] [--port 5007] [--no-browser] [--stale-seconds N]
# Serving on another address than 127.0.0.1 needs DASHBOARD_TOKEN (32+ characters) in .env.
set -euo pipefail
# "" : without it, bash would hand this script's own arguments to ensure_venv.sh as its "extra".
source "$(dirname "$0")/lib/ensure_venv.sh" ""
exec "$PYTHON_BIN" -m src.web.app "$@"
