"""REST direct messages: the HTTP fallback, history, the conversation list, blocking, and
DMs staying out of everything room-shaped (issue 3)."""

from __future__ import annotations

import uuid

from tests.chat_helpers import api, post_dm, room_entry


async def test_send_dm_over_http_and_read_history(server, http, register):
    alice = await register(server)
    bob = await register(server)
    sent = []
    for i in range(5):
        sender, to = (alice, bob) if i % 2 == 0 else (bob, alice)
        sent.append(await post_dm(http, server, sender, to, f"dm {i}"))

    first = sent[0]
    assert first["senderId"] == alice.id == first["userId"]
    assert first["senderUsername"] == alice.username == first["username"]
    assert first["recipientId"] == bob.id
    assert first["content"] == "dm 0"
    assert [m["seq"] for m in sent] == [1, 2, 3, 4, 5]
    assert len({m["roomId"] for m in sent}) == 1  # one conversation per pair

    for viewer, other in ((alice, bob), (bob, alice)):
        status, page = await api(http, server, "GET", f"/api/direct-messages/{other.id}", viewer)
        assert status == 200, page
        assert [m["content"] for m in page["messages"]] == [f"dm {i}" for i in range(5)]
        assert page["hasMore"] is False
        assert page["lastSeq"] == 5
        assert page["roomId"] == first["roomId"]
        for m in page["messages"]:
            assert m["recipientId"] == (bob.id if m["senderId"] == alice.id else alice.id)

    status, page = await api(
        http, server, "GET", f"/api/direct-messages/{alice.id}", bob, params={"limit": 2}
    )
    assert [m["seq"] for m in page["messages"]] == [4, 5] and page["hasMore"] is True
    status, page = await api(
        http,
        server,
        "GET",
        f"/api/direct-messages/{alice.id}",
        bob,
        params={"limit": 2, "before": 4},
    )
    assert [m["seq"] for m in page["messages"]] == [2, 3] and page["hasMore"] is True
    status, page = await api(
        http, server, "GET", f"/api/direct-messages/{alice.id}", bob, params={"after": 3}
    )
    assert [m["seq"] for m in page["messages"]] == [4, 5] and page["hasMore"] is False


async def test_dm_history_edge_cases(server, http, register):
    alice = await register(server)
    bob = await register(server)
    status, page = await api(http, server, "GET", f"/api/direct-messages/{bob.id}", alice)
    assert status == 200, page
    assert page["messages"] == [] and page["hasMore"] is False

    status, body = await api(http, server, "GET", f"/api/direct-messages/{uuid.uuid4()}", alice)
    assert status == 404 and body["error"]["code"] == "not_found", body
    status, body = await api(http, server, "GET", "/api/direct-messages/not-a-uuid", alice)
    assert status in (400, 404), body
    status, body = await api(
        http, server, "GET", f"/api/direct-messages/{bob.id}", alice, params={"limit": 0}
    )
    assert status == 400, body
    status, body = await api(http, server, "GET", f"/api/direct-messages/{bob.id}")
    assert status == 401, body


async def test_dm_bad_recipients_and_content(server, http, register):
    alice = await register(server)
    bob = await register(server)
    status, body = await api(
        http, server, "POST", f"/api/direct-messages/{alice.id}", alice, json={"content": "me"}
    )
    # Well formed, but not allowed (a rule, not a malformed request).
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    status, body = await api(
        http, server, "POST", f"/api/direct-messages/{uuid.uuid4()}", alice, json={"content": "?"}
    )
    assert status == 404, body
    assert body["error"]["code"] == "not_found"
    for bad in ({}, {"content": ""}, {"content": "   "}, {"content": "x" * 5001}, {"content": 5}):
        status, body = await api(
            http, server, "POST", f"/api/direct-messages/{bob.id}", alice, json=bad
        )
        assert status == 400, (bad, body)
        assert body["error"]["code"] == "validation_error"
    # No conversation came into being.
    status, body = await api(http, server, "GET", "/api/direct-messages", alice)
    assert status == 200 and body["conversations"] == [], body


async def test_conversation_list_with_last_message_and_unread_counts(server, http, register):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    await post_dm(http, server, alice, bob, "hi bob")
    last_to_bob = await post_dm(http, server, alice, bob, "are you there?")
    from_carol = await post_dm(http, server, carol, alice, "hello alice")

    status, body = await api(http, server, "GET", "/api/direct-messages", alice)
    assert status == 200, body
    convs = body["conversations"]
    # Most recent first.
    assert [c["user"]["id"] for c in convs] == [carol.id, bob.id]
    carol_conv, bob_conv = convs
    assert carol_conv["user"]["username"] == carol.username
    assert carol_conv["unreadCount"] == 1
    assert carol_conv["lastMessage"]["content"] == "hello alice"
    assert carol_conv["lastMessage"]["senderId"] == carol.id
    assert carol_conv["roomId"] == from_carol["roomId"]
    assert bob_conv["unreadCount"] == 0  # alice's own messages
    assert bob_conv["lastMessage"]["id"] == last_to_bob["id"]

    status, body = await api(http, server, "GET", "/api/direct-messages", bob)
    assert status == 200, body
    assert [c["user"]["id"] for c in body["conversations"]] == [alice.id]
    conv = body["conversations"][0]
    assert conv["unreadCount"] == 2
    assert conv["lastSeq"] == 2
    assert conv["lastMessage"]["content"] == "are you there?"
    assert conv["user"]["online"] is False


