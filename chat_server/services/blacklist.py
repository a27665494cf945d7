"""Revoked access tokens, remembered until they would have expired anyway."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Protocol

import redis.asyncio as aioredis
import structlog
from redis.exceptions import RedisError

log = structlog.get_logger(__name__)

_KEY_PREFIX = "chat:blacklist:"


class TokenBlacklist(Protocol):
    async def add(self, jti: str, expires_at: int) -> None: ...

    async def contains(self, jti: str) -> bool: ...

    async def contains_any(self, keys: Iterable[str]) -> bool: ...


class MemoryBlacklist:
    """Single-instance blacklist; expired entries are pruned as new ones arrive."""

    def __init__(self) -> None:
        self._entries: dict[str, int] = {}

    async def add(self, jti: str, expires_at: int) -> None:
        now = int(time.time())
        self._entries = {k: v for k, v in self._entries.items() if v > now}
        self._entries[jti] = expires_at

    async def contains(self, jti: str) -> bool:
        exp = self._entries.get(jti)
        return exp is not None and exp > int(time.time())

    async def contains_any(self, keys: Iterable[str]) -> bool:
        for key in keys:
            if await self.contains(key):
                return True
        return False


class RedisBlacklist:
    """Cluster-wide blacklist: one key per revoked token with the token's remaining lifetime.

    Revocations made here are also kept in memory. While Redis is unreachable, checks use
    that local copy: logouts on this instance still hold, logouts made on other instances
    during the outage are honoured once Redis is back (tokens live 15 minutes at most).
    Failing closed instead would log everyone out whenever Redis blinks.
    """

    def __init__(self, client: aioredis.Redis):
        self._redis = client
        self._local = MemoryBlacklist()

    async def add(self, jti: str, expires_at: int) -> None:
        await self._local.add(jti, expires_at)
        ttl = max(1, expires_at - int(time.time()) + 1)
        try:
            await self._redis.set(_KEY_PREFIX + jti, b"1", ex=ttl)
        except RedisError as exc:
            log.warning("blacklist_redis_unavailable", op="add", error=str(exc))

    async def contains(self, jti: str) -> bool:
        return await self.contains_any((jti,))

    async def contains_any(self, keys: Iterable[str]) -> bool:
        """One round trip for several keys (a token and its session)."""
        keys = list(keys)
        if await self._local.contains_any(keys):
            return True
        try:
            return bool(await self._redis.exists(*(_KEY_PREFIX + k for k in keys)))
        except RedisError as exc:
            log.warning("blacklist_redis_unavailable", op="check", error=str(exc))
            return False
