"""Rooms and memberships."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.store.queries import fetch_all, queries

# The public room every user belongs to; its row is created by migration 0001.
LOBBY_ROOM_ID = UUID("00000000-0000-4000-8000-000000000001")


async def add_member(conn: asyncpg.Connection, room_id: UUID, user_id: UUID, role: str = "member") -> None:
    """Join a user to a room; they start with nothing unread."""
    await queries.rooms.add_member(conn, room_id=room_id, user_id=user_id, role=role)


async def get_room(conn: asyncpg.Connection, room_id: UUID) -> dict[str, Any] | None:
    row = await queries.rooms.get_room(conn, room_id=room_id)
    return dict(row) if row else None


async def get_membership(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> dict[str, Any] | None:
    row = await queries.rooms.get_membership(conn, room_id=room_id, user_id=user_id)
    return dict(row) if row else None


async def list_user_room_ids(conn: asyncpg.Connection, user_id: UUID) -> list[UUID]:
    return [r["room_id"] for r in await fetch_all(queries.rooms.list_user_room_ids(conn, user_id=user_id))]


async def list_visible_rooms(conn: asyncpg.Connection, user_id: UUID, limit: int) -> list[dict[str, Any]]:
    rows = await fetch_all(queries.rooms.list_visible_rooms(conn, user_id=user_id, limit=limit))
    return [dict(r) for r in rows]
