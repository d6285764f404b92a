#!/usr/bin/env bash
# End-to-end check of the Docker deployment on a machine with a Docker daemon (not part of CI: slow).
# Builds the image, starts the paper profile (mysql-db + dashboard + strategy-15m-paper) under its
# own project name with throwaway passwords, waits for health, checks that the dashboard answers and
# that the strategy container writes monitor and state rows into the mysql-db container's database,
# stops the strategy with SIGTERM (docker-compose stop), checks that it exited 0 and saved its state,
# then removes everything it created (containers, network, volumes).
#
#   deploy/smoke.sh [--pip-cert FILE] [--keep] [--speed N] [--timeout SECONDS]
#
# --pip-cert FILE  a CA bundle for pip in the build stage (networks that intercept TLS only)
# --keep           leave the stack running (tear it down with the command printed at the end)
# --speed N        replay speed (default 120: the replay is still running when the stop is sent)
# --timeout S      bound on every wait (default 900)
# Environment: DOCKER (default docker), COMPOSE (default docker-compose), SMOKE_DASHBOARD_PORT
# (default 5007), SMOKE_BUILD_TIMEOUT (seconds, default 5400), DEBIAN_MIRROR.
#
# Base images: python:3.11-slim-bookworm and mysql:8.0 are pulled when the registry can be reached.
# When it cannot, a bookworm base is made with debootstrap (needs root) and tagged
# debian:bookworm-slim, python:3.11-slim-bookworm is stood in by deploy/local/python.Dockerfile,
# and the database by Debian's MariaDB (deploy/local/mariadb.Dockerfile, docker-compose.local-db.yml).
set -euo pipefail

DEPLOY_DIR="$(cd "$(dirname "$0")" && pwd)"
ROOT_DIR="$(dirname "$DEPLOY_DIR")"
DOCKER="${DOCKER:-docker}"
COMPOSE="${COMPOSE:-docker-compose}"
PORT="${SMOKE_DASHBOARD_PORT:-5007}"
PROJECT=vsf-smoke
IMAGE=vol-strategy-framework:latest
PYTHON_IMAGE=python:3.11-slim-bookworm
MYSQL_IMAGE=mysql:8.0
LOCAL_MARIADB_IMAGE=vsf-local-mariadb:bookworm
PIP_CERT_FILE=""
KEEP=0
SPEED=120
TIMEOUT=900
BUILD_TIMEOUT="${SMOKE_BUILD_TIMEOUT:-5400}"  # the first build compiles the gateways: minutes

usage() { sed -n '2,21p' "$0" | sed 's/^# \{0,1\}//'; }
fail() { echo "smoke: FAIL: $*" >&2; exit 1; }
say() { echo "smoke: $(date -u +%H:%M:%S) $*"; }

