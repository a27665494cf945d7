"""Chaos for messages that change (issue 16, docs/contract.md §12): continuous edits,
reaction toggles, pins and unpins, thread replies and a few deletes from several clients
while an instance is SIGKILLed (and restarted), or while Redis restarts; afterwards every
acked change took one number of the room's gap-free `changeSeq` and reached every client
exactly once, and every client's copy of every message is the server's current state.

Like tests/cluster/test_chaos.py: each test builds its own two-instance cluster (with its
own redis-server) and four peers in one room, placed through HAProxy two on each instance
(one WebSocket and one long-polling client per instance). The peers
(tests/cluster/change_peers.py) apply live `message_updated` in changeSeq order, fill a
jump from the REST change feed and recover with `sync`'s `changes` after reconnecting.
Every operation is one a single peer controls (its own messages' edits and pins, its own
reactions), so each acked one is exactly one change, also when it was retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from tests.chat_helpers import api, create_room, join
from tests.cluster.change_checks import ServerState, assert_changes_complete, change_feed
from tests.cluster.change_peers import ChangePeer, Plan, change_traffic
from tests.cluster.peers import assert_complete, eventually, room_history
from tests.cluster.procs import Cluster, Instance

pytestmark = pytest.mark.timeout(120)

# Each of the 4 peers makes a change about every TRAFFIC_INTERVAL_S (~16 changes/s).
TRAFFIC_INTERVAL_S = 0.25
# Bounds the traffic whatever the timing (a test makes well under 4 * MAX_OPS changes).
MAX_OPS_PER_PEER = 150
# Quiet traffic before the first fault and after the last one.
WARMUP_S = 2.0
COOLDOWN_S = 2.0
# How long the fault lasts (with traffic going on).
OUTAGE_S = 3.0
# Changes app2's clients make while app1's clients are away (SIGKILL test).
MISSED_CHANGES = 12
# How long the SIGKILL test looks for an operation in flight on app1 to kill it under.
CATCH_IN_FLIGHT_S = 5.0
# Each peer's own messages that the traffic edits, pins and reacts to.
TARGETS_PER_PEER = 2


@dataclass
class Scene:
    cluster: Cluster
    plan: Plan
    base_seq: int
    base_change: int
    peers: list[ChangePeer]
    users: list[Any]
    stop: asyncio.Event
    traffic: asyncio.Task[int] | None = None

    def on(self, name: str) -> list[ChangePeer]:
        """The peers HAProxy's cookie placed on instance `name` at the start."""
        return [p for p in self.peers if p.name.endswith("@" + name)]

    def start_traffic(self) -> None:
        self.traffic = asyncio.create_task(
            change_traffic(
                self.peers,
                self.plan,
                self.stop,
                interval_s=TRAFFIC_INTERVAL_S,
                max_ops=MAX_OPS_PER_PEER,
            )
        )

    async def finish(self, http: Any) -> None:
        """Stop the traffic (every operation completes), catch every peer up and check
        that no message and no change was lost, doubled or reordered."""
        assert self.traffic is not None
        self.stop.set()
        await asyncio.wait_for(self.traffic, 60)
        await asyncio.gather(*(p.settle() for p in self.peers))
        room_id, token = self.plan.room_id, self.users[0].access_token
        history = await room_history(http, self.cluster.url, token, room_id)
        feed, cursor = await change_feed(http, self.cluster.url, token, room_id, self.base_change)
        status, room = await api(http, self.cluster, "GET", f"/api/rooms/{room_id}", self.users[0])
        assert status == 200, room
        assert_complete(self.peers, room_id, history, self.base_seq)
        server = ServerState(history, feed, cursor, int(room["changeSeq"]), self.base_change)
        for p in self.peers:
            sources: dict[str, int] = {}
            for a in p.applied[room_id]:
                sources[a.source] = sources.get(a.source, 0) + 1
            print(
                f"{p.name}: ops {len(p.ops)}, applied {sources}, live events "
                f"{p.live_changes}, dropped {p.change_duplicates_dropped}, superseded in "
                f"buffer {p.superseded_in_buffer}, feed fills {p.feed_fills}, retries "
                f"{p.change_retries}, connects {p.connects}, error acks {p.error_acks}"
            )
        print(f"changes {server.base}..{server.change_seq}, feed {len(feed)} messages")
        assert_changes_complete(self.peers, self.plan, server)


