#!/usr/bin/env bash
# Installs the project with its test tools into .venv and runs the whole test suite.
# Extra arguments go to pytest, e.g. scripts/test.sh tests/unit -q
#
# When MariaDB (or MySQL) is installed and TEST_MYSQL_HOST is not already set, a
# throwaway server is started on a free port of 127.0.0.1 for the tests marked
# `mysql`, and stopped (its data deleted) when the tests end. Without a server
# those tests skip, saying why.
#
# The dashboard's browser tests (marked `browser`) drive Debian's chromium through
# chromium-driver (/usr/bin/chromium, /usr/bin/chromedriver); without them they skip, except
# under CI, where both are required like the MySQL server.
set -euo pipefail
source "$(dirname "$0")/lib/ensure_venv.sh" dev
source "$PROJECT_ROOT/scripts/lib/mariadb.sh"

if [ -z "${TEST_MYSQL_HOST:-}" ] && [ "${CI:-}" = "true" ] && ! mariadb_available; then
    echo "error: CI must run the MySQL contract tests, but no MariaDB/MySQL server is installed" >&2
    exit 1
fi
if [ "${CI:-}" = "true" ] && { [ ! -x /usr/bin/chromium ] || [ ! -x /usr/bin/chromedriver ]; }; then
    echo "error: CI must run the dashboard's browser tests, but chromium and chromium-driver are not installed" \
         "(apt-get install chromium chromium-driver)" >&2
    exit 1
fi
if [ -z "${TEST_MYSQL_HOST:-}" ] && mariadb_available; then
    MARIADB_TEST_DIR="$(mktemp -d /tmp/vol-mariadb-XXXXXX)"
    trap 'mariadb_stop "$MARIADB_TEST_DIR"; rm -rf "$MARIADB_TEST_DIR"' EXIT
    mariadb_start "$MARIADB_TEST_DIR"
    mariadb_create_test_database "$MARIADB_TEST_DIR" vol_strategy_test
    mariadb_export_test_env "$MARIADB_TEST_DIR"
    echo "MariaDB for the tests on 127.0.0.1:$TEST_MYSQL_PORT (data in $MARIADB_TEST_DIR)"
fi

"$PYTHON_BIN" -m pytest "$@"
