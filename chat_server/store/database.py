"""The PostgreSQL connection pool, and the embedded server used when no DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import warnings
from pathlib import Path
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger(__name__)


# A statement that runs longer than this is a bug or an attack; fail it rather than pile up.
STATEMENT_TIMEOUT_MS = 15_000
# How long a request may wait for a free pooled connection before it gets a 503.
POOL_ACQUIRE_TIMEOUT_S = 10.0
# Under DATA_DIR: pgserver's own log (initdb's and pg_ctl's full output, every command it
# runs). A first start would otherwise bury the server's one useful line under ~55 lines
# of it. PostgreSQL's server log is DATA_DIR/pg/log.
EMBEDDED_LOG_NAME = "postgres.log"
# platformdirs warns, when pgserver is imported, that XDG_RUNTIME_DIR is unset (a container,
# a cron job, `su`) and falls back to /tmp/runtime-<uid>, which is all pgserver needs (a
# local directory for its lock file). Nothing for the user to act on.
_RUNTIME_DIR_WARNING = r"XDG_RUNTIME_DIR is not set"


async def start_embedded_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or reuse) a real PostgreSQL from the pgserver package under `data_dir/pg`.

    Returns the connection URI and the server handle. The data directory is kept across
    restarts, so everything stored survives them. pgserver's chatter goes to
    `data_dir/postgres.log`; the server's own log gets one line.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=_RUNTIME_DIR_WARNING)
        import pgserver  # imported lazily: only the embedded default needs it

    pgdata = (data_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    log_path = pgdata.parent / EMBEDDED_LOG_NAME
    _log_pgserver_to(log_path)
    await asyncio.to_thread(_forget_dead_handles, pgdata, pgserver.PostgresServer._lock)
    try:
        server = await asyncio.to_thread(pgserver.get_server, pgdata, cleanup_mode="stop")
    except Exception:
        log.error("embedded_postgres_failed", pgdata=str(pgdata), details=str(log_path))
        raise
    uri = server.get_uri()
    log.info("embedded_postgres_started", pgdata=str(pgdata), log=str(log_path))
    return uri, server


class _PgserverLogFile(logging.FileHandler):
    """The handler `_log_pgserver_to` installs (a type of its own, so it can be replaced)."""


def _log_pgserver_to(path: Path) -> None:
    """Send the `pgserver` logger (initdb/pg_ctl command lines and their output) to `path`
    only, not to the process's log stream; its warnings and errors are there too, and a
    failed start still raises with the reason."""
    logger = logging.getLogger("pgserver")
    for old in [h for h in logger.handlers if isinstance(h, _PgserverLogFile)]:
        logger.removeHandler(old)
        old.close()
    handler = _PgserverLogFile(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False


def _forget_dead_handles(pgdata: Path, lock: Any) -> None:
    """Drop processes that no longer run from pgserver's list of handle holders.

    pgserver stops its postgres when the last process in `pgdata/.handle_pids.json` exits
    cleanly. A server that crashed (SIGKILL, OOM) never removes its pid, so without this no
    later clean exit would ever stop postgres again: it would outlive every restart.
    """
    path = pgdata / ".handle_pids.json"
    with lock:  # the lock pgserver itself holds while it edits that list
        try:
            pids = json.loads(path.read_text())
        except (OSError, ValueError):
            return
        alive = [pid for pid in pids if _process_exists(pid)]
        if alive != pids:
            path.write_text(json.dumps(alive))


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def _reset_connection(conn: asyncpg.Connection) -> None:
    """On release: roll back a transaction left open, and nothing else.

    asyncpg's default reset sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *;
    RESET ALL` on every release: one more round trip for each message, doubling the
    database work of a room message (one INSERT statement). We hold no session state
    across a release: no LISTEN, no session-level SET (server settings are the
    connection's defaults), cursors only inside transactions, and the one session-level
    advisory lock (migrations) is released by the same code that takes it.
    """
    if conn.is_in_transaction():
        await conn.execute("ROLLBACK")


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    """A pool whose connections are checked before use, so a PostgreSQL restart heals."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        reset=_reset_connection,
        server_settings={
            "statement_timeout": str(STATEMENT_TIMEOUT_MS),
            "application_name": "chat-server",
        },
    )
    assert pool is not None
    return pool
