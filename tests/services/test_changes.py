"""`MessageChanges.apply`, the changing transaction every message change uses (issue 16),
without a socket: a NullPublisher records what would be announced.

Owns: the change number (taken once per committed change, gap-free, none for a no-op or a
refusal), what is announced, 404s. The operations themselves are tested through the real
interfaces (tests/api/test_message_edits.py, tests/realtime/test_message_edits.py).
"""

from __future__ import annotations

import uuid
from uuid import UUID

import asyncpg
import pytest

from chat_server.errors import Forbidden, NotFound
from chat_server.events import NullPublisher, Target
from chat_server.services.changes import MessageChanges
from chat_server.store.database import create_pool
from tests.chat_helpers import create_room, post_dm, post_message


@pytest.fixture
async def pool(database_url):
    pool = await create_pool(database_url, min_size=1, max_size=2)
    yield pool
    await pool.close()


async def counter(pool: asyncpg.Pool, room_id: str) -> int:
    return await pool.fetchval("SELECT last_change_seq FROM rooms WHERE id = $1", UUID(room_id))


def set_content(text: str):
    async def mutate(conn, row):
        await conn.execute("UPDATE messages SET content = $1 WHERE id = $2", text, row["id"])
        return True

    return mutate


async def test_each_change_takes_the_next_number_and_is_announced(server, http, register, pool):
    alice = await register(server)
    room = await create_room(http, server, alice)
    message = await post_message(http, server, alice, room["id"], "v0")
    publisher = NullPublisher()
    changes = MessageChanges(pool, publisher)
    room_id, message_id = UUID(room["id"]), UUID(message["id"])

    first = await changes.apply(room_id, message_id, set_content("v1"))
    second = await changes.apply(room_id, message_id, set_content("v2"))

    assert (first["content"], first["changeSeq"]) == ("v1", 1)
    assert (second["content"], second["changeSeq"]) == ("v2", 2)
    assert await counter(pool, room["id"]) == 2
    assert [(e.name, e.target, e.payload) for e in publisher.events] == [
        ("message_updated", Target.room(room_id), {"message": first, "changeSeq": 1}),
        ("message_updated", Target.room(room_id), {"message": second, "changeSeq": 2}),
    ]


async def test_a_no_op_or_a_refusal_takes_no_number_and_announces_nothing(
    server, http, register, pool
):
    alice = await register(server)
    room = await create_room(http, server, alice)
    message = await post_message(http, server, alice, room["id"], "as sent")
    publisher = NullPublisher()
    changes = MessageChanges(pool, publisher)
    room_id, message_id = UUID(room["id"]), UUID(message["id"])

    async def no_op(conn, row):
        await conn.execute("UPDATE messages SET content = 'rolled back' WHERE id = $1", row["id"])
        return False

    async def refuse(conn, row):
        await conn.execute("UPDATE messages SET content = 'rolled back' WHERE id = $1", row["id"])
        raise Forbidden("no")

    unchanged = await changes.apply(room_id, message_id, no_op)
    with pytest.raises(Forbidden):
        await changes.apply(room_id, message_id, refuse)

    assert unchanged["content"] == "as sent"
    assert unchanged["changeSeq"] == 0
    assert publisher.events == []
    assert await counter(pool, room["id"]) == 0
    # The next real change is number 1: nothing was skipped.
    changed = await changes.apply(room_id, message_id, set_content("changed"))
    assert changed["changeSeq"] == 1


async def test_unknown_rooms_and_messages_of_other_rooms_are_404(server, http, register, pool):
    alice = await register(server)
    room = await create_room(http, server, alice)
    other = await create_room(http, server, alice)
    message = await post_message(http, server, alice, other["id"], "elsewhere")
    changes = MessageChanges(pool, NullPublisher())

    with pytest.raises(NotFound):
        await changes.apply(UUID(room["id"]), UUID(message["id"]), set_content("x"))
    with pytest.raises(NotFound):
        await changes.apply(uuid.uuid4(), UUID(message["id"]), set_content("x"))
    assert await counter(pool, room["id"]) == 0
    assert await counter(pool, other["id"]) == 0


async def test_a_change_in_a_direct_room_carries_the_dm_fields(server, http, register, pool):
    alice, bob = await register(server), await register(server)
    dm = await post_dm(http, server, alice, bob, "hello")
    publisher = NullPublisher()

    changed = await MessageChanges(pool, publisher).apply(
        UUID(dm["roomId"]), UUID(dm["id"]), set_content("hello!")
    )

    assert changed["senderId"] == alice.id
    assert changed["senderUsername"] == alice.username
    assert changed["recipientId"] == bob.id
    assert publisher.events[0].payload["message"] == changed
