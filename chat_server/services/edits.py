"""Editing and deleting messages, their edit history, and the change feed (docs/contract.md §12).

Owns: what an edit and a delete do to a message (the new text rendered and sanitised like a
send, the replaced version kept; a tombstone without text, file, reactions, pin or
history), the edit history, and the change feed a client recovers from
(`GET /api/rooms/:id/changes`, `sync`'s `changes`).
Must not: decide who may do it (services/access.py: `may_edit`, `may_delete`), or run the
changing transaction or announce anything itself (services/changes.py, `MessageChanges`).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict, NotFound
from chat_server.services import access, wire
from chat_server.services.changes import MessageChanges, Row
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.render import render_markdown
from chat_server.services.rooms import readable_room
from chat_server.store import changes as change_store


class EditService:
    """Edit and delete messages; read their edit history and a room's change feed."""

    def __init__(self, pool: asyncpg.Pool, changes: MessageChanges, limiter: RateLimiter):
        self._pool = pool
        self._changes = changes
        self._limiter = limiter

    async def edit(
        self, user_id: str, room_id: UUID, message_id: UUID, content: str
    ) -> dict[str, Any]:
        """Replace the text of the caller's own message; the previous version goes to the
        edit history. The same text again changes nothing (no change number, no event).

        An edit counts against the sender's `messages` rate limit: it reaches every member
        like a message does.
        """
        uid = UUID(user_id)
        async with self._pool.acquire() as conn:
            await access.may_read_room(conn, room_id, uid)
        await self._limiter.hit("messages", user_id)
        html = render_markdown(content)

        async def mutate(conn: asyncpg.Connection, row: Row) -> bool:
            await access.may_edit(conn, room_id, uid, row)
            if row["content"] == content:
                return False
            if row["message_type"] == "text" and not content.strip():
                # Files may have an empty caption; text must say something (as when sent).
                # The stored message decides, so a well-formed body that does not fit it
                # is a 409, as for a file sent with the wrong messageType.
                raise Conflict(
                    "A text message cannot be blank", fields={"content": ["Must not be blank."]}
                )
            await change_store.record_edit(conn, row)
            await change_store.edit_message(conn, message_id, content, html)
            return True

        return await self._changes.apply(room_id, message_id, mutate)

    async def delete(self, user_id: str, room_id: UUID, message_id: UUID) -> dict[str, Any]:
        """Turn a message into a tombstone; returns it. Deleting a tombstone again answers
        it unchanged (no change number, no event)."""
        uid = UUID(user_id)
        async with self._pool.acquire() as conn:
            await access.may_read_room(conn, room_id, uid)

        async def mutate(conn: asyncpg.Connection, row: Row) -> bool:
            await access.may_delete(conn, room_id, uid, row)
            if row["deleted_at"] is not None:
                return False
            await change_store.tombstone(conn, message_id, uid)
            return True

        return await self._changes.apply(room_id, message_id, mutate)

    async def edits(self, user_id: str, room_id: UUID, message_id: UUID) -> dict[str, Any]:
        """The earlier versions of a message, oldest first, and the message as it is now.
        For whoever may read the room's history (a public room's history is public)."""
        async with self._pool.acquire() as conn:
            await readable_room(conn, room_id, UUID(user_id))
            row = await change_store.room_message(conn, room_id, message_id)
            if row is None:
                raise NotFound("Message not found")
            versions = await change_store.list_edits(conn, message_id)
        return {
            "edits": [
                {
                    "content": v["content"],
                    "contentHtml": v["content_html"],
                    "writtenAt": wire.iso(v["written_at"]),
                    "replacedAt": wire.iso(v["replaced_at"]),
                }
                for v in versions
            ],
            "message": wire.changed_message(row),
        }

    async def changes(self, user_id: str, room_id: UUID, after: int, limit: int) -> dict[str, Any]:
        """`GET /api/rooms/:id/changes`: for whoever may read the room's history."""
        async with self._pool.acquire() as conn:
            await readable_room(conn, room_id, UUID(user_id))
            return await change_page(conn, room_id, after=after, limit=limit)


async def change_page(
    conn: asyncpg.Connection, room_id: UUID, *, after: int, limit: int
) -> dict[str, Any]:
    """One page of a room's change feed: the current state of each message changed after
    change number `after`, in change order, and the cursor to continue from.

    Read in one REPEATABLE READ snapshot: changes commit in change order (the rooms row
    lock), so a snapshot holds every change up to the room's counter and none after it,
    and `changeSeq` (the counter, when nothing more is left) hides no change. With
    `hasMore`, `changeSeq` is the last returned message's number instead. `conn` must not
    be in a transaction already.
    """
    async with conn.transaction(isolation="repeatable_read", readonly=True):
        rows = await change_store.changes_after(conn, room_id, after, limit + 1)
        counter = await change_store.room_change_seq(conn, room_id)
    has_more = len(rows) > limit
    rows = rows[:limit]
    cursor = rows[-1]["change_seq"] if has_more else counter
    return {
        "messages": [wire.changed_message(r) for r in rows],
        "changeSeq": cursor,
        "hasMore": has_more,
    }
