"""Unread counts and read state: up with messages (sync, list), down with `mark_read` (never
backwards, never beyond the last seq), the summary on connect, read receipts (issue 3)."""

from __future__ import annotations

import uuid

from tests.chat_helpers import (
    api,
    call,
    call_error,
    call_ok,
    create_room,
    join,
    post_dm,
    post_message,
    private_room_with,
    quiet,
    room_entry,
    wait_match,
)
from tests.conftest import LOBBY_ID

READ_EVENTS = ("unread", "read_receipt")


async def _unread_in_list(http, server, user, room_id: str) -> int:
    entry = await room_entry(http, server, user, room_id)
    assert entry is not None
    return int(entry["unreadCount"])


async def test_unread_counts_go_up_and_down_with_mark_read(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    room = await create_room(http, server, alice)
    rid = room["id"]
    await join(http, server, bob, rid)
    b1 = await sio_connect(server, bob.access_token, events=READ_EVENTS)
    b2 = await sio_connect(server, bob.access_token, events=READ_EVENTS)
    for i in range(3):
        await post_message(http, server, alice, rid, f"m{i}")

    # Up: sync and the room list agree.
    synced = await call_ok(b1, "sync", {"rooms": {rid: 0}})
    state = synced["rooms"][rid]
    assert [m["seq"] for m in state["messages"]] == [1, 2, 3]
    assert (state["lastSeq"], state["lastReadSeq"], state["unread"]) == (3, 0, 3)
    assert await _unread_in_list(http, server, bob, rid) == 3
    assert await _unread_in_list(http, server, alice, rid) == 0

    # Down: mark_read answers the new state and tells all of bob's sockets.
    ack = await call_ok(b1, "mark_read", {"roomId": rid, "seq": 2})
    assert ack["roomId"] == rid
    assert (ack["lastSeq"], ack["lastReadSeq"], ack["unread"]) == (3, 2, 1)
    for sock in (b1, b2):
        got = await wait_match(sock, "unread", lambda e: rid in e["rooms"])
        assert got[-1]["rooms"][rid]["unread"] == 1
        assert got[-1]["rooms"][rid]["lastReadSeq"] == 2
    assert await _unread_in_list(http, server, bob, rid) == 1

    # Never backwards.
    ack = await call_ok(b2, "mark_read", {"roomId": rid, "seq": 1})
    assert (ack["lastReadSeq"], ack["unread"]) == (2, 1)
    assert await _unread_in_list(http, server, bob, rid) == 1
    synced = await call_ok(b2, "sync", {"rooms": {rid: 3}})
    assert synced["rooms"][rid]["lastReadSeq"] == 2

    # Beyond the last message: refused, nothing changes, nobody is told anything.
    events_before = len(b2.recorder.events["unread"])
    ack = await call(b1, "mark_read", {"roomId": rid, "seq": 4})
    assert ack["ok"] is False and ack["error"]["code"] == "validation_error", ack
    assert "seq" in ack["error"].get("fields", {}), ack
    await quiet(b2, "unread")
    assert len(b2.recorder.events["unread"]) == events_before
    assert await _unread_in_list(http, server, bob, rid) == 1

    ack = await call_ok(b1, "mark_read", {"roomId": rid, "seq": 3})
    assert ack["unread"] == 0
    assert await _unread_in_list(http, server, bob, rid) == 0
    # More messages: up again.
    await post_message(http, server, alice, rid, "m3")
    assert await _unread_in_list(http, server, bob, rid) == 1


async def test_unread_summary_on_connect(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    room_a = await create_room(http, server, alice)
    room_b = await private_room_with(http, server, alice, bob)
    await join(http, server, bob, room_a["id"])
    for i in range(2):
        await post_message(http, server, alice, room_a["id"], f"a{i}")
    await post_message(http, server, alice, room_b["id"], "b0")
    dm = await post_dm(http, server, alice, bob, "dm0")

    b = await sio_connect(server, bob.access_token, events=READ_EVENTS)
    summary = (await wait_match(b, "unread", lambda e: "total" in e))[0]
    rooms = summary["rooms"]
    assert rooms[room_a["id"]]["unread"] == 2
    assert rooms[room_a["id"]]["lastSeq"] == 2
    assert rooms[room_a["id"]]["lastReadSeq"] == 0
    assert rooms[room_b["id"]]["unread"] == 1
    assert rooms[dm["roomId"]]["unread"] == 1
    assert LOBBY_ID in rooms
    assert summary["total"] == sum(r["unread"] for r in rooms.values())
    assert summary["total"] >= 4

    # Her own messages are never unread for the sender.
    a = await sio_connect(server, alice.access_token, events=READ_EVENTS)
    mine = (await wait_match(a, "unread", lambda e: "total" in e))[0]["rooms"]
    for rid in (room_a["id"], room_b["id"], dm["roomId"]):
        assert mine[rid]["unread"] == 0


async def test_mark_read_in_a_dm_by_user_id(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    await post_dm(http, server, alice, bob, "one")
    dm = await post_dm(http, server, alice, bob, "two")
    b = await sio_connect(server, bob.access_token, events=READ_EVENTS)
    ack = await call_ok(b, "mark_read", {"userId": alice.id, "seq": 1})
    assert ack["roomId"] == dm["roomId"]
    assert ack["unread"] == 1
    status, body = await api(http, server, "GET", "/api/direct-messages", bob)
    assert status == 200, body
    assert body["conversations"][0]["unreadCount"] == 1
    await call_error(b, "mark_read", {"userId": alice.id, "seq": 3}, "validation_error")
    ack = await call_ok(b, "mark_read", {"roomId": dm["roomId"], "seq": 2})
    assert ack["unread"] == 0
    status, body = await api(http, server, "GET", "/api/direct-messages", bob)
    assert status == 200, body
    assert body["conversations"][0]["unreadCount"] == 0


async def test_mark_read_bad_input(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    stranger = await register(server)
    private = await create_room(http, server, stranger, private=True)
    public = await create_room(http, server, stranger)
    await post_message(http, server, stranger, public["id"], "hello")
    b = await sio_connect(server, bob.access_token, events=READ_EVENTS)

    for payload in (
        None,
        {},
        {"roomId": LOBBY_ID},
        {"seq": 1},
        {"roomId": LOBBY_ID, "seq": -1},
        {"roomId": LOBBY_ID, "seq": "1"},
        {"roomId": LOBBY_ID, "seq": 1.5},
        {"roomId": LOBBY_ID, "seq": True},
        {"roomId": "nope", "seq": 0},
        {"roomId": LOBBY_ID, "userId": alice.id, "seq": 0},
    ):
        await call_error(b, "mark_read", payload, "validation_error")
    for payload in (
        {"roomId": str(uuid.uuid4()), "seq": 0},
        {"roomId": private["id"], "seq": 0},
        {"roomId": public["id"], "seq": 1},  # not a member
        {"userId": alice.id, "seq": 0},  # no conversation
        {"userId": str(uuid.uuid4()), "seq": 0},
        {"userId": bob.id, "seq": 0},  # yourself
    ):
        await call_error(b, "mark_read", payload, "not_found")


async def test_read_receipts(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    outsider = await register(server)
    room = await private_room_with(http, server, alice, bob, carol)
    rid = room["id"]
    a = await sio_connect(server, alice.access_token, events=READ_EVENTS)
    b = await sio_connect(server, bob.access_token, events=READ_EVENTS)
    c = await sio_connect(server, carol.access_token, events=READ_EVENTS)
    x = await sio_connect(server, outsider.access_token, events=READ_EVENTS)
    await post_message(http, server, alice, rid, "one")
    await post_message(http, server, alice, rid, "two")

    await call_ok(b, "mark_read", {"roomId": rid, "seq": 2})
    for sock in (a, c):
        got = await wait_match(sock, "read_receipt", lambda e: e["roomId"] == rid)
        assert got[0] == {"roomId": rid, "userId": bob.id, "lastReadSeq": 2, "lastDeliveredSeq": 2}
    await quiet(b, "read_receipt")
    assert b.recorder.events["read_receipt"] == []
    assert x.recorder.events["read_receipt"] == []

    status, body = await api(http, server, "GET", f"/api/rooms/{rid}/reads", carol)
    assert status == 200, body
    assert body["roomId"] == rid
    assert body["reads"] == {alice.id: 2, bob.id: 2, carol.id: 0}
    status, body = await api(http, server, "GET", f"/api/rooms/{rid}/reads", outsider)
    assert status == 404, body

    # In a DM: the sender learns that the message was read.
    dm = await post_dm(http, server, alice, bob, "did you read this?")
    await call_ok(b, "mark_read", {"userId": alice.id, "seq": dm["seq"]})
    got = await wait_match(a, "read_receipt", lambda e: e["roomId"] == dm["roomId"])
    assert got[0] == {
        "roomId": dm["roomId"],
        "userId": bob.id,
        "lastReadSeq": 1,
        "lastDeliveredSeq": 1,
    }
    await quiet(c, "read_receipt", lambda e: e["roomId"] == dm["roomId"])
    assert not [e for e in c.recorder.events["read_receipt"] if e["roomId"] == dm["roomId"]]
