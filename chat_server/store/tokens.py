"""Refresh-token rows (only their hashes are stored)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from chat_server.store.queries import fetch_all, queries


async def insert_refresh_token(
    conn: asyncpg.Connection, user_id: UUID, family_id: UUID, token_hash: str, expires_at: datetime
) -> None:
    await queries.tokens.insert_refresh_token(
        conn, user_id=user_id, family_id=family_id, token_hash=token_hash, expires_at=expires_at
    )


async def lock_refresh_token(conn: asyncpg.Connection, token_hash: str) -> dict[str, Any] | None:
    """The token row, locked for the rest of the caller's transaction."""
    row = await queries.tokens.lock_refresh_token(conn, token_hash=token_hash)
    return dict(row) if row else None


async def mark_rotated(conn: asyncpg.Connection, token_id: UUID) -> None:
    await queries.tokens.mark_refresh_token_rotated(conn, token_id=token_id)


async def revoke_family(conn: asyncpg.Connection, family_id: UUID) -> None:
    await queries.tokens.revoke_refresh_family(conn, family_id=family_id)


async def revoke_other_families(
    conn: asyncpg.Connection, user_id: UUID, keep_family_id: UUID
) -> set[UUID]:
    """Revoke all of a user's login sessions except `keep_family_id`; the ones revoked."""
    rows = await fetch_all(
        queries.tokens.revoke_other_families(conn, user_id=user_id, keep_family_id=keep_family_id)
    )
    return {row["family_id"] for row in rows}


async def delete_expired(conn: asyncpg.Connection) -> None:
    await queries.tokens.delete_expired_refresh_tokens(conn)
