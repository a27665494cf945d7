"""Bursts of Redis commands larger than a connection pool, against real Redis.

A mass reconnect or shutdown has hundreds of presence changes and rate-limit hits in
flight at once. redis-py's default pool fails every command past its 100th connection
("Too many connections"); the clients the server builds must queue them instead.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis.asyncio as aioredis

from chat_server.errors import RateLimited
from chat_server.redis_pool import redis_client
from chat_server.services.presence import RedisPresenceRegistry
from chat_server.services.ratelimit import RateLimiter
from tests.conftest import REDIS_URL, delete_redis_keys

# Well above both redis-py's default pool (100) and ours.
BURST = 300


async def _presence_burst(client: aioredis.Redis, prefix: str) -> list[object]:
    registry = RedisPresenceRegistry(client, prefix=prefix)
    adds = [registry.add(f"user-{i}", f"conn-{i}") for i in range(BURST)]
    return await asyncio.gather(*adds, return_exceptions=True)


async def _cleanup(prefix: str) -> None:
    client = aioredis.from_url(REDIS_URL)
    await delete_redis_keys(client, prefix)
    await client.aclose()


async def test_presence_burst_larger_than_the_pool_all_registers() -> None:
    prefix = f"test:burst:{uuid.uuid4().hex}:"
    client = redis_client(REDIS_URL)
    try:
        results = await _presence_burst(client, prefix)
        assert results == [1] * BURST
        registry = RedisPresenceRegistry(client, prefix=prefix)
        assert await registry.online(f"user-{i}" for i in range(BURST)) == {
            f"user-{i}" for i in range(BURST)
        }
    finally:
        await client.aclose()
        await _cleanup(prefix)


async def test_default_pool_fails_the_same_burst() -> None:
    """What the server's clients guard against (and proof the burst above is big enough)."""
    prefix = f"test:burst:{uuid.uuid4().hex}:"
    client = aioredis.from_url(REDIS_URL)
    try:
        results = await _presence_burst(client, prefix)
        failures = [r for r in results if isinstance(r, Exception)]
        assert failures and "Too many connections" in str(failures[0])
    finally:
        await client.aclose()
        await _cleanup(prefix)


@pytest.mark.parametrize("limit", [250])
async def test_rate_limit_burst_is_counted_in_redis_exactly(limit: int) -> None:
    """Every hit of a burst reaches the shared counter: exactly the hits past the limit
    are refused (hits that fell back to local counting would split the count)."""
    limiter = RateLimiter({"messages": f"{limit}/minute"}, redis_url=REDIS_URL)
    key = uuid.uuid4().hex

    async def hit() -> bool:
        try:
            await limiter.hit("messages", key)
        except RateLimited:
            return False
        return True

    results = await asyncio.gather(*(hit() for _ in range(BURST)))
    assert results.count(True) == limit
    assert results.count(False) == BURST - limit
