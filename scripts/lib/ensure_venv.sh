# Sourced by the scripts: makes .venv (Python 3.11) when missing and installs the
# project into it whenever pyproject.toml changed since the last install.
# Usage: source scripts/lib/ensure_venv.sh [extra]   (extra: "dev" for the test tools)
set -euo pipefail
PROJECT_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$PROJECT_ROOT"
EXTRA="${1:-}"

find_python() {
    for candidate in python3.11 python3 python; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(0 if sys.version_info[:2] == (3, 11) else 1)' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "error: Python 3.11 is needed (python3.11 or python3 on PATH)" >&2
    return 1
}

if [ ! -x .venv/bin/python ]; then
    PYTHON="$(find_python)"
    echo "Creating .venv with $("$PYTHON" --version)"
    "$PYTHON" -m venv .venv
fi

HASH="$(sha256sum pyproject.toml | cut -c1-16)"
STAMP=".venv/.installed-$HASH${EXTRA:+-$EXTRA}"
# An install with the dev tools also serves the scripts that need no extra.
if [ ! -f "$STAMP" ] && { [ -n "$EXTRA" ] || [ ! -f ".venv/.installed-$HASH-dev" ]; }; then
    echo "Installing the project into .venv (first run builds vnpy_ctp/vnpy_sopt: a few minutes)"
    .venv/bin/python -m pip install --quiet --upgrade pip
    # Not --quiet: pip names each package as it collects, builds and installs it, so a long first
    # install shows where it is (the C++ builds of the gateways are the longest steps). pipefail
    # keeps pip's own failure as the pipeline's.
    if [ -n "$EXTRA" ]; then
        .venv/bin/python -m pip install --progress-bar off -e ".[$EXTRA]" | { grep -E "^(Collecting|Building|Successfully|Installing)" || true; }
    else
        .venv/bin/python -m pip install --progress-bar off -e . | { grep -E "^(Collecting|Building|Successfully|Installing)" || true; }
    fi
    find .venv -maxdepth 1 -name '.installed-*' ! -name ".installed-$HASH*" -delete
    touch "$STAMP"
fi
PYTHON_BIN="$PROJECT_ROOT/.venv/bin/python"
