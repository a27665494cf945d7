"""Who is online: a registry of live connections and coalesced `presence` announcements.

A user is online while any of their connections is alive, on any instance. The registry
is in memory for a single instance and in Redis for a cluster; in Redis every connection
carries an expiry that its instance renews, so the connections of a crashed instance
expire by themselves and a reaper on any surviving instance announces those users offline.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Protocol
from uuid import UUID

import asyncpg
import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

from chat_server.errors import TooManyConnections
from chat_server.events import Event, Publisher, Target
from chat_server.services.wire import iso
from chat_server.store import rooms as room_store
from chat_server.store import users as user_store

log = structlog.get_logger(__name__)

# Presence changes are flushed at most once per second (docs/contract.md §8): a mass reconnect
# becomes one announcement per user per second instead of a storm of flapping events.
PRESENCE_FLUSH_INTERVAL_S = 1.0
# Rooms larger than this get no presence broadcasts: in a 10,000-member lobby every
# connect would otherwise fan out to 10,000 sockets. Members there read online status
# from GET /api/rooms/{id}/members instead.
PRESENCE_MAX_ROOM_MEMBERS = 500
# A connection in the Redis registry lives this long unless its instance renews it.
PRESENCE_TTL_S = 45.0
# How often an instance renews its connections and reaps expired ones.
PRESENCE_HEARTBEAT_S = 15.0


class PresenceRegistry(Protocol):
    """The live connections of every user, cluster-wide."""

    async def add(self, user_id: str, conn_id: str) -> int:
        """Register a connection; returns the user's live connection count including it."""
        ...

    async def remove(self, user_id: str, conn_id: str) -> int | None:
        """Forget a connection; returns how many live connections the user has left, or
        None when the connection was no longer registered (already removed or reaped by
        someone else, who then also saw the user go offline)."""
        ...

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        """Which of these users have at least one live connection."""
        ...

    async def count(self, user_id: str) -> int:
        """How many live connections the user has, cluster-wide."""
        ...

    async def heartbeat(self, conns: Iterable[tuple[str, str]]) -> None:
        """Renew this instance's connections."""
        ...

    async def reap(self) -> list[str]:
        """Drop expired connections; returns users left with none (they went offline)."""
        ...


class MemoryPresenceRegistry:
    """Single-instance registry: connections die with the process, so nothing expires."""

    def __init__(self) -> None:
        self._conns: dict[str, set[str]] = {}

    async def add(self, user_id: str, conn_id: str) -> int:
        conns = self._conns.setdefault(user_id, set())
        conns.add(conn_id)
        return len(conns)

    async def remove(self, user_id: str, conn_id: str) -> int | None:
        conns = self._conns.get(user_id)
        if conns is None or conn_id not in conns:
            return None
        conns.discard(conn_id)
        if not conns:
            del self._conns[user_id]
            return 0
        return len(conns)

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        return {u for u in user_ids if self._conns.get(u)}

    async def count(self, user_id: str) -> int:
        return len(self._conns.get(user_id, ()))

    async def heartbeat(self, conns: Iterable[tuple[str, str]]) -> None:
        return None

    async def reap(self) -> list[str]:
        return []


# Atomic add/remove: drop the user's expired connections, change one, count the rest.
# Atomicity matters: two instances registering the same user's first two connections at
# once must not both see "2" (then nobody would announce the user online).
_ADD_LUA = """
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
redis.call('ZADD', KEYS[1], ARGV[2], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
redis.call('EXPIRE', KEYS[1], ARGV[5])
return redis.call('ZCARD', KEYS[1])
"""
# Returns -1 when neither the connection nor any expired one was in the user's set: then
# whoever removed them reported the user's last connection, not us (no double "offline").
_REMOVE_LUA = """
local removed = redis.call('ZREM', KEYS[1], ARGV[2])
redis.call('ZREM', KEYS[2], ARGV[3])
removed = removed + redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[1])
if removed == 0 then
  return -1
end
return redis.call('ZCARD', KEYS[1])
"""
# Keys: <prefix>all (every connection, for reaping) and <prefix>u:<user id> (per user).
PRESENCE_KEY_PREFIX = "chat:presence:"
# Connections reaped per heartbeat at most: bounds one reap's work after a big crash.
_REAP_BATCH = 1000


