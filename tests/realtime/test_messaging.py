"""Sending over the socket (docs/contract.md §6, §7): broadcast, ack contents, per-room seq,
idempotent retries, the HTTP fallback and the long-polling transport."""

from __future__ import annotations

import asyncio
import re
import uuid

from tests.conftest import LOBBY_ID
from tests.realtime.conftest import call, history, send

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


async def test_send_message_acks_the_stored_message_and_broadcasts_it(
    server, register, sio_connect
):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token, events=("new_message",))
    b = await sio_connect(server, bob.access_token, events=("new_message",))
    client_msg_id = str(uuid.uuid4())

    ack = await call(
        a,
        "send_message",
        {
            "roomId": LOBBY_ID,
            "content": "hello **bob** <script>x</script>",
            "clientMsgId": client_msg_id,
        },
    )

    assert ack["ok"] is True, ack
    message = ack["message"]
    uuid.UUID(message["id"])
    assert message["roomId"] == LOBBY_ID
    assert isinstance(message["seq"], int) and message["seq"] >= 1
    assert message["userId"] == alice.id
    assert message["username"] == alice.username
    assert message["content"] == "hello **bob** <script>x</script>"
    assert "<strong>bob</strong>" in message["contentHtml"]
    assert "<script" not in message["contentHtml"]
    assert message["messageType"] == "text"
    assert message["clientMsgId"] == client_msg_id
    assert ISO_UTC.match(message["createdAt"]), message["createdAt"]
    got = await b.recorder.wait_for("new_message")
    assert got == [{"message": message}]
    # The sender's own sockets get the broadcast as well (other tabs stay in sync).
    assert (await a.recorder.wait_for("new_message")) == [{"message": message}]


async def test_seq_increases_by_one_per_message(server, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token)
    b = await sio_connect(server, bob.access_token)

    seqs = []
    for i in range(6):
        sender = a if i % 2 == 0 else b
        seqs.append((await send(sender, f"msg {i}"))["seq"])

    assert seqs == list(range(seqs[0], seqs[0] + 6))


async def test_concurrent_sends_get_distinct_consecutive_seqs(server, register, sio_connect):
    users = [await register(server) for _ in range(3)]
    clients = [await sio_connect(server, u.access_token) for u in users]

    messages = await asyncio.gather(
        *(send(c, f"burst {i} from {n}") for n, c in enumerate(clients) for i in range(5))
    )

    seqs = sorted(m["seq"] for m in messages)
    assert seqs == list(range(seqs[0], seqs[0] + 15))


async def test_retry_with_the_same_client_msg_id_returns_the_original(
    server, register, sio_connect, http
):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token)
    b = await sio_connect(server, bob.access_token, events=("new_message",))
    client_msg_id = str(uuid.uuid4())

    first = await send(a, "only once", clientMsgId=client_msg_id)
    retry = await send(a, "only once", clientMsgId=client_msg_id)
    # A retry whose content differs still returns the original: the id is the identity.
    changed = await send(a, "changed on retry", clientMsgId=client_msg_id)
    marker = await send(a, "marker after the retries")

    assert retry == first
    assert changed == first
    assert marker["seq"] == first["seq"] + 1
    got = await b.recorder.wait_for("new_message", 2)
    await asyncio.sleep(0.2)  # a late duplicate broadcast would arrive by now
    assert [e["message"]["id"] for e in b.recorder.events["new_message"]] == [
        first["id"],
        marker["id"],
    ]
    assert got[0]["message"] == first
    page = await history(http, server, alice, after=first["seq"] - 1)
    assert [m["id"] for m in page["messages"]] == [first["id"], marker["id"]]


async def test_client_msg_ids_are_scoped_per_sender(server, register, sio_connect):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token)
    b = await sio_connect(server, bob.access_token)
    shared = "same-client-id-" + uuid.uuid4().hex

    from_alice = await send(a, "alice's", clientMsgId=shared)
    from_bob = await send(b, "bob's", clientMsgId=shared)

    assert from_alice["id"] != from_bob["id"]
    assert from_bob["userId"] == bob.id
    assert from_bob["content"] == "bob's"


