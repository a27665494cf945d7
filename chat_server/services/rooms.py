"""Rooms as the caller may see them; access rules shared by every room operation."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Forbidden, NotFound
from chat_server.services import views
from chat_server.store import rooms as room_store

# Upper bound of one room-list page (the schema enforces it for callers).
MAX_ROOM_LIST = 200


async def readable_room(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> dict[str, Any]:
    """The room if the user may read it: public rooms for everyone, others for members.

    A room the user may not see is indistinguishable from one that does not exist.
    """
    room = await room_store.get_room(conn, room_id)
    if room is None:
        raise NotFound("Room not found")
    if room["kind"] != "public" and await room_store.get_membership(conn, room_id, user_id) is None:
        raise NotFound("Room not found")
    return room


async def require_member(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> dict[str, Any]:
    """The membership row; a public room's non-member is told to join, others get 404."""
    membership = await room_store.get_membership(conn, room_id, user_id)
    if membership is not None:
        return membership
    room = await room_store.get_room(conn, room_id)
    if room is None or room["kind"] != "public":
        raise NotFound("Room not found")
    raise Forbidden("Join the room first")


class RoomService:
    """Listing and describing rooms."""

    def __init__(self, pool: asyncpg.Pool):
        self._pool = pool

    async def list_rooms(self, user_id: str, limit: int = MAX_ROOM_LIST) -> list[dict[str, Any]]:
        """Public rooms and the caller's private rooms, with member and unread counts."""
        async with self._pool.acquire() as conn:
            rows = await room_store.list_visible_rooms(conn, UUID(user_id), limit)
        return [views.room(r) for r in rows]

    async def get_room(self, user_id: str, room_id: UUID) -> dict[str, Any]:
        """One room's details, 404 for a private room the caller is not in."""
        uid = UUID(user_id)
        async with self._pool.acquire() as conn:
            room = await readable_room(conn, room_id, uid)
            membership = await room_store.get_membership(conn, room_id, uid)
        room["is_member"] = membership is not None
        room["unread_count"] = (
            max(room["last_seq"] - membership["last_read_seq"], 0) if membership else 0
        )
        return views.room(room)

    async def room_ids_for(self, user_id: str) -> list[str]:
        """Every room the user belongs to: what a new socket enters."""
        async with self._pool.acquire() as conn:
            return [str(r) for r in await room_store.list_user_room_ids(conn, UUID(user_id))]
