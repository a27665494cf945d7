"""Rooms, memberships, invites and read positions."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict
from chat_server.store.queries import fetch_all, like_literal, queries

Row = dict[str, Any]

# The public room every user belongs to; its row is created by migration 0001.
LOBBY_ROOM_ID = UUID("00000000-0000-4000-8000-000000000001")


async def add_member(
    conn: asyncpg.Connection, room_id: UUID, user_id: UUID, role: str = "member"
) -> bool:
    """Join a user to a room with nothing unread; False when already a member."""
    return bool(await queries.rooms.add_member(conn, room_id=room_id, user_id=user_id, role=role))


async def remove_member(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> bool:
    return bool(await queries.rooms.remove_member(conn, room_id=room_id, user_id=user_id))


async def create_room(
    conn: asyncpg.Connection, *, name: str, description: str | None, kind: str, created_by: UUID
) -> Row:
    """Insert a public or private room; a taken public name is a Conflict."""
    try:
        row = await queries.rooms.create_room(
            conn,
            name=name,
            description=description,
            is_private=kind != "public",
            kind=kind,
            created_by=created_by,
        )
    except asyncpg.UniqueViolationError as exc:
        raise Conflict("A public room with that name exists", fields={"name": ["taken"]}) from exc
    return dict(row)


async def get_room(conn: asyncpg.Connection, room_id: UUID) -> Row | None:
    row = await queries.rooms.get_room(conn, room_id=room_id)
    return dict(row) if row else None


async def get_membership(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> Row | None:
    row = await queries.rooms.get_membership(conn, room_id=room_id, user_id=user_id)
    return dict(row) if row else None


async def list_presence_rooms(
    conn: asyncpg.Connection, user_id: UUID, max_members: int
) -> list[UUID]:
    rows = await fetch_all(
        queries.rooms.list_presence_rooms(conn, user_id=user_id, max_members=max_members)
    )
    return [r["id"] for r in rows]


async def list_visible_rooms(
    conn: asyncpg.Connection,
    user_id: UUID,
    *,
    search: str | None,
    after_id: UUID | None,
    limit: int,
) -> list[Row]:
    """`search` is matched as a plain substring (LIKE wildcards are escaped here)."""
    pattern = like_literal(search) if search else None
    rows = await fetch_all(
        queries.rooms.list_visible_rooms(
            conn, user_id=user_id, search=pattern, after_id=after_id, limit=limit
        )
    )
    return [dict(r) for r in rows]


async def list_members(
    conn: asyncpg.Connection, room_id: UUID, after_id: UUID | None, limit: int
) -> list[Row]:
    rows = await fetch_all(
        queries.rooms.list_members(conn, room_id=room_id, after_id=after_id, limit=limit)
    )
    return [dict(r) for r in rows]


async def create_invite(
    conn: asyncpg.Connection, room_id: UUID, user_id: UUID, invited_by: UUID
) -> bool:
    return bool(
        await queries.rooms.create_invite(
            conn, room_id=room_id, user_id=user_id, invited_by=invited_by
        )
    )


async def get_invite(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> Row | None:
    row = await queries.rooms.get_invite(conn, room_id=room_id, user_id=user_id)
    return dict(row) if row else None


async def delete_invite(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> None:
    await queries.rooms.delete_invite(conn, room_id=room_id, user_id=user_id)


async def list_invites(conn: asyncpg.Connection, user_id: UUID) -> list[Row]:
    return [dict(r) for r in await fetch_all(queries.rooms.list_invites(conn, user_id=user_id))]


async def mark_read(conn: asyncpg.Connection, room_id: UUID, user_id: UUID, seq: int) -> Row | None:
    """Advance the read pointer (and the delivered one with it); the row says whether the
    read pointer `moved`. None when the user is not a member."""
    row = await queries.rooms.mark_read(conn, room_id=room_id, user_id=user_id, seq=seq)
    return dict(row) if row else None


async def mark_delivered(
    conn: asyncpg.Connection, room_id: UUID, user_id: UUID, seq: int
) -> Row | None:
    """Advance the delivered pointer; the row says whether it `moved`. None when the user
    is not a member."""
    row = await queries.rooms.mark_delivered(conn, room_id=room_id, user_id=user_id, seq=seq)
    return dict(row) if row else None


async def unread_summary(conn: asyncpg.Connection, user_id: UUID) -> list[Row]:
    return [dict(r) for r in await fetch_all(queries.rooms.unread_summary(conn, user_id=user_id))]


async def read_positions(conn: asyncpg.Connection, room_id: UUID) -> list[Row]:
    return [dict(r) for r in await fetch_all(queries.rooms.read_positions(conn, room_id=room_id))]


async def posting_rights(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> Row | None:
    """kind, is_member, blocked (direct rooms) and the user's current username; None when
    the room does not exist."""
    row = await queries.rooms.posting_rights(conn, room_id=room_id, user_id=user_id)
    return dict(row) if row else None
