"""Sending and reading messages: the delivery guarantees of DESIGN.md §7 live here."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg
import structlog

from chat_server.events import Event, Publisher, Target
from chat_server.services import views
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.render import render_markdown
from chat_server.services.rooms import readable_room, require_member
from chat_server.store import messages as message_store
from chat_server.store import rooms as room_store

log = structlog.get_logger(__name__)

# How many missed messages one `sync` returns per room; the client pages on with `after=`.
SYNC_PAGE_SIZE = 100


class MessageService:
    """Persist-then-announce messaging with per-room seq and idempotent retries."""

    def __init__(self, pool: asyncpg.Pool, publisher: Publisher, limiter: RateLimiter):
        self._pool = pool
        self._publisher = publisher
        self._limiter = limiter

    async def send(
        self,
        *,
        user_id: str,
        username: str,
        room_id: UUID,
        content: str,
        message_type: str = "text",
        client_msg_id: str | None = None,
    ) -> tuple[dict[str, Any], bool]:
        """Store a message and announce `new_message` to the room.

        Returns the stored message and whether it is new. A retry with a clientMsgId the
        sender already used returns the original and stores nothing. The caller is told
        only after commit, so an acked message is never lost.
        """
        uid = UUID(user_id)
        if client_msg_id is not None:
            existing = await self._existing(uid, client_msg_id)
            if existing is not None:
                return existing, False
        await self._limiter.hit("messages", user_id)
        html = render_markdown(content)
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                await require_member(conn, room_id, uid)
                row = await message_store.insert_message(
                    conn,
                    room_id=room_id,
                    user_id=uid,
                    content=content,
                    content_html=html,
                    message_type=message_type,
                    file_id=None,
                    client_msg_id=client_msg_id,
                )
                await message_store.advance_read_pointer(conn, room_id, uid, row["seq"])
        except asyncpg.UniqueViolationError:
            # A concurrent retry with the same clientMsgId committed first: return that one.
            if client_msg_id is None:
                raise
            existing = await self._existing(uid, client_msg_id)
            if existing is None:
                raise
            return existing, False
        row["username"] = username
        message = views.message(row)
        await self._publisher.publish(Event("new_message", {"message": message}, Target.room(room_id)))
        return message, True

    async def _existing(self, user_id: UUID, client_msg_id: str) -> dict[str, Any] | None:
        async with self._pool.acquire() as conn:
            row = await message_store.find_by_client_msg_id(conn, user_id, client_msg_id)
        return views.message(row) if row else None

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
            "messages": [views.message(r) for r in rows],
            "hasMore": has_more,
            "lastSeq": room["last_seq"],
        }

    async def sync(self, *, user_id: str, rooms: dict[UUID, int]) -> dict[str, Any]:
        """What the user missed in each room after the seq they last saw, plus unread counts.

        Rooms the user is not (or no longer) a member of are reported under `errors`
        rather than failing the whole sync.
        """
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
                rows = await message_store.messages_after(conn, room_id, last_seen, SYNC_PAGE_SIZE + 1)
                result[str(room_id)] = {
                    "messages": [views.message(r) for r in rows[:SYNC_PAGE_SIZE]],
                    "hasMore": len(rows) > SYNC_PAGE_SIZE,
                    "lastSeq": room["last_seq"],
                    "unread": max(room["last_seq"] - membership["last_read_seq"], 0),
                }
        return {"rooms": result, "errors": errors}
