"""Pins (docs/contract.md §12): members pin and unpin messages; readers list them.

Owns: the pin rules. Who may pin is `access.may_post` (a member; not blocked in the
blocker's DM); a tombstone cannot be pinned (409); a room holds at most MAX_PINS_PER_ROOM
pinned messages (409 past that), so `GET .../pins` always lists them all. Pinning twice or
unpinning twice is a no-op that answers the current message (no change number, no event).
Each change runs in the changing transaction (services/changes.py).
Must not: emit anything itself.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict
from chat_server.services import wire
from chat_server.services.access import may_post, refuse_deleted
from chat_server.services.changes import MessageChanges
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.rooms import readable_room
from chat_server.store import pins as pin_store

# The most pinned messages a room holds: a pinned list is for what matters, and one page
# of GET /api/rooms/:id/pins shows it whole.
MAX_PINS_PER_ROOM = 100


class PinService:
    """Pinned messages of a room."""

    def __init__(self, pool: asyncpg.Pool, changes: MessageChanges, limiter: RateLimiter):
        self._pool = pool
        self._changes = changes
        self._limiter = limiter

    async def pin(self, user_id: str, room_id: UUID, message_id: UUID) -> dict[str, Any]:
        uid = UUID(user_id)
        await self._check(room_id, uid)

        async def mutate(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
            await may_post(conn, room_id, uid)
            refuse_deleted(row)
            if row["pinned_at"] is not None:
                return False
            if await pin_store.pinned_count(conn, room_id) >= MAX_PINS_PER_ROOM:
                raise Conflict(f"A room holds at most {MAX_PINS_PER_ROOM} pinned messages")
            return await pin_store.pin(conn, message_id, uid)

        return await self._changes.apply(room_id, message_id, mutate)

    async def unpin(self, user_id: str, room_id: UUID, message_id: UUID) -> dict[str, Any]:
        uid = UUID(user_id)
        await self._check(room_id, uid)

        async def mutate(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
            await may_post(conn, room_id, uid)
            return await pin_store.unpin(conn, message_id)

        return await self._changes.apply(room_id, message_id, mutate)

    async def pinned(self, user_id: str, room_id: UUID) -> dict[str, Any]:
        """The room's pinned messages, newest pin first (readers of the room)."""
        async with self._pool.acquire() as conn:
            await readable_room(conn, room_id, UUID(user_id))
            rows = await pin_store.pinned_messages(conn, room_id, MAX_PINS_PER_ROOM)
        return {"messages": [wire.message(r) for r in rows]}

    async def _check(self, room_id: UUID, user_id: UUID) -> None:
        """The rate limit and the posting rule first (see ReactionService._check)."""
        await self._limiter.hit("messages", str(user_id))
        async with self._pool.acquire() as conn:
            await may_post(conn, room_id, user_id)
