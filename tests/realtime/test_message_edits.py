"""Editing and deleting over the socket (issue 16, docs/contract.md §12), with real
python-socketio clients: `edit_message`, `delete_message`, the live `message_updated`,
refusals that change nothing, and `sync` with `changes` after a disconnect.

Owns: the socket paths and recovery through `sync`. REST is tests/api/test_message_edits.py
and tests/api/test_message_changes_feed.py.
"""

from __future__ import annotations

import uuid

from tests.chat_helpers import call, create_room, join, post_dm, post_message, private_room_with
from tests.edit_helpers import current, delete, edit, edits_of, room_change_seq

UPDATED = "message_updated"


async def test_an_edit_and_a_delete_reach_the_other_member_live(
    server, http, register, sio_connect
):
    alice, bob = await register(server), await register(server)
    room = await create_room(http, server, alice)
    await join(http, server, bob, room["id"])
    message = await post_message(http, server, alice, room["id"], "typo hree")
    before = await room_change_seq(http, server, alice, room["id"])
    alice_sock = await sio_connect(server, alice.access_token)
    bob_sock = await sio_connect(server, bob.access_token, events=(UPDATED,))

    ack = await call(
        alice_sock,
        "edit_message",
        {"roomId": room["id"], "messageId": message["id"], "content": "typo here"},
    )

    assert ack["ok"] is True, ack
    assert ack["message"]["content"] == "typo here"
    [event] = await bob_sock.recorder.wait_for(UPDATED)
    assert event == {"message": ack["message"], "changeSeq": before + 1}
    assert ack["message"]["changeSeq"] == before + 1

    ack = await call(
        alice_sock, "delete_message", {"roomId": room["id"], "messageId": message["id"]}
    )

    assert ack["ok"] is True, ack
    assert ack["message"]["deletedAt"]
    events = await bob_sock.recorder.wait_for(UPDATED, 2)
    assert events[1] == {"message": ack["message"], "changeSeq": before + 2}
    assert await current(http, server, bob, message) == ack["message"]


async def test_refusals_over_the_socket_change_and_announce_nothing(
    server, http, register, sio_connect
):
    alice, bob, carol = await register(server), await register(server), await register(server)
    room = await private_room_with(http, server, alice, bob)
    message = await post_message(http, server, alice, room["id"], "alice's words")
    before = await room_change_seq(http, server, alice, room["id"])
    bob_sock = await sio_connect(server, bob.access_token, events=(UPDATED,))
    carol_sock = await sio_connect(server, carol.access_token)
    target = {"roomId": room["id"], "messageId": message["id"]}

    # A member editing another's message; a member (not owner/admin) deleting it.
    ack = await call(bob_sock, "edit_message", {**target, "content": "bob's words"})
    assert ack == {"ok": False, "error": {"code": "forbidden", "message": ack["error"]["message"]}}
    ack = await call(bob_sock, "delete_message", target)
    assert ack["ok"] is False and ack["error"]["code"] == "forbidden", ack
    # Someone who may not see the room.
    ack = await call(carol_sock, "edit_message", {**target, "content": "carol's"})
    assert ack["ok"] is False and ack["error"]["code"] == "not_found", ack
    ack = await call(carol_sock, "delete_message", target)
    assert ack["ok"] is False and ack["error"]["code"] == "not_found", ack
    # Payloads an edit does not take: a file, unknown or missing fields.
    for bad in (
        {**target, "content": "x", "fileId": str(uuid.uuid4())},
        {**target},
        {**target, "content": "x" * 5001},
        {"roomId": room["id"], "content": "x"},
    ):
        ack = await call(bob_sock, "edit_message", bad)
        assert ack["ok"] is False and ack["error"]["code"] == "validation_error", (bad, ack)

    assert (await current(http, server, alice, message)) == message
    assert (await edits_of(http, server, alice, message))["edits"] == []
    assert await room_change_seq(http, server, alice, room["id"]) == before
    # The first change bob hears of is the next real one: the refusals announced nothing.
    status, body = await edit(http, server, alice, message, "alice's better words")
    assert status == 200, body
    [event] = await bob_sock.recorder.wait_for(UPDATED)
    assert event["message"]["content"] == "alice's better words"
    assert event["changeSeq"] == before + 1


