"""Threads (docs/contract.md §12): a reply's root, the root's reply count, a thread's replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from chat_server.store.queries import fetch_all, queries

Row = dict[str, Any]


async def thread_root(conn: asyncpg.Connection, room_id: UUID, message_id: UUID) -> Row | None:
    """The would-be root's id, thread_id and deleted_at; None if not a message of the room."""
    row = await queries.threads.thread_root(conn, room_id=room_id, message_id=message_id)
    return dict(row) if row else None


async def count_reply(
    conn: asyncpg.Connection, room_id: UUID, root_id: UUID, replied_at: datetime
) -> int | None:
    """Count a new reply on its root and stamp the root with the room's next change number
    (returned); None when the root is not a live root of the room. Must run in the reply's
    transaction, after its insert took the rooms row (rooms row first, then the message,
    the order every change takes)."""
    value = await queries.threads.count_reply(
        conn, room_id=room_id, root_id=root_id, replied_at=replied_at
    )
    return int(value) if value is not None else None


async def replies(conn: asyncpg.Connection, root_id: UUID, after: int, limit: int) -> list[Row]:
    """Up to `limit` replies after seq `after`, oldest first."""
    rows = await fetch_all(
        queries.threads.thread_replies(conn, root_id=root_id, after=after, limit=limit)
    )
    return [dict(r) for r in rows]
