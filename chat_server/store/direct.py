"""Direct conversations (rooms of kind `direct`, unique per pair) and blocks."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.store.queries import fetch_all, queries


def ordered_pair(a: UUID, b: UUID) -> tuple[UUID, UUID]:
    """A pair is stored once, lower id first."""
    return (a, b) if a < b else (b, a)


async def get_direct_room(conn: asyncpg.Connection, a: UUID, b: UUID) -> UUID | None:
    low, high = ordered_pair(a, b)
    value = await queries.direct.get_direct_room(conn, user_low=low, user_high=high)
    return value if value is None else UUID(str(value))


async def get_or_create_direct_room(
    conn: asyncpg.Connection, a: UUID, b: UUID
) -> tuple[UUID, bool]:
    """The pair's room, created with both members if new. Must run in a transaction: an
    advisory lock on the pair makes concurrent first messages agree on one room."""
    low, high = ordered_pair(a, b)
    await queries.direct.lock_pair(conn, pair_key=f"{low}:{high}")
    existing = await queries.direct.get_direct_room(conn, user_low=low, user_high=high)
    if existing is not None:
        return UUID(str(existing)), False
    room_id = UUID(str(await queries.direct.insert_direct_room(conn)))
    await queries.direct.insert_direct_pair(conn, room_id=room_id, user_low=low, user_high=high)
    await queries.direct.insert_direct_members(conn, room_id=room_id, user_low=low, user_high=high)
    return room_id, True


async def list_conversations(conn: asyncpg.Connection, user_id: UUID) -> list[dict[str, Any]]:
    return [
        dict(r) for r in await fetch_all(queries.direct.list_conversations(conn, user_id=user_id))
    ]


async def direct_partner(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> UUID | None:
    value = await queries.direct.direct_partner(conn, room_id=room_id, user_id=user_id)
    return value if value is None else UUID(str(value))


async def block(conn: asyncpg.Connection, blocker: UUID, blocked: UUID) -> None:
    await queries.direct.block_user(conn, blocker_id=blocker, blocked_id=blocked)


async def unblock(conn: asyncpg.Connection, blocker: UUID, blocked: UUID) -> None:
    await queries.direct.unblock_user(conn, blocker_id=blocker, blocked_id=blocked)


async def is_blocked(conn: asyncpg.Connection, blocker: UUID, blocked: UUID) -> bool:
    return bool(await queries.direct.is_blocked(conn, blocker_id=blocker, blocked_id=blocked))


async def insert_direct_message(
    conn: asyncpg.Connection,
    *,
    sender: UUID,
    recipient: UUID,
    content: str,
    content_html: str,
    message_type: str,
    client_msg_id: str | None,
) -> dict[str, Any]:
    """Store a text DM in an existing conversation in one round trip (one statement, so
    atomic). The row says what happened: `pair_room_id` None (no conversation yet,
    nothing stored), `blocked` (refused, nothing stored), or the message with the
    recipient's `recipient_last_read_seq`."""
    low, high = ordered_pair(sender, recipient)
    row = await queries.direct.insert_direct_message(
        conn,
        user_low=low,
        user_high=high,
        user_id=sender,
        recipient_id=recipient,
        content=content,
        content_html=content_html,
        message_type=message_type,
        client_msg_id=client_msg_id,
    )
    return dict(row)
