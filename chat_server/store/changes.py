"""Message changes (docs/contract.md §12): the room's change counter and the changed row.

Every change to a message (edit, delete, reaction, thread reply count, pin) takes the
room's next change number in its own transaction, and the changed message row records it.
Functions take the caller's connection: the service owns the transaction.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.store.queries import queries

Row = dict[str, Any]


async def next_change_seq(conn: asyncpg.Connection, room_id: UUID) -> int:
    """The room's next change number. Must run inside the changing transaction: the rooms
    row stays locked until commit, so commit order equals change order (no change that
    commits late can hide behind a later number), and a rolled-back change leaves no gap."""
    value = await queries.changes.next_change_seq(conn, room_id=room_id)
    if value is None:
        raise LookupError(f"room {room_id} does not exist")
    return int(value)


async def lock_message(conn: asyncpg.Connection, room_id: UUID, message_id: UUID) -> Row | None:
    """The message row, locked until the transaction ends; None if not in this room."""
    row = await queries.changes.lock_message(conn, room_id=room_id, message_id=message_id)
    return dict(row) if row else None


async def stamp_change(conn: asyncpg.Connection, message_id: UUID, change_seq: int) -> None:
    await queries.changes.stamp_change(conn, message_id=message_id, change_seq=change_seq)


async def current_message(conn: asyncpg.Connection, message_id: UUID) -> Row | None:
    """The message as history returns it (sender's name, file columns)."""
    row = await queries.changes.current_message(conn, message_id=message_id)
    return dict(row) if row else None
