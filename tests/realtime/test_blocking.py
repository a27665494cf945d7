"""A block holds on every Socket.IO path into a direct conversation (issue 14 item 1):
`send_message` into the DM's room id (text and file shares), typing by room id and by user
id, invitations; unblocking restores them. And a renamed user's typing and joins carry the
current name, not the one inside their access token (issue 14 item 13)."""

from __future__ import annotations

from tests.api.test_uploads import upload_ok
from tests.chat_helpers import (
    api,
    call,
    call_ok,
    create_room,
    post_dm,
    quiet,
    wait_match,
)
from tests.conftest import unique_name
from tests.uploads_helpers import plain_png

BLOCKED_MESSAGE = "This user does not accept your messages"
EVENTS = (
    "new_message",
    "new_dm",
    "unread",
    "user_typing",
    "user_stopped_typing",
    "room_invite",
    "user_joined",
)


def in_room(room_id: str, user_id: str | None = None):
    return lambda e: e["roomId"] == room_id and (user_id is None or e["userId"] == user_id)


async def _blocked_pair(server, http, register, sio_connect):
    """alice and bob connected, with a conversation; then bob blocks alice."""
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=EVENTS)
    b = await sio_connect(server, bob.access_token, events=EVENTS)
    first = await post_dm(http, server, alice, bob, "before the block")
    rid = first["roomId"]
    await wait_match(b, "new_dm", lambda e: e["message"]["id"] == first["id"])
    status, body = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    return alice, bob, rid, a, b


async def _refused(sock, event: str, payload: dict) -> None:
    ack = await call(sock, event, payload)
    assert ack["ok"] is False, ack
    assert ack["error"] == {"code": "forbidden", "message": BLOCKED_MESSAGE}, ack


async def test_send_message_into_the_dm_room_is_refused_after_a_block(
    server, http, register, sio_connect
):
    alice, bob, rid, a, b = await _blocked_pair(server, http, register, sio_connect)

    await _refused(a, "send_message", {"roomId": rid, "content": "sneaky"})
    await _refused(a, "send_message", {"roomId": rid, "content": "again", "clientMsgId": "s-1"})
    pic = await upload_ok(http, server, alice, "pic.png", plain_png())
    await _refused(a, "send_message", {"roomId": rid, "fileId": pic["id"], "messageType": "image"})
    await _refused(a, "send_dm", {"recipientId": bob.id, "content": "and this"})

    # Nothing reached bob and nothing was stored.
    await quiet(b, "new_message", lambda e: e["message"]["roomId"] == rid)
    assert b.recorder.events["new_message"] == []
    assert len(b.recorder.events["new_dm"]) == 1
    status, page = await api(http, server, "GET", f"/api/direct-messages/{alice.id}", bob)
    assert status == 200, page
    assert [m["content"] for m in page["messages"]] == ["before the block"]

    # Unblocking restores sending through the room id.
    status, body = await api(http, server, "DELETE", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    ack = await call_ok(a, "send_message", {"roomId": rid, "content": "hello again"})
    await wait_match(b, "new_message", lambda e: e["message"]["id"] == ack["message"]["id"])
    assert ack["message"]["seq"] == 2


async def test_typing_from_a_blocked_user_does_not_reach_the_blocker(
    server, http, register, sio_connect
):
    alice, bob, rid, a, b = await _blocked_pair(server, http, register, sio_connect)

    for payload in ({"roomId": rid}, {"userId": bob.id}):
        await _refused(a, "typing_start", payload)
        await _refused(a, "typing_stop", payload)
    await quiet(b, "user_typing")
    assert b.recorder.events["user_typing"] == []
    assert b.recorder.events["user_stopped_typing"] == []

    # The blocker may still type to the blocked user.
    await call_ok(b, "typing_start", {"userId": alice.id})
    await wait_match(a, "user_typing", in_room(rid, bob.id))

    status, body = await api(http, server, "DELETE", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    await call_ok(a, "typing_start", {"roomId": rid})
    await wait_match(b, "user_typing", in_room(rid, alice.id))


async def test_typing_that_began_before_a_block_is_still_ended(server, http, register, sio_connect):
    """A stop only clears an indicator the blocker already sees; it tells them nothing new."""
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=EVENTS)
    b = await sio_connect(server, bob.access_token, events=EVENTS)
    rid = (await post_dm(http, server, alice, bob, "hi"))["roomId"]
    await call_ok(a, "typing_start", {"roomId": rid})
    await wait_match(b, "user_typing", in_room(rid, alice.id))
    status, body = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body

    await _refused(a, "typing_stop", {"roomId": rid})
    await wait_match(b, "user_stopped_typing", in_room(rid, alice.id))


async def test_no_room_invite_event_from_a_blocked_user(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    b = await sio_connect(server, bob.access_token, events=EVENTS)
    status, body = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    room = await create_room(http, server, alice, private=True)

    status, body = await api(
        http, server, "POST", f"/api/rooms/{room['id']}/invites", alice, json={"userId": bob.id}
    )
    assert status == 403, body
    await quiet(b, "room_invite")
    assert b.recorder.events["room_invite"] == []


async def test_typing_and_joins_carry_the_current_username(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    # alice's socket and token were issued under her old name.
    a = await sio_connect(server, alice.access_token, events=EVENTS)
    b = await sio_connect(server, bob.access_token, events=EVENTS)
    room = await create_room(http, server, bob)
    rid = room["id"]
    new_name = unique_name("renamed")
    status, body = await api(
        http, server, "PUT", "/api/users/me", alice, json={"username": new_name}
    )
    assert status == 200, body

    await call_ok(a, "join_room", {"roomId": rid})
    joined = await wait_match(b, "user_joined", lambda e: e["roomId"] == rid)
    assert joined[0]["user"] == {"id": alice.id, "username": new_name}

    await call_ok(a, "typing_start", {"roomId": rid})
    typing = await wait_match(b, "user_typing", in_room(rid, alice.id))
    assert typing[0]["username"] == new_name

    ack = await call_ok(a, "send_message", {"roomId": rid, "content": "new name"})
    assert ack["message"]["username"] == new_name
    got = await wait_match(b, "new_message", lambda e: e["message"]["id"] == ack["message"]["id"])
    assert got[0]["message"]["username"] == new_name

    dm = await call_ok(a, "send_dm", {"recipientId": bob.id, "content": "dm"})
    assert dm["message"]["senderUsername"] == new_name
    got = await wait_match(b, "new_dm", lambda e: e["message"]["id"] == dm["message"]["id"])
    assert got[0]["message"]["senderUsername"] == new_name
    await call_ok(a, "typing_start", {"userId": bob.id})
    typing = await wait_match(b, "user_typing", in_room(dm["message"]["roomId"], alice.id))
    assert typing[0]["username"] == new_name
