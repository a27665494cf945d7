"""Direct messages over Socket.IO: `send_dm` -> `new_dm` to every socket of the recipient and
the sender's other sockets (never a third user), the offline queue, blocking, the HTTP
fallback, idempotent retries and rate limits (issue 3)."""

from __future__ import annotations

import uuid

from tests.chat_helpers import (
    api,
    call_error,
    call_ok,
    post_dm,
    quiet,
    wait_match,
)

DM_EVENTS = ("new_dm", "new_message", "unread")


def dm_id(message_id: str):
    return lambda e: e["message"]["id"] == message_id


async def test_dm_reaches_every_recipient_socket_and_senders_other_socket(
    server, register, sio_connect
):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    a1 = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    a2 = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    b1 = await sio_connect(server, bob.access_token, events=DM_EVENTS)
    b2 = await sio_connect(server, bob.access_token, events=DM_EVENTS)
    c = await sio_connect(server, carol.access_token, events=DM_EVENTS)

    ack = await call_ok(
        a1, "send_dm", {"recipientId": bob.id, "content": "psst", "clientMsgId": "dm-1"}
    )
    message = ack["message"]
    assert message["senderId"] == alice.id == message["userId"]
    assert message["senderUsername"] == alice.username
    assert message["recipientId"] == bob.id
    assert message["content"] == "psst"
    assert message["clientMsgId"] == "dm-1"
    assert message["seq"] == 1
    assert message["contentHtml"]
    assert message["createdAt"]

    for sock in (b1, b2, a2):
        got = await wait_match(sock, "new_dm", dm_id(message["id"]))
        assert got[0]["message"] == message
    await quiet(c, "new_dm")
    assert c.recorder.events["new_dm"] == []
    # DMs are not room messages.
    for sock in (a1, a2, b1, b2, c):
        assert sock.recorder.events["new_message"] == []

    # The reply goes the other way, in the same conversation (the sockets followed the
    # conversation room created by the first message).
    reply = await call_ok(b2, "send_dm", {"recipientId": alice.id, "content": "yes?"})
    assert reply["message"]["roomId"] == message["roomId"]
    assert reply["message"]["seq"] == 2
    for sock in (a1, a2, b1):
        await wait_match(sock, "new_dm", dm_id(reply["message"]["id"]))
    await quiet(c, "new_dm")
    assert c.recorder.events["new_dm"] == []