async def test_concurrent_retries_store_one_message(server, register, sio_connect, http):
    alice = await register(server)
    a = await sio_connect(server, alice.access_token)
    client_msg_id = str(uuid.uuid4())

    results = await asyncio.gather(*(send(a, "raced", clientMsgId=client_msg_id) for _ in range(5)))

    assert len({m["id"] for m in results}) == 1
    page = await history(http, server, alice, after=results[0]["seq"] - 1)
    assert [m["content"] for m in page["messages"]] == ["raced"]


async def test_content_is_stored_exactly_as_sent(server, register, sio_connect, http):
    alice = await register(server)
    a = await sio_connect(server, alice.access_token)
    content = '  line one\n\tindented ünïcödé 🎉 <b>not html</b> & "quotes"  '

    sent = await send(a, content)

    assert sent["content"] == content
    page = await history(http, server, alice, after=sent["seq"] - 1)
    assert page["messages"][0]["content"] == content
    assert "<b>" not in page["messages"][0]["contentHtml"]


async def test_http_fallback_broadcasts_to_sockets(server, register, sio_connect, http):
    alice = await register(server)
    bob = await register(server)
    b = await sio_connect(server, bob.access_token, events=("new_message",))
    client_msg_id = str(uuid.uuid4())

    async with http.post(
        f"{server.url}/api/rooms/{LOBBY_ID}/messages",
        headers=alice.headers,
        json={"content": "over http", "clientMsgId": client_msg_id},
    ) as resp:
        assert resp.status == 201
        stored = (await resp.json())["message"]
    async with http.post(
        f"{server.url}/api/rooms/{LOBBY_ID}/messages",
        headers=alice.headers,
        json={"content": "over http", "clientMsgId": client_msg_id},
    ) as resp:
        assert resp.status == 200
        assert (await resp.json())["message"] == stored

    got = await b.recorder.wait_for("new_message")
    assert got[0]["message"] == stored
    # A socket retry of an HTTP-sent message is the same message.
    a = await sio_connect(server, alice.access_token)
    assert await send(a, "over http", clientMsgId=client_msg_id) == stored


async def test_long_polling_transport_sends_and_receives(start_server, register, sio_connect):
    # Short heartbeat: a polling client's disconnect waits for its pending long-poll.
    server = await start_server(ping_interval_s=1.0, ping_timeout_s=2.0)
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(
        server, alice.access_token, transports=["polling"], events=("new_message",)
    )
    b = await sio_connect(server, bob.access_token, transports=["polling"], events=("new_message",))
    assert a.transport() == "polling"

    sent = await send(a, "over long-polling")
    reply = await send(b, "reply over long-polling")

    assert (await b.recorder.wait_for("new_message"))[0]["message"] == sent
    got = await a.recorder.wait_for("new_message", 2)
    assert [e["message"]["id"] for e in got] == [sent["id"], reply["id"]]
    assert reply["seq"] == sent["seq"] + 1
    # An event the server does not know is answered over polling too.
    assert (await call(a, "no_such_event", {}))["error"]["code"] == "unknown_event"
    # Each polling disconnect waits out its pending long-poll: do them side by side.
    await asyncio.gather(a.disconnect(), b.disconnect())


async def test_polling_and_websocket_clients_chat(start_server, register, sio_connect):
    server = await start_server(ping_interval_s=1.0, ping_timeout_s=2.0)
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(
        server, alice.access_token, transports=["polling"], events=("new_message",)
    )
    b = await sio_connect(server, bob.access_token, events=("new_message",))

    from_ws = await send(b, "from websocket")
    from_poll = await send(a, "from polling")

    assert (await a.recorder.wait_for("new_message"))[0]["message"] == from_ws
    got = await b.recorder.wait_for("new_message", 2)
    assert got[1]["message"] == from_poll
    await asyncio.gather(a.disconnect(), b.disconnect())
