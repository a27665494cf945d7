"""Pins (docs/contract.md §12): messages.pinned_at / pinned_by, and a room's pinned list."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.store.queries import fetch_all, queries

Row = dict[str, Any]


async def pin(conn: asyncpg.Connection, message_id: UUID, user_id: UUID) -> bool:
    """Pin the message; False when it was pinned already. In the changing transaction."""
    return bool(await queries.pins.pin_message(conn, message_id=message_id, user_id=user_id))


async def unpin(conn: asyncpg.Connection, message_id: UUID) -> bool:
    """Unpin the message; False when it was not pinned. In the changing transaction."""
    return bool(await queries.pins.unpin_message(conn, message_id=message_id))


async def pinned_count(conn: asyncpg.Connection, room_id: UUID) -> int:
    return int(await queries.pins.pinned_count(conn, room_id=room_id))


async def pinned_messages(conn: asyncpg.Connection, room_id: UUID, limit: int) -> list[Row]:
    """The room's pinned messages, newest pin first."""
    rows = await fetch_all(queries.pins.pinned_messages(conn, room_id=room_id, limit=limit))
    return [dict(r) for r in rows]
