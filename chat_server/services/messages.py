"""Sending and reading room messages: the delivery guarantees of docs/contract.md §7 live here.

Room messages and direct messages share one write path (services/posting.py,
`MessageWriter`): per-room seq taken under the room row's lock, idempotent retries by
clientMsgId, ack only after commit; this module then makes the announcements: the new
message, and for a thread reply the root's change (docs/contract.md §12).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import structlog

from chat_server.errors import Conflict
from chat_server.events import Event, Publisher, Target
from chat_server.services import wire
from chat_server.services.edits import change_page
from chat_server.services.posting import Draft, MessageWriter
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.rooms import readable_room
from chat_server.services.threads import thread_page
from chat_server.store import messages as message_store
from chat_server.store import rooms as room_store

log = structlog.get_logger(__name__)

# How many missed messages one `sync` returns per room; the client pages on with `after=`.
SYNC_PAGE_SIZE = 100


class MessageService:
    """Room messages: send, history pages, sync after a reconnect."""

    def __init__(
        self, pool: asyncpg.Pool, publisher: Publisher, store: MessageWriter, limiter: RateLimiter
    ):
        self._pool = pool
        self._publisher = publisher
        self._store = store
        self._limiter = limiter

    async def send(self, draft: Draft, room_id: UUID) -> tuple[dict[str, Any], bool]:
        """Store a message in a room the sender belongs to and announce `new_message`.

        Returns the message object and whether it is new (a retry is not re-announced).
        A thread reply (`draft.thread_id`) also announces its root's change,
        `message_updated` {message, changeSeq}, after the reply's `new_message`.
        """
        root = None
        if draft.thread_id is not None:
            row, created, root = await self._store.persist_reply(draft, room_id)
        else:
            row, created = await self._store.persist_in_room(draft, room_id)
        if str(row["room_id"]) != str(room_id) or row.get("thread_id") != draft.thread_id:
            # The clientMsgId was first used for another room or thread: not a retry.
            raise Conflict("clientMsgId already used for another message")
        message = wire.message(row)
        if created:
            await self._publisher.publish(
                Event("new_message", {"message": message}, Target.room(room_id))
            )
        if root is not None:
            root_row, change_seq = root
            await self._publisher.publish(
                Event(
                    "message_updated",
                    {"message": wire.changed_message(root_row), "changeSeq": change_seq},
                    Target.room(room_id),
                )
            )
        return message, created

    async def thread(
        self, *, user_id: str, room_id: UUID, message_id: UUID, after: int, limit: int
    ) -> dict[str, Any]:
        """A thread: {root, messages (replies after seq `after`), hasMore}, for readers of
        the room."""
        async with self._pool.acquire() as conn:
            await readable_room(conn, room_id, UUID(user_id))
            return await thread_page(conn, room_id, message_id, after=after, limit=limit)

    async def history(
        self,
        *,
        user_id: str,
        room_id: UUID,
        limit: int,
        before: int | None = None,
        after: int | None = None,
    ) -> dict[str, Any]:
        """One keyset page of a room's history in seq order, with `hasMore`.

        `before=N` pages backwards from N (default: the newest), `after=N` forwards.
        """
        async with self._pool.acquire() as conn:
            room = await readable_room(conn, room_id, UUID(user_id))
            return await history_page(conn, room, limit=limit, before=before, after=after)

    async def sync(
        self, *, user_id: str, rooms: dict[UUID, int], changes: dict[UUID, int] | None = None
    ) -> dict[str, Any]:
        """What the user missed in each room after the seq they last saw, plus unread counts;
        with `changes` {roomId: lastChangeSeq}, also the messages changed after that change
        number (docs/contract.md §12), one bounded page per room under `changes`.

        Rooms the user is not (or no longer) a member of are reported under `errors`
        rather than failing the whole sync. Each call reads up to SYNC_MAX_ROOMS rooms, so
        calls count against the user's `sync` limit (issue 14).
        """
        await self._limiter.hit("sync", user_id)
        uid = UUID(user_id)
        result: dict[str, Any] = {}
        errors: dict[str, Any] = {}
        async with self._pool.acquire() as conn:
            for room_id, last_seen in rooms.items():
                membership = await room_store.get_membership(conn, room_id, uid)
                room = await room_store.get_room(conn, room_id) if membership else None
                if membership is None or room is None:
                    errors[str(room_id)] = {"code": "not_found", "message": "Room not found"}
                    continue
                rows = await message_store.messages_after(
                    conn, room_id, last_seen, SYNC_PAGE_SIZE + 1
                )
                result[str(room_id)] = {
                    "messages": [wire.message(r) for r in rows[:SYNC_PAGE_SIZE]],
                    "hasMore": len(rows) > SYNC_PAGE_SIZE,
                    "lastSeq": room["last_seq"],
                    "lastReadSeq": membership["last_read_seq"],
                    "unread": max(room["last_seq"] - membership["last_read_seq"], 0),
                }
            changed: dict[str, Any] = {}
            for room_id, last_change in (changes or {}).items():
                if await room_store.get_membership(conn, room_id, uid) is None:
                    errors[str(room_id)] = {"code": "not_found", "message": "Room not found"}
                    continue
                changed[str(room_id)] = await change_page(
                    conn, room_id, after=last_change, limit=SYNC_PAGE_SIZE
                )
        if changes is None:
            return {"rooms": result, "errors": errors}
        return {"rooms": result, "changes": changed, "errors": errors}


async def history_page(
    conn: asyncpg.Connection,
    room: dict[str, Any],
    *,
    limit: int,
    before: int | None,
    after: int | None,
) -> dict[str, Any]:
    """A keyset page of a room the caller may read (rooms and DMs share it)."""
    room_id = room["id"]
    if after is not None:
        rows = await message_store.messages_after(conn, room_id, after, limit + 1)
        has_more = len(rows) > limit
        rows = rows[:limit]
    else:
        start = before if before is not None else room["last_seq"] + 1
        rows = await message_store.messages_before(conn, room_id, start, limit + 1)
        has_more = len(rows) > limit
        rows = rows[1:] if has_more else rows
    return {
        "messages": [wire.message(r) for r in rows],
        "hasMore": has_more,
        "lastSeq": room["last_seq"],
    }
