"""Rate limits with the `limits` package: memory storage alone, Redis storage in a cluster."""

from __future__ import annotations

import time

import structlog
from limits import RateLimitItem, parse
from limits.aio.storage import RedisStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter

from chat_server.errors import RateLimited
from chat_server.redis_pool import blocking_pool
from chat_server.services.local_limits import LocalMovingWindow

log = structlog.get_logger(__name__)


class RateLimiter:
    """Named limits (`register`, `login`, `messages`, ...) keyed by IP or user id.

    With Redis the counters are cluster-wide. While Redis is unreachable each instance
    counts on its own in memory (limits stay enforced per instance) rather than failing
    every request that is rate limited.
    """

    def __init__(self, limits: dict[str, str], redis_url: str | None = None):
        self._fallback = LocalMovingWindow()
        self._storage: Storage | None = (
            RedisStorage(
                "async+" + redis_url,
                implementation="redispy",
                key_prefix="chat-rl",
                # Documented by `limits`, though its option type omits it.
                connection_pool=blocking_pool(redis_url),  # type: ignore[arg-type]
            )
            if redis_url
            else None
        )
        self._strategy: MovingWindowRateLimiter | LocalMovingWindow = (
            MovingWindowRateLimiter(self._storage) if self._storage is not None else self._fallback
        )
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
        strategy: MovingWindowRateLimiter | LocalMovingWindow = self._strategy
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
        if self._storage is not None:
            await self._storage.reset()
