"""Threads over REST (docs/contract.md §12): POST /api/rooms/:id/messages with `threadId`
and GET /api/rooms/:id/messages/:messageId/thread.

Owns: a reply is an ordinary message of the room (own seq, idempotent clientMsgId) with
`threadId`; its root's reply count and last reply time change with it, under one new change
number; which messages may be a root (same room, not a reply, not deleted); the thread page
(root, replies in seq order, paging); and the refusals (blocked sender in the blocker's DM,
non-members) storing nothing. Must not: test the socket path (tests/realtime/test_threads.py).
"""

from __future__ import annotations

import uuid

from tests.changes_helpers import history_message, make_tombstone, room_change_seq
from tests.chat_helpers import api, create_room, post_dm, post_message, private_room_with
from tests.conftest import LOBBY_ID

BLOCKED_MESSAGE = "This user does not accept your messages"


async def reply(http, server, user, root, content, **extra):
    return await api(
        http,
        server,
        "POST",
        f"/api/rooms/{root['roomId']}/messages",
        user,
        json={"content": content, "threadId": root["id"], **extra},
    )


async def thread(http, server, user, root, **params):
    return await api(
        http,
        server,
        "GET",
        f"/api/rooms/{root['roomId']}/messages/{root['id']}/thread",
        user,
        params=params,
    )


async def test_a_reply_is_a_message_of_the_room_and_counts_on_its_root(server, http, register):
    alice = await register(server)
    bob = await register(server)
    room = await create_room(http, server, alice)
    await api(http, server, "POST", f"/api/rooms/{room['id']}/join", bob)
    root = await post_message(http, server, alice, room["id"], "question?")
    assert "thread" not in root

    status, body = await reply(http, server, bob, root, "answer", clientMsgId="r-1")
    assert status == 201, body
    first = body["message"]
    assert first["threadId"] == root["id"]
    assert first["seq"] == root["seq"] + 1
    # A retry returns the original; the root is not counted twice.
    status, body = await reply(http, server, bob, root, "answer", clientMsgId="r-1")
    assert status == 200, body
    assert body["message"]["id"] == first["id"]
    status, body = await reply(http, server, alice, root, "thanks")
    assert status == 201, body
    second = body["message"]

    current = await history_message(http, server, alice, root)
    assert current["thread"] == {"replyCount": 2, "lastReplyAt": second["createdAt"]}
    assert current["changeSeq"] == 2
    assert await room_change_seq(http, server, alice, room["id"]) == 2

    status, page = await thread(http, server, alice, root)
    assert status == 200, page
    assert page["root"] == current
    assert [m["id"] for m in page["messages"]] == [first["id"], second["id"]]
    assert page["hasMore"] is False
    # Paging forwards by seq.
    status, page = await thread(http, server, alice, root, limit=1)
    assert [m["id"] for m in page["messages"]] == [first["id"]] and page["hasMore"] is True
    status, page = await thread(http, server, alice, root, after=first["seq"], limit=1)
    assert [m["id"] for m in page["messages"]] == [second["id"]] and page["hasMore"] is False
    # Replies are in the room's history too, in seq order.
    status, hist = await api(http, server, "GET", f"/api/rooms/{room['id']}/messages", alice)
    assert [m["id"] for m in hist["messages"]] == [root["id"], first["id"], second["id"]]


async def test_a_message_without_replies_has_an_empty_thread(server, http, register):
    alice = await register(server)
    root = await post_message(http, server, alice, LOBBY_ID, "anyone?")
    status, page = await thread(http, server, alice, root)
    assert status == 200, page
    assert page["messages"] == [] and page["hasMore"] is False
    assert page["root"]["id"] == root["id"]


async def test_what_cannot_be_a_root_is_refused_and_nothing_is_stored(server, http, register):
    alice = await register(server)
    room = await create_room(http, server, alice)
    root = await post_message(http, server, alice, room["id"], "root")
    status, body = await reply(http, server, alice, root, "a reply")
    assert status == 201, body
    a_reply = body["message"]
    elsewhere = await post_message(http, server, alice, LOBBY_ID, "in the lobby")
    gone = await post_message(http, server, alice, room["id"], "deleted")
    await make_tombstone(http, server, alice, gone)
    last_seq = gone["seq"]
    changes = await room_change_seq(http, server, alice, room["id"])

    cases = (
        (str(uuid.uuid4()), 404),  # no such message
        (elsewhere["id"], 404),  # a message of another room
        (a_reply["id"], 409),  # a reply: threads are one level deep
        (gone["id"], 409),  # a tombstone
    )
    for thread_id, expected in cases:
        status, body = await api(
            http,
            server,
            "POST",
            f"/api/rooms/{room['id']}/messages",
            alice,
            json={"content": "x", "threadId": thread_id},
        )
        assert status == expected, (thread_id, body)
        if expected == 404:
            assert body["error"]["fields"] == {"threadId": ["No such message in this room."]}

    status, hist = await api(http, server, "GET", f"/api/rooms/{room['id']}", alice)
    assert hist["lastSeq"] == last_seq
    assert await room_change_seq(http, server, alice, room["id"]) == changes
    # The thread of a reply is its root's: asking for it is a 409 that says so.
    status, body = await thread(http, server, alice, a_reply)
    assert status == 409, body


async def test_a_blocked_user_cannot_reply_in_the_blockers_dm(server, http, register):
    alice = await register(server)
    bob = await register(server)
    root = await post_dm(http, server, bob, alice, "hello alice")
    status, _ = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204

    status, body = await reply(http, server, alice, root, "let me in")
    assert status == 403, body
    assert body["error"] == {"code": "forbidden", "message": BLOCKED_MESSAGE}, body
    status, page = await thread(http, server, bob, root)
    assert page["messages"] == [] and "thread" not in page["root"]
    # The blocker still may.
    status, body = await reply(http, server, bob, root, "in my own thread")
    assert status == 201, body


async def test_non_members_cannot_reply_or_read_a_private_thread(server, http, register):
    owner = await register(server)
    outsider = await register(server)
    private = await private_room_with(http, server, owner)
    root = await post_message(http, server, owner, private["id"], "secret root")
    status, body = await reply(http, server, outsider, root, "hi")
    assert status == 404, body
    status, body = await thread(http, server, outsider, root)
    assert status == 404, body
    public = await create_room(http, server, owner)
    notice = await post_message(http, server, owner, public["id"], "public root")
    status, body = await reply(http, server, outsider, notice, "hi")
    assert status == 403, body
    # Reading a public room's thread needs no membership.
    status, page = await thread(http, server, outsider, notice)
    assert status == 200, page
    assert await room_change_seq(http, server, owner, public["id"]) == 0
