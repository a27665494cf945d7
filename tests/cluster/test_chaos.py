"""Chaos (issue 5): continuous traffic from several clients while an instance is stopped
gracefully, crashes, Redis restarts or PostgreSQL drops every connection; afterwards every
recipient must have every acked message exactly once and in seq order.

Each test builds its own two-instance cluster (with its own redis-server) and four peers
in one room, connected through HAProxy and placed (by reconnecting until HAProxy's
stickiness cookie says so) two on each instance: one WebSocket and one long-polling client
per instance. Peers deliver what they receive live
and fill gaps with `sync` after reconnecting or on seeing a seq skip; live delivery plus
sync must add up to the complete, ordered history (docs/contract.md §7).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import asyncpg
import pytest

from tests.chat_helpers import api, create_room, join
from tests.cluster.peers import Peer, assert_complete, eventually, room_history, traffic
from tests.cluster.procs import Cluster, Instance
from tests.conftest import PG_ADMIN_URL

pytestmark = pytest.mark.timeout(120)

# Traffic: each of the 4 peers sends about every TRAFFIC_INTERVAL_S (~12 messages/s).
TRAFFIC_INTERVAL_S = 0.3
# Quiet traffic before the first fault and after the last one.
WARMUP_S = 2.0
COOLDOWN_S = 2.0


@dataclass
class Scene:
    cluster: Cluster
    room_id: str
    base_seq: int
    peers: list[Peer]
    users: list[Any]
    stop: asyncio.Event
    traffic: asyncio.Task[int] | None = None

    def on(self, name: str) -> list[Peer]:
        """The peers HAProxy's cookie placed on instance `name` at the start."""
        return [p for p in self.peers if p.name.endswith("@" + name)]

    def start_traffic(self) -> None:
        self.traffic = asyncio.create_task(
            traffic(self.peers, self.room_id, self.stop, TRAFFIC_INTERVAL_S)
        )

    async def finish(self, http: Any) -> int:
        """Stop the traffic (every send completes), catch every peer up and check that
        nothing was lost, doubled or reordered. Returns the number of messages the
        traffic sent."""
        assert self.traffic is not None
        self.stop.set()
        sent = await asyncio.wait_for(self.traffic, 60)
        await asyncio.gather(*(p.settle() for p in self.peers))
        stored = await room_history(
            http, self.cluster.url, self.users[0].access_token, self.room_id
        )
        assert_complete(self.peers, self.room_id, stored, self.base_seq)
        for p in self.peers:
            print(
                f"{p.name}: sent {len(p.acked)}, live {len(p.live)}, "
                f"delivered {len(p.delivered[self.room_id])}, connects {p.connects}, "
                f"failed connects {p.failed_connects}, error acks {p.error_acks}, "
                f"duplicates dropped {p.duplicates_dropped}, sticky now {p.sticky}"
            )
        return sent


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
        base = int(body["lastSeq"])
        placement = [
            ("app1", ["websocket"]),
            ("app2", ["websocket"]),
            ("app1", ["polling"]),
            ("app2", ["polling"]),
        ]
        peers = []
        for i, (user, (where, transports)) in enumerate(zip(users, placement, strict=True)):
            peer = Peer(
                f"p{i}-{transports[0]}@{where}",
                cluster.url,
                user.access_token,
                transports=transports,
            )
            peer.track(room["id"], base)
            peers.append(peer)
        s = Scene(cluster, room["id"], base, peers, users, asyncio.Event())
        scenes.append(s)
        for peer, (where, _) in zip(peers, placement, strict=True):
            await peer.start()
            await peer.place(where)
        # Two sockets on each instance, as placed.
        for inst in cluster.instances:

            async def two(inst: Instance = inst) -> bool:
                return (await inst.metrics())["chat_active_connections"] == 2

            await eventually(two, f"two sockets on {inst.name}")
        return s

    yield build
    for s in scenes:
        s.stop.set()
        if s.traffic is not None and not s.traffic.done():
            s.traffic.cancel()
            with contextlib.suppress(BaseException):
                await s.traffic
        await asyncio.gather(*(p.close() for p in s.peers))