async def test_a_dm_change_carries_the_dm_fields(server, http, register, sio_connect):
    alice, bob = await register(server), await register(server)
    dm = await post_dm(http, server, alice, bob, "see you at 5")
    bob_sock = await sio_connect(server, bob.access_token, events=(UPDATED,))

    status, body = await edit(http, server, alice, dm, "see you at 6")

    assert status == 200, body
    [event] = await bob_sock.recorder.wait_for(UPDATED)
    assert event["message"] == body["message"]
    assert event["message"]["senderId"] == alice.id
    assert event["message"]["senderUsername"] == alice.username
    assert event["message"]["recipientId"] == bob.id


async def test_sync_recovers_the_changes_made_while_away(server, http, register, sio_connect):
    alice, bob, carol = await register(server), await register(server), await register(server)
    rooms = [await create_room(http, server, bob) for _ in range(2)]
    for room in rooms:
        await join(http, server, alice, room["id"])
    secret = await private_room_with(http, server, carol)
    posted = {
        room["id"]: [await post_message(http, server, bob, room["id"], f"m{i}") for i in range(4)]
        for room in rooms
    }
    # Alice was here, saw each room's change counter, and went away.
    seen = {room["id"]: await room_change_seq(http, server, alice, room["id"]) for room in rooms}

    made = {room["id"]: 0 for room in rooms}
    for i in range(22):
        room_id = rooms[i % 2]["id"]
        target = posted[room_id][(i // 2) % 4]
        if i >= 18:
            status, body = await delete(http, server, bob, target)
        else:
            status, body = await edit(http, server, bob, target, f"{target['content']} v{i}")
        assert status == 200, body
        made[room_id] += 1

    sock = await sio_connect(server, alice.access_token)
    ack = await call(
        sock,
        "sync",
        {
            "rooms": {},
            "changes": {**seen, secret["id"]: 0},
        },
    )

    assert ack["ok"] is True, ack
    assert set(ack["errors"]) == {secret["id"]}
    assert set(ack["changes"]) == set(seen)
    for room_id, page in ack["changes"].items():
        ids = [m["id"] for m in page["messages"]]
        assert len(ids) == len(set(ids)) == 4, "each changed message once"
        seqs = [m["changeSeq"] for m in page["messages"]]
        assert seqs == sorted(seqs)
        assert page["hasMore"] is False
        assert page["changeSeq"] == seqs[-1] == seen[room_id] + made[room_id]
        for message in page["messages"]:
            assert message == await current(http, server, alice, message)
    # A sync without `changes` answers as before.
    ack = await call(sock, "sync", {"rooms": {}})
    assert ack == {"ok": True, "rooms": {}, "errors": {}}


async def test_sync_pages_the_changes_of_a_busy_room(server, http, register, sio_connect):
    alice = await register(server)
    room = await create_room(http, server, alice)
    page = 100  # services/messages.py SYNC_PAGE_SIZE
    posted = [await post_message(http, server, alice, room["id"], f"m{i}") for i in range(page + 1)]
    for message in posted:
        status, body = await edit(http, server, alice, message, message["content"] + "!")
        assert status == 200, body
    sock = await sio_connect(server, alice.access_token)

    ack = await call(sock, "sync", {"rooms": {}, "changes": {room["id"]: 0}})

    first = ack["changes"][room["id"]]
    assert first["hasMore"] is True
    assert [m["id"] for m in first["messages"]] == [m["id"] for m in posted[:page]]
    assert first["changeSeq"] == first["messages"][-1]["changeSeq"] == page
    ack = await call(sock, "sync", {"rooms": {}, "changes": {room["id"]: first["changeSeq"]}})
    rest = ack["changes"][room["id"]]
    assert [m["id"] for m in rest["messages"]] == [posted[page]["id"]]
    assert rest == {"messages": rest["messages"], "changeSeq": page + 1, "hasMore": False}
