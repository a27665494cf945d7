"""Messages: insert with the next per-room seq, keyset pages by seq."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.store.queries import fetch_all, queries

Row = dict[str, Any]


async def find_by_client_msg_id(
    conn: asyncpg.Connection, user_id: UUID, client_msg_id: str
) -> Row | None:
    row = await queries.messages.find_by_client_msg_id(
        conn, user_id=user_id, client_msg_id=client_msg_id
    )
    return dict(row) if row else None


async def insert_message(
    conn: asyncpg.Connection,
    *,
    room_id: UUID,
    user_id: UUID,
    content: str,
    content_html: str,
    message_type: str,
    file_id: UUID | None,
    client_msg_id: str | None,
    thread_id: UUID | None = None,
) -> Row:
    """Store a message with the room's next seq (a reply names its thread's root). Must run
    inside the caller's transaction: the rooms row stays locked until commit, so commit
    order equals seq order."""
    row = await queries.messages.insert_message(
        conn,
        room_id=room_id,
        user_id=user_id,
        content=content,
        content_html=content_html,
        message_type=message_type,
        file_id=file_id,
        client_msg_id=client_msg_id,
        thread_id=thread_id,
    )
    return dict(row)


async def advance_read_pointer(
    conn: asyncpg.Connection, room_id: UUID, user_id: UUID, seq: int
) -> None:
    await queries.messages.advance_read_pointer(conn, room_id=room_id, user_id=user_id, seq=seq)


async def messages_before(
    conn: asyncpg.Connection, room_id: UUID, before: int, limit: int
) -> list[Row]:
    """Older messages, returned in ascending seq order."""
    rows = await fetch_all(
        queries.messages.messages_before(conn, room_id=room_id, before=before, limit=limit)
    )
    return [dict(r) for r in reversed(rows)]


async def messages_after(
    conn: asyncpg.Connection, room_id: UUID, after: int, limit: int
) -> list[Row]:
    rows = await fetch_all(
        queries.messages.messages_after(conn, room_id=room_id, after=after, limit=limit)
    )
    return [dict(r) for r in rows]


async def insert_room_message(
    conn: asyncpg.Connection,
    *,
    room_id: UUID,
    user_id: UUID,
    content: str,
    content_html: str,
    message_type: str,
    client_msg_id: str | None,
) -> Row | None:
    """Store a member's text message in one round trip (atomic as one statement); None
    when the sender may not post there (not a member, or blocked in a direct room)."""
    row = await queries.messages.insert_room_message(
        conn,
        room_id=room_id,
        user_id=user_id,
        content=content,
        content_html=content_html,
        message_type=message_type,
        client_msg_id=client_msg_id,
    )
    return dict(row) if row else None
