"""Reactions (docs/contract.md §12): add and remove one user's emoji on a message.

Owns: the reaction rules. Who may react is `access.may_post` (a member; not blocked in the
blocker's DM); a tombstone takes no new reactions (409); a message carries at most
MAX_DISTINCT_EMOJI different emoji (a new one past that is 409); adding or removing twice
is a no-op that answers the current message (no change number, no event). Each change
runs in the changing transaction (services/changes.py): the reaction row is written
before the room's change number is taken (its unique key tells whether anything changes),
and the message's `reactions` is recomputed from message_reactions in one statement
under it.
Must not: validate the emoji (schemas/reactions.py does, at the edge) or emit anything.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import Conflict, NotFound
from chat_server.services.access import may_post, refuse_deleted
from chat_server.services.changes import MessageChanges
from chat_server.services.ratelimit import RateLimiter
from chat_server.store import reactions as reaction_store

# docs/contract.md §12: a bound on what one message carries (and on its row's size).
MAX_DISTINCT_EMOJI = 50
# The reactors listed per emoji (`userIds`): enough to show who reacted in a chip's tooltip.
MAX_REACTOR_IDS = 50


class ReactionService:
    """One user's reactions on the messages of rooms they may post in."""

    def __init__(self, changes: MessageChanges, limiter: RateLimiter):
        self._changes = changes
        self._limiter = limiter

    async def add(
        self, user_id: str, room_id: UUID, message_id: UUID, emoji: str
    ) -> dict[str, Any]:
        """React; returns the current message (unchanged when the reaction was there)."""
        uid = UUID(user_id)
        await self._count(uid)

        async def prepare(conn: asyncpg.Connection) -> bool:
            await may_post(conn, room_id, uid)
            try:
                return await reaction_store.add(conn, message_id, emoji, uid)
            except asyncpg.ForeignKeyViolationError:
                # No such message at all (one of another room is refused under the lock).
                raise NotFound("Message not found") from None

        async def mutate(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
            refuse_deleted(row)
            distinct = await reaction_store.recompute(conn, message_id, MAX_REACTOR_IDS)
            if distinct > MAX_DISTINCT_EMOJI:
                raise Conflict(
                    f"A message carries at most {MAX_DISTINCT_EMOJI} different emoji",
                    fields={"emoji": ["This message has no room for another emoji."]},
                )
            return True

        return await self._changes.apply(room_id, message_id, mutate, prepare=prepare)

    async def remove(
        self, user_id: str, room_id: UUID, message_id: UUID, emoji: str
    ) -> dict[str, Any]:
        """Take a reaction back; returns the current message (unchanged when there was none)."""
        uid = UUID(user_id)
        await self._count(uid)

        async def prepare(conn: asyncpg.Connection) -> bool:
            await may_post(conn, room_id, uid)
            return await reaction_store.remove(conn, message_id, emoji, uid)

        async def mutate(conn: asyncpg.Connection, row: dict[str, Any]) -> bool:
            await reaction_store.recompute(conn, message_id, MAX_REACTOR_IDS)
            return True

        return await self._changes.apply(room_id, message_id, mutate, prepare=prepare)

    async def _count(self, user_id: UUID) -> None:
        """Count the request against the user's `messages` limit (a change reaches every
        member like a message does: edits count too). The posting rule is `prepare`'s, in
        the changing transaction before the room's counter is taken and before the
        reaction row shows whether the message exists: a refused caller neither waits for
        the room nor learns anything about its messages."""
        await self._limiter.hit("messages", str(user_id))