async def wait_draining(inst: Instance) -> dict[str, Any]:
    async def draining() -> dict[str, Any] | None:
        status, body = await inst.ready()
        return body if status == 503 else None

    body: dict[str, Any] = await eventually(draining, f"{inst.name} draining", timeout=5)
    assert body["checks"]["draining"] == "yes", body
    return body


async def test_rolling_restart_with_sigterm_loses_nothing(scene, http):
    """SIGTERM app1 (it drains: readiness fails, clients are told and moved), start it
    again, then SIGTERM app2: every client moves at least once and nothing is lost."""
    s = await scene()
    app1, app2 = s.cluster[0], s.cluster[1]
    s.start_traffic()
    await asyncio.sleep(WARMUP_S)

    app1.terminate()
    await wait_draining(app1)
    assert await app1.wait_exit() == 0
    app1.start()
    await app1.wait_ready()
    await s.cluster.haproxy.wait_state("app1", "UP")
    await asyncio.sleep(1)

    app2.terminate()
    await wait_draining(app2)
    assert await app2.wait_exit() == 0
    await asyncio.sleep(COOLDOWN_S)

    await s.finish(http)
    for peer in s.peers:
        assert peer.connects >= 2, f"{peer.name} never moved"
    # Every client was on a draining instance at least once and was told so: HAProxy keeps
    # routing a session's requests (long-polling ones too) to its instance while it drains.
    for peer in s.peers:
        assert peer.events["server_shutdown"], f"{peer.name} was not told"
    assert len(s.on("app1")[0].events["server_shutdown"]) == 2  # app1 first, then app2


async def test_sigkill_of_an_instance_loses_nothing(scene, http):
    s = await scene()
    app1 = s.cluster[0]
    s.start_traffic()
    await asyncio.sleep(WARMUP_S)

    app1.kill()
    assert await app1.wait_exit() == -9
    await asyncio.sleep(3)
    # The crashed instance comes back; HAProxy puts it back into rotation.
    app1.start()
    await app1.wait_ready()
    await s.cluster.haproxy.wait_state("app1", "UP")
    await asyncio.sleep(COOLDOWN_S)

    await s.finish(http)
    for peer in s.on("app1"):
        assert peer.connects >= 2, f"{peer.name} did not reconnect"
    for peer in s.on("app2"):
        assert peer.disconnects == 0, f"{peer.name} lost its connection to a live instance"


