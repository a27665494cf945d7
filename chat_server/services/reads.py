"""Read state: unread counts, read pointers and read receipts.

Unread = rooms.last_seq - room_members.last_read_seq, so counts cost no COUNT(*). Clients
keep room counts current from `new_message` seqs; the server sends `unread` when the
pointer moves (to the user's other tabs), for DMs as they arrive, and a summary on connect.

Only a pointer that actually moves is announced (`unread`, `read_receipt`,
`delivery_receipt`): a client repeating `mark_read`/`delivered` for what it already
reported gets its ack with the current state and tells nobody anything (issue 14).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import NotFound, ValidationFailed
from chat_server.events import Event, Publisher, Target
from chat_server.services import wire
from chat_server.store import direct as direct_store
from chat_server.store import messages as message_store
from chat_server.store import rooms as room_store
from chat_server.store import users as user_store

# Read receipts are broadcast only in rooms up to this size: in the lobby every read
# would otherwise fan out to every member. Larger rooms expose read positions through
# GET /api/rooms/{id}/members.
READ_RECEIPT_MAX_MEMBERS = 100
# At most this many unread DMs per conversation are pushed on connect; the client pages
# the rest with sync or history.
OFFLINE_DM_BATCH = 100


@dataclass(frozen=True, slots=True)
class Arrival:
    """A connecting user's rooms, unread summary and offline DMs."""

    room_ids: list[str]
    unread: dict[str, Any]
    direct_messages: list[dict[str, Any]]
    # The stored name (None: the account is gone); an access token's may be older.
    username: str | None = None


class ReadService:
    def __init__(self, pool: asyncpg.Pool, publisher: Publisher):
        self._pool = pool
        self._publisher = publisher

    async def mark_read(
        self,
        user_id: str,
        *,
        seq: int,
        room_id: UUID | None = None,
        other_user_id: UUID | None = None,
    ) -> dict[str, Any]:
        """Move the read pointer of a room (or of the DM with `other_user_id`) up to `seq`.

        Never moves backwards; a seq beyond the room's last message is refused. Reading
        implies receiving: the delivered pointer follows. Announced only if it moved.
        """
        room_id, row = await self._advance(
            user_id, seq, room_id, other_user_id, room_store.mark_read
        )
        state = {
            "roomId": str(room_id),
            "lastSeq": row["last_seq"],
            "lastReadSeq": row["last_read_seq"],
            "unread": max(row["last_seq"] - row["last_read_seq"], 0),
        }
        if row["moved"]:
            await self._publisher.publish(
                Event("unread", {"rooms": {str(room_id): state}}, Target.user(user_id))
            )
            await self._receipt("read_receipt", user_id, room_id, row)
        return state

    async def mark_delivered(
        self,
        user_id: str,
        *,
        seq: int,
        room_id: UUID | None = None,
        other_user_id: UUID | None = None,
    ) -> dict[str, Any]:
        """Record that the user's client received a room (or DM) up to `seq`, so senders can
        show "delivered". Never moves backwards; beyond the last message is refused.
        Announced only if it moved."""
        room_id, row = await self._advance(
            user_id, seq, room_id, other_user_id, room_store.mark_delivered
        )
        if row["moved"]:
            await self._receipt("delivery_receipt", user_id, room_id, row)
        return {
            "roomId": str(room_id),
            "lastSeq": row["last_seq"],
            "lastDeliveredSeq": row["last_delivered_seq"],
        }

    async def _advance(
        self,
        user_id: str,
        seq: int,
        room_id: UUID | None,
        other_user_id: UUID | None,
        move: Callable[[asyncpg.Connection, UUID, UUID, int], Awaitable[dict[str, Any] | None]],
    ) -> tuple[UUID, dict[str, Any]]:
        """Validate and move one of the member's pointers in a room or DM."""
        uid = UUID(user_id)
        async with self._pool.acquire() as conn, conn.transaction():
            if room_id is None:
                assert other_user_id is not None
                room_id = await direct_store.get_direct_room(conn, uid, other_user_id)
                if room_id is None:
                    raise NotFound("Conversation not found")
            room = await room_store.get_room(conn, room_id)
            if room is None or await room_store.get_membership(conn, room_id, uid) is None:
                raise NotFound("Room not found")
            if seq > room["last_seq"]:
                raise ValidationFailed(
                    "seq is beyond the last message",
                    fields={"seq": [f"At most {room['last_seq']}."]},
                )
            row = await move(conn, room_id, uid, seq)
        assert row is not None
        return room_id, row

    async def _receipt(self, name: str, user_id: str, room_id: UUID, row: dict[str, Any]) -> None:
        """Tell the other members how far this one has got (DMs and small rooms only)."""
        if row["kind"] != "direct" and row["member_count"] > READ_RECEIPT_MAX_MEMBERS:
            return
        receipt = {
            "roomId": str(room_id),
            "userId": user_id,
            "lastReadSeq": row["last_read_seq"],
            "lastDeliveredSeq": row["last_delivered_seq"],
        }
        await self._publisher.publish(
            Event(name, receipt, Target.room(room_id), exclude_user=user_id)
        )

    async def arrival(self, user_id: str) -> Arrival:
        """What a connecting socket needs, in one query (plus one per DM with unread
        messages): the rooms to enter, the unread summary, and the DMs that arrived while
        the user was offline. Connects are frequent (reconnect storms), so this is lean."""
        uid = UUID(user_id)
        pending: list[dict[str, Any]] = []
        async with self._pool.acquire() as conn:
            user = await user_store.get_user(conn, uid)
            rows = await room_store.unread_summary(conn, uid)
            for r in rows:
                if r["kind"] != "direct" or r["unread"] <= 0:
                    continue
                messages = await message_store.messages_after(
                    conn, r["room_id"], r["last_read_seq"], OFFLINE_DM_BATCH
                )
                pending.extend(
                    wire.direct_message(m, user_id)
                    for m in messages
                    if str(m["user_id"]) != user_id
                )
        rooms = {
            str(r["room_id"]): {
                "kind": r["kind"],
                "lastSeq": r["last_seq"],
                "lastReadSeq": r["last_read_seq"],
                "unread": r["unread"],
            }
            for r in rows
        }
        return Arrival(
            username=user["username"] if user else None,
            room_ids=list(rooms),
            unread={"rooms": rooms, "total": sum(r["unread"] for r in rows)},
            direct_messages=pending,
        )

    async def read_positions(self, user_id: str, room_id: UUID) -> dict[str, dict[str, int]]:
        """How far each member of a room has read and received (for delivered/read ticks)."""
        uid = UUID(user_id)
        async with self._pool.acquire() as conn:
            if await room_store.get_membership(conn, room_id, uid) is None:
                raise NotFound("Room not found")
            rows = await room_store.read_positions(conn, room_id)
        return {
            "reads": {str(r["user_id"]): r["last_read_seq"] for r in rows},
            "delivered": {str(r["user_id"]): r["last_delivered_seq"] for r in rows},
        }
