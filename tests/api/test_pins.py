"""Pins over REST (docs/contract.md §12): PUT / DELETE /api/rooms/:id/pins/:messageId and
GET /api/rooms/:id/pins.

Owns: pinning and unpinning (idempotent, no change number for a repeat), the pinned list
(newest pin first, readers only, no tombstones), and the refusals (non-member, blocked
sender, tombstone) leaving everything as it was. Must not: test the socket events
(tests/realtime/test_pins.py).
"""

from __future__ import annotations

from tests.changes_helpers import history_message, make_tombstone, room_change_seq
from tests.chat_helpers import api, create_room, post_dm, post_message, private_room_with
from tests.conftest import LOBBY_ID


def pin_path(message: dict) -> str:
    return f"/api/rooms/{message['roomId']}/pins/{message['id']}"


async def pinned_ids(http, server, user, room_id) -> list[str]:
    status, body = await api(http, server, "GET", f"/api/rooms/{room_id}/pins", user)
    assert status == 200, body
    return [m["id"] for m in body["messages"]]


async def test_pin_and_unpin_are_idempotent_and_listed_newest_first(server, http, register):
    alice = await register(server)
    bob = await register(server)
    room = await create_room(http, server, alice)
    status, _ = await api(http, server, "POST", f"/api/rooms/{room['id']}/join", bob)
    assert status == 200
    first = await post_message(http, server, alice, room["id"], "first")
    second = await post_message(http, server, bob, room["id"], "second")

    status, body = await api(http, server, "PUT", pin_path(second), alice)
    assert status == 200, body
    assert body["message"]["pinned"] is True
    assert body["message"]["changeSeq"] == 1
    status, body = await api(http, server, "PUT", pin_path(first), bob)
    assert status == 200, body
    assert body["message"]["changeSeq"] == 2
    # Pinning again changes nothing and uses no change number.
    status, again = await api(http, server, "PUT", pin_path(first), alice)
    assert status == 200, again
    assert again["message"] == body["message"]
    assert await room_change_seq(http, server, alice, room["id"]) == 2

    # Newest pin first; readers of a public room see them without joining.
    outsider = await register(server)
    assert await pinned_ids(http, server, outsider, room["id"]) == [first["id"], second["id"]]
    assert (await history_message(http, server, bob, first))["pinned"] is True

    status, body = await api(http, server, "DELETE", pin_path(first), bob)
    assert status == 200, body
    assert body["message"]["pinned"] is False
    assert body["message"]["changeSeq"] == 3
    status, again = await api(http, server, "DELETE", pin_path(first), bob)
    assert status == 200, again
    assert again["message"] == body["message"]
    assert await room_change_seq(http, server, alice, room["id"]) == 3
    assert await pinned_ids(http, server, alice, room["id"]) == [second["id"]]


async def test_non_members_cannot_pin_or_list_a_private_rooms_pins(server, http, register):
    owner = await register(server)
    outsider = await register(server)
    private = await private_room_with(http, server, owner)
    secret = await post_message(http, server, owner, private["id"], "members only")
    public = await create_room(http, server, owner)
    notice = await post_message(http, server, owner, public["id"], "public")

    status, body = await api(http, server, "PUT", pin_path(secret), outsider)
    assert status == 404, body
    status, body = await api(http, server, "GET", f"/api/rooms/{private['id']}/pins", outsider)
    assert status == 404, body
    status, body = await api(http, server, "PUT", pin_path(notice), outsider)
    assert status == 403, body
    status, body = await api(http, server, "DELETE", pin_path(notice), outsider)
    assert status == 403, body

    assert (await history_message(http, server, owner, secret))["pinned"] is False
    assert (await history_message(http, server, owner, notice))["pinned"] is False
    assert await room_change_seq(http, server, owner, private["id"]) == 0
    assert await room_change_seq(http, server, owner, public["id"]) == 0


async def test_a_blocked_user_cannot_pin_in_the_blockers_dm(server, http, register):
    alice = await register(server)
    bob = await register(server)
    dm = await post_dm(http, server, bob, alice, "hello")
    status, _ = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204

    status, body = await api(http, server, "PUT", pin_path(dm), alice)
    assert status == 403, body
    assert await room_change_seq(http, server, bob, dm["roomId"]) == 0
    status, body = await api(http, server, "PUT", pin_path(dm), bob)
    assert status == 200, body
    assert await pinned_ids(http, server, bob, dm["roomId"]) == [dm["id"]]


async def test_a_deleted_message_cannot_be_pinned_nor_is_listed(server, http, register):
    alice = await register(server)
    room = await create_room(http, server, alice)
    gone = await post_message(http, server, alice, room["id"], "soon gone")
    kept = await post_message(http, server, alice, room["id"], "kept")
    for message in (gone, kept):
        status, body = await api(http, server, "PUT", pin_path(message), alice)
        assert status == 200, body
    await make_tombstone(http, server, alice, gone)
    assert await pinned_ids(http, server, alice, room["id"]) == [kept["id"]]

    other = await post_message(http, server, alice, room["id"], "to delete unpinned")
    await make_tombstone(http, server, alice, other)
    before = await room_change_seq(http, server, alice, room["id"])
    status, body = await api(http, server, "PUT", pin_path(other), alice)
    assert status == 409, body
    assert body["error"]["message"] == "This message was deleted", body
    assert await room_change_seq(http, server, alice, room["id"]) == before


async def test_unknown_messages_are_not_found(server, http, register):
    alice = await register(server)
    room = await create_room(http, server, alice)
    elsewhere = await post_message(http, server, alice, room["id"], "mine")
    status, body = await api(
        http, server, "PUT", f"/api/rooms/{LOBBY_ID}/pins/{elsewhere['id']}", alice
    )
    assert status == 404, body


async def test_a_room_holds_at_most_100_pinned_messages(server, http, register):
    alice = await register(server)
    room = await create_room(http, server, alice)
    messages = [await post_message(http, server, alice, room["id"], f"m{i}") for i in range(101)]
    for message in messages[:100]:
        status, body = await api(http, server, "PUT", pin_path(message), alice)
        assert status == 200, body
    status, body = await api(http, server, "PUT", pin_path(messages[100]), alice)
    assert status == 409, body
    assert await room_change_seq(http, server, alice, room["id"]) == 100
    # Unpinning one makes room for another.
    status, body = await api(http, server, "DELETE", pin_path(messages[0]), alice)
    assert status == 200, body
    status, body = await api(http, server, "PUT", pin_path(messages[100]), alice)
    assert status == 200, body
    listed = await pinned_ids(http, server, alice, room["id"])
    assert len(listed) == 100
    assert listed[0] == messages[100]["id"]
