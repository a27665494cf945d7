"""Message changes (docs/contract.md §12): the room's change counter.

Every change to a message (edit, delete, reaction, thread reply count, pin) takes the
room's next change number in its own transaction, and the changed message row records it.
"""

from __future__ import annotations

from uuid import UUID

import asyncpg

from chat_server.store.queries import queries


async def next_change_seq(conn: asyncpg.Connection, room_id: UUID) -> int:
    """The room's next change number. Must run inside the changing transaction: the rooms
    row stays locked until commit, so commit order equals change order (no change that
    commits late can hide behind a later number)."""
    value = await queries.changes.next_change_seq(conn, room_id=room_id)
    if value is None:
        raise LookupError(f"room {room_id} does not exist")
    return int(value)