while [ $# -gt 0 ]; do
    case "$1" in
        --pip-cert) [ $# -ge 2 ] || { echo "smoke: --pip-cert needs a file" >&2; exit 2; }
                    PIP_CERT_FILE="$2"; shift 2 ;;
        --keep) KEEP=1; shift ;;
        --speed) [ $# -ge 2 ] || { echo "smoke: --speed needs a number" >&2; exit 2; }
                 SPEED="$2"; shift 2 ;;
        --timeout) [ $# -ge 2 ] && [[ "$2" =~ ^[0-9]+$ ]] || { echo "smoke: --timeout needs seconds" >&2; exit 2; }
                   TIMEOUT="$2"; shift 2 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "smoke: unknown argument $1 (see --help)" >&2; exit 2 ;;
    esac
done
if [ -n "$PIP_CERT_FILE" ] && [ ! -f "$PIP_CERT_FILE" ]; then
    echo "smoke: --pip-cert: no file $PIP_CERT_FILE" >&2; exit 2
fi
command -v "$DOCKER" >/dev/null || fail "no $DOCKER command"
command -v "$COMPOSE" >/dev/null || fail "no $COMPOSE command"
"$DOCKER" info >/dev/null 2>&1 || fail "the Docker daemon does not answer ($DOCKER info)"
export DOCKER_BUILDKIT=0  # the classic builder: works with Docker 20.10 and without buildx

WORK="$(mktemp -d)"
COMPOSE_FILES=(-f "$DEPLOY_DIR/docker-compose.yml")
compose() { "$COMPOSE" -p "$PROJECT" "${COMPOSE_FILES[@]}" --env-file "$WORK/env" --profile paper "$@"; }
cleanup() {
    rm -f "$DEPLOY_DIR/build-ca/ca.crt"
    if [ "$KEEP" = 1 ]; then
        say "left running; remove with: $COMPOSE -p $PROJECT ${COMPOSE_FILES[*]} --env-file $WORK/env down -v"
    elif [ -f "$WORK/env" ]; then
        compose down -v --remove-orphans >/dev/null 2>&1 || true
        rm -rf "$WORK"
    fi
}
trap cleanup EXIT

# Runs "$@" until it succeeds or $TIMEOUT seconds pass.
wait_for() {
    local what="$1"; shift
    local deadline=$((SECONDS + TIMEOUT))
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || fail "$what: not within $TIMEOUT s"
        sleep 3
    done
    say "$what"
}

# ------------------------------------------------------------------------------------ base images
pull() { timeout 120 "$DOCKER" pull "$1" >/dev/null 2>&1; }
have() { "$DOCKER" image inspect "$1" >/dev/null 2>&1; }

if ! have "$PYTHON_IMAGE" && ! pull "$PYTHON_IMAGE"; then
    say "$PYTHON_IMAGE cannot be pulled: building a stand-in on a debootstrapped bookworm"
    if ! have debian:bookworm-slim; then
        command -v debootstrap >/dev/null || fail "no debootstrap (apt-get install debootstrap)"
        mirror="${DEBIAN_MIRROR:-http://deb.debian.org/debian}"
        started=$SECONDS
        timeout "$BUILD_TIMEOUT" debootstrap --variant=minbase bookworm "$WORK/rootfs" "$mirror" >"$WORK/debootstrap.log" 2>&1 \
            || { tail -20 "$WORK/debootstrap.log" >&2; fail "debootstrap"; }
        tar -C "$WORK/rootfs" -c . | "$DOCKER" import --change 'CMD ["bash"]' - debian:bookworm-slim >/dev/null
        rm -rf "$WORK/rootfs"
        say "debian:bookworm-slim from debootstrap in $((SECONDS - started)) s"
    fi
    "$DOCKER" build --network host -q -f "$DEPLOY_DIR/local/python.Dockerfile" -t "$PYTHON_IMAGE" \
        "$DEPLOY_DIR/local" >/dev/null
fi
if have "$MYSQL_IMAGE" || pull "$MYSQL_IMAGE"; then
    DB_CLIENT=mysql
else
    say "$MYSQL_IMAGE cannot be pulled: using Debian's MariaDB ($LOCAL_MARIADB_IMAGE)"
    have "$LOCAL_MARIADB_IMAGE" || "$DOCKER" build --network host -q -f "$DEPLOY_DIR/local/mariadb.Dockerfile" \
        -t "$LOCAL_MARIADB_IMAGE" "$DEPLOY_DIR/local" >/dev/null
    COMPOSE_FILES+=(-f "$DEPLOY_DIR/docker-compose.local-db.yml")
    DB_CLIENT=mariadb
fi

# ------------------------------------------------------------------------------------------- build
[ -z "$PIP_CERT_FILE" ] || cp "$PIP_CERT_FILE" "$DEPLOY_DIR/build-ca/ca.crt"
say "building $IMAGE"
started=$SECONDS
timeout "$BUILD_TIMEOUT" "$DOCKER" build --network host -f "$DEPLOY_DIR/Dockerfile" -t "$IMAGE" "$ROOT_DIR" \
    >"$WORK/build.log" 2>&1 \
    || { tail -30 "$WORK/build.log" >&2; fail "docker build"; }
rm -f "$DEPLOY_DIR/build-ca/ca.crt"
size=$("$DOCKER" image inspect -f '{{.Size}}' "$IMAGE")
say "built in $((SECONDS - started)) s; image size $((size / 1000000)) MB"
say "image: locale $("$DOCKER" run --rm "$IMAGE" sh -c 'locale -a | grep -i gb18030'), time zone" \
    "$("$DOCKER" run --rm "$IMAGE" date +%Z), user $("$DOCKER" run --rm "$IMAGE" id -un)"

# ------------------------------------------------------------------------------------------- start
token="$(head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n')"
db_password="$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')"
cat >"$WORK/env" <<ENV
MYSQL_ROOT_PASSWORD=root-$db_password
MYSQL_DATABASE=volatility_strategy
MYSQL_USER=vsf
MYSQL_PASSWORD=$db_password
DASHBOARD_TOKEN=$token
DASHBOARD_PORT=$PORT
PAPER_REPLAY_SPEED=$SPEED
ENV
if (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null; then
    fail "port $PORT is taken on this machine: set SMOKE_DASHBOARD_PORT"
fi
compose config -q
compose up -d --no-build
healthy() { [ "$("$DOCKER" inspect -f '{{.State.Health.Status}}' "$(compose ps -q "$1")")" = healthy ]; }
wait_for "mysql-db is healthy" healthy mysql-db
wait_for "dashboard is healthy" healthy dashboard

sql() {
    compose exec -T -e MYSQL_PWD="$db_password" mysql-db "$DB_CLIENT" -N -B -uvsf volatility_strategy -e "$1"
}
count() { sql "SELECT COUNT(*) FROM $1" 2>/dev/null | tr -d '[:space:]'; }
rows_in() { local n; n="$(count "$1")"; [ -n "$n" ] && [ "$n" -gt 0 ]; }

code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$PORT/")
say "GET http://127.0.0.1:$PORT/ -> HTTP $code (a redirect to the login form: the token is on)"
[ "$code" = 302 ] || [ "$code" = 200 ] || fail "the dashboard answered HTTP $code"
wait_for "monitor rows written by strategy-15m-paper" rows_in monitor_signal_snapshot
wait_for "state rows written by strategy-15m-paper (autosave)" rows_in strategy_state
variants=$(curl -fsS -H "Authorization: Bearer $token" "http://127.0.0.1:$PORT/api/variants")
say "dashboard /api/variants: $variants"
[[ "$variants" == *paper-15m* ]] || fail "the dashboard does not list paper-15m"
state_before="$(count strategy_state)"
say "rows: monitor_signal_snapshot=$(count monitor_signal_snapshot) strategy_state=$state_before" \
    "strategy_event=$(count strategy_event)"

# ------------------------------------------------------------------------------------------- stop
container="$(compose ps -q strategy-15m-paper)"
running="$("$DOCKER" inspect -f '{{.State.Running}}' "$container")"
[ "$running" = true ] \
    || say "note: the replay had already finished before the stop (a lower --speed keeps it running longer)"
started=$SECONDS
compose stop -t 90 strategy-15m-paper
exit_code="$("$DOCKER" inspect -f '{{.State.ExitCode}}' "$container")"
say "strategy-15m-paper stopped in $((SECONDS - started)) s with exit code $exit_code"
[ "$exit_code" = 0 ] || fail "strategy-15m-paper exited with $exit_code"
state_after="$(count strategy_state)"
say "strategy_state rows: $state_before before the stop, $state_after after"
if [ "$running" = true ]; then
    [ "$state_after" -gt "$state_before" ] || fail "no state saved on SIGTERM"
fi
compose logs --no-color strategy-15m-paper | grep -E 'stopp|signal|exits|saved' | tail -8 || true
compose ps
say "PASS"
