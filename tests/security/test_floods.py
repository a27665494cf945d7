"""Floods that used to have no limit (issue 14, item 12): membership churn broadcast to a
whole room, read/delivery receipts for pointers that did not move, and `sync` on demand.

Each is limited per user (configurable like the other limits) or made silent when it
changes nothing; every test here goes through real Socket.IO clients and HTTP."""

from __future__ import annotations

from typing import Any

import pytest

from chat_server.config import Config
from tests.chat_helpers import (
    api,
    call,
    call_ok,
    create_room,
    join,
    post_message,
    private_room_with,
    quiet,
    wait_match,
)
from tests.conftest import LOBBY_ID, REDIS_URL

MEMBERSHIP_EVENTS = ("user_joined", "user_left")
RECEIPT_EVENTS = ("read_receipt", "delivery_receipt", "unread")
# The churn: 50 join/leave cycles.
CHURN_CYCLES = 50
# How many receipts-that-move-nothing the flood sent.
NO_OP_FLOOD = 100


def codes(acks: list[dict[str, Any]]) -> list[str]:
    return ["ok" if a["ok"] else a["error"]["code"] for a in acks]


def test_flood_limits_are_configurable_from_the_environment():
    cfg = Config.from_env({"RATE_LIMIT_MEMBERSHIP": "7/minute", "RATE_LIMIT_SYNC": "9/minute"})
    assert (cfg.rate_limit_membership, cfg.rate_limit_sync) == ("7/minute", "9/minute")
    defaults = Config.from_env({})
    assert defaults.rate_limit_membership == "30/minute"
    assert defaults.rate_limit_sync == "120/minute"


@pytest.mark.parametrize("redis", [False, True], ids=["single", "cluster"])
async def test_membership_churn_is_limited_per_user(
    start_server, http, register, sio_connect, redis
):
    extra = {"redis_url": REDIS_URL} if redis else {}
    a = await start_server(rate_limit_membership="6/minute", **extra)
    b = await start_server(rate_limit_membership="6/minute", **extra) if redis else a
    owner, churner, other = await register(a), await register(a), await register(a)
    room = await create_room(http, a, owner)
    rid = room["id"]
    watcher = await sio_connect(a, owner.access_token, events=MEMBERSHIP_EVENTS)
    on_a = await sio_connect(a, churner.access_token)
    on_b = await sio_connect(b, churner.access_token)

    acks = []
    for i in range(CHURN_CYCLES):
        sock = on_a if i % 2 == 0 else on_b
        acks.append(await call(sock, "join_room", {"roomId": rid}))
        acks.append(await call(sock, "leave_room", {"roomId": rid}))
    assert codes(acks) == ["ok"] * 6 + ["rate_limited"] * (2 * CHURN_CYCLES - 6), codes(acks)
    assert acks[-1]["error"]["retryAfter"] >= 1

    # The room heard the six allowed changes and nothing of the other 94 attempts.
    await wait_match(watcher, "user_left", lambda e: e["roomId"] == rid, count=3)
    await quiet(watcher, "user_joined", lambda e: e["roomId"] == rid)
    joined = [e for e in watcher.recorder.events["user_joined"] if e["roomId"] == rid]
    left = [e for e in watcher.recorder.events["user_left"] if e["roomId"] == rid]
    assert (len(joined), len(left)) == (3, 3)

    # REST shares the same allowance: the rule lives in the service.
    for server, method, path in ((a, "POST", "join"), (b, "DELETE", "leave")):
        status, body = await api(http, server, method, f"/api/rooms/{rid}/{path}", churner)
        assert status == 429, body
        assert body["error"]["code"] == "rate_limited" and body["error"]["retryAfter"] >= 1
    # Per user: someone else may still join.
    assert (await join(http, b, other, rid))["isMember"] is True


async def test_rest_membership_counts_against_the_socket_allowance(
    start_server, http, register, sio_connect
):
    server = await start_server(rate_limit_membership="2/minute")
    owner, user = await register(server), await register(server)
    room = await create_room(http, server, owner)
    await join(http, server, user, room["id"])
    status, _ = await api(http, server, "DELETE", f"/api/rooms/{room['id']}/leave", user)
    assert status == 204
    sock = await sio_connect(server, user.access_token)
    ack = await call(sock, "join_room", {"roomId": room["id"]})
    assert ack["ok"] is False and ack["error"]["code"] == "rate_limited", ack


