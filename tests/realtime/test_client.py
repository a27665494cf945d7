"""`chat_server.client.ChatClient` against real servers: delivery, outbox retries across a
restart, lost acks, gap filling, token refresh and the end of a session."""

from __future__ import annotations

import asyncio
import dataclasses
import time
import uuid
from urllib.parse import urlsplit

import jwt
import pytest

from chat_server.api.keys import SERVICES
from chat_server.client import AuthError, ChatClient, ChatClientError
from chat_server.realtime import namespace
from tests.conftest import LOBBY_ID, PASSWORD
from tests.realtime.client_support import (
    CRASH,
    FAST,
    WAIT_S,
    next_messages,
    same_port,
    wait_until,
)


async def post_http(http, server, client: ChatClient, content: str) -> dict:
    """Send as `client`'s user through the REST fallback of `server`."""
    async with http.post(
        f"{server.url}/api/rooms/{LOBBY_ID}/messages",
        headers={"Authorization": f"Bearer {client.access_token}"},
        json={"content": content},
    ) as resp:
        body = await resp.json()
        assert resp.status == 201, body
        return body["message"]


async def stored_with(client: ChatClient, after: int, content: str) -> list[dict]:
    """The lobby messages after seq `after` with this content, from the database."""
    page = await client.history(LOBBY_ID, after=after, limit=100)
    return [m for m in page["messages"] if m["content"] == content]


async def test_login_connect_send_and_receive(server, new_client):
    alice = await new_client(server)
    received: list[dict] = []
    bob_login = await ChatClient.login(
        server.url,
        (await new_client(server, connect=False)).username,
        PASSWORD,
        on_message=received.append,
        **FAST,
    )
    try:
        await bob_login.connect()
        assert bob_login.connected

        sent = [await alice.send(LOBBY_ID, f"hello {i}") for i in range(3)]

        assert [m["seq"] for m in sent] == [sent[0]["seq"] + i for i in range(3)]
        assert all(m["userId"] == alice.user_id and m["clientMsgId"] for m in sent)
        # Alice's own stream has each message once: ack and broadcast are de-duplicated.
        assert await next_messages(alice, 3) == sent
        await wait_until(lambda: len(received) == 3, "bob's callback got all three")
        assert received == sent
        await asyncio.sleep(0.2)
        assert alice.messages.empty()
        assert alice.stats.duplicates >= 3
        assert alice.pending == []
    finally:
        await bob_login.close()


async def test_login_with_a_wrong_password_is_an_auth_error(server, new_client):
    alice = await new_client(server, connect=False)
    with pytest.raises(AuthError) as info:
        await ChatClient.login(server.url, alice.username, "wrong password!")
    assert info.value.status == 401


async def test_refused_sends_raise_and_leave_the_outbox(server, new_client, http):
    alice = await new_client(server)

    with pytest.raises(ChatClientError) as not_found:
        await alice.send(str(uuid.uuid4()), "to nowhere")
    with pytest.raises(ChatClientError) as invalid:
        await alice.send(LOBBY_ID, "x" * 5001)

    assert not_found.value.code == "not_found"
    assert invalid.value.code == "validation_error"
    assert "content" in (invalid.value.fields or {})
    assert alice.pending == []
    assert (await alice.send(LOBBY_ID, "valid"))["content"] == "valid"


async def test_outbox_survives_a_server_restart_and_delivers_once(
    start_server, make_config, new_client, http
):
    first = await start_server(**CRASH)
    alice = await new_client(first)
    bob = await new_client(first)
    before = (await alice.send(LOBBY_ID, "before the restart"))["seq"]
    await next_messages(bob, 1)

    await first.close()
    await wait_until(lambda: not alice.connected, "alice noticed the server is gone")
    sending = asyncio.ensure_future(alice.send(LOBBY_ID, "sent while the server was down"))
    await asyncio.sleep(0.5)
    assert not sending.done()
    assert len(alice.pending) == 1
    pending_id = alice.pending[0]

    await start_server(same_port(make_config, first))
    async with asyncio.timeout(WAIT_S):
        stored = await sending

    assert stored["seq"] == before + 1
    assert stored["clientMsgId"] == pending_id
    assert alice.pending == []
    assert alice.stats.connects == 2
    assert await next_messages(bob, 1) == [stored]
    assert len(await stored_with(alice, before, stored["content"])) == 1
    # Nothing else arrives: the retry was not stored or delivered twice.
    await asyncio.sleep(0.3)
    assert bob.messages.empty()


async def test_send_in_flight_when_the_server_dies_is_stored_once(
    start_server, make_config, new_client, monkeypatch
):
    """The server commits the message and dies before acking: the client re-sends it to
    the restarted server with the same clientMsgId and gets the original back."""
    first = await start_server(**CRASH)
    alice = await new_client(first)
    last = (await alice.history(LOBBY_ID, limit=1))["lastSeq"]
    service = first.app[SERVICES].messages
    original_send = service.send
    committed = asyncio.Event()

    async def commit_then_hang(draft, room_id):
        result = await original_send(draft, room_id)
        committed.set()
        await asyncio.sleep(30)  # cancelled when the server goes away
        return result

    monkeypatch.setattr(service, "send", commit_then_hang)
    sending = asyncio.ensure_future(alice.send(LOBBY_ID, "committed, never acked"))
    async with asyncio.timeout(WAIT_S):
        await committed.wait()
    pending_id = alice.pending[0]

    await first.close()
    await start_server(same_port(make_config, first))
    async with asyncio.timeout(WAIT_S):
        stored = await sending

    assert stored["clientMsgId"] == pending_id
    assert stored["seq"] == last + 1
    assert alice.stats.resends >= 1
    assert [m["id"] for m in await stored_with(alice, last, "committed, never acked")] == [
        stored["id"]
    ]
    assert await next_messages(alice, 1) == [stored]


