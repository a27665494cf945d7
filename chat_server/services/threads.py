"""Threads (docs/contract.md §12): which message a reply may answer, the root's reply count,
and a thread's page.

A reply is an ordinary message of its room (own seq, same delivery) whose `thread_id` is a
root: a message of the same room that is not itself a reply and not deleted. The root's
reply count changes in the reply's own transaction (posting.MessageWriter) and takes the
room's next change number like any change, so the root's `message_updated` is recovered
like the others.
Must not: emit anything (MessageService announces the reply and the root).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict, NotFound
from chat_server.services import wire
from chat_server.services.access import refuse_deleted
from chat_server.store import changes as change_store
from chat_server.store import threads as thread_store

THREAD_NOT_FOUND = "Thread not found"
# A thread is one level deep: replies to a reply go to its root.
REPLY_TO_REPLY = "This message is a reply: answer its thread's root (its threadId)"


async def check_root(conn: asyncpg.Connection, room_id: UUID, root_id: UUID) -> None:
    """`root_id` may take a reply in this room: 404 when it is no message of the room, 409
    when it is a reply itself or deleted."""
    root = await thread_store.thread_root(conn, room_id, root_id)
    if root is None:
        raise NotFound(THREAD_NOT_FOUND, fields={"threadId": ["No such message in this room."]})
    if root["thread_id"] is not None:
        raise Conflict(REPLY_TO_REPLY, fields={"threadId": ["Must be a root message."]})
    refuse_deleted(root)


async def count_reply(
    conn: asyncpg.Connection, room_id: UUID, root_id: UUID, replied_at: datetime
) -> tuple[dict[str, Any], int]:
    """Inside the reply's transaction, after its insert (which holds the rooms row): count
    the reply on its root and stamp the root with the room's next change number. Returns
    the root's current row and that number. The root's state cannot change between here
    and commit (every change takes the rooms row first); if it changed since `check_root`
    (deleted meanwhile), the reply is refused and rolled back."""
    change_seq = await thread_store.count_reply(conn, room_id, root_id, replied_at)
    if change_seq is None:
        await check_root(conn, room_id, root_id)
        raise Conflict("The thread changed; retry")
    root = await change_store.current_message(conn, root_id)
    assert root is not None
    return root, change_seq


async def thread_page(
    conn: asyncpg.Connection, room_id: UUID, root_id: UUID, *, after: int, limit: int
) -> dict[str, Any]:
    """{root, messages, hasMore}: the root's current state and its replies after seq
    `after`, oldest first. The caller checked that the room is readable."""
    root = await change_store.current_message(conn, root_id)
    if root is None or root["room_id"] != room_id:
        raise NotFound(THREAD_NOT_FOUND)
    if root["thread_id"] is not None:
        raise Conflict(REPLY_TO_REPLY)
    rows = await thread_store.replies(conn, root_id, after, limit + 1)
    return {
        "root": wire.message(root),
        "messages": [wire.message(r) for r in rows[:limit]],
        "hasMore": len(rows) > limit,
    }