@pytest.fixture
async def scene(
    make_cluster: Callable[..., Cluster], http, register
) -> AsyncIterator[Callable[[], Awaitable[Scene]]]:
    scenes: list[Scene] = []

    async def build() -> Scene:
        cluster = make_cluster(2)
        users = [await register(cluster) for _ in range(4)]
        room = await create_room(http, cluster, users[0])
        for user in users[1:]:
            await join(http, cluster, user, room["id"])
        status, body = await api(http, cluster, "GET", f"/api/rooms/{room['id']}", users[0])
        assert status == 200, body
        base_seq, base_change = int(body["lastSeq"]), int(body["changeSeq"])
        placement = [
            ("app1", ["websocket"]),
            ("app2", ["websocket"]),
            ("app1", ["polling"]),
            ("app2", ["polling"]),
        ]
        peers = []
        for i, (user, (where, transports)) in enumerate(zip(users, placement, strict=True)):
            peer = ChangePeer(
                f"p{i}-{transports[0]}@{where}",
                cluster.url,
                user.access_token,
                transports=transports,
            )
            peer.track(room["id"], base_seq)
            peer.track_changes(room["id"], base_change)
            peers.append(peer)
        plan = Plan(room["id"], [], {}, {p.name: u.id for p, u in zip(peers, users, strict=True)})
        s = Scene(cluster, plan, base_seq, base_change, peers, users, asyncio.Event())
        scenes.append(s)
        for peer, (where, _) in zip(peers, placement, strict=True):
            await peer.start()
            await peer.place(where)
        for inst in cluster.instances:

            async def two(inst: Instance = inst) -> bool:
                return (await inst.metrics())["chat_active_connections"] == 2

            await eventually(two, f"two sockets on {inst.name}")
        # What the traffic works on: a thread root and its own targets per peer.
        for peer in peers:
            plan.roots.append((await peer.send(room["id"], f"{peer.name} root"))["id"])
            plan.targets[peer.name] = [
                (await peer.send(room["id"], f"{peer.name} target {i}"))["id"]
                for i in range(TARGETS_PER_PEER)
            ]
        return s

    yield build
    for s in scenes:
        s.stop.set()
        if s.traffic is not None and not s.traffic.done():
            s.traffic.cancel()
            with contextlib.suppress(BaseException):
                await s.traffic
        await asyncio.gather(*(p.close() for p in s.peers))


async def test_changes_survive_sigkill_of_an_instance(scene, http):
    """app1 crashes mid-traffic and its clients stay away while app2's clients make
    changes; they come back through app2 and recover what they missed with `sync`'s
    `changes` (their own operations caught by the crash are retried); app1 comes back."""
    s = await scene()
    app1 = s.cluster[0]
    away, staying = s.on("app1"), s.on("app2")
    s.start_traffic()
    await asyncio.sleep(WARMUP_S)

    for peer in away:
        peer.may_connect.clear()
    # Preferably while one of app1's clients waits for an answer (it retries after the
    # crash; a retry of a change that was made is a no-op): no wait between look and kill.
    give_up = time.monotonic() + CATCH_IN_FLIGHT_S
    while not any(p.in_flight for p in away) and time.monotonic() < give_up:
        await asyncio.sleep(0.002)
    app1.kill()
    assert await app1.wait_exit() == -9
    for peer in away:
        await eventually(lambda p=peer: not p.connected.is_set(), f"{peer.name} gone")
    # Changes happen while app1's clients are away.
    mark = max(p.last_change[s.plan.room_id] for p in staying)
    await eventually(
        lambda: all(p.last_change[s.plan.room_id] >= mark + MISSED_CHANGES for p in staying),
        "changes while app1's clients are away",
        timeout=30,
    )
    for peer in away:
        peer.may_connect.set()
    await asyncio.sleep(OUTAGE_S)
    app1.start()
    await app1.wait_ready()
    await s.cluster.haproxy.wait_state("app1", "UP")
    await asyncio.sleep(COOLDOWN_S)

    await s.finish(http)
    for peer in away:
        assert peer.connects >= 2, f"{peer.name} did not reconnect"
        recovered = [a for a in peer.applied[s.plan.room_id] if a.source != "live"]
        assert recovered, f"{peer.name} recovered nothing"
    for peer in staying:
        assert peer.disconnects == 0, f"{peer.name} lost its connection to a live instance"


async def test_changes_survive_a_redis_restart(scene, http):
    """Redis dies and comes back: no change crosses instances live meanwhile, so each
    client recovers the other instance's changes from the feed (on a changeSeq jump) or
    from `sync`, without losing its connection."""
    s = await scene()
    app1, app2 = s.cluster[0], s.cluster[1]
    s.start_traffic()
    await asyncio.sleep(WARMUP_S)

    s.cluster.redis.kill()

    async def listener(inst: Instance, state: str) -> bool:
        _, body = await inst.ready()
        return body["checks"].get("redisListener") == state

    for inst in (app1, app2):
        await eventually(lambda i=inst: listener(i, "down"), f"{inst.name} listener down", 15)
    await asyncio.sleep(OUTAGE_S)
    s.cluster.redis.start()
    for inst in (app1, app2):
        await eventually(lambda i=inst: listener(i, "ok"), f"{inst.name} listener back", 15)
        await inst.wait_ready()
    await asyncio.sleep(COOLDOWN_S)

    await s.finish(http)
    for peer in s.peers:
        assert peer.disconnects == 0, f"{peer.name} lost its connection"
        # The other instance's changes made during the outage never arrived live.
        recovered = [a for a in peer.applied[s.plan.room_id] if a.source != "live"]
        assert recovered, f"{peer.name} recovered nothing"
