"""Catching up after a disconnect (docs/contract.md §7): `sync` and the `after=` history query."""

from __future__ import annotations

import uuid

from chat_server.services.messages import SYNC_PAGE_SIZE
from tests.conftest import LOBBY_ID
from tests.realtime.conftest import call, history, send


async def test_sync_after_a_disconnect_returns_exactly_what_was_missed(
    server, register, sio_connect
):
    alice = await register(server)
    bob = await register(server)
    a = await sio_connect(server, alice.access_token)
    b = await sio_connect(server, bob.access_token, events=("new_message",))
    seen = await send(a, "bob sees this one")
    await b.recorder.wait_for("new_message")
    last_seq = b.recorder.events["new_message"][-1]["message"]["seq"]
    await b.disconnect()

    missed = [await send(a, f"missed {i}") for i in range(3)]

    b2 = await sio_connect(server, bob.access_token, events=("new_message",))
    ack = await call(b2, "sync", {"rooms": {LOBBY_ID: last_seq}})

    assert ack["ok"] is True, ack
    assert ack["errors"] == {}
    lobby = ack["rooms"][LOBBY_ID]
    assert lobby["messages"] == missed
    assert lobby["hasMore"] is False
    assert lobby["lastSeq"] == missed[-1]["seq"]
    # Bob never sent anything: everything since he joined is unread (seen + 3 missed).
    assert lobby["unread"] == 4
    assert seen["seq"] == last_seq
    assert b2.recorder.events["new_message"] == []


async def test_sync_when_nothing_was_missed(server, register, sio_connect):
    alice = await register(server)
    a = await sio_connect(server, alice.access_token)
    last = await send(a, "the latest")

    ack = await call(a, "sync", {"rooms": {LOBBY_ID: last["seq"]}})

    assert ack["ok"] is True
    lobby = ack["rooms"][LOBBY_ID]
    assert lobby["messages"] == []
    assert lobby["hasMore"] is False
    assert lobby["lastSeq"] == last["seq"]
    assert lobby["unread"] == 0


async def test_sync_pages_with_has_more(server, register, sio_connect):
    alice = await register(server)
    a = await sio_connect(server, alice.access_token)
    start = (await send(a, "before the burst"))["seq"]
    for i in range(SYNC_PAGE_SIZE + 1):
        await send(a, f"burst {i}")

    first = (await call(a, "sync", {"rooms": {LOBBY_ID: start}}))["rooms"][LOBBY_ID]
    assert first["hasMore"] is True
    assert [m["seq"] for m in first["messages"]] == list(
        range(start + 1, start + 1 + SYNC_PAGE_SIZE)
    )

    cursor = first["messages"][-1]["seq"]
    second = (await call(a, "sync", {"rooms": {LOBBY_ID: cursor}}))["rooms"][LOBBY_ID]
    assert second["hasMore"] is False
    assert [m["content"] for m in second["messages"]] == [f"burst {SYNC_PAGE_SIZE}"]


async def test_sync_reports_unknown_rooms_without_failing(server, register, sio_connect):
    alice = await register(server)
    a = await sio_connect(server, alice.access_token)
    unknown = str(uuid.uuid4())

    ack = await call(a, "sync", {"rooms": {LOBBY_ID: 0, unknown: 0}})

    assert ack["ok"] is True
    assert LOBBY_ID in ack["rooms"]
    assert ack["errors"] == {unknown: {"code": "not_found", "message": "Room not found"}}


async def test_history_after_and_before_pages(server, register, sio_connect, http):
    alice = await register(server)
    a = await sio_connect(server, alice.access_token)
    sent = [await send(a, f"page {i}") for i in range(5)]
    first = sent[0]["seq"]

    after = await history(http, server, alice, after=first, limit=2)
    assert [m["id"] for m in after["messages"]] == [sent[1]["id"], sent[2]["id"]]
    assert after["hasMore"] is True

    tail = await history(http, server, alice, after=sent[2]["seq"], limit=10)
    assert [m["id"] for m in tail["messages"]] == [sent[3]["id"], sent[4]["id"]]
    assert tail["hasMore"] is False

    before = await history(http, server, alice, before=sent[4]["seq"], limit=2)
    assert [m["id"] for m in before["messages"]] == [sent[2]["id"], sent[3]["id"]]
    assert before["hasMore"] is True

    newest = await history(http, server, alice, limit=1)
    assert newest["messages"] == [sent[4]]