class RedisPresenceRegistry:
    """Cluster registry: per-user sorted set of connection ids scored by expiry, plus one
    global sorted set of `user|conn` so any instance can reap expired connections."""

    def __init__(
        self,
        client: aioredis.Redis,
        ttl_s: float = PRESENCE_TTL_S,
        *,
        prefix: str = PRESENCE_KEY_PREFIX,
    ):
        self._redis = client
        self._ttl = ttl_s
        self._all_key = prefix + "all"
        self._user_key = prefix + "u:"
        # Keys outlive their connections' expiry; EXPIRE 0 would delete them at once.
        self._key_ttl = max(1, math.ceil(ttl_s * 2))
        self._add = client.register_script(_ADD_LUA)
        self._remove = client.register_script(_REMOVE_LUA)

    async def add(self, user_id: str, conn_id: str) -> int:
        now = time.time()
        count = await self._add(
            keys=[self._user_key + user_id, self._all_key],
            args=[now, now + self._ttl, conn_id, f"{user_id}|{conn_id}", self._key_ttl],
        )
        return int(count)

    async def remove(self, user_id: str, conn_id: str) -> int | None:
        count = int(
            await self._remove(
                keys=[self._user_key + user_id, self._all_key],
                args=[time.time(), conn_id, f"{user_id}|{conn_id}"],
            )
        )
        return None if count < 0 else count

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        ids = list(user_ids)
        if not ids:
            return set()
        now = time.time()
        async with self._redis.pipeline(transaction=False) as pipe:
            for uid in ids:
                pipe.zcount(self._user_key + uid, now, "+inf")
            counts = await pipe.execute()
        return {uid for uid, n in zip(ids, counts, strict=True) if int(n) > 0}

    async def count(self, user_id: str) -> int:
        return int(await self._redis.zcount(self._user_key + user_id, time.time(), "+inf"))

    async def heartbeat(self, conns: Iterable[tuple[str, str]]) -> None:
        """Renew (or re-register) live connections: one that Redis lost (a restart, an
        outage during connect, reaped while this instance stalled) comes back."""
        expiry = time.time() + self._ttl
        async with self._redis.pipeline(transaction=False) as pipe:
            for user_id, conn_id in conns:
                pipe.zadd(self._user_key + user_id, {conn_id: expiry})
                pipe.zadd(self._all_key, {f"{user_id}|{conn_id}": expiry})
                pipe.expire(self._user_key + user_id, self._key_ttl)
            await pipe.execute()

    async def reap(self) -> list[str]:
        now = time.time()
        expired = await self._redis.zrangebyscore(
            self._all_key, "-inf", now, start=0, num=_REAP_BATCH
        )
        offline = []
        for raw in expired:
            member = raw.decode() if isinstance(raw, bytes) else str(raw)
            # Only the instance whose ZREM succeeds handles a connection: no double announcements.
            if not await self._redis.zrem(self._all_key, member):
                continue
            user_id, _, conn_id = member.partition("|")
            if await self.remove(user_id, conn_id) == 0:
                offline.append(user_id)
        return offline


@dataclass(slots=True)
class _Change:
    user_id: str
    username: str
    status: str
    last_seen: str | None


