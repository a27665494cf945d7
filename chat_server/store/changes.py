"""Message changes (docs/contract.md §12): the room's change counter and the changed row.

Every change to a message (edit, delete, reaction, thread reply count, pin) takes the
room's next change number in its own transaction, and the changed message row records it.
Functions take the caller's connection: the service owns the transaction.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.store.queries import fetch_all, queries

Row = dict[str, Any]


async def lock_for_change(
    conn: asyncpg.Connection, room_id: UUID, message_id: UUID
) -> tuple[int, Row] | None:
    """The room's next change number and the message row, both locked until the
    transaction ends (the rooms row first: commit order equals change order, and a
    rolled-back change leaves no gap); None when the message is not in this room."""
    row = await queries.changes.lock_for_change(conn, room_id=room_id, message_id=message_id)
    if row is None:
        return None
    locked = dict(row)
    return int(locked.pop("next_change_seq")), locked


async def stamp_and_read(conn: asyncpg.Connection, message_id: UUID, change_seq: int) -> Row:
    """Record the change number on the message and read it back whole (with the DM fields)."""
    row = await queries.changes.stamp_and_read(conn, message_id=message_id, change_seq=change_seq)
    return dict(row)


async def current_message(conn: asyncpg.Connection, message_id: UUID) -> Row | None:
    """The message as history returns it (sender's name, file columns)."""
    row = await queries.changes.current_message(conn, message_id=message_id)
    return dict(row) if row else None


async def room_message(conn: asyncpg.Connection, room_id: UUID, message_id: UUID) -> Row | None:
    """A message of this room in its current state (None when it is not in this room)."""
    row = await queries.changes.room_message(conn, room_id=room_id, message_id=message_id)
    return dict(row) if row else None


async def record_edit(conn: asyncpg.Connection, row: Row) -> None:
    """Keep the version of the locked message `row` that an edit is about to replace."""
    await queries.changes.record_edit(
        conn,
        message_id=row["id"],
        content=row["content"],
        content_html=row["content_html"],
        written_at=row["edited_at"] or row["created_at"],
    )


async def edit_message(
    conn: asyncpg.Connection, message_id: UUID, content: str, content_html: str
) -> None:
    await queries.changes.edit_message(
        conn, message_id=message_id, content=content, content_html=content_html
    )


async def list_edits(conn: asyncpg.Connection, message_id: UUID) -> list[Row]:
    """Earlier versions, oldest first."""
    rows = await fetch_all(queries.changes.list_edits(conn, message_id=message_id))
    return [dict(r) for r in rows]


async def tombstone(conn: asyncpg.Connection, message_id: UUID, deleted_by: UUID) -> None:
    """Delete a message: its edit history and reactions go, the row stays as a tombstone
    (no text, file, reactions or pin)."""
    await queries.changes.drop_edits(conn, message_id=message_id)
    await queries.changes.drop_reactions(conn, message_id=message_id)
    await queries.changes.tombstone(conn, message_id=message_id, deleted_by=deleted_by)


async def room_change_seq(conn: asyncpg.Connection, room_id: UUID) -> int:
    """Where the room's change feed stands (0 for a room without changes)."""
    value = await queries.changes.room_change_seq(conn, room_id=room_id)
    return int(value or 0)


async def changes_after(
    conn: asyncpg.Connection, room_id: UUID, after: int, limit: int
) -> list[Row]:
    """Up to `limit` messages changed after change number `after`, in change order."""
    rows = await fetch_all(
        queries.changes.changes_after(conn, room_id=room_id, after=after, limit=limit)
    )
    return [dict(r) for r in rows]
