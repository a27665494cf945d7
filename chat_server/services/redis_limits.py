"""A cluster-wide moving-window limiter in Redis, with the interface of `LocalMovingWindow`.

The algorithm and data layout are those of `limits`' Redis moving window (one list per key
of the hit timestamps inside the window, newest first, trimmed to the limit, expiring with
the window): a hit is one script run in Redis, atomic across instances. What differs is
the client: the hit goes over the pipelined `RedisPipe` instead of redis-py and the
`limits` wrappers, which cost ~175 µs of CPU per hit here against ~40 (measured:
bench/README.md, "Fourth round"). Every chat message makes one.
"""

from __future__ import annotations

import hashlib
import time

from limits import RateLimitItem
from redis.exceptions import ResponseError

from chat_server.redis_pipe import RedisPipe
from chat_server.services.local_limits import WindowStats

# KEYS[1]: the key's list of hit timestamps, newest first. ARGV: now, limit, window (s).
# Allowed unless the limit-th newest hit is still inside the window.
_HIT_SCRIPT = """
local now = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local oldest = redis.call('LINDEX', KEYS[1], limit - 1)
if oldest and tonumber(oldest) > now - window then
    return 0
end
redis.call('LPUSH', KEYS[1], ARGV[1])
redis.call('LTRIM', KEYS[1], 0, limit - 1)
redis.call('EXPIRE', KEYS[1], math.ceil(window))
return 1
"""
_HIT_SHA = hashlib.sha1(_HIT_SCRIPT.encode(), usedforsecurity=False).hexdigest()
# How many keys `reset` deletes per round trip.
RESET_BATCH = 500


class RedisMovingWindow:
    """Moving-window counting shared by every instance using the same Redis."""

    def __init__(self, pipe: RedisPipe, prefix: str = "chat-rl") -> None:
        self._pipe = pipe
        self._prefix = prefix + ":"

    def _key(self, item: RateLimitItem, identifiers: tuple[str, ...]) -> str:
        return self._prefix + item.key_for(*identifiers)

    async def hit(self, item: RateLimitItem, *identifiers: str) -> bool:
        args = (1, self._key(item, identifiers), repr(time.time()), item.amount, item.get_expiry())
        try:
            allowed = await self._pipe.execute("EVALSHA", _HIT_SHA, *args)
        except ResponseError as exc:
            if not str(exc).startswith("NOSCRIPT"):
                raise
            # First use since Redis started: EVAL also caches the script for EVALSHA.
            allowed = await self._pipe.execute("EVAL", _HIT_SCRIPT, *args)
        return bool(allowed)

    async def test(self, item: RateLimitItem, *identifiers: str) -> bool:
        oldest = await self._pipe.execute("LINDEX", self._key(item, identifiers), item.amount - 1)
        return oldest is None or float(oldest) <= time.time() - item.get_expiry()

    async def get_window_stats(self, item: RateLimitItem, *identifiers: str) -> WindowStats:
        now = time.time()
        hits = await self._pipe.execute("LRANGE", self._key(item, identifiers), 0, item.amount - 1)
        horizon = now - item.get_expiry()
        inside = [t for t in map(float, hits) if t > horizon]
        reset = (min(inside) if inside else now) + item.get_expiry()
        return WindowStats(reset, max(item.amount - len(inside), 0))

    async def reset(self) -> None:
        """Forget every counter under this prefix (tests and operators)."""
        cursor = b"0"
        while True:
            cursor, keys = await self._pipe.execute(
                "SCAN", cursor, "MATCH", self._prefix + "*", "COUNT", RESET_BATCH
            )
            if keys:
                await self._pipe.execute("DEL", *keys)
            if cursor in (b"0", 0):
                return