async def test_membership_no_ops_announce_nothing(server, http, register, sio_connect):
    owner, user = await register(server), await register(server)
    room = await create_room(http, server, owner)
    rid = room["id"]
    watcher = await sio_connect(server, owner.access_token, events=MEMBERSHIP_EVENTS)
    sock = await sio_connect(server, user.access_token)
    await call_ok(sock, "join_room", {"roomId": rid})
    for _ in range(3):
        # Already a member: nothing changes, nobody is told.
        await call_ok(sock, "join_room", {"roomId": rid})
        await join(http, server, user, rid)
    await call_ok(sock, "leave_room", {"roomId": rid})
    for _ in range(3):
        # Not a member any more: refused, nobody is told.
        ack = await call(sock, "leave_room", {"roomId": rid})
        assert ack["ok"] is False and ack["error"]["code"] == "not_found", ack
    await wait_match(watcher, "user_left", lambda e: e["roomId"] == rid)
    await quiet(watcher, "user_joined", lambda e: e["roomId"] == rid)
    assert [e["roomId"] for e in watcher.recorder.events["user_joined"]].count(rid) == 1
    assert [e["roomId"] for e in watcher.recorder.events["user_left"]].count(rid) == 1


async def test_read_and_delivered_that_move_nothing_send_no_receipts(
    server, http, register, sio_connect
):
    alice, bob = await register(server), await register(server)
    room = await private_room_with(http, server, alice, bob)
    rid = room["id"]
    for i in range(4):
        await post_message(http, server, alice, rid, f"m{i}")
    a = await sio_connect(server, alice.access_token, events=RECEIPT_EVENTS)
    b = await sio_connect(server, bob.access_token)
    b_other_tab = await sio_connect(server, bob.access_token, events=RECEIPT_EVENTS)

    ack = await call_ok(b, "mark_read", {"roomId": rid, "seq": 2})
    assert (ack["lastReadSeq"], ack["unread"]) == (2, 2)
    await wait_match(a, "read_receipt", lambda e: e["roomId"] == rid)
    await wait_match(b_other_tab, "unread", lambda e: rid in e["rooms"])

    # The flood: pointers that are already there (or past it) move nothing. Every ack
    # still answers the current state.
    for i in range(NO_OP_FLOOD):
        ack = await call_ok(b, "mark_read", {"roomId": rid, "seq": i % 3})
        assert (ack["lastSeq"], ack["lastReadSeq"], ack["unread"]) == (4, 2, 2)
        ack = await call_ok(b, "delivered", {"roomId": rid, "seq": i % 3})
        assert (ack["lastSeq"], ack["lastDeliveredSeq"]) == (4, 2)

    # A move that does happen is announced once, after (and instead of) nothing else.
    await call_ok(b, "delivered", {"roomId": rid, "seq": 3})
    await call_ok(b, "mark_read", {"roomId": rid, "seq": 4})
    await wait_match(a, "read_receipt", lambda e: e["lastReadSeq"] == 4)
    await wait_match(b_other_tab, "unread", lambda e: e["rooms"].get(rid, {}).get("unread") == 0)
    await quiet(a, "read_receipt")
    reads = [e["lastReadSeq"] for e in a.recorder.events["read_receipt"] if e["roomId"] == rid]
    delivered = [
        e["lastDeliveredSeq"] for e in a.recorder.events["delivery_receipt"] if e["roomId"] == rid
    ]
    assert reads == [2, 4]
    assert delivered == [3]
    # (The summary on connect, with "total", is not a pointer move.)
    mine = [
        e for e in b_other_tab.recorder.events["unread"] if rid in e["rooms"] and "total" not in e
    ]
    assert [e["rooms"][rid]["lastReadSeq"] for e in mine] == [2, 4]


async def test_sync_is_limited_per_user(start_server, register, sio_connect):
    server = await start_server(rate_limit_sync="3/minute")
    user, other = await register(server), await register(server)
    tab1 = await sio_connect(server, user.access_token)
    tab2 = await sio_connect(server, user.access_token)
    acks = [
        await call(tab, "sync", {"rooms": {LOBBY_ID: 0}}) for tab in (tab1, tab2, tab1, tab2, tab1)
    ]
    assert codes(acks) == ["ok"] * 3 + ["rate_limited"] * 2, codes(acks)
    assert acks[-1]["error"]["retryAfter"] >= 1
    # Per user: another user syncs.
    sock = await sio_connect(server, other.access_token)
    assert (await call(sock, "sync", {"rooms": {LOBBY_ID: 0}}))["ok"] is True
