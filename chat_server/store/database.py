"""The PostgreSQL connection pool, and the embedded server used when no DATABASE_URL is set."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import asyncpg
import structlog

log = structlog.get_logger(__name__)

# Failures that mean "PostgreSQL is unreachable or restarting": the client should retry.
DATABASE_DOWN: tuple[type[BaseException], ...] = (
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.CannotConnectNowError,
    asyncpg.AdminShutdownError,
    ConnectionRefusedError,
    TimeoutError,
)

# A statement that runs longer than this is a bug or an attack; fail it rather than pile up.
STATEMENT_TIMEOUT_MS = 15_000
# How long a request may wait for a free pooled connection before it gets a 503.
POOL_ACQUIRE_TIMEOUT_S = 10.0


async def start_embedded_postgres(data_dir: Path) -> tuple[str, Any]:
    """Start (or reuse) a real PostgreSQL from the pgserver package under `data_dir/pg`.

    Returns the connection URI and the server handle. The data directory is kept across
    restarts, so everything stored survives them.
    """
    import pgserver  # imported lazily: only the embedded default needs it

    pgdata = (data_dir / "pg").resolve()
    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = await asyncio.to_thread(pgserver.get_server, pgdata, cleanup_mode="stop")
    uri = server.get_uri()
    log.info("embedded_postgres_started", pgdata=str(pgdata))
    return uri, server


async def _init_connection(conn: asyncpg.Connection) -> None:
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


async def create_pool(dsn: str, *, min_size: int, max_size: int) -> asyncpg.Pool:
    """A pool whose connections are checked before use, so a PostgreSQL restart heals."""
    pool = await asyncpg.create_pool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        init=_init_connection,
        server_settings={
            "statement_timeout": str(STATEMENT_TIMEOUT_MS),
            "application_name": "chat-server",
        },
    )
    assert pool is not None
    return pool