async def test_dm_arrival_updates_the_recipients_unread_count(server, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    b = await sio_connect(server, bob.access_token, events=DM_EVENTS)
    first = await call_ok(a, "send_dm", {"recipientId": bob.id, "content": "one"})
    await call_ok(a, "send_dm", {"recipientId": bob.id, "content": "two"})
    rid = first["message"]["roomId"]
    got = await wait_match(b, "unread", lambda e: rid in e["rooms"], count=2)
    assert got[-1]["rooms"][rid]["unread"] == 2
    assert got[-1]["rooms"][rid]["lastSeq"] == 2


async def test_http_fallback_dm_is_broadcast(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    a = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    b = await sio_connect(server, bob.access_token, events=DM_EVENTS)
    c = await sio_connect(server, carol.access_token, events=DM_EVENTS)
    message = await post_dm(http, server, alice, bob, "over http")
    for sock in (a, b):
        got = await wait_match(sock, "new_dm", dm_id(message["id"]))
        assert got[0]["message"]["content"] == "over http"
        assert got[0]["message"]["recipientId"] == bob.id
    await quiet(c, "new_dm")
    assert c.recorder.events["new_dm"] == []


async def test_send_dm_bad_input_changes_nothing(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    b = await sio_connect(server, bob.access_token, events=DM_EVENTS)

    # The rule lives once in the service: the socket answers it as REST does (403).
    await call_error(a, "send_dm", {"recipientId": alice.id, "content": "me"}, "forbidden")
    await call_error(a, "send_dm", {"recipientId": str(uuid.uuid4()), "content": "??"}, "not_found")
    for payload in (
        None,
        {},
        {"content": "no recipient"},
        {"recipientId": "nope", "content": "x"},
        {"recipientId": bob.id},
        {"recipientId": bob.id, "content": ""},
        {"recipientId": bob.id, "content": "x" * 5001},
        {"recipientId": bob.id, "content": "bad\x07bell"},
        {"recipientId": bob.id, "content": "x", "messageType": "system"},
    ):
        await call_error(a, "send_dm", payload, "validation_error")
    await quiet(b, "new_dm")
    assert b.recorder.events["new_dm"] == []
    status, body = await api(http, server, "GET", "/api/direct-messages", alice)
    assert status == 200, body
    assert body["conversations"] == []


async def test_blocked_sender_is_refused_until_unblocked(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    b = await sio_connect(server, bob.access_token, events=DM_EVENTS)
    status, _ = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
    assert status == 204

    await call_error(a, "send_dm", {"recipientId": bob.id, "content": "let me in"}, "forbidden")
    await quiet(b, "new_dm")
    assert b.recorder.events["new_dm"] == []
    status, page = await api(http, server, "GET", f"/api/direct-messages/{alice.id}", bob)
    assert status == 200, page
    assert page["messages"] == []

    status, _ = await api(http, server, "DELETE", f"/api/users/{alice.id}/block", bob)
    assert status == 204
    ack = await call_ok(a, "send_dm", {"recipientId": bob.id, "content": "thanks"})
    await wait_match(b, "new_dm", dm_id(ack["message"]["id"]))


async def test_offline_dms_are_delivered_on_connect(server, http, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    a = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    first = await call_ok(a, "send_dm", {"recipientId": bob.id, "content": "while you were out"})
    second = await call_ok(a, "send_dm", {"recipientId": bob.id, "content": "and again"})
    from_carol = await post_dm(http, server, carol, bob, "me too")
    rid = first["message"]["roomId"]

    b = await sio_connect(server, bob.access_token, events=DM_EVENTS)
    got = await wait_match(b, "new_dm", lambda e: True, count=3)
    ids = [e["message"]["id"] for e in got]
    assert sorted(ids) == sorted(
        [first["message"]["id"], second["message"]["id"], from_carol["id"]]
    )
    from_alice = [e["message"] for e in got if e["message"]["senderId"] == alice.id]
    assert [m["content"] for m in from_alice] == ["while you were out", "and again"]
    assert all(m["recipientId"] == bob.id for m in from_alice)
    summary = (await wait_match(b, "unread", lambda e: rid in e["rooms"]))[0]
    assert summary["rooms"][rid]["unread"] == 2
    await b.disconnect()

    # Once read, they are not pushed again; the unread one from carol still is.
    await call_ok(
        await sio_connect(server, bob.access_token), "mark_read", {"userId": alice.id, "seq": 2}
    )
    again = await sio_connect(server, bob.access_token, events=DM_EVENTS)
    got = await wait_match(again, "new_dm", lambda e: True)
    await quiet(again, "new_dm")
    assert [e["message"]["id"] for e in again.recorder.events["new_dm"]] == [from_carol["id"]]
    # Alice's own messages are never queued for her.
    a2 = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    await quiet(a2, "new_dm")
    assert a2.recorder.events["new_dm"] == []


async def test_dm_retry_with_same_client_msg_id_is_delivered_once(server, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    b = await sio_connect(server, bob.access_token, events=DM_EVENTS)
    payload = {"recipientId": bob.id, "content": "once", "clientMsgId": "retry-me"}
    first = await call_ok(a, "send_dm", payload)
    again = await call_ok(a, "send_dm", payload)
    assert again["message"]["id"] == first["message"]["id"]
    await wait_match(b, "new_dm", dm_id(first["message"]["id"]))
    await quiet(b, "new_dm")
    assert len(b.recorder.events["new_dm"]) == 1


async def test_send_dm_is_rate_limited(start_server, register, sio_connect):
    server = await start_server(rate_limit_messages="3/minute")
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=DM_EVENTS)
    for i in range(3):
        await call_ok(a, "send_dm", {"recipientId": bob.id, "content": f"n{i}"})
    ack = await a.call(
        "send_dm", {"recipientId": bob.id, "content": "one too many"}, namespace="/chat"
    )
    assert ack["ok"] is False, ack
    assert ack["error"]["code"] == "rate_limited"
    assert ack["error"]["retryAfter"] >= 1
