"""Revoked access tokens, remembered until they would have expired anyway."""

from __future__ import annotations

import time
from typing import Protocol

import redis.asyncio as aioredis

_KEY_PREFIX = "chat:blacklist:"


class TokenBlacklist(Protocol):
    async def add(self, jti: str, expires_at: int) -> None: ...

    async def contains(self, jti: str) -> bool: ...


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


class RedisBlacklist:
    """Cluster-wide blacklist: one key per revoked token with the token's remaining lifetime."""

    def __init__(self, client: aioredis.Redis):
        self._redis = client

    async def add(self, jti: str, expires_at: int) -> None:
        ttl = max(1, expires_at - int(time.time()) + 1)
        await self._redis.set(_KEY_PREFIX + jti, b"1", ex=ttl)

    async def contains(self, jti: str) -> bool:
        return bool(await self._redis.exists(_KEY_PREFIX + jti))
