"""How every change to a stored message happens (docs/contract.md §12), once.

Owns: the changing transaction. It takes the room's next change number and then locks the
message, in one round trip (rooms row first, in the same order as a send: rooms row, then
message row, so a thread reply and a change to its root cannot deadlock), lets the
operation mutate it, stamps the message with the number and reads its whole current state
back in one more, commits, and announces `message_updated` {message, changeSeq} to the
room. The counter is what every send and change of the room waits for, so what needs it
not (a reaction's own row) runs before it is taken (`prepare`). An operation that changes
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
# Runs in the changing transaction before the change number is taken (see `apply`).
Preparation = Callable[[asyncpg.Connection], Awaitable[bool]]


class _NothingChanged(Exception):
    """Rolls the transaction back (and with it the change number) for a no-op."""


class MessageChanges:
    """Applies one change to one message and announces it."""

    def __init__(self, pool: asyncpg.Pool, publisher: Publisher):
        self._pool = pool
        self._publisher = publisher

    async def apply(
        self,
        room_id: UUID,
        message_id: UUID,
        mutate: Mutation,
        *,
        prepare: Preparation | None = None,
    ) -> dict[str, Any]:
        """Run `mutate` on the locked message in one transaction that takes the room's
        next change number; returns the message's current wire object (in a direct room
        with the DM fields, `wire.changed_message`: the event carries the same object).

        `prepare` runs first in the same transaction, before the change number is taken:
        work that needs neither the room's counter nor the message row (a reaction row:
        its unique key tells at once whether anything changes), so the counter, which
        every change and send of the room waits for, is held for less time. It returns
        whether anything changed; False ends the change as a no-op.

        404 when the message is not in this room (callers check the room itself first,
        so a room the caller may not see is never confirmed by this answer).
        """
        try:
            async with self._pool.acquire() as conn, conn.transaction():
                if prepare is not None and not await prepare(conn):
                    raise _NothingChanged
                locked = await change_store.lock_for_change(conn, room_id, message_id)
                if locked is None:
                    raise NotFound("Message not found")
                change_seq, row = locked
                if not await mutate(conn, row):
                    raise _NothingChanged
                current = await change_store.stamp_and_read(conn, message_id, change_seq)
        except _NothingChanged:
            async with self._pool.acquire() as conn:
                unchanged = await change_store.room_message(conn, room_id, message_id)
            if unchanged is None:
                raise NotFound("Message not found") from None
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
