"""Two instances behind HAProxy act as one server (issue 5): messages, DMs, presence and
typing cross between instances; long-polling and WebSocket clients work through HAProxy;
logout and membership changes made on one instance reach sockets on the other."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
import redis.asyncio as aioredis

from tests.chat_helpers import api, create_room, join, private_room_with
from tests.cluster.peers import Peer, eventually
from tests.cluster.procs import Cluster

pytestmark = pytest.mark.timeout(90)


@pytest.fixture
async def peers() -> AsyncIterator[Callable[..., Any]]:
    """Start Peers; all are closed at teardown."""
    started: list[Peer] = []

    async def start(
        url: str, user: Any, *, rooms: tuple[str, ...] = (), on: str | None = None, **kw: Any
    ) -> Peer:
        """A connected Peer; `on` places it on that instance (through HAProxy)."""
        peer = Peer(f"{user.username}#{len(started)}", url, user.access_token, **kw)
        started.append(peer)
        for room_id in rooms:
            peer.track(room_id)
        await peer.start()
        return await peer.place(on) if on else peer

    yield start
    await asyncio.gather(*(p.close() for p in started))


def live_ids(peer: Peer) -> set[str]:
    return {m["id"] for m in peer.live}


def about(events: list[Any], user_id: str, **fields: Any) -> list[Any]:
    return [
        e
        for e in events
        if e.get("userId") == user_id and all(e.get(k) == v for k, v in fields.items())
    ]


async def test_messages_dms_presence_and_typing_cross_instances(
    module_cluster: Cluster, http, register, peers
):
    app1, app2 = module_cluster[0], module_cluster[1]
    alice = await register(app1)
    bob = await register(app2)
    room = await private_room_with(http, app1, alice, bob)
    rid = room["id"]

    a = await peers(app1.url, alice, rooms=(rid,))
    b = await peers(app2.url, bob, rooms=(rid,))

    # Presence: bob came online on instance 2; alice, on instance 1, hears of it.
    await eventually(
        lambda: about(a.events["presence"], bob.id, status="online"), "bob online at alice"
    )

    # Room messages, both ways.
    sent = await a.send(rid, "from instance 1")
    await eventually(lambda: sent["id"] in live_ids(b), "alice's message at bob")
    back = await b.send(rid, "from instance 2")
    await eventually(lambda: back["id"] in live_ids(a), "bob's message at alice")

    # Typing, both directions of a start/stop pair.
    await b.call_ok("typing_start", {"roomId": rid})
    typing = await eventually(
        lambda: about(a.events["user_typing"], bob.id, roomId=rid), "bob typing at alice"
    )
    assert typing[0]["username"] == bob.username
    await b.call_ok("typing_stop", {"roomId": rid})
    await eventually(
        lambda: about(a.events["user_stopped_typing"], bob.id, roomId=rid), "bob stopped typing"
    )

    # Alice's second socket, on instance 2.
    a_elsewhere = await peers(app2.url, alice)

    # "The room but the sender" holds across instances: alice types on instance 1, bob sees
    # it on instance 2 and alice's own socket there does not.
    await a.call_ok("typing_start", {"roomId": rid})
    await eventually(
        lambda: about(b.events["user_typing"], alice.id, roomId=rid), "alice typing at bob"
    )
    await a.call_ok("typing_stop", {"roomId": rid})
    await eventually(
        lambda: about(b.events["user_stopped_typing"], alice.id, roomId=rid), "alice stopped"
    )
    await asyncio.sleep(0.3)
    assert not about(a_elsewhere.events["user_typing"], alice.id)
    assert not about(a_elsewhere.events["user_stopped_typing"], alice.id)

    # DMs, both ways; the sender's other socket (on the other instance) gets a copy too.
    ack = await a.call_ok(
        "send_dm",
        {"recipientId": bob.id, "content": "psst", "clientMsgId": str(uuid.uuid4())},
    )
    dm_id = ack["message"]["id"]
    got = await eventually(
        lambda: [e for e in b.events["new_dm"] if e["message"]["id"] == dm_id], "DM at bob"
    )
    assert got[0]["message"]["senderId"] == alice.id
    assert got[0]["message"]["content"] == "psst"
    await eventually(
        lambda: [e for e in a_elsewhere.events["new_dm"] if e["message"]["id"] == dm_id],
        "DM copy at alice's other socket",
    )
    reply = await b.call_ok(
        "send_dm", {"recipientId": alice.id, "content": "hi", "clientMsgId": str(uuid.uuid4())}
    )
    await eventually(
        lambda: [e for e in a.events["new_dm"] if e["message"]["id"] == reply["message"]["id"]],
        "DM reply at alice",
    )

    # Bob's last connection closes on instance 2: alice sees him go offline.
    await b.close()
    offline = await eventually(
        lambda: about(a.events["presence"], bob.id, status="offline"), "bob offline at alice"
    )
    assert offline[0]["lastSeen"]


async def test_long_polling_clients_through_haproxy_stay_on_their_instance(
    module_cluster: Cluster, http, register, peers
):
    alice = await register(module_cluster)
    bob = await register(module_cluster)
    room = await private_room_with(http, module_cluster, alice, bob)
    rid = room["id"]

    # Alice lets HAProxy choose; bob is placed on the other instance with its cookie.
    a = await peers(module_cluster.url, alice, rooms=(rid,), transports=["polling"])
    assert a.sticky in ("app1", "app2"), "HAProxy set no stickiness cookie"
    other = "app2" if a.sticky == "app1" else "app1"
    b = await peers(module_cluster.url, bob, rooms=(rid,), transports=["polling"], on=other)

    # Several round trips, spanning more than one long-poll cycle (pingInterval is 5 s in
    # these tests): a request routed to the wrong instance would end the session.
    for i in range(6):
        m = await a.send(rid, f"poll {i} from alice")
        await eventually(lambda m=m: m["id"] in live_ids(b), "alice's message at bob")
        r = await b.send(rid, f"poll {i} from bob")
        await eventually(lambda r=r: r["id"] in live_ids(a), "bob's message at alice")
        await asyncio.sleep(1)

    for peer in (a, b):
        assert (peer.connects, peer.disconnects, peer.failed_connects) == (1, 0, 0), peer.name
    assert b.sticky == other


async def test_websocket_clients_through_haproxy(module_cluster: Cluster, http, register, peers):
    alice = await register(module_cluster)
    bob = await register(module_cluster)
    carol = await register(module_cluster)
    room = await private_room_with(http, module_cluster, alice, bob, carol)
    rid = room["id"]

    a = await peers(module_cluster.url, alice, rooms=(rid,), transports=["websocket"], on="app1")
    b = await peers(module_cluster.url, bob, rooms=(rid,), transports=["websocket"], on="app2")
    # Polling first, then the upgrade to WebSocket: the upgrade request must reach the
    # instance that holds the polling session.
    c = await peers(
        module_cluster.url,
        carol,
        rooms=(rid,),
        transports=["polling", "websocket"],
        on="app2",
    )
    await eventually(lambda: c.sio is not None and c.sio.transport() == "websocket", "upgrade")

    for sender, receivers in ((a, (b, c)), (b, (a, c)), (c, (a, b))):
        m = await sender.send(rid, f"ws from {sender.name}")
        for receiver in receivers:
            await eventually(lambda m=m, r=receiver: m["id"] in live_ids(r), f"at {receiver.name}")
    for peer in (a, b, c):
        assert (peer.connects, peer.disconnects, peer.failed_connects) == (1, 0, 0), peer.name
    # Both instances really were involved.
    assert (await module_cluster[0].metrics())["chat_active_connections"] >= 1
    assert (await module_cluster[1].metrics())["chat_active_connections"] >= 2


async def test_logout_on_one_instance_disconnects_the_session_on_another(
    module_cluster: Cluster, http, register, peers
):
    app1, app2 = module_cluster[0], module_cluster[1]
    bob = await register(app1)
    # A second login: another session of the same user, which must survive.
    status, body = await api(
        http, app1, "POST", "/api/auth/login", json={"email": bob.email, "password": bob.password}
    )
    assert status == 200, body
    other_session = dataclasses.replace(bob, access_token=body["accessToken"])

    doomed = await peers(app2.url, bob)
    survivor = await peers(app2.url, other_session)

    status, _ = await api(http, app1, "POST", "/api/auth/logout", bob)
    assert status == 204

    await eventually(lambda: doomed.events["session_revoked"], "session_revoked on instance 2")
    await eventually(lambda: doomed.disconnects >= 1, "the revoked socket disconnected")
    # Its token is blacklisted cluster-wide: reconnecting (to either instance) is refused.
    await eventually(lambda: doomed.failed_connects >= 1, "a refused reconnect")
    assert doomed.connects == 1
    assert not survivor.events["session_revoked"]
    assert survivor.disconnects == 0
    await survivor.call_ok("sync", {"rooms": {}})


async def test_membership_change_on_one_instance_reaches_sockets_on_the_other(
    module_cluster: Cluster, http, register, peers
):
    app1, app2 = module_cluster[0], module_cluster[1]
    carol = await register(app1)
    bob = await register(app1)
    room = await create_room(http, app1, carol)
    rid = room["id"]
    c = await peers(app1.url, carol, rooms=(rid,))
    b = await peers(app2.url, bob, rooms=(rid,))

    # Bob joins over REST on instance 1; his socket on instance 2 follows without reconnecting.
    await join(http, app1, bob, rid)
    await eventually(
        lambda: (
            about(c.events["user_joined"], bob.id, roomId=rid)
            or [e for e in c.events["user_joined"] if e.get("user", {}).get("id") == bob.id]
        ),
        "user_joined at carol",
    )
    m = await c.send(rid, "welcome, bob")
    await eventually(lambda: m["id"] in live_ids(b), "the room's message at bob on instance 2")
    # He can act in the room from that socket at once.
    await b.send(rid, "thanks")
    assert (b.connects, b.disconnects) == (1, 0)

    # Leaving over REST on instance 1 takes his socket on instance 2 out of the room.
    status, body = await api(http, app1, "DELETE", f"/api/rooms/{rid}/leave", bob)
    assert status in (200, 204), body
    await eventually(
        lambda: [e for e in c.events["user_left"] if e.get("userId") == bob.id], "user_left"
    )
    after = await c.send(rid, "bob is gone")
    control = await c.send(rid, "and this one neither")  # something carol surely gets
    await eventually(lambda: control["id"] in live_ids(c), "carol's own message")
    await asyncio.sleep(0.5)
    assert after["id"] not in live_ids(b)
    assert control["id"] not in live_ids(b)


async def test_emits_to_a_socket_of_this_instance_stay_off_redis(
    module_cluster: Cluster, http, register, peers
):
    """The connect-time `unread` is for the new socket alone, which only its own instance
    holds: it is not published for every other instance to decode and drop. Room
    messages, whose members may be anywhere, still are."""
    app1 = module_cluster[0]
    alice = await register(app1)
    bob = await register(app1)
    room = await private_room_with(http, app1, alice, bob)
    rid = room["id"]

    listener = aioredis.from_url(module_cluster.redis.url())
    pubsub = listener.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe("chat-socketio")
    published: list[dict[str, Any]] = []

    async def record() -> None:
        async for item in pubsub.listen():
            published.append(json.loads(item["data"]))

    recorder = asyncio.create_task(record())
    try:
        a = await peers(app1.url, alice, rooms=(rid,))
        await eventually(lambda: a.events["unread"], "unread at alice's new socket")
        await a.send(rid, "for every instance")
        await eventually(
            lambda: [m for m in published if m.get("event") == "new_message"],
            "the room message on the Redis channel",
        )
        assert not [m for m in published if m.get("event") == "unread"]
    finally:
        recorder.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await recorder
        await pubsub.aclose()
        await listener.aclose()
