#!/usr/bin/env bash
# Run the realtime tests and the core cluster tests against the LOWEST versions setup.cfg
# declares.
#
# setup.cfg's lower bounds are a promise: the server works with any version at or above
# each. The main suite runs on requirements/lock.txt (the newest versions); this run
# installs every directly declared package at its lowest allowed version
# (`uv pip install --resolution lowest-direct`) into a separate venv and runs the tests
# that lean on library internals (python-socketio, python-engineio, aiohttp, aiosql,
# asyncpg, redis). A failure here means a lower bound in setup.cfg is too low.
#
#   scripts/test_lowest.sh             the tests of TEST_PATHS (below)
#   scripts/test_lowest.sh -k presence extra arguments go to pytest (after TEST_PATHS)
#
# Needs scripts/setup.sh to have run (uv comes with the dev extra) and the services that
# scripts/test.sh checks. LOWEST_VENV picks the venv's place (recreated on every run;
# outside the repo so ruff, bandit and pytest never walk it).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

# The tests run here: everything that talks Socket.IO through the library internals on one
# instance (tests/realtime, ~100 s), and across instances behind HAProxy the cross-instance
# tests plus the Redis restart (the Redis manager's listener), ~30 s. The rest of
# tests/cluster (SIGKILL, rolling restart, PostgreSQL loss: ~50 s more) is left to the main
# run to keep the whole of scripts/test.sh short; `scripts/test_lowest.sh tests/cluster`
# adds it.
TEST_PATHS=(
    tests/realtime
    tests/cluster/test_cross_instance.py
    tests/cluster/test_chaos.py::test_redis_restart_loses_nothing
)

uv=.venv/bin/uv
[ -x "$uv" ] || { echo "test_lowest: $uv missing: run scripts/setup.sh first" >&2; exit 1; }
venv="${LOWEST_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/chat-server/venv-lowest}"

export UV_PYTHON_DOWNLOADS=never   # the interpreter is the one .venv was made with
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$uv" venv -q --python .venv/bin/python "$venv"
"$uv" pip install -q --python "$venv/bin/python" --resolution lowest-direct -e ".[dev]"

echo "test_lowest: lowest declared versions:"
"$uv" pip freeze -q --python "$venv/bin/python" \
    | grep -Ei '^(aiohttp|python-socketio|python-engineio|aiosql|asyncpg|redis|pytest|pytest-asyncio)==' \
    | sed 's/^/  /'

exec "$venv/bin/python" -m pytest -q -p no:cacheprovider "${TEST_PATHS[@]}" "$@"