async def test_redis_restart_loses_nothing(scene, http, register):
    """Redis dies and comes back: each instance keeps serving its own clients, the
    listener is reported down (readiness, metric) and resubscribes when Redis returns,
    cross-instance delivery resumes, and what crossed nobody meanwhile is filled by sync.
    With every instance unready HAProxy fails open, so new clients still get in."""
    s = await scene()
    app1, app2 = s.cluster[0], s.cluster[1]
    newcomer_user = await register(s.cluster)
    await join(http, s.cluster, newcomer_user, s.room_id)
    s.start_traffic()
    await asyncio.sleep(WARMUP_S)

    s.cluster.redis.kill()

    async def listener(inst: Instance, state: str) -> bool:
        _, body = await inst.ready()
        return body["checks"].get("redisListener") == state

    for inst in (app1, app2):
        await eventually(lambda i=inst: listener(i, "down"), f"{inst.name} listener down", 15)
        status, body = await inst.ready()
        assert status == 503 and body["checks"]["redis"].startswith("error"), body
        assert (await inst.metrics())["chat_redis_listener_up"] == 0

    # Local delivery goes on: a message sent on app1 reaches the other app1 client live.
    sender, local = s.on("app1")
    remote = s.on("app2")
    during = await sender.send(s.room_id, "while Redis is away")
    await eventually(lambda: any(m["id"] == during["id"] for m in local.live), "local delivery")

    # Both instances fail readiness, HAProxy has both down, yet a new client connects
    # through it and sends.
    for inst in (app1, app2):
        await s.cluster.haproxy.wait_state(inst.name, "DOWN")
    newcomer = Peer("p4-newcomer", s.cluster.url, newcomer_user.access_token)
    newcomer.track(s.room_id, s.base_seq)
    s.peers.append(newcomer)
    await newcomer.start()
    await newcomer.send(s.room_id, "hello from a newcomer while Redis is away")
    for inst in (app1, app2):
        assert (await inst.ready())[0] == 503, "Redis came back too early for this check"
    await asyncio.sleep(1)

    s.cluster.redis.start()
    for inst in (app1, app2):
        await eventually(lambda i=inst: listener(i, "ok"), f"{inst.name} listener back", 15)
        await inst.wait_ready()
        assert (await inst.metrics())["chat_redis_listener_up"] == 1

    # Cross-instance delivery resumes: app2's clients get app1's messages live again.
    mark = sender.last_seq[s.room_id]
    app1_users = {p.acked[0]["userId"] for p in s.on("app1") if p.acked}
    for peer in remote:
        await eventually(
            lambda p=peer: any(m["seq"] > mark and m["userId"] in app1_users for m in p.live),
            f"{peer.name} live again",
        )
    await asyncio.sleep(COOLDOWN_S)

    await s.finish(http)
    # The message sent during the outage never crossed live: app2's clients got it by sync.
    for peer in remote:
        assert not any(m["id"] == during["id"] for m in peer.live)
        assert any(m["id"] == during["id"] for m in peer.delivered[s.room_id])
    for peer in s.peers:
        assert peer.disconnects == 0, f"{peer.name} lost its connection"


async def test_postgresql_connection_loss_loses_nothing(scene, http, cluster_db):
    """Every backend of the database is terminated, three times, the first time with sends
    caught inside their transaction: those get an `unavailable` error ack, peers retry
    with the same clientMsgId, nothing is stored twice, and the pools recover."""
    s = await scene()
    db_name = cluster_db.rpartition("/")[2]
    s.start_traffic()
    await asyncio.sleep(WARMUP_S)

    admin = await asyncpg.connect(PG_ADMIN_URL)
    locker = await asyncpg.connect(cluster_db)
    terminate = (
        "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
        "WHERE datname = $1 AND pid <> pg_backend_pid() AND pid <> $2"
    )
    try:
        # First with sends caught mid-transaction: the room's row is locked, so sends wait
        # inside their INSERT ... UPDATE rooms; their connections die under them.
        async with locker.transaction():
            await locker.execute(
                "SELECT 1 FROM rooms WHERE id = $1 FOR UPDATE", uuid.UUID(s.room_id)
            )

            async def sends_waiting() -> bool:
                waiting = await admin.fetchval(
                    "SELECT count(*) FROM pg_stat_activity WHERE datname = $1 "
                    "AND wait_event_type = 'Lock'",
                    db_name,
                )
                return bool(waiting)

            await eventually(sends_waiting, "sends waiting for the room's lock")
            assert await admin.fetchval(terminate, db_name, locker.get_server_pid()) >= 1
        # Then idle and busy connections alike, twice.
        for _ in range(2):
            await asyncio.sleep(1.5)
            assert await admin.fetchval(terminate, db_name, locker.get_server_pid()) >= 2
    finally:
        await locker.close()
        await admin.close()
    await asyncio.sleep(COOLDOWN_S)

    await s.finish(http)
    codes = [code for p in s.peers for code in p.error_acks]
    # The sends caught in the lock got a clear error ack (and were retried); nothing else.
    assert "unavailable" in codes and set(codes) == {"unavailable"}, codes
    for inst in s.cluster.instances:
        status, body = await inst.ready()
        assert status == 200, body
    for peer in s.peers:
        assert peer.disconnects == 0, f"{peer.name} lost its connection"
