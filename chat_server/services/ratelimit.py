"""Rate limits with the `limits` package: memory storage alone, Redis storage in a cluster."""

from __future__ import annotations

import time

from limits import RateLimitItem, parse
from limits.aio.storage import MemoryStorage, RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from chat_server.errors import RateLimited


class RateLimiter:
    """Named limits (`register`, `login`, `messages`, ...) keyed by IP or user id."""

    def __init__(self, limits: dict[str, str], redis_url: str | None = None):
        self._storage: Storage = (
            RedisStorage("async+" + redis_url, implementation="redispy", key_prefix="chat-rl")
            if redis_url
            else MemoryStorage()
        )
        self._strategy = MovingWindowRateLimiter(self._storage)
        self._limits: dict[str, RateLimitItem] = {k: parse(v) for k, v in limits.items()}

    async def hit(self, name: str, key: str) -> None:
        """Count one event; raise RateLimited (with Retry-After seconds) when over the limit."""
        item = self._limits[name]
        if await self._strategy.hit(item, name, key):
            return
        stats = await self._strategy.get_window_stats(item, name, key)
        raise RateLimited(int(stats.reset_time - time.time()) + 1)

    async def reset(self) -> None:
        """Forget every counter (tests and operators)."""
        await self._storage.reset()
