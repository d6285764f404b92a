# Sourced by run.sh and run_paper.sh (after ensure_venv.sh): one daemon per config/timeframe/*.yaml.
# Usage: run_timeframe_daemons "<mode flags>" [flags passed to every daemon...]
# Adding a file to config/timeframe/ adds a timeframe at the next start; deleting it removes one.
# SIGINT/SIGTERM are forwarded to every daemon, which stops its child cleanly; the exit code is the
# first non-zero one of the daemons (0 when all stopped cleanly or finished).

run_timeframe_daemons() {
    local mode_flags="$1"
    shift
    shopt -s nullglob
    local files=("$PROJECT_ROOT"/config/timeframe/*.yaml)
    shopt -u nullglob
    if [ "${#files[@]}" -eq 0 ]; then
        echo "error: no config/timeframe/*.yaml: add one file per timeframe (see config/timeframe/15m.yaml)" >&2
        return 2
    fi
    local pids=() file
    for file in "${files[@]}"; do
        echo "starting the daemon for $(basename "$file")"
        # shellcheck disable=SC2086  # mode_flags is a list of flags
        "$PYTHON_BIN" "$PROJECT_ROOT/src/main/main.py" --mode daemon --override-config "$file" $mode_flags "$@" &
        pids+=("$!")
    done
    trap 'kill -TERM "${pids[@]}" 2>/dev/null || true' INT TERM
    local status=0 code pid
    for pid in "${pids[@]}"; do
        while true; do
            if wait "$pid"; then code=0; else code=$?; fi
            # A trapped signal interrupts wait: wait again until the daemon has really exited.
            kill -0 "$pid" 2>/dev/null || break
        done
        if [ "$code" -ne 0 ] && [ "$status" -eq 0 ]; then status=$code; fi
    done
    trap - INT TERM
    return "$status"
}
