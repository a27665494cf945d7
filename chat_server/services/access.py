"""Who may post into, or act in, a room: one rule, used by every path (issue 14).

`may_post` is the rule for anything a user does *inside* a room that others see: sending
(socket `send_message`, REST `POST /api/rooms/:id/messages`, file shares), typing, and
the coming message changes (edit, react, reply call `may_post` too). `refuse_blocked` is
its block part, for the paths that name a person instead of a room (`send_dm`,
`POST /api/direct-messages/:userId`, invitations).

A block is one way: when B blocks A, A may not post into their direct conversation nor
invite B anywhere, while B still may write to A.

Message-level rules (docs/contract.md §12) live here too: `may_edit` (the author, who may
still post into the room) and `may_delete` (the author or a room owner/admin, who may
still read the room as a member). Both run inside the changing transaction with the
locked message row at hand.

The hot path for text (`store.messages.insert_room_message`) applies the same rule
inside its single SQL statement and comes here only to explain a refusal.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict, Forbidden, NotFound
from chat_server.store import direct as direct_store
from chat_server.store import rooms as room_store

# What a blocked sender is told (docs/contract.md's `send_dm` refusal). A block is not hidden:
# the sender learns that this person does not take their messages, as in the seed.
BLOCKED_MESSAGE = "This user does not accept your messages"
# What an inviter blocked by the invitee is told (README "Decisions": 403 like send_dm).
INVITE_BLOCKED_MESSAGE = "This user does not accept your invitations"
# Room roles that may delete other members' messages (site admins join them once they exist).
MODERATOR_ROLES = frozenset({"owner", "admin"})


@dataclass(frozen=True, slots=True)
class Poster:
    """A user allowed to act in a room, with what announcements need about them."""

    room_kind: str
    # The stored (current) name: the one inside an access token may be older.
    username: str


async def may_post(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> Poster:
    """The user may post into (or act in) the room: they are a member and, in a direct
    room, the other member has not blocked them. Raises otherwise: 404 for rooms the user
    may not see, 403 `Join the room first` for public rooms (and private invitations) not
    joined, 403 `BLOCKED_MESSAGE` for a blocked sender."""
    row = await room_store.posting_rights(conn, room_id, user_id)
    if row is None or not row["is_member"]:
        await require_member(conn, room_id, user_id)
        raise NotFound("Room not found")  # a member after all: joined in between
    if row["blocked"]:
        raise Forbidden(BLOCKED_MESSAGE)
    return Poster(room_kind=row["kind"], username=row["username"])


async def refuse_blocked(
    conn: asyncpg.Connection, sender: UUID, recipient: UUID, message: str = BLOCKED_MESSAGE
) -> None:
    """Raise Forbidden when `recipient` has blocked `sender`."""
    if await direct_store.is_blocked(conn, recipient, sender):
        raise Forbidden(message)


async def require_member(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> dict[str, Any]:
    """The membership row; a public room's non-member (or a private room's invitee) is
    told to join, others get 404."""
    membership = await room_store.get_membership(conn, room_id, user_id)
    if membership is not None:
        return membership
    room = await room_store.get_room(conn, room_id)
    if room is None or room["kind"] == "direct":
        raise NotFound("Room not found")
    if room["kind"] == "private" and await room_store.get_invite(conn, room_id, user_id) is None:
        raise NotFound("Room not found")
    raise Forbidden("Join the room first")


async def may_edit(
    conn: asyncpg.Connection, room_id: UUID, user_id: UUID, message: dict[str, Any]
) -> None:
    """The user may edit this message of the room: they may post into the room
    (`may_post`: an edit reaches the other members like a message, so a blocked DM author
    may not edit either) and wrote it. 403 for another's message, 409 for a tombstone
    (a deleted message has nothing left to edit; it is not "not found": history shows it)."""
    await may_post(conn, room_id, user_id)
    if message["user_id"] != user_id:
        raise Forbidden("Only the author can edit this message")
    if message["deleted_at"] is not None:
        raise Conflict("This message was deleted")


async def may_delete(
    conn: asyncpg.Connection, room_id: UUID, user_id: UUID, message: dict[str, Any]
) -> None:
    """The user may delete this message of the room: a member who wrote it, or an owner or
    admin of the room. A blocked DM author may still take their own message back: deleting
    removes text from the blocker's view, it does not reach them with anything new."""
    membership = await require_member(conn, room_id, user_id)
    if message["user_id"] == user_id or membership["role"] in MODERATOR_ROLES:
        return
    raise Forbidden("Only the author or a room owner or admin can delete this message")


async def may_read_room(conn: asyncpg.Connection, room_id: UUID, user_id: UUID) -> None:
    """The room-level half of `may_edit` / `may_delete`, checked before the message is
    looked up so a room the user may not see is never confirmed: 404 for it, 403 for a
    public room (or a private invitation) not joined."""
    await require_member(conn, room_id, user_id)


# What adding to a deleted message (a reaction, a pin, a reply) is told: 409, the state of
# the message does not allow it. Taking a reaction or a pin back is never refused.
DELETED_MESSAGE = "This message was deleted"


def refuse_deleted(message: Mapping[str, Any]) -> None:
    """Raise Conflict when the (locked) message row is a tombstone."""
    if message.get("deleted_at") is not None:
        raise Conflict(DELETED_MESSAGE)
