"""The connection pool's reset on release: a transaction left open is rolled back (so
nothing half-done leaks to the next user of the connection), connection settings stay."""

from __future__ import annotations

import uuid

from chat_server.store.database import STATEMENT_TIMEOUT_MS, create_pool


async def test_a_transaction_left_open_is_rolled_back_on_release(database_url):
    pool = await create_pool(database_url, min_size=1, max_size=1)
    table = f"pool_reset_{uuid.uuid4().hex[:8]}"
    try:
        async with pool.acquire() as conn:
            await conn.execute(f"CREATE TABLE {table} (v int)")
        async with pool.acquire() as conn:
            await conn.execute("BEGIN")
            await conn.execute(f"INSERT INTO {table} VALUES (1)")
            assert conn.is_in_transaction()
        # max_size=1: the same connection again.
        async with pool.acquire() as conn:
            assert not conn.is_in_transaction()
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 0
            await conn.execute(f"INSERT INTO {table} VALUES (2)")
            assert await conn.fetchval(f"SELECT count(*) FROM {table}") == 1
            # The pool's own settings survive releases.
            timeout_ms = await conn.fetchval(
                "SELECT setting::int FROM pg_settings WHERE name = 'statement_timeout'"
            )
            assert timeout_ms == STATEMENT_TIMEOUT_MS
            await conn.execute(f"DROP TABLE {table}")
    finally:
        await pool.close()
