# Sourced by scripts/test.sh (and by tests that need a server of their own): a throwaway
# MariaDB (or MySQL) server for the tests, in a temporary folder, on 127.0.0.1 only.
#
#   mariadb_available                  true when a server binary is installed
#   mariadb_start DIR [PORT]           initialises DIR/data when empty and starts the server on
#                                      PORT (the one of the last start in DIR, else a free port);
#                                      waits until it answers. Socket, pid file, logs stay in DIR.
#   mariadb_stop DIR                   clean shutdown (kill after 30 s); no-op when not running
#   mariadb_create_test_database DIR NAME
#                                      creates database NAME and a password-protected user for
#                                      TCP logins, and writes their settings to DIR/test_env
#   mariadb_export_test_env DIR        exports TEST_MYSQL_HOST/PORT/USER/PASSWORD/DATABASE
#
# The server reads no option file (--no-defaults), so a machine's /etc/mysql settings
# (socket under /run, bind address, log paths) cannot interfere. Running as root needs
# --user=root, which mariadbd otherwise refuses.

MARIADB_TEST_USER="vol_test"

mariadb_server_binary() {
    local name
    for name in mariadbd mysqld; do
        if command -v "$name" >/dev/null 2>&1; then command -v "$name"; return 0; fi
        if [ -x "/usr/sbin/$name" ]; then echo "/usr/sbin/$name"; return 0; fi
    done
    return 1
}

mariadb_available() {
    mariadb_server_binary >/dev/null && command -v mariadb-install-db >/dev/null 2>&1 ||
        { mariadb_server_binary >/dev/null && command -v mysql_install_db >/dev/null 2>&1; }
}

_mariadb_client() {
    if command -v mariadb >/dev/null 2>&1; then echo mariadb; else echo mysql; fi
}

_mariadb_admin() {
    if command -v mariadb-admin >/dev/null 2>&1; then echo mariadb-admin; else echo mysqladmin; fi
}

_mariadb_install_db() {
    if command -v mariadb-install-db >/dev/null 2>&1; then echo mariadb-install-db; else echo mysql_install_db; fi
}

_mariadb_user_option() {
    if [ "$(id -u)" = "0" ]; then echo "--user=root"; fi
}

_mariadb_free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# A killed server stays a zombie until its parent (often PID 1 by then) reaps it; it is not running.
_mariadb_alive() {
    local pid="$1" state
    kill -0 "$pid" 2>/dev/null || return 1
    state="$(sed -E 's/^[0-9]+ \(.*\) (.).*/\1/' "/proc/$pid/stat" 2>/dev/null || echo "?")"
    [ "$state" != "Z" ] && [ "$state" != "X" ]
}

_mariadb_pid() {
    local dir="$1" pid
    [ -f "$dir/mysqld.pid" ] || return 1
    pid="$(cat "$dir/mysqld.pid" 2>/dev/null)"
    [ -n "$pid" ] && _mariadb_alive "$pid" && echo "$pid"
}

mariadb_start() {
    local dir port server user_option datadir waited server_pid
    dir="$(mkdir -p "$1" && cd "$1" && pwd)"
    port="${2:-}"
    server="$(mariadb_server_binary)" || { echo "error: no mariadbd or mysqld on PATH" >&2; return 1; }
    user_option="$(_mariadb_user_option)"
    datadir="$dir/data"
    if _mariadb_pid "$dir" >/dev/null; then
        echo "error: a server is already running in $dir" >&2; return 1
    fi
    if [ ! -d "$datadir/mysql" ]; then
        # shellcheck disable=SC2086  # user_option is empty or one word
        if ! "$(_mariadb_install_db)" --no-defaults --datadir="$datadir" $user_option \
                --auth-root-authentication-method=normal --skip-test-db --skip-name-resolve \
                --innodb-log-file-size=16M >"$dir/install.log" 2>&1; then
            echo "error: initialising $datadir failed; see $dir/install.log" >&2; return 1
        fi
    fi
    if [ -z "$port" ]; then
        port="$(cat "$dir/port" 2>/dev/null || true)"
        [ -n "$port" ] || port="$(_mariadb_free_port)"
    fi
    echo "$port" >"$dir/port"
    # shellcheck disable=SC2086
    nohup "$server" --no-defaults --datadir="$datadir" $user_option \
        --port="$port" --bind-address=127.0.0.1 --skip-name-resolve \
        --socket="$dir/mysqld.sock" --pid-file="$dir/mysqld.pid" --log-error="$dir/error.log" \
        --innodb-buffer-pool-size=64M --innodb-log-file-size=16M --performance-schema=OFF \
        --max-allowed-packet=64M --character-set-server=utf8mb4 --collation-server=utf8mb4_unicode_ci \
        >/dev/null 2>&1 </dev/null &
    server_pid=$!
    for waited in $(seq 1 300); do
        if "$(_mariadb_admin)" --no-defaults --socket="$dir/mysqld.sock" -uroot ping >/dev/null 2>&1; then
            return 0
        fi
        _mariadb_alive "$server_pid" || break
        sleep 0.1
    done
    echo "error: the server in $dir did not start; last lines of $dir/error.log:" >&2
    tail -n 5 "$dir/error.log" >&2 2>/dev/null || true
    return 1
}

mariadb_stop() {
    local dir="$1" pid waited
    pid="$(_mariadb_pid "$dir")" || return 0
    "$(_mariadb_admin)" --no-defaults --socket="$dir/mysqld.sock" -uroot shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null || true
    for waited in $(seq 1 300); do
        _mariadb_alive "$pid" || return 0
        sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
}

mariadb_create_test_database() {
    local dir="$1" name="$2" password
    password="$(python3 -c 'import secrets; print(secrets.token_hex(12))')"
    "$(_mariadb_client)" --no-defaults --socket="$dir/mysqld.sock" -uroot <<SQL || return 1
CREATE DATABASE IF NOT EXISTS \`$name\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;
CREATE OR REPLACE USER '$MARIADB_TEST_USER'@'127.0.0.1' IDENTIFIED BY '$password';
GRANT ALL PRIVILEGES ON *.* TO '$MARIADB_TEST_USER'@'127.0.0.1';
SQL
    (
        umask 077
        cat >"$dir/test_env" <<ENV
TEST_MYSQL_HOST=127.0.0.1
TEST_MYSQL_PORT=$(cat "$dir/port")
TEST_MYSQL_USER=$MARIADB_TEST_USER
TEST_MYSQL_PASSWORD=$password
TEST_MYSQL_DATABASE=$name
ENV
    )
}

mariadb_export_test_env() {
    local dir="$1" line
    while IFS= read -r line; do
        # shellcheck disable=SC2163  # exporting NAME=VALUE lines
        export "$line"
    done <"$dir/test_env"
}
