#!/usr/bin/env bash
# The official MySQL image's first-start behaviour, for Debian's MariaDB: on an empty data folder,
# create the system tables, the root password (MYSQL_ROOT_PASSWORD), the database (MYSQL_DATABASE)
# and its user (MYSQL_USER / MYSQL_PASSWORD), then run /docker-entrypoint-initdb.d/*.sql (and
# *.sql.gz) into that database, in name order, on a server that listens on no TCP port (so the
# healthcheck stays red until the real server starts). Then the server runs in the foreground.
set -euo pipefail

DATADIR=/var/lib/mysql
SOCKET=/run/mysqld/mysqld.sock

fail() { echo "docker-entrypoint: $*" >&2; exit 1; }

if [ "${1:-}" = "mariadbd" ] || [ "${1:0:1}" = "-" ]; then
    [ "${1:-}" = "mariadbd" ] && shift
    if [ ! -d "$DATADIR/mysql" ]; then
        [ -n "${MYSQL_ROOT_PASSWORD:-}" ] || fail "MYSQL_ROOT_PASSWORD is not set"
        echo "docker-entrypoint: initialising $DATADIR"
        mariadb-install-db --datadir="$DATADIR" --auth-root-authentication-method=normal \
            --skip-test-db >/dev/null
        mariadbd --datadir="$DATADIR" --skip-networking --socket="$SOCKET" "$@" &
        server=$!
        for _ in $(seq 60); do
            mariadb-admin --socket="$SOCKET" ping >/dev/null 2>&1 && break
            kill -0 "$server" 2>/dev/null || fail "the server stopped during initialisation"
            sleep 1
        done
        mariadb-admin --socket="$SOCKET" ping >/dev/null 2>&1 || fail "the server did not start in 60 s"
        sql() { mariadb --socket="$SOCKET" -uroot "$@"; }
        # After the ALTER USER below; the password through the environment, not the command line.
        sql_root() { MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mariadb --socket="$SOCKET" -uroot "$@"; }
        {
            echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD//\'/\'\'}';"
            echo "CREATE USER 'root'@'%' IDENTIFIED BY '${MYSQL_ROOT_PASSWORD//\'/\'\'}';"
            echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
            if [ -n "${MYSQL_DATABASE:-}" ]; then
                echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\` CHARACTER SET utf8mb4;"
                if [ -n "${MYSQL_USER:-}" ]; then
                    echo "CREATE USER '${MYSQL_USER}'@'%' IDENTIFIED BY '${MYSQL_PASSWORD//\'/\'\'}';"
                    echo "GRANT ALL ON \`${MYSQL_DATABASE}\`.* TO '${MYSQL_USER}'@'%';"
                fi
            fi
            echo "FLUSH PRIVILEGES;"
        } | sql
        shopt -s nullglob
        for file in /docker-entrypoint-initdb.d/*; do
            case "$file" in
                *.sql) echo "docker-entrypoint: running $file"; sql_root "${MYSQL_DATABASE:-mysql}" < "$file" ;;
                *.sql.gz) echo "docker-entrypoint: running $file"; gunzip -c "$file" | sql_root "${MYSQL_DATABASE:-mysql}" ;;
                *) echo "docker-entrypoint: ignoring $file" ;;
            esac
        done
        MYSQL_PWD="$MYSQL_ROOT_PASSWORD" mariadb-admin --socket="$SOCKET" -uroot shutdown
        wait "$server" || true
        echo "docker-entrypoint: initialisation done"
    fi
    exec mariadbd --datadir="$DATADIR" --bind-address=0.0.0.0 --socket="$SOCKET" "$@"
fi
exec "$@"
