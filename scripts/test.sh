#!/usr/bin/env bash
# Set up (scripts/setup.sh --test) and run every check: ruff, mypy, the security scan, the
# pytest suite, and (without arguments) the realtime and cluster tests on the lowest
# declared dependency versions (scripts/test_lowest.sh).
# Extra arguments go to pytest, e.g. `scripts/test.sh -k lobby -x`.
#
# The tests need a PostgreSQL superuser at CHAT_TEST_PG_URL
# (default postgresql://postgres@127.0.0.1:5432/postgres; each run creates and drops its own
# database) and Redis at CHAT_TEST_REDIS_URL (default redis://127.0.0.1:6379/15).
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."

bash scripts/setup.sh --test

export PATH="$PWD/.venv/bin:$PATH"
export CHAT_TEST_PG_URL="${CHAT_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
export CHAT_TEST_REDIS_URL="${CHAT_TEST_REDIS_URL:-redis://127.0.0.1:6379/15}"

# The services must answer before the suite starts: a clear message beats 200 failing tests.
.venv/bin/python - <<'PY'
import asyncio
import os
import sys

import asyncpg
import redis.asyncio as aioredis


async def main() -> int:
    bad = []
    pg = os.environ["CHAT_TEST_PG_URL"]
    try:
        conn = await asyncpg.connect(pg, timeout=5)
        await conn.close()
    except Exception as exc:
        bad.append(f"PostgreSQL does not answer at {pg}: {type(exc).__name__}: {exc}\n"
                   "  start it (Debian: pg_ctlcluster <version> main start) or set CHAT_TEST_PG_URL "
                   "to a superuser URL")
    rd = os.environ["CHAT_TEST_REDIS_URL"]
    try:
        client = aioredis.from_url(rd, socket_connect_timeout=5)
        await client.ping()
        await client.aclose()
    except Exception as exc:
        bad.append(f"Redis does not answer at {rd}: {type(exc).__name__}: {exc}\n"
                   "  start it (redis-server --daemonize yes) or set CHAT_TEST_REDIS_URL")
    for line in bad:
        print(f"test: ERROR: {line}", file=sys.stderr)
    return 1 if bad else 0


sys.exit(asyncio.run(main()))
PY

status=0
step() {
    printf '\n==> %s\n' "$*"
    if ! "$@"; then
        printf '==> FAILED: %s\n' "$*" >&2
        status=1
    fi
}
step ruff check .
step mypy
step bash scripts/security_scan.sh
step python -m pytest -q "$@"
# The realtime and cluster tests again, on the lowest versions setup.cfg allows (a few
# minutes): only for the whole suite, not for a run narrowed by pytest arguments.
if [ "$#" -eq 0 ]; then
    step bash scripts/test_lowest.sh
else
    printf '\n==> skipped scripts/test_lowest.sh (pytest arguments given)\n'
fi

if [ "$status" -ne 0 ]; then
    printf '\ntest: some checks failed (see above)\n' >&2
fi
exit "$status"
