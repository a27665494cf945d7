"""Thread replies over Socket.IO (docs/contract.md §12): `send_message` with `threadId`.

Owns: a reply is delivered like any message (`new_message`, own seq) and its root's change
is announced as `message_updated` with the root's reply count and a new change number; a
retry announces nothing again; a blocked sender cannot reply in the blocker's DM. Must
not: re-test the thread page and the root rules (tests/api/test_threads.py).
"""

from __future__ import annotations

from tests.changes_helpers import room_change_seq
from tests.chat_helpers import api, call, call_ok, post_dm, post_message, quiet, wait_match
from tests.conftest import LOBBY_ID

EVENTS = ("message_updated", "new_message")
BLOCKED_MESSAGE = "This user does not accept your messages"


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