async def test_lost_ack_is_retried_with_the_same_client_msg_id(
    server, new_client, http, monkeypatch
):
    alice = await new_client(server, ack_timeout_s=0.5)
    service = server.app[SERVICES].messages
    original_send = service.send
    calls: list[str | None] = []

    async def store_then_stall(draft, room_id):
        """Commit the first attempt but answer it only long after the client gave up."""
        calls.append(draft.client_msg_id)
        result = await original_send(draft, room_id)
        if len(calls) == 1:
            await asyncio.sleep(2)
        return result

    monkeypatch.setattr(service, "send", store_then_stall)
    last = (await alice.history(LOBBY_ID, limit=1))["lastSeq"]

    async with asyncio.timeout(WAIT_S):
        stored = await alice.send(LOBBY_ID, "ack lost in transit")

    assert len(calls) >= 2
    assert len(set(calls)) == 1
    assert calls[0] == stored["clientMsgId"]
    assert alice.stats.resends >= 1
    assert len(await stored_with(alice, last, "ack lost in transit")) == 1
    assert await next_messages(alice, 1) == [stored]
    await asyncio.sleep(2.2)  # the stalled first answer arrives and is ignored
    assert alice.messages.empty()


async def test_gap_while_connected_is_filled(start_server, make_config, new_client, http):
    """Two instances without Redis: emits on one are not seen on the other (like a Redis
    outage). The client notices the seq gap on the next message it does get."""
    config = make_config()
    mine = await start_server(config)
    other = await start_server(config)
    alice = await new_client(mine)
    bob = await new_client(mine, connect=False)

    unseen = [await post_http(http, other, bob, f"unseen {i}") for i in range(3)]
    seen = await post_http(http, mine, bob, "seen live")

    got = await next_messages(alice, 4)
    assert got == [*unseen, seen]
    assert alice.stats.gaps_detected >= 1
    assert alice.stats.connects == 1
    assert alice.last_seq[LOBBY_ID] == seen["seq"]


async def test_messages_missed_while_disconnected_arrive_after_reconnect(
    start_server, make_config, new_client, http
):
    first = await start_server(**CRASH)
    other = await start_server(make_config())
    alice = await new_client(first)
    bob = await new_client(other, connect=False)
    seen = await post_http(http, first, bob, "seen before the outage")
    assert await next_messages(alice, 1) == [seen]

    await first.close()
    await wait_until(lambda: not alice.connected, "alice noticed the server is gone")
    missed = [await post_http(http, other, bob, f"missed {i}") for i in range(3)]
    await start_server(same_port(make_config, first))
    async with asyncio.timeout(WAIT_S):
        await alice.wait_connected()

    assert await next_messages(alice, 3) == missed
    assert alice.stats.syncs >= 2
    assert alice.unread[LOBBY_ID] >= 3


async def test_resume_from_a_known_seq(server, new_client):
    alice = await new_client(server)
    sent = [await alice.send(LOBBY_ID, f"history {i}") for i in range(3)]
    resumed = await new_client(server, connect=False, since={LOBBY_ID: sent[0]["seq"]})

    await resumed.connect()

    assert await next_messages(resumed, 2) == sent[1:]


async def test_token_is_refreshed_and_the_live_socket_extended(
    start_server, make_config, new_client, monkeypatch
):
    # The server drops a socket shortly after its token expires unless it re-authenticates.
    monkeypatch.setattr(namespace, "TOKEN_EXPIRY_GRACE_S", 0.3)
    config = make_config(access_token_ttl_s=3)
    first = await start_server(config, **CRASH)
    alice = await new_client(first)
    original = alice.access_token
    original_exp = jwt.decode(original, options={"verify_signature": False})["exp"]

    while time.time() < original_exp + namespace.TOKEN_EXPIRY_GRACE_S + 1:
        await asyncio.sleep(0.1)

    assert alice.access_token != original
    assert alice.stats.refreshes >= 1
    # Still the first connection: the fresh token was sent on the live socket.
    assert alice.stats.connects == 1
    assert alice.stats.disconnects == 0
    assert (await alice.send(LOBBY_ID, "after the original token expired"))[
        "userId"
    ] == alice.user_id

    # A reconnect uses the fresh token (the original one would be refused by now).
    await first.close()
    await wait_until(lambda: not alice.connected, "alice noticed the restart")
    await start_server(dataclasses.replace(config, port=urlsplit(first.url).port))
    async with asyncio.timeout(WAIT_S):
        await alice.wait_connected()
    assert alice.stats.connects == 2
    assert (await alice.send(LOBBY_ID, "after the reconnect"))["userId"] == alice.user_id


async def test_connect_with_an_expired_access_token_refreshes_first(server, new_client):
    alice = await new_client(server, connect=False)
    stale = ChatClient(
        server.url,
        access_token="not-a-valid-token",
        refresh_token=alice.refresh_token_value,
        **FAST,
    )
    try:
        await stale.connect()
        assert stale.connected
        assert stale.stats.refreshes == 1
        assert (await stale.send(LOBBY_ID, "after refreshing"))["userId"] == alice.user_id
    finally:
        await stale.close()


async def test_logout_ends_the_session(server, new_client, http):
    alice = await new_client(server)

    async with http.post(
        f"{server.url}/api/auth/logout",
        headers={"Authorization": f"Bearer {alice.access_token}"},
    ) as resp:
        assert resp.status == 204

    await wait_until(lambda: not alice.connected, "alice was disconnected")
    with pytest.raises(AuthError):
        await alice.send(LOBBY_ID, "after logout")
    await asyncio.sleep(0.3)
    assert not alice.connected  # no reconnect after the session ended
