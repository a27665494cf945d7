"""Rooms: create, list, describe, join, leave, members and invites.

Access rule for every room operation: a private or direct room the caller is not in (and,
for private rooms, not invited to) is indistinguishable from one that does not exist. Who
may post or act inside a room is `services/access.py`'s rule.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict, Forbidden, NotFound
from chat_server.events import Event, Publisher, Target
from chat_server.services import wire
from chat_server.services.access import INVITE_BLOCKED_MESSAGE, refuse_blocked
from chat_server.services.access import require_member as require_member
from chat_server.services.presence import PresenceService
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.typing import TypingService
from chat_server.store import rooms as room_store
from chat_server.store import users as user_store

# Roles allowed to invite people into a private room.
INVITER_ROLES = frozenset({"owner", "admin"})


async def readable_room(
    conn: asyncpg.Connection, room_id: UUID, user_id: UUID, *, invited: bool = False
) -> dict[str, Any]:
    """The room if the user may read it: public rooms for everyone, private rooms for
    members, direct rooms for their two members.

    An invitee of a private room knows it exists: with `invited=True` they may see it (its
    details and members, to decide whether to join); otherwise (its messages) they are
    told to join first.
    """
    room = await room_store.get_room(conn, room_id)
    if room is None:
        raise NotFound("Room not found")
    if room["kind"] == "public":
        return room
    if await room_store.get_membership(conn, room_id, user_id) is not None:
        return room
    if (
        room["kind"] == "private"
        and await room_store.get_invite(conn, room_id, user_id) is not None
    ):
        if invited:
            return room
        raise Forbidden("Join the room first")
    raise NotFound("Room not found")


class RoomService:
    """Room lifecycle and membership; announces `user_joined` / `user_left`."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        presence: PresenceService,
        typing: TypingService,
        limiter: RateLimiter,
    ):
        self._pool = pool
        self._publisher = publisher
        self._presence = presence
        self._typing = typing
        self._limiter = limiter

    async def list_rooms(
        self, user_id: str, *, limit: int, search: str | None = None, after: UUID | None = None
    ) -> dict[str, Any]:
        """Public rooms, the caller's private rooms and their invitations, by name, with
        member and unread counts; `after` is the last room id of the previous page."""
        async with self._pool.acquire() as conn:
            rows = await room_store.list_visible_rooms(
                conn, UUID(user_id), search=search, after_id=after, limit=limit + 1
            )
        has_more = len(rows) > limit
        rooms = [wire.room(r) for r in rows[:limit]]
        return {
            "rooms": rooms,
            "hasMore": has_more,
            "nextCursor": rooms[-1]["id"] if has_more else None,
        }

    async def get_room(self, user_id: str, room_id: UUID) -> dict[str, Any]:
        """One room's details, 404 for a private room the caller may not see."""
        uid = UUID(user_id)
        async with self._pool.acquire() as conn:
            room = await readable_room(conn, room_id, uid, invited=True)
            membership = await room_store.get_membership(conn, room_id, uid)
            invite = None if membership else await room_store.get_invite(conn, room_id, uid)
        return wire.room(_with_caller(room, membership, invite is not None))

    async def create_room(
        self, user_id: str, *, name: str, description: str | None, is_private: bool
    ) -> dict[str, Any]:
        """Create a room with the caller as its owner."""
        uid = UUID(user_id)
        async with self._pool.acquire() as conn, conn.transaction():
            created = await room_store.create_room(
                conn,
                name=name,
                description=description,
                kind="private" if is_private else "public",
                created_by=uid,
            )
            await room_store.add_member(conn, created["id"], uid, role="owner")
            room = await room_store.get_room(conn, created["id"])
            membership = await room_store.get_membership(conn, created["id"], uid)
        assert room is not None
        await self._publisher.follow_membership(user_id, str(room["id"]), True)
        return wire.room(_with_caller(room, membership, False))

    async def join(self, user_id: str, username: str, room_id: UUID) -> dict[str, Any]:
        """Join a public room, or a private room one is invited to. Joining twice is a no-op.

        `user_joined` carries the stored name; `username` (the access token's, possibly
        older) is only a fallback.
        """
        uid = UUID(user_id)
        await self._count_membership(user_id)
        async with self._pool.acquire() as conn, conn.transaction():
            visible = await readable_room(conn, room_id, uid, invited=True)
            if visible["kind"] == "direct":
                raise NotFound("Room not found")
            added = await room_store.add_member(conn, room_id, uid)
            if visible["kind"] == "private":
                await room_store.delete_invite(conn, room_id, uid)
            room = await room_store.get_room(conn, room_id)
            membership = await room_store.get_membership(conn, room_id, uid)
            me = await user_store.get_user(conn, uid) if added else None
        assert room is not None
        if added:
            username = me["username"] if me else username
            await self._publisher.follow_membership(user_id, str(room_id), True)
            await self._publisher.publish(
                Event(
                    "user_joined",
                    {"roomId": str(room_id), "user": {"id": user_id, "username": username}},
                    Target.room(room_id),
                )
            )
        return wire.room(_with_caller(room, membership, False))

    async def leave(self, user_id: str, room_id: UUID) -> None:
        """Leave a room. The lobby and direct conversations cannot be left."""
        uid = UUID(user_id)
        await self._count_membership(user_id)
        if room_id == room_store.LOBBY_ROOM_ID:
            raise Forbidden("Everyone stays in the lobby")
        async with self._pool.acquire() as conn, conn.transaction():
            room = await readable_room(conn, room_id, uid, invited=True)
            if room["kind"] == "direct":
                raise Forbidden("Direct conversations cannot be left")
            removed = await room_store.remove_member(conn, room_id, uid)
        if not removed:
            raise NotFound("You are not a member of this room")
        await self._typing.stop(user_id, str(room_id))
        await self._publisher.publish(
            Event("user_left", {"roomId": str(room_id), "userId": user_id}, Target.room(room_id))
        )
        await self._publisher.follow_membership(user_id, str(room_id), False)

    async def _count_membership(self, user_id: str) -> None:
        """Every join or leave is announced to the whole room: a user churning membership
        would flood every member (issue 14). Each attempt of `join` and `leave`, from a
        socket or REST, counts against the user's `membership` limit, so the rule holds on
        every path. (A join of a room one is in, or a refused leave, announces nothing.)"""
        await self._limiter.hit("membership", user_id)

    async def members(
        self, user_id: str, room_id: UUID, *, limit: int, after: UUID | None = None
    ) -> dict[str, Any]:
        """One page of members with role, online status, last seen and read position."""
        async with self._pool.acquire() as conn:
            await readable_room(conn, room_id, UUID(user_id), invited=True)
            rows = await room_store.list_members(conn, room_id, after, limit + 1)
        has_more = len(rows) > limit
        rows = rows[:limit]
        online = await self._presence.online(str(r["id"]) for r in rows)
        members = [
            {
                **wire.user_public(r),
                "role": r["role"],
                "joinedAt": wire.iso(r["joined_at"]),
                "lastReadSeq": r["last_read_seq"],
                "online": str(r["id"]) in online,
            }
            for r in rows
        ]
        return {
            "members": members,
            "hasMore": has_more,
            "nextCursor": members[-1]["id"] if has_more else None,
        }

    async def invite(
        self, user_id: str, username: str, room_id: UUID, invitee_id: UUID
    ) -> tuple[dict[str, Any], bool]:
        """Invite a user into a private room (owners and admins only); returns the invite
        and whether it is new. Inviting again changes nothing and notifies nobody.

        Refused (403, nothing stored, no `room_invite`) when the invitee has blocked the
        inviter. The invite names the inviter by their stored name (`username`, from the
        access token, may be older).
        """
        uid = UUID(user_id)
        async with self._pool.acquire() as conn, conn.transaction():
            room = await readable_room(conn, room_id, uid, invited=True)
            membership = await room_store.get_membership(conn, room_id, uid)
            if membership is None:
                raise NotFound("Room not found")
            if room["kind"] != "private":
                # The room's state, not the request, is in the way.
                raise Conflict("Only private rooms take invitations")
            if membership["role"] not in INVITER_ROLES:
                raise Forbidden("Only the room's owner or admins can invite")
            if await user_store.get_user(conn, invitee_id) is None:
                raise NotFound("User not found")
            await refuse_blocked(conn, uid, invitee_id, INVITE_BLOCKED_MESSAGE)
            if await room_store.get_membership(conn, room_id, invitee_id) is not None:
                raise Conflict("That user is already a member")
            created = await room_store.create_invite(conn, room_id, invitee_id, uid)
            me = await user_store.get_user(conn, uid)
        invite = {
            "room": wire.room(room),
            "invitedBy": {"id": user_id, "username": me["username"] if me else username},
        }
        if created:
            await self._publisher.publish(Event("room_invite", invite, Target.user(invitee_id)))
        return invite, created

    async def invites(self, user_id: str) -> list[dict[str, Any]]:
        """The private rooms the caller has been invited to."""
        async with self._pool.acquire() as conn:
            rows = await room_store.list_invites(conn, UUID(user_id))
        return [
            {
                "room": wire.room(r),
                "invitedBy": {
                    "id": str(r["invited_by"]) if r["invited_by"] else None,
                    "username": r["invited_by_username"],
                },
                "invitedAt": wire.iso(r["invited_at"]),
            }
            for r in rows
        ]


def _with_caller(
    room: dict[str, Any], membership: dict[str, Any] | None, invited: bool
) -> dict[str, Any]:
    """Add the caller's view of a room: member or not, role, unread count, invitation."""
    out = dict(room)
    out["is_member"] = membership is not None
    out["is_invited"] = invited
    out["role"] = membership["role"] if membership else None
    out["unread_count"] = (
        max(room["last_seq"] - membership["last_read_seq"], 0) if membership else 0
    )
    return out
