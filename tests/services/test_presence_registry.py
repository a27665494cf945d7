"""The presence registry backends and PresenceService's bookkeeping, against real Redis
and real PostgreSQL.

Each test gets a key prefix of its own, so nothing here touches (or reaps) the presence
of servers that other test runs have running against the same Redis database.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from typing import Any

import asyncpg
import pytest
import redis.asyncio as aioredis

from chat_server.events import NullPublisher
from chat_server.services.presence import (
    MemoryPresenceRegistry,
    PresenceService,
    RedisPresenceRegistry,
)
from chat_server.store import rooms as room_store
from tests.conftest import REDIS_URL, delete_redis_keys


@pytest.fixture
def prefix() -> str:
    return f"test:presence:{uuid.uuid4().hex}:"


@pytest.fixture
async def redis_client(prefix: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.from_url(REDIS_URL)
    yield client
    await delete_redis_keys(client, prefix)
    await client.aclose()


@pytest.fixture
def make_registry(redis_client, prefix):
    """A Redis registry on this test's keys (several of them share the keys, like the
    instances of a cluster)."""

    def make(ttl_s: float | None = None) -> RedisPresenceRegistry:
        if ttl_s is None:
            return RedisPresenceRegistry(redis_client, prefix=prefix)
        return RedisPresenceRegistry(redis_client, ttl_s, prefix=prefix)

    return make


@pytest.fixture(params=["memory", "redis"])
async def registry(request, make_registry) -> Any:
    if request.param == "memory":
        return MemoryPresenceRegistry()
    return make_registry()


def uid() -> str:
    return str(uuid.uuid4())


async def test_connections_count_once_per_user(registry):
    alice, bob = uid(), uid()
    assert await registry.online([alice, bob]) == set()
    assert await registry.add(alice, "a-tab1") == 1
    assert await registry.add(alice, "a-tab2") == 2
    assert await registry.add(alice, "a-tab2") == 2  # the same connection twice
    assert await registry.add(bob, "b-tab1") == 1
    assert await registry.online([alice, bob, uid()]) == {alice, bob}
    assert await registry.online([]) == set()

    assert await registry.remove(alice, "a-tab1") == 1
    assert await registry.online([alice]) == {alice}
    assert await registry.remove(alice, "a-tab2") == 0
    assert await registry.online([alice, bob]) == {bob}
    # Removing what is not there is harmless and is not "the last one closed" again.
    assert await registry.remove(alice, "a-tab2") is None
    assert await registry.remove(uid(), "nothing") is None
    assert await registry.reap() == []


async def test_redis_connections_expire_without_heartbeat(make_registry):
    short = make_registry(ttl_s=0.3)
    alice = uid()
    assert await short.add(alice, "conn") == 1
    assert await short.online([alice]) == {alice}
    await asyncio.sleep(0.5)
    assert await short.online([alice]) == set()


async def test_redis_heartbeat_keeps_connections_alive(make_registry):
    reg = make_registry(ttl_s=0.6)
    alice, bob = uid(), uid()
    await reg.add(alice, "a")
    await reg.add(bob, "b")
    for _ in range(4):
        await asyncio.sleep(0.3)
        await reg.heartbeat([(alice, "a")])
    # 1.2 s later: alice was renewed, bob was not.
    assert await reg.online([alice, bob]) == {alice}
    assert await reg.reap() == [bob]


async def test_redis_heartbeat_re_registers_connections_redis_lost(
    make_registry, redis_client, prefix
):
    """A Redis restart (or an outage while the socket connected) loses entries; the
    instance still holds the sockets, and its next heartbeat puts them back."""
    reg = make_registry()
    alice = uid()
    await reg.add(alice, "a")
    await delete_redis_keys(redis_client, prefix)
    assert await reg.online([alice]) == set()
    await reg.heartbeat([(alice, "a")])
    assert await reg.online([alice]) == {alice}
    assert await reg.remove(alice, "a") == 0


async def test_crashed_instances_users_are_reaped_offline(make_registry):
    crashed = make_registry(ttl_s=0.2)
    survivor = make_registry()
    gone, both = uid(), uid()
    await crashed.add(gone, "c1")
    await crashed.add(gone, "c2")
    await crashed.add(both, "c3")
    await survivor.add(both, "s1")  # also connected to a live instance
    # The crashed instance never heartbeats again.
    await asyncio.sleep(0.4)
    assert await survivor.online([gone, both]) == {both}
    # Reaped exactly once, even with two instances reaping at the same time.
    results = await asyncio.gather(survivor.reap(), make_registry().reap())
    assert sorted(results[0] + results[1]) == [gone]
    assert await survivor.reap() == []
    assert await survivor.online([gone, both]) == {both}
    assert await survivor.remove(both, "s1") == 0


async def test_a_new_connection_does_not_count_expired_ones(make_registry):
    crashed = make_registry(ttl_s=0.2)
    live = make_registry()
    alice = uid()
    await crashed.add(alice, "old")
    await asyncio.sleep(0.4)
    # Reconnecting after a crash is a first connection again (the user comes online).
    assert await live.add(alice, "new") == 1
    # The reaper later finds the expired connection but alice is online: not reported.
    assert await live.reap() == []
    assert await live.online([alice]) == {alice}


# -- PresenceService ---------------------------------------------------------------------


@pytest.fixture
async def pool(database_url) -> AsyncIterator[asyncpg.Pool]:
    pool = await asyncpg.create_pool(database_url, min_size=1, max_size=4)
    assert pool is not None
    yield pool
    await pool.close()


async def _user_in_small_room(pool: asyncpg.Pool) -> tuple[str, str, str]:
    """A user (and a partner) sharing a two-member private room; returns ids and the room."""
    async with pool.acquire() as conn:
        ids = []
        for _ in range(2):
            name = f"p_{uuid.uuid4().hex[:10]}"
            ids.append(
                await conn.fetchval(
                    "INSERT INTO users (email, username, password_hash) VALUES ($1, $2, 'x') "
                    "RETURNING id",
                    f"{name}@example.test",
                    name,
                )
            )
        room = await room_store.create_room(
            conn, name="presence", description=None, kind="private", created_by=ids[0]
        )
        for i in ids:
            await room_store.add_member(conn, room["id"], i)
    return str(ids[0]), str(ids[1]), str(room["id"])


async def test_service_announces_first_connect_and_last_disconnect(pool):
    publisher = NullPublisher()
    service = PresenceService(pool, publisher, MemoryPresenceRegistry())
    alice, _, room_id = await _user_in_small_room(pool)

    await service.connected(alice, "alice", "s1")
    await service.connected(alice, "alice", "s2")
    await service.flush()
    assert [(e.name, e.payload["status"]) for e in publisher.events] == [("presence", "online")]
    assert publisher.events[0].target.ids == (room_id,)

    await service.disconnected(alice, "s1")
    await service.flush()
    assert len(publisher.events) == 1
    await service.disconnected(alice, "s2")
    await service.flush()
    last = publisher.events[-1]
    assert last.payload["status"] == "offline"
    assert last.payload["lastSeen"] is not None
    async with pool.acquire() as conn:
        seen = await conn.fetchval("SELECT last_seen_at FROM users WHERE id = $1", uuid.UUID(alice))
    assert seen is not None


async def test_reconnect_during_offline_bookkeeping_stays_online(pool):
    """A page reload: the last tab closes and a new one opens while the close is still
    storing last_seen. The announced state must be the real one: online."""
    publisher = NullPublisher()
    registry = MemoryPresenceRegistry()
    service = PresenceService(pool, publisher, registry)
    alice, _, _ = await _user_in_small_room(pool)
    await service.connected(alice, "alice", "old")
    await service.flush()
    publisher.events.clear()

    await asyncio.gather(
        service.disconnected(alice, "old"), service.connected(alice, "alice", "new")
    )
    assert await registry.online([alice]) == {alice}
    await service.flush()
    statuses = [e.payload["status"] for e in publisher.events]
    assert statuses in ([], ["online"]), statuses


async def test_heartbeat_reaps_a_crashed_instances_users(pool, make_registry):
    publisher = NullPublisher()
    crashed = PresenceService(pool, NullPublisher(), make_registry(ttl_s=0.2))
    survivor = PresenceService(pool, publisher, make_registry())
    alice, _, room_id = await _user_in_small_room(pool)
    await crashed.connected(alice, "alice", "on-crashed")
    await asyncio.sleep(0.4)

    await survivor.heartbeat()
    await survivor.flush()
    offline = [e for e in publisher.events if e.payload["userId"] == alice]
    assert [e.payload["status"] for e in offline] == ["offline"]
    assert offline[0].target.ids == (room_id,)
    assert offline[0].payload["lastSeen"] is not None
