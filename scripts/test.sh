#!/usr/bin/env bash
# Installs the project with its test tools into .venv and runs the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -q
set -euo pipefail
source "$(dirname "$0")/lib/ensure_venv.sh" dev
exec "$PYTHON_BIN" -m pytest "$@"
