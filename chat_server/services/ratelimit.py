"""Rate limits in the `limits` notation: moving windows in memory alone, in Redis in a
cluster (both counted by our own small classes: `limits`' storages cost too much CPU on the
message path, see local_limits.py and redis_limits.py)."""

from __future__ import annotations

import time

import structlog
from limits import RateLimitItem, parse

from chat_server.errors import RateLimited
from chat_server.redis_pipe import RedisPipe
from chat_server.services.local_limits import LocalMovingWindow
from chat_server.services.redis_limits import RedisMovingWindow

log = structlog.get_logger(__name__)


class RateLimiter:
    """Named limits (`register`, `login`, `messages`, ...) keyed by IP or user id.

    With Redis the counters are cluster-wide. While Redis is unreachable each instance
    counts on its own in memory (limits stay enforced per instance) rather than failing
    every request that is rate limited.
    """

    def __init__(self, limits: dict[str, str], redis_url: str | None = None):
        self._fallback = LocalMovingWindow()
        self._pipe = RedisPipe(redis_url) if redis_url else None
        self._shared = RedisMovingWindow(self._pipe) if self._pipe is not None else None
        self._strategy: RedisMovingWindow | LocalMovingWindow = self._shared or self._fallback
        self._limits: dict[str, RateLimitItem] = {k: parse(v) for k, v in limits.items()}

    async def hit(self, name: str, key: str) -> None:
        """Count one event; raise RateLimited (with Retry-After seconds) when over the limit."""
        await self._apply(name, key, count=True)

    async def check(self, name: str, key: str) -> None:
        """Raise RateLimited if `key` has used up limit `name`, without counting anything
        (for limits that count only failures, like failed logins per account)."""
        await self._apply(name, key, count=False)

    async def _apply(self, name: str, key: str, *, count: bool) -> None:
        item = self._limits[name]
        strategy: RedisMovingWindow | LocalMovingWindow = self._strategy
        try:
            allowed = await (strategy.hit if count else strategy.test)(item, name, key)
        except Exception as exc:  # Redis down or timing out: degrade to local counting
            log.warning("rate_limit_storage_unavailable", error=str(exc))
            strategy = self._fallback
            allowed = await (strategy.hit if count else strategy.test)(item, name, key)
        if allowed:
            return
        try:
            stats = await strategy.get_window_stats(item, name, key)
            retry_after = int(stats.reset_time - time.time()) + 1
        except Exception:
            retry_after = int(item.get_expiry())
        raise RateLimited(retry_after)

    async def reset(self) -> None:
        """Forget every counter (tests and operators)."""
        self._fallback.reset()
        if self._shared is not None:
            await self._shared.reset()

    async def close(self) -> None:
        """Close the Redis connection (shutdown)."""
        if self._pipe is not None:
            await self._pipe.close()
