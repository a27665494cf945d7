"""How every change to a stored message happens (docs/contract.md §12), once.

Owns: the changing transaction. It takes the room's next change number first (the rooms
row lock, in the same order as a send: rooms row, then message row, so a thread reply
and a change to its root cannot deadlock), locks the message, lets the operation mutate
it, stamps the message with the number, reads its whole current state back, commits, and
announces `message_updated` {message, changeSeq} to the room. An operation that changes
nothing (a repeated reaction, a second delete) rolls back: no number is used, nothing is
announced, and the caller gets the current message. Commit order equals change order, so
a client that saw change N and then N+2 knows it missed N+1.

Must not: decide who may do what (each operation checks its rule from services/access.py
inside `mutate`, where the locked row is at hand), or emit anything itself (the publisher
does).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from uuid import UUID

import asyncpg

from chat_server.errors import NotFound
from chat_server.events import Event, Publisher, Target
from chat_server.services import wire
from chat_server.store import changes as change_store

Row = dict[str, Any]
# Mutates the locked message row inside the changing transaction; returns whether
# anything changed. Raises a ChatError to refuse (the transaction rolls back).
Mutation = Callable[[asyncpg.Connection, Row], Awaitable[bool]]


class _NothingChanged(Exception):
    """Rolls the transaction back (and with it the change number) for a no-op."""


class MessageChanges:
    """Applies one change to one message and announces it."""

    def __init__(self, pool: asyncpg.Pool, publisher: Publisher):
        self._pool = pool
        self._publisher = publisher

    async def apply(self, room_id: UUID, message_id: UUID, mutate: Mutation) -> dict[str, Any]:
        """Run `mutate` on the locked message in one transaction that takes the room's
        next change number; returns the message's current wire object (in a direct room
        with the DM fields, `wire.changed_message`: the event carries the same object).

        404 when the message is not in this room (callers check the room itself first,
        so a room the caller may not see is never confirmed by this answer).
        """
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                try:
                    change_seq = await change_store.next_change_seq(conn, room_id)
                except LookupError:
                    raise NotFound("Room not found") from None
                row = await change_store.lock_message(conn, room_id, message_id)
                if row is None:
                    raise NotFound("Message not found")
                if not await mutate(conn, row):
                    raise _NothingChanged
                await change_store.stamp_change(conn, message_id, change_seq)
                current = await change_store.current_message(conn, message_id)
                assert current is not None
        except _NothingChanged:
            async with self._pool.acquire() as conn:
                unchanged = await change_store.current_message(conn, message_id)
            assert unchanged is not None
            return wire.changed_message(unchanged)
        message = wire.changed_message(current)
        await self._publisher.publish(
            Event(
                "message_updated",
                {"message": message, "changeSeq": change_seq},
                Target.room(room_id),
            )
        )
        return message
