#!/usr/bin/env bash
# Set up a development environment from the repo's own files. Safe to run again.
#
#   scripts/setup.sh          .venv with the package and its dev extra (pip install -e ".[dev]"),
#                             and, when npm is there, the npm packages (package.json: the
#                             Socket.IO client of the compatibility tests; the web UI ships
#                             its own copy in chat_server/static/vendor/)
#   scripts/setup.sh --test   also what the test suite needs: system packages (haproxy,
#                             chromium), installed only if missing
#
# PYTHON picks the interpreter for a new .venv (default: python3, which must be 3.11 or newer).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

want_test=0
for arg in "$@"; do
    case "$arg" in
        --test) want_test=1 ;;
        -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
        *) echo "setup.sh: unknown argument: $arg" >&2; exit 2 ;;
    esac
done

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: ERROR: %s\n' "$*" >&2; exit 1; }
quietly() {  # run a command with its output kept aside, shown only if it fails
    local log rc=0
    log="$(mktemp)"
    "$@" >"$log" 2>&1 || rc=$?
    if [ "$rc" -ne 0 ]; then
        cat "$log" >&2
        rm -f "$log"
        die "failed (exit $rc): $*"
    fi
    rm -f "$log"
}

# --- Python: .venv with the package installed editable, with the dev tools ---------------
python="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    command -v "$python" >/dev/null 2>&1 || die "$python not found; install Python 3.11+ (or set PYTHON=/path/to/python3.11)"
    "$python" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
        || die "$("$python" --version 2>&1) is too old; Python 3.11+ is needed (set PYTHON=/path/to/python3.11)"
    say "creating .venv with $("$python" --version 2>&1)"
    "$python" -m venv .venv || die "python -m venv failed (on Debian: apt-get install python3-venv)"
fi
export PIP_DISABLE_PIP_VERSION_CHECK=1
# requirements/lock.txt pins every package to the versions CI tests (generated from setup.cfg
# by uv; README "Dependencies" says how to update it).
say "installing Python packages into .venv (versions from requirements/lock.txt)"
quietly .venv/bin/python -m pip install -c requirements/lock.txt pip
quietly .venv/bin/python -m pip install -c requirements/lock.txt -e ".[dev]"

# --- Node packages: the Socket.IO JavaScript client of the compatibility tests (tests/compat)
# --- and the vendored-client check. Not needed to run the server or its web UI. Skipped when
# --- node_modules matches package-lock.json.
if [ -f package.json ]; then
    if ! command -v npm >/dev/null 2>&1; then
        [ "$want_test" = 1 ] && die "npm not found; install Node.js 20+ with npm"
        say "npm not found: skipping the Node packages (only the compatibility tests need them; the server and its web UI do not)"
    elif [ -f node_modules/.package-lock.json ] && [ node_modules/.package-lock.json -nt package-lock.json ]; then
        say "Node packages are up to date"
    else
        say "installing Node packages (npm ci)"
        quietly npm ci --no-audit --no-fund
    fi
fi

[ "$want_test" = 1 ] || exit 0

# --- System packages used by the tests, each installed only when missing -----------------
have() { command -v "$1" >/dev/null 2>&1 || [ -x "/usr/sbin/$1" ]; }  # sbin: not on a user's PATH
missing=()
have haproxy || missing+=(haproxy)      # cluster tests (HAProxy in front of several instances)
have chromium || missing+=(chromium)    # browser tests (driven by the `playwright` package of the dev extra; never `playwright install`)

if [ "${#missing[@]}" -gt 0 ]; then
    command -v apt-get >/dev/null 2>&1 || die "missing system packages: ${missing[*]} (no apt-get here; install them by hand)"
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null 2>&1 || die "missing system packages: ${missing[*]}; run as root or install them by hand"
        sudo=(sudo)
    fi
    say "installing system packages: ${missing[*]}"
    apt=("${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get)   # env: sudo drops variables
    quietly "${apt[@]}" update
    quietly "${apt[@]}" install -y --no-install-recommends "${missing[@]}"
fi
