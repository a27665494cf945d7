"""Expired refresh tokens are deleted by the housekeeping pass; live ones stay."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import asyncpg

from chat_server.api.keys import SERVICES
from chat_server.store import tokens as token_store


async def test_purge_deletes_only_long_expired_tokens(server, register, database_url):
    user = await register(server)
    conn = await asyncpg.connect(database_url)
    try:
        family = uuid.uuid4()
        now = datetime.now(UTC)
        for name, expires in (
            ("old", now - timedelta(days=2)),
            ("recent", now - timedelta(hours=1)),
        ):
            await token_store.insert_refresh_token(
                conn,
                uuid.UUID(user.id),
                family,
                f"{name}-{family.hex}".ljust(64, "0")[:64],
                expires,
            )
        await server.app[SERVICES].auth.purge_expired_tokens()
        left = await conn.fetch(
            "SELECT token_hash FROM refresh_tokens WHERE family_id = $1", family
        )
        assert [r["token_hash"].startswith("recent") for r in left] == [True]
        # The user's own live session is untouched.
        count = await conn.fetchval(
            "SELECT count(*) FROM refresh_tokens WHERE user_id = $1 AND expires_at > now()",
            uuid.UUID(user.id),
        )
        assert count == 1
    finally:
        await conn.close()
