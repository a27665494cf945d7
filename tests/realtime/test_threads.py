"""Thread replies over Socket.IO (docs/contract.md §12): `send_message` with `threadId`.

Owns: a reply is delivered like any message (`new_message`, own seq) and its root's change
is announced as `message_updated` with the root's reply count and a new change number; a
retry announces nothing again; a blocked sender cannot reply in the blocker's DM. Must
not: re-test the thread page and the root rules (tests/api/test_threads.py).
"""

from __future__ import annotations

import asyncio

from tests.changes_helpers import room_change_seq
from tests.chat_helpers import api, call, call_ok, post_dm, post_message, quiet, wait_match
from tests.conftest import LOBBY_ID

EVENTS = ("message_updated", "new_message")
BLOCKED_MESSAGE = "This user does not accept your messages"
# Clients each replying to and reacting on one root at the same time.
RACERS = 10


async def test_a_reply_is_delivered_and_its_root_change_announced(
    server, http, register, sio_connect
):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=EVENTS)
    b = await sio_connect(server, bob.access_token, events=EVENTS)
    root = await post_message(http, server, alice, LOBBY_ID, "thread root")
    before = await room_change_seq(http, server, alice, LOBBY_ID)

    payload = {
        "roomId": LOBBY_ID,
        "content": "a reply",
        "threadId": root["id"],
        "clientMsgId": "t1",
    }
    ack = await call_ok(b, "send_message", payload)
    reply = ack["message"]
    assert reply["threadId"] == root["id"] and reply["seq"] == root["seq"] + 1

    (new,) = await wait_match(a, "new_message", lambda e: e["message"]["id"] == reply["id"])
    assert new["message"] == reply
    (updated,) = await wait_match(a, "message_updated", lambda e: True)
    assert updated["changeSeq"] == before + 1
    assert updated["message"]["id"] == root["id"]
    assert updated["message"]["thread"] == {"replyCount": 1, "lastReplyAt": reply["createdAt"]}
    assert updated["message"]["changeSeq"] == before + 1

    # A retry returns the original and announces nothing.
    again = await call_ok(b, "send_message", payload)
    assert again["message"]["id"] == reply["id"]
    # The same clientMsgId for another thread (or none) is not a retry.
    other = {**payload, "threadId": None}
    ack = await call(b, "send_message", other)
    assert ack["ok"] is False and ack["error"]["code"] == "conflict", ack
    await quiet(a, "message_updated")
    assert len(a.recorder.events["message_updated"]) == 1
    assert await room_change_seq(http, server, alice, LOBBY_ID) == before + 1


async def test_a_blocked_user_cannot_reply_in_the_blockers_dm(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    root = await post_dm(http, server, bob, alice, "hello")
    status, _ = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204
    a = await sio_connect(server, alice.access_token, events=EVENTS)
    b = await sio_connect(server, bob.access_token, events=EVENTS)

    payload = {"roomId": root["roomId"], "content": "let me in", "threadId": root["id"]}
    ack = await call(a, "send_message", payload)
    assert ack == {"ok": False, "error": {"code": "forbidden", "message": BLOCKED_MESSAGE}}
    await quiet(b, "new_message")
    assert b.recorder.events["message_updated"] == []
    assert await room_change_seq(http, server, bob, root["roomId"]) == 0


async def test_replies_and_reactions_racing_on_one_root_neither_deadlock_nor_skip(
    server, http, register, sio_connect
):
    """A reply changes its root inside the send's transaction and a reaction through the
    changing transaction; both take the rooms row first, then the root's. Racing on the
    same root, every change gets its own change number and the counts are exact."""
    watcher = await register(server)
    w = await sio_connect(server, watcher.access_token, events=EVENTS)
    root = await post_message(http, server, watcher, LOBBY_ID, "busy root")
    users = [await register(server) for _ in range(RACERS)]
    sockets = [await sio_connect(server, u.access_token) for u in users]
    before = await room_change_seq(http, server, watcher, LOBBY_ID)

    async def both(sock, i: int) -> None:
        reply = {"roomId": LOBBY_ID, "content": f"reply {i}", "threadId": root["id"]}
        react = {"roomId": LOBBY_ID, "messageId": root["id"], "emoji": "\U0001f525"}
        await asyncio.gather(
            call_ok(sock, "send_message", reply), call_ok(sock, "add_reaction", react)
        )

    await asyncio.gather(*(both(s, i) for i, s in enumerate(sockets)))

    changes = 2 * RACERS
    events = await wait_match(
        w, "message_updated", lambda e: e["message"]["id"] == root["id"], count=changes, timeout=30
    )
    assert sorted(e["changeSeq"] for e in events) == list(range(before + 1, before + changes + 1))
    final = max(events, key=lambda e: e["changeSeq"])["message"]
    assert final["thread"]["replyCount"] == RACERS
    assert final["reactions"][0]["count"] == RACERS
    assert final["changeSeq"] == before + changes
