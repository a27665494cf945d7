"""Typing indicators: start/stop to the rest of the room, server-side expiry, cleared on send,
leave and disconnect, throttled re-broadcast, DMs, and refusals (issue 3)."""

from __future__ import annotations

import asyncio
import uuid

from chat_server.api.keys import SERVICES
from chat_server.services import typing as typing_module
from tests.chat_helpers import (
    api,
    call_error,
    call_ok,
    create_room,
    post_dm,
    private_room_with,
    quiet,
    wait_match,
)
from tests.conftest import LOBBY_ID

TYPING_EVENTS = ("user_typing", "user_stopped_typing", "new_message")


def in_room(room_id: str, user_id: str | None = None):
    return lambda e: e["roomId"] == room_id and (user_id is None or e["userId"] == user_id)


async def _setup(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    room = await private_room_with(http, server, alice, bob)
    a = await sio_connect(server, alice.access_token, events=TYPING_EVENTS)
    b = await sio_connect(server, bob.access_token, events=TYPING_EVENTS)
    return alice, bob, room["id"], a, b


async def test_typing_start_and_stop_reach_the_rest_of_the_room(
    server, http, register, sio_connect
):
    alice, _bob, rid, a, b = await _setup(server, http, register, sio_connect)
    outsider = await register(server)
    x = await sio_connect(server, outsider.access_token, events=TYPING_EVENTS)
    a2 = await sio_connect(server, alice.access_token, events=TYPING_EVENTS)

    ack = await call_ok(a, "typing_start", {"roomId": rid})
    assert ack["roomId"] == rid
    got = await wait_match(b, "user_typing", in_room(rid))
    assert got[0] == {"roomId": rid, "userId": alice.id, "username": alice.username}

    await call_ok(a, "typing_stop", {"roomId": rid})
    stopped = await wait_match(b, "user_stopped_typing", in_room(rid))
    assert stopped[0] == {"roomId": rid, "userId": alice.id}

    # Nobody sees their own typing (on any tab), and non-members see nothing.
    await quiet(a, "user_typing")
    for sock in (a, a2, x):
        assert sock.recorder.events["user_typing"] == []
        assert sock.recorder.events["user_stopped_typing"] == []
    # A stop without a start is accepted and announces nothing.
    await call_ok(a, "typing_stop", {"roomId": rid})
    await quiet(b, "user_stopped_typing")
    assert len(b.recorder.events["user_stopped_typing"]) == 1


async def test_repeated_typing_start_is_not_rebroadcast_within_the_window(
    server, http, register, sio_connect, monkeypatch
):
    _alice, _bob, rid, a, b = await _setup(server, http, register, sio_connect)
    for _ in range(4):
        await call_ok(a, "typing_start", {"roomId": rid})
    await wait_match(b, "user_typing", in_room(rid))
    await quiet(b, "user_typing")
    assert len(b.recorder.events["user_typing"]) == 1

    # After the window, a renewal is announced again (for late joiners). Shrink the window
    # so the test does not wait two seconds.
    monkeypatch.setattr(typing_module, "TYPING_REBROADCAST_S", 0.3)
    await asyncio.sleep(0.4)
    await call_ok(a, "typing_start", {"roomId": rid})
    await wait_match(b, "user_typing", in_room(rid), count=2)
    # Renewals never produced a stop.
    assert b.recorder.events["user_stopped_typing"] == []


async def test_typing_expires_without_renewal(server, http, register, sio_connect):
    alice, _bob, rid, a, b = await _setup(server, http, register, sio_connect)
    typing = server.app[SERVICES].typing
    typing._ttl = 0.5
    await call_ok(a, "typing_start", {"roomId": rid})
    await wait_match(b, "user_typing", in_room(rid))
    assert typing.is_typing(alice.id, rid)
    stopped = await wait_match(b, "user_stopped_typing", in_room(rid, alice.id), timeout=5)
    assert stopped[0] == {"roomId": rid, "userId": alice.id}
    assert not typing.is_typing(alice.id, rid)
    # The expired state is gone: a new start is announced at once.
    await call_ok(a, "typing_start", {"roomId": rid})
    await wait_match(b, "user_typing", in_room(rid), count=2)


async def test_renewal_postpones_expiry(server, http, register, sio_connect):
    alice, _bob, rid, a, b = await _setup(server, http, register, sio_connect)
    server.app[SERVICES].typing._ttl = 1.0
    await call_ok(a, "typing_start", {"roomId": rid})
    for _ in range(4):
        await asyncio.sleep(0.3)
        await call_ok(a, "typing_start", {"roomId": rid})
    # Longer than the ttl after the first start alice is still typing: renewals moved the
    # expiry.
    assert server.app[SERVICES].typing.is_typing(alice.id, rid)
    assert b.recorder.events["user_stopped_typing"] == []
    await wait_match(b, "user_stopped_typing", in_room(rid), timeout=5)


async def test_sending_a_message_clears_typing(server, http, register, sio_connect):
    alice, _bob, rid, a, b = await _setup(server, http, register, sio_connect)
    await call_ok(a, "typing_start", {"roomId": rid})
    await wait_match(b, "user_typing", in_room(rid))
    await call_ok(a, "send_message", {"roomId": rid, "content": "done typing"})
    await wait_match(b, "new_message", lambda e: e["message"]["roomId"] == rid)
    stopped = await wait_match(b, "user_stopped_typing", in_room(rid, alice.id))
    assert len(stopped) == 1
    assert not server.app[SERVICES].typing.is_typing(alice.id, rid)


async def test_leaving_or_disconnecting_clears_typing(server, http, register, sio_connect):
    alice, _bob, rid, a, b = await _setup(server, http, register, sio_connect)
    carol = await register(server)
    room2 = await create_room(http, server, carol)
    rid2 = room2["id"]
    await call_ok(a, "join_room", {"roomId": rid2})
    await call_ok(b, "join_room", {"roomId": rid2})

    # Leave: the room hears the stop.
    await call_ok(a, "typing_start", {"roomId": rid2})
    await wait_match(b, "user_typing", in_room(rid2))
    await call_ok(a, "leave_room", {"roomId": rid2})
    await wait_match(b, "user_stopped_typing", in_room(rid2, alice.id))
    # And typing in a room one has left is refused.
    await call_error(a, "typing_start", {"roomId": rid2}, "not_found")

    # Disconnect: the room hears the stop.
    await call_ok(a, "typing_start", {"roomId": rid})
    await wait_match(b, "user_typing", in_room(rid))
    await a.disconnect()
    await wait_match(b, "user_stopped_typing", in_room(rid, alice.id))
    assert not server.app[SERVICES].typing.is_typing(alice.id, rid)


async def test_typing_in_a_dm(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    a = await sio_connect(server, alice.access_token, events=TYPING_EVENTS)
    b = await sio_connect(server, bob.access_token, events=TYPING_EVENTS)
    c = await sio_connect(server, carol.access_token, events=TYPING_EVENTS)
    # No conversation yet: nothing to type in.
    await call_error(a, "typing_start", {"userId": bob.id}, "not_found")

    # The first DM creates the conversation while both sockets are connected; they follow it.
    dm = await post_dm(http, server, alice, bob, "hi")
    dm_room = dm["roomId"]
    ack = await call_ok(a, "typing_start", {"userId": bob.id})
    assert ack["roomId"] == dm_room
    got = await wait_match(b, "user_typing", in_room(dm_room))
    assert got[0]["userId"] == alice.id
    # By the DM's room id as well, from the other side.
    await call_ok(b, "typing_start", {"roomId": dm_room})
    await wait_match(a, "user_typing", in_room(dm_room, bob.id))
    await call_ok(a, "typing_stop", {"userId": bob.id})
    await wait_match(b, "user_stopped_typing", in_room(dm_room, alice.id))

    # A third user can neither type into the conversation nor hear it.
    await call_error(c, "typing_start", {"roomId": dm_room}, "not_found")
    await call_error(c, "typing_start", {"userId": alice.id}, "not_found")
    assert c.recorder.events["user_typing"] == []


async def test_typing_bad_input_changes_nothing(server, http, register, sio_connect):
    alice, bob, rid, a, b = await _setup(server, http, register, sio_connect)
    stranger = await register(server)
    other_private = await create_room(http, server, stranger, private=True)
    public_not_joined = await create_room(http, server, stranger)
    for event in ("typing_start", "typing_stop"):
        for payload in (
            None,
            {},
            {"roomId": "nope"},
            {"roomId": rid, "userId": bob.id},
            {"userId": 7},
        ):
            await call_error(a, event, payload, "validation_error")
        for room_id in (str(uuid.uuid4()), other_private["id"], public_not_joined["id"]):
            await call_error(a, event, {"roomId": room_id}, "not_found")
        await call_error(a, event, {"userId": str(uuid.uuid4())}, "not_found")
        await call_error(a, event, {"userId": alice.id}, "not_found")
    assert not server.app[SERVICES].typing._active
    await quiet(b, "user_typing")
    assert b.recorder.events["user_typing"] == []
    # Typing in the lobby is fine: everyone is a member.
    await call_ok(a, "typing_start", {"roomId": LOBBY_ID})
    await wait_match(b, "user_typing", in_room(LOBBY_ID, alice.id))
    status, _ = await api(http, server, "GET", f"/api/rooms/{rid}", alice)
    assert status == 200