async def test_dms_never_appear_as_rooms(server, http, register):
    alice = await register(server)
    bob = await register(server)
    outsider = await register(server)
    dm = await post_dm(http, server, alice, bob, "private words")
    rid = dm["roomId"]

    for user in (alice, bob, outsider):
        assert await room_entry(http, server, user, rid) is None
        status, body = await api(http, server, "GET", "/api/rooms", user, params={"limit": 200})
        assert status == 200, body
        assert all(r["kind"] != "direct" for r in body["rooms"])
        status, body = await api(
            http, server, "GET", "/api/rooms", user, params={"search": "direct"}
        )
        assert all(r["kind"] != "direct" for r in body["rooms"])

    # The conversation's room is invisible to a third user on every room route.
    for method, suffix, payload in [
        ("GET", "", None),
        ("GET", "/messages", None),
        ("POST", "/messages", {"content": "eavesdrop"}),
        ("POST", "/join", None),
        ("GET", "/members", None),
        ("GET", "/reads", None),
        ("DELETE", "/leave", None),
    ]:
        status, body = await api(
            http, server, method, f"/api/rooms/{rid}{suffix}", outsider, json=payload
        )
        assert status == 404, (suffix, body)
    # Its members cannot join it as a room or leave it.
    status, body = await api(http, server, "POST", f"/api/rooms/{rid}/join", alice)
    assert status == 404, body
    status, body = await api(http, server, "DELETE", f"/api/rooms/{rid}/leave", alice)
    assert status == 403, body
    status, page = await api(http, server, "GET", f"/api/direct-messages/{alice.id}", bob)
    assert status == 200, page
    assert [m["content"] for m in page["messages"]] == ["private words"]


async def test_blocking_stops_dms_and_unblocking_restores_them(server, http, register):
    alice = await register(server)
    bob = await register(server)
    await post_dm(http, server, alice, bob, "before the block")

    for _ in range(2):  # idempotent
        status, body = await api(http, server, "POST", f"/api/users/{alice.id}/block", bob)
        assert status == 204, body
    status, body = await api(
        http, server, "POST", f"/api/direct-messages/{bob.id}", alice, json={"content": "hey"}
    )
    assert status == 403, body
    assert body["error"]["code"] == "forbidden"
    # Blocking is one way: bob may still write to alice.
    await post_dm(http, server, bob, alice, "I can still talk")
    status, page = await api(http, server, "GET", f"/api/direct-messages/{alice.id}", bob)
    assert status == 200, page
    assert [m["content"] for m in page["messages"]] == ["before the block", "I can still talk"]

    status, body = await api(http, server, "DELETE", f"/api/users/{alice.id}/block", bob)
    assert status == 204, body
    await post_dm(http, server, alice, bob, "after the unblock")
    # The refused messages took no place in the conversation: no gap in its seq.
    status, page = await api(http, server, "GET", f"/api/direct-messages/{bob.id}", alice)
    assert status == 200, page
    assert [(m["seq"], m["content"]) for m in page["messages"]] == [
        (1, "before the block"),
        (2, "I can still talk"),
        (3, "after the unblock"),
    ]

    # Blocking yourself: well formed, not allowed.
    status, body = await api(http, server, "POST", f"/api/users/{bob.id}/block", bob)
    assert status == 403, body
    status, body = await api(http, server, "POST", f"/api/users/{uuid.uuid4()}/block", bob)
    assert status == 404, body
    status, body = await api(http, server, "DELETE", f"/api/users/{uuid.uuid4()}/block", bob)
    assert status == 404, body


async def test_http_dm_retry_with_client_msg_id_is_idempotent(server, http, register):
    alice = await register(server)
    bob = await register(server)
    carol = await register(server)
    body = {"content": "once", "clientMsgId": "dm-retry-1"}
    status, first = await api(
        http, server, "POST", f"/api/direct-messages/{bob.id}", alice, json=body
    )
    assert status == 201, first
    status, again = await api(
        http, server, "POST", f"/api/direct-messages/{bob.id}", alice, json=body
    )
    assert status == 200, again
    assert again["message"]["id"] == first["message"]["id"]
    # The same key for another recipient is not a retry.
    status, other = await api(
        http, server, "POST", f"/api/direct-messages/{carol.id}", alice, json=body
    )
    assert status == 409, other
    status, page = await api(http, server, "GET", f"/api/direct-messages/{bob.id}", alice)
    assert status == 200, page
    assert len(page["messages"]) == 1


async def test_http_dms_are_rate_limited(start_server, http, register):
    server = await start_server(rate_limit_messages="3/minute")
    alice = await register(server)
    bob = await register(server)
    for i in range(3):
        await post_dm(http, server, alice, bob, f"n{i}")
    async with http.post(
        f"{server.url}/api/direct-messages/{bob.id}", headers=alice.headers, json={"content": "x"}
    ) as resp:
        body = await resp.json()
        assert resp.status == 429, body
        assert body["error"]["code"] == "rate_limited"
        assert int(resp.headers["Retry-After"]) >= 1