class PresenceService:
    """Tracks connections and announces online/offline to the rooms a user shares."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        publisher: Publisher,
        registry: PresenceRegistry,
        *,
        max_connections_per_user: int = 0,
    ):
        self._pool = pool
        self._publisher = publisher
        self.registry = registry
        self._max_connections = max_connections_per_user
        self._pending: dict[str, _Change] = {}
        self._local: dict[str, str] = {}  # conn_id -> user_id, for heartbeats

    async def check_capacity(self, user_id: str) -> None:
        """Refuse a new connection for a user who already has the maximum (cluster-wide).

        A soft limit: two connections racing in at once may both pass. While the registry
        is unreachable nobody is refused.
        """
        if self._max_connections <= 0:
            return
        try:
            count = await self.registry.count(user_id)
        except RedisError as exc:
            log.warning("presence_registry_unavailable", op="count", error=str(exc))
            return
        if count >= self._max_connections:
            raise TooManyConnections(
                f"At most {self._max_connections} connections per user; close another tab"
            )

    async def connected(self, user_id: str, username: str, conn_id: str) -> None:
        """A connection is live; the user's first one makes them online."""
        self._local[conn_id] = user_id
        try:
            count = await self.registry.add(user_id, conn_id)
        except RedisError as exc:
            # Presence degrades while Redis is away; the heartbeat re-registers later.
            log.warning("presence_registry_unavailable", op="add", error=str(exc))
            return
        if count == 1:
            self._pending[user_id] = _Change(user_id, username, "online", None)

    async def disconnected(self, user_id: str, conn_id: str) -> None:
        """A connection closed; when it was the user's last, store last_seen and announce."""
        self._local.pop(conn_id, None)
        try:
            count = await self.registry.remove(user_id, conn_id)
        except RedisError as exc:
            # The entry expires on its own (PRESENCE_TTL_S) and the reaper announces it.
            log.warning("presence_registry_unavailable", op="remove", error=str(exc))
            return
        if count == 0:
            await self._went_offline(user_id)

    async def online(self, user_ids: Iterable[str]) -> set[str]:
        """Who is online; nobody is reported online while the registry is unreachable."""
        try:
            return await self.registry.online(user_ids)
        except RedisError as exc:
            log.warning("presence_registry_unavailable", op="online", error=str(exc))
            return set()

    async def _went_offline(self, user_id: str) -> None:
        async with self._pool.acquire() as conn:
            await user_store.touch_last_seen(conn, user_id)
            user = await user_store.get_user(conn, user_id)
        if user is None:
            return
        self._pending[user_id] = _Change(
            user_id, user["username"], "offline", iso(user["last_seen_at"])
        )

    async def flush(self) -> None:
        """Announce the coalesced changes: each user's latest state, once, to every small
        room they are in (each socket once).

        A change the registry no longer agrees with is dropped: e.g. the last tab closed
        and a new one opened while the close was still storing last_seen (a page reload),
        or the user came back on another instance. Whoever made the newer change
        announces it.
        """
        pending, self._pending = self._pending, {}
        if not pending:
            return
        online: set[str] | None
        try:
            online = await self.registry.online(pending)
        except RedisError as exc:
            log.warning("presence_registry_unavailable", op="flush", error=str(exc))
            online = None
        for change in pending.values():
            if online is not None and (change.status == "online") != (change.user_id in online):
                continue
            async with self._pool.acquire() as conn:
                rooms = await room_store.list_presence_rooms(
                    conn, UUID(change.user_id), PRESENCE_MAX_ROOM_MEMBERS
                )
            if not rooms:
                continue
            payload = {
                "userId": change.user_id,
                "username": change.username,
                "status": change.status,
                "lastSeen": change.last_seen,
            }
            await self._publisher.publish(Event("presence", payload, Target.rooms(rooms)))

    async def heartbeat(self) -> None:
        """Renew this instance's connections and reap those of crashed instances."""
        conns = [(uid, cid) for cid, uid in self._local.items()]
        await self.registry.heartbeat(conns)
        # A connection that closed while the heartbeat was in flight may have been
        # re-registered after its removal: remove it again.
        for user_id, conn_id in conns:
            if conn_id not in self._local:
                await self.registry.remove(user_id, conn_id)
        for user_id in await self.registry.reap():
            await self._went_offline(user_id)

    async def run(self) -> None:
        """Background loop: flush every second, heartbeat every PRESENCE_HEARTBEAT_S."""
        last_beat = time.monotonic()
        while True:
            await asyncio.sleep(PRESENCE_FLUSH_INTERVAL_S)
            try:
                await self.flush()
                if time.monotonic() - last_beat >= PRESENCE_HEARTBEAT_S:
                    last_beat = time.monotonic()
                    await self.heartbeat()
            except asyncio.CancelledError:
                raise
            except Exception:
                # Redis or PostgreSQL blinked: presence catches up on the next round.
                log.warning("presence_round_failed", exc_info=True)

    async def close(self) -> None:
        """Forget this instance's connections (shutdown): their users go offline now
        instead of after the TTL."""
        for conn_id, user_id in list(self._local.items()):
            with contextlib.suppress(Exception):
                await self.disconnected(user_id, conn_id)
        with contextlib.suppress(Exception):
            await self.flush()
