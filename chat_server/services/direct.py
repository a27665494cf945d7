"""Direct messages: one-on-one conversations stored as rooms of kind `direct`.

The seed's API stays as documented (`send_dm`, `new_dm`, `/api/direct-messages/:userId`);
underneath, a DM shares seq, unread counts, sync and history with rooms.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict, Forbidden, NotFound
from chat_server.events import Event, Publisher, Target
from chat_server.services import wire
from chat_server.services.access import refuse_blocked
from chat_server.services.messages import history_page
from chat_server.services.posting import Draft, MessageWriter
from chat_server.services.presence import PresenceService
from chat_server.store import direct as direct_store
from chat_server.store import rooms as room_store
from chat_server.store import users as user_store


class DirectService:
    """Send and read DMs, list conversations, block and unblock."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        store: MessageWriter,
        presence: PresenceService,
    ):
        self._pool = pool
        self._publisher = publisher
        self._store = store
        self._presence = presence

    async def send(self, draft: Draft, recipient_id: UUID) -> tuple[dict[str, Any], bool]:
        """Store a DM and announce `new_dm` to every socket of both people.

        Refused for yourself, unknown users, and recipients who blocked the sender.
        """
        user_id = draft.sender_id
        sender = UUID(user_id)
        if sender == recipient_id:
            # A rule about who, not a malformed request: 403 (the request is well formed).
            raise Forbidden("You cannot message yourself")
        created_room = False

        async def authorize(conn: asyncpg.Connection) -> UUID:
            nonlocal created_room
            if await user_store.get_user(conn, recipient_id) is None:
                raise NotFound("User not found")
            # The posting rule's block part (services/access.py); the one-statement fast
            # path in `persist_direct` applies it in SQL and comes here when refused.
            await refuse_blocked(conn, sender, recipient_id)
            room_id, created_room = await direct_store.get_or_create_direct_room(
                conn, sender, recipient_id
            )
            return room_id

        row, created, recipient_read = await self._store.persist_direct(
            draft, recipient_id, authorize
        )
        message = wire.direct_message(row, str(recipient_id))
        if not created:
            async with self._pool.acquire() as conn:
                partner = await direct_store.direct_partner(conn, row["room_id"], sender)
            if partner != recipient_id:
                raise Conflict("clientMsgId already used for another message")
            return message, False
        room_id = str(row["room_id"])
        if created_room:
            await self._publisher.follow_membership(user_id, room_id, True)
            await self._publisher.follow_membership(str(recipient_id), room_id, True)
        await self._publisher.publish(
            Event("new_dm", {"message": message}, Target.user(recipient_id))
        )
        await self._publisher.publish(Event("new_dm", {"message": message}, Target.user(user_id)))
        if recipient_read is None:
            async with self._pool.acquire() as conn:
                membership = await room_store.get_membership(conn, row["room_id"], recipient_id)
            recipient_read = None if membership is None else membership["last_read_seq"]
        if recipient_read is not None:
            state = {
                "roomId": room_id,
                "userId": user_id,
                "lastSeq": row["seq"],
                "lastReadSeq": recipient_read,
                "unread": max(row["seq"] - recipient_read, 0),
            }
            await self._publisher.publish(
                Event("unread", {"rooms": {room_id: state}}, Target.user(recipient_id))
            )
        return message, True

    async def history(
        self, *, user_id: str, other_id: UUID, limit: int, before: int | None, after: int | None
    ) -> dict[str, Any]:
        """The conversation with another user, paged like room history (empty if none yet)."""
        uid = UUID(user_id)
        async with self._pool.acquire() as conn:
            if await user_store.get_user(conn, other_id) is None:
                raise NotFound("User not found")
            room_id = await direct_store.get_direct_room(conn, uid, other_id)
            if room_id is None:
                return {"messages": [], "hasMore": False, "lastSeq": 0, "roomId": None}
            room = await room_store.get_room(conn, room_id)
            assert room is not None
            page = await history_page(conn, room, limit=limit, before=before, after=after)
        for m in page["messages"]:
            m["senderId"] = m["userId"]
            m["senderUsername"] = m["username"]
            m["recipientId"] = str(other_id) if m["userId"] == user_id else user_id
        page["roomId"] = str(room_id)
        return page

    async def conversations(self, user_id: str) -> list[dict[str, Any]]:
        """Every conversation of the user, most recent first, with unread counts."""
        async with self._pool.acquire() as conn:
            rows = await direct_store.list_conversations(conn, UUID(user_id))
        online = await self._presence.online(str(r["other_id"]) for r in rows)
        out = []
        for r in rows:
            last = None
            if r["last_id"] is not None:
                last = {
                    "id": str(r["last_id"]),
                    "seq": r["last_seq_no"],
                    "senderId": str(r["last_user_id"]) if r["last_user_id"] else None,
                    "content": r["last_content"],
                    "messageType": r["last_message_type"],
                    "createdAt": wire.iso(r["last_created_at"]),
                }
            out.append(
                {
                    "roomId": str(r["room_id"]),
                    "user": {
                        "id": str(r["other_id"]),
                        "username": r["other_username"],
                        "displayName": r["other_display_name"],
                        "lastSeen": wire.iso(r["other_last_seen_at"]),
                        "online": str(r["other_id"]) in online,
                    },
                    "lastMessage": last,
                    "lastSeq": r["last_seq"],
                    "lastReadSeq": r["last_read_seq"],
                    "unreadCount": r["unread"],
                }
            )
        return out

    async def block(self, user_id: str, other_id: UUID) -> None:
        uid = UUID(user_id)
        if uid == other_id:
            raise Forbidden("You cannot block yourself")
        async with self._pool.acquire() as conn:
            if await user_store.get_user(conn, other_id) is None:
                raise NotFound("User not found")
            await direct_store.block(conn, uid, other_id)

    async def unblock(self, user_id: str, other_id: UUID) -> None:
        async with self._pool.acquire() as conn:
            if await user_store.get_user(conn, other_id) is None:
                raise NotFound("User not found")
            await direct_store.unblock(conn, UUID(user_id), other_id)

    async def room_with(self, user_id: str, other_id: UUID) -> UUID | None:
        """The id of the conversation between two users, if they have one."""
        async with self._pool.acquire() as conn:
            return await direct_store.get_direct_room(conn, UUID(user_id), other_id)
