"""PostgreSQL databases made for one run: created, migrated, dropped. One copy for all.

Owns: the only CREATE DATABASE / DROP DATABASE of the repository's tooling: the tests'
per-run database (tests/conftest.py), the cluster tests' per-module one
(tests/cluster/conftest.py), the migration tests' empty ones (tests/store/test_migrate.py),
and the bench's `chat_bench` and downtime databases (bench/fixtures.py, bench/downtime.py).
Schemas come from the server's own migrations (chat_server.store.migrate), so every
database is the one `chat-server migrate` makes.
Must not: import pytest or anything of bench/ (the bench imports this without pytest's
plugins; the tests must not need the bench's optional extras), read settings other than
CHAT_TEST_PG_URL's default server, or drop a database it was not named. It lives in tests/
because chat_server/ must not ship test tooling, and bench/ already builds on tests/'
helpers (bench/downtime.py drives tests/cluster/'s processes).
"""

from __future__ import annotations

import os
import uuid

import asyncpg

from chat_server.store.migrate import migrate

# The server the tests make their databases on: a connection URL to its `postgres`
# database (any existing database works; CREATE/DROP run from there).
PG_ADMIN_URL = os.environ.get("CHAT_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def db_url(name: str, admin_url: str = PG_ADMIN_URL) -> str:
    """The URL of database `name` on the admin URL's server."""
    base, _, _ = admin_url.rpartition("/")
    return f"{base}/{name}"


def unique_name(prefix: str) -> str:
    """A database name of this process's own: parallel runs on one server never meet."""
    return f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"


async def create_database(
    name: str, *, admin_url: str = PG_ADMIN_URL, migrated: bool = True, exist_ok: bool = False
) -> str:
    """Create database `name` (kept as it is when it exists and `exist_ok`), bring its
    schema up to date unless `migrated` is false, and return its URL."""
    conn = await asyncpg.connect(admin_url)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not (exists and exist_ok):
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    url = db_url(name, admin_url)
    if migrated:
        conn = await asyncpg.connect(url)
        try:
            await migrate(conn)
        finally:
            await conn.close()
    return url


async def drop_database(name: str, *, admin_url: str = PG_ADMIN_URL) -> None:
    """Drop database `name` if it exists, closing its connections first."""
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()
