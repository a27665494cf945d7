"""/api/rooms/{id}/messages: the HTTP fallback for sending, and keyset history pages."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from tests.conftest import LOBBY_ID

MESSAGES = f"/api/rooms/{LOBBY_ID}/messages"
MESSAGE_KEYS = {
    "id",
    "roomId",
    "seq",
    "userId",
    "username",
    "content",
    "contentHtml",
    "messageType",
    "createdAt",
}


def assert_error(body: dict, code: str) -> dict:
    assert set(body) == {"error"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


async def post_message(http, server, user, content, *, room=LOBBY_ID, **extra):
    async with http.post(
        f"{server.url}/api/rooms/{room}/messages",
        json={"content": content, **extra},
        headers=user.headers,
    ) as resp:
        return resp.status, await resp.json()


async def history(http, server, user, query="", room=LOBBY_ID):
    async with http.get(
        f"{server.url}/api/rooms/{room}/messages{query}", headers=user.headers
    ) as resp:
        return resp.status, await resp.json()


async def last_seq(http, server, user) -> int:
    status, page = await history(http, server, user, "?limit=1")
    assert status == 200, page
    return page["lastSeq"]


async def test_post_message_returns_the_stored_message(server, http, register):
    user = await register(server)
    client_id = str(uuid.uuid4())
    status, body = await post_message(http, server, user, "hello **world**", clientMsgId=client_id)
    assert status == 201, body
    msg = body["message"]
    assert set(msg) >= MESSAGE_KEYS
    assert msg["roomId"] == LOBBY_ID
    assert msg["userId"] == user.id
    assert msg["username"] == user.username
    assert msg["content"] == "hello **world**"
    assert "<strong>world</strong>" in msg["contentHtml"]
    assert msg["messageType"] == "text"
    assert msg["clientMsgId"] == client_id
    assert isinstance(msg["seq"], int) and msg["seq"] >= 1
    assert msg["createdAt"].endswith("Z")
    # It is in the history, exactly as returned.
    status, page = await history(http, server, user, f"?after={msg['seq'] - 1}&limit=1")
    assert status == 200
    assert page["messages"] == [msg]


async def test_content_is_stored_exactly_as_sent(server, http, register):
    user = await register(server)
    content = "  <b>not bold</b> & 'q' \"dq\"\n\tindented 🙂  "
    status, body = await post_message(http, server, user, content)
    assert status == 201
    assert body["message"]["content"] == content
    assert "<b>" not in body["message"]["contentHtml"]
    assert "&lt;b&gt;" in body["message"]["contentHtml"]
    seq = body["message"]["seq"]
    _, page = await history(http, server, user, f"?after={seq - 1}&limit=1")
    assert page["messages"][0]["content"] == content


async def test_a_bare_url_is_a_link_that_opens_in_a_new_tab(server, http, register):
    user = await register(server)
    content = "docs at https://example.com/guide. and javascript:alert(1)"
    status, body = await post_message(http, server, user, content)
    assert status == 201, body
    html = body["message"]["contentHtml"]
    assert (
        '<a href="https://example.com/guide" target="_blank" '
        'rel="noopener noreferrer nofollow">https://example.com/guide</a>.'
    ) in html
    assert html.count("<a ") == 1
    assert body["message"]["content"] == content


async def test_seq_increases_by_one_per_message(server, http, register):
    user = await register(server)
    seqs = []
    for i in range(3):
        status, body = await post_message(http, server, user, f"n{i}")
        assert status == 201
        seqs.append(body["message"]["seq"])
    assert seqs == [seqs[0], seqs[0] + 1, seqs[0] + 2]
    assert await last_seq(http, server, user) == seqs[-1]


async def test_concurrent_posts_get_distinct_gapless_seqs(server, http, register):
    user = await register(server)
    before = await last_seq(http, server, user)
    results = await asyncio.gather(*(post_message(http, server, user, f"c{i}") for i in range(10)))
    assert all(status == 201 for status, _ in results)
    seqs = sorted(body["message"]["seq"] for _, body in results)
    assert seqs == list(range(before + 1, before + 11))


async def test_repeated_client_msg_id_returns_the_original(server, http, register):
    user = await register(server)
    client_id = f"retry-{uuid.uuid4()}"
    status, first = await post_message(http, server, user, "once", clientMsgId=client_id)
    assert status == 201
    seq_after_first = await last_seq(http, server, user)
    status, again = await post_message(http, server, user, "once", clientMsgId=client_id)
    assert status == 200, again
    assert again["message"]["id"] == first["message"]["id"]
    assert again["message"]["seq"] == first["message"]["seq"]
    # Even a retry whose content differs returns the original: the key identifies the send.
    status, changed = await post_message(http, server, user, "different", clientMsgId=client_id)
    assert status == 200
    assert changed["message"]["content"] == "once"
    assert await last_seq(http, server, user) == seq_after_first
    _, page = await history(http, server, user, f"?after={first['message']['seq'] - 1}")
    assert [m["clientMsgId"] for m in page["messages"] if m.get("clientMsgId") == client_id] == [
        client_id
    ]


async def test_client_msg_id_is_per_sender(server, http, register):
    alice = await register(server)
    bob = await register(server)
    client_id = f"shared-{uuid.uuid4()}"
    s1, a = await post_message(http, server, alice, "from alice", clientMsgId=client_id)
    s2, b = await post_message(http, server, bob, "from bob", clientMsgId=client_id)
    assert (s1, s2) == (201, 201)
    assert a["message"]["id"] != b["message"]["id"]
    assert b["message"]["content"] == "from bob"


async def test_concurrent_retries_store_one_message(server, http, register):
    user = await register(server)
    client_id = f"race-{uuid.uuid4()}"
    before = await last_seq(http, server, user)
    results = await asyncio.gather(
        *(post_message(http, server, user, "race", clientMsgId=client_id) for _ in range(5))
    )
    statuses = sorted(s for s, _ in results)
    assert statuses == [200, 200, 200, 200, 201]
    assert len({body["message"]["id"] for _, body in results}) == 1
    assert await last_seq(http, server, user) == before + 1


async def test_http_post_is_broadcast_to_sockets_in_the_room(server, http, register, sio_connect):
    sender = await register(server)
    listener = await register(server)
    sock = await sio_connect(server, listener.access_token, events=("new_message",))
    status, body = await post_message(http, server, sender, "via http")
    assert status == 201
    got = await sock.recorder.wait_for("new_message")
    assert got[-1]["message"] == body["message"]


async def test_retry_is_not_broadcast_again(server, http, register, sio_connect):
    sender = await register(server)
    listener = await register(server)
    sock = await sio_connect(server, listener.access_token, events=("new_message",))
    client_id = str(uuid.uuid4())
    assert (await post_message(http, server, sender, "one", clientMsgId=client_id))[0] == 201
    assert (await post_message(http, server, sender, "one", clientMsgId=client_id))[0] == 200
    status, marker = await post_message(http, server, sender, "marker")
    assert status == 201
    got = await sock.recorder.wait_for("new_message", 2)
    assert [m["message"]["content"] for m in got] == ["one", "marker"]
    assert got[-1]["message"]["id"] == marker["message"]["id"]


# -- history -------------------------------------------------------------------------------


@pytest.fixture
async def posted(server, http, register):
    """25 consecutive messages of one user; returns (user, their seqs in order)."""
    user = await register(server)
    seqs = []
    for i in range(25):
        status, body = await post_message(http, server, user, f"page message {i}")
        assert status == 201, body
        seqs.append(body["message"]["seq"])
    assert seqs == list(range(seqs[0], seqs[0] + 25))
    return user, seqs


def seqs_of(page):
    return [m["seq"] for m in page["messages"]]


async def test_newest_page(server, http, posted):
    user, seqs = posted
    status, page = await history(http, server, user, "?limit=10")
    assert status == 200, page
    assert set(page) >= {"messages", "hasMore"}
    assert seqs_of(page) == seqs[-10:]
    assert page["hasMore"] is True
    assert [m["content"] for m in page["messages"]] == [f"page message {i}" for i in range(15, 25)]
    assert page["lastSeq"] == seqs[-1]


async def test_default_page_is_in_seq_order(server, http, posted):
    user, seqs = posted
    status, page = await history(http, server, user)
    assert status == 200
    got = seqs_of(page)
    assert got == sorted(got)
    assert got[-25:] == seqs
    assert len(got) <= 50


async def test_before_pages_backwards(server, http, posted):
    user, seqs = posted
    status, page = await history(http, server, user, f"?before={seqs[15]}&limit=10")
    assert status == 200
    assert seqs_of(page) == seqs[5:15]
    assert page["hasMore"] is True
    # Walk back to our first message with before=.
    status, page = await history(http, server, user, f"?before={seqs[5]}&limit=5")
    assert seqs_of(page) == seqs[0:5]


async def test_before_one_is_empty(server, http, posted):
    user, _ = posted
    status, page = await history(http, server, user, "?before=1&limit=10")
    assert status == 200
    assert page["messages"] == []
    assert page["hasMore"] is False


async def test_after_pages_forwards(server, http, posted):
    user, seqs = posted
    status, page = await history(http, server, user, f"?after={seqs[4]}&limit=10")
    assert status == 200
    assert seqs_of(page) == seqs[5:15]
    assert page["hasMore"] is True
    status, page = await history(http, server, user, f"?after={seqs[19]}&limit=10")
    assert seqs_of(page) == seqs[20:25]
    assert page["hasMore"] is False
    status, page = await history(http, server, user, f"?after={seqs[-1]}")
    assert page["messages"] == []
    assert page["hasMore"] is False


async def test_paging_back_and_forth_covers_everything_once(server, http, posted):
    user, seqs = posted
    collected: list[int] = []
    query = f"?before={seqs[-1] + 1}&limit=7"
    while True:
        status, page = await history(http, server, user, query)
        assert status == 200
        collected = seqs_of(page) + collected
        if not page["messages"] or page["messages"][0]["seq"] <= seqs[0]:
            break
        query = f"?before={page['messages'][0]['seq']}&limit=7"
    assert [s for s in collected if s >= seqs[0]] == seqs
    forward: list[int] = []
    cursor = seqs[0] - 1
    while True:
        _, page = await history(http, server, user, f"?after={cursor}&limit=6")
        forward += seqs_of(page)
        if not page["hasMore"]:
            break
        cursor = page["messages"][-1]["seq"]
    assert forward[: len(seqs)] == seqs
    assert forward == sorted(set(forward))


@pytest.mark.parametrize(
    "query",
    [
        "?before=5&after=2",
        "?limit=0",
        "?limit=101",
        "?limit=abc",
        "?limit=-1",
        "?before=0",
        "?before=abc",
        "?after=-1",
        "?after=1.5",
        "?limit=",
    ],
)
async def test_bad_history_queries_are_400(server, http, register, query):
    user = await register(server)
    status, body = await history(http, server, user, query)
    assert status == 400, (query, body)
    err = assert_error(body, "validation_error")
    assert err["fields"]


async def test_unknown_query_parameter_is_400(server, http, register):
    user = await register(server)
    status, body = await history(http, server, user, "?offset=10")
    assert status == 400
    assert "offset" in assert_error(body, "validation_error")["fields"]


async def test_limit_bounds_accepted(server, http, register):
    user = await register(server)
    assert (await history(http, server, user, "?limit=1"))[0] == 200
    assert (await history(http, server, user, "?limit=100"))[0] == 200


async def test_unknown_room_is_404(server, http, register):
    user = await register(server)
    room = str(uuid.uuid4())
    status, body = await history(http, server, user, room=room)
    assert status == 404, body
    assert_error(body, "not_found")
    status, body = await post_message(http, server, user, "into the void", room=room)
    assert status == 404, body
    assert_error(body, "not_found")


@pytest.mark.parametrize(
    "room", ["lobby", "123", "not-a-uuid", "00000000-0000-4000-8000-00000000000Z"]
)
async def test_non_uuid_room_id(server, http, register, room):
    user = await register(server)
    before = await last_seq(http, server, user)
    status, body = await history(http, server, user, room=room)
    assert status in (400, 404), body
    assert body["error"]["code"] in ("validation_error", "not_found")
    status, body = await post_message(http, server, user, "x", room=room)
    assert status in (400, 404), body
    assert body["error"]["code"] in ("validation_error", "not_found")
    assert await last_seq(http, server, user) == before


async def test_unauthenticated_is_401(server, http, register):
    user = await register(server)
    before = await last_seq(http, server, user)
    async with http.get(f"{server.url}{MESSAGES}") as resp:
        assert resp.status == 401
        assert_error(await resp.json(), "unauthenticated")
    async with http.post(f"{server.url}{MESSAGES}", json={"content": "anon"}) as resp:
        assert resp.status == 401
        assert_error(await resp.json(), "unauthenticated")
    async with http.post(
        f"{server.url}{MESSAGES}",
        json={"content": "forged"},
        headers={"Authorization": "Bearer a.b.c"},
    ) as resp:
        assert resp.status == 401
    assert await last_seq(http, server, user) == before


async def test_message_history_survives_an_app_restart(start_server, http, register):
    first = await start_server()
    user = await register(first)
    status, body = await post_message(http, first, user, "before restart")
    assert status == 201
    await first.close()
    second = await start_server()
    status, page = await history(http, second, user, f"?after={body['message']['seq'] - 1}&limit=1")
    assert status == 200
    assert page["messages"] == [body["message"]]
