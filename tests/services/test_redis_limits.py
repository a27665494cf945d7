"""The Redis moving window, against real Redis: counts are shared by every limiter on the
same Redis (instances of a cluster), the window moves, and the limiter falls back to local
counting at once when Redis is away."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest
from limits import parse

from chat_server.errors import RateLimited
from chat_server.redis_pipe import RedisPipe
from chat_server.services.ratelimit import RateLimiter
from chat_server.services.redis_limits import RedisMovingWindow
from tests.conftest import REDIS_URL


@pytest.fixture()
async def pipes() -> AsyncIterator[list[RedisPipe]]:
    made = [RedisPipe(REDIS_URL), RedisPipe(REDIS_URL)]
    yield made
    for p in made:
        await p.close()


async def test_instances_share_one_count(pipes: list[RedisPipe], redis_prefix: str) -> None:
    one, two = (RedisMovingWindow(p, prefix=redis_prefix) for p in pipes)
    item = parse("3/minute")
    results = [await w.hit(item, "messages", "u1") for w in (one, two, one, two)]
    assert results == [True, True, True, False]
    assert await one.test(item, "messages", "u1") is False
    # Another key has its own window.
    assert await two.hit(item, "messages", "u2") is True


async def test_a_concurrent_burst_allows_exactly_the_limit(
    pipes: list[RedisPipe], redis_prefix: str
) -> None:
    windows = [RedisMovingWindow(p, prefix=redis_prefix) for p in pipes]
    item = parse("50/minute")
    results = await asyncio.gather(*(windows[i % 2].hit(item, "k") for i in range(200)))
    assert results.count(True) == 50


async def test_the_window_moves(pipes: list[RedisPipe], redis_prefix: str) -> None:
    window = RedisMovingWindow(pipes[0], prefix=redis_prefix)
    item = parse("2/second")
    assert [await window.hit(item, "k") for _ in range(3)] == [True, True, False]
    stats = await window.get_window_stats(item, "k")
    assert stats.remaining == 0
    assert time.time() < stats.reset_time <= time.time() + 1.0
    await asyncio.sleep(max(0.0, stats.reset_time - time.time()) + 0.05)
    assert await window.test(item, "k") is True
    assert await window.hit(item, "k") is True


async def test_reset_forgets_every_counter(pipes: list[RedisPipe], redis_prefix: str) -> None:
    window = RedisMovingWindow(pipes[0], prefix=redis_prefix)
    item = parse("1/hour")
    assert await window.hit(item, "a") and await window.hit(item, "b")
    await window.reset()
    assert await window.hit(item, "a") and await window.hit(item, "b")


async def test_the_limiter_counts_locally_at_once_while_redis_is_away() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    limiter = RateLimiter({"messages": "2/minute"}, redis_url=f"redis://127.0.0.1:{port}/0")
    try:
        started = time.monotonic()
        await limiter.hit("messages", "u")
        await limiter.hit("messages", "u")
        with pytest.raises(RateLimited) as refused:
            await limiter.hit("messages", "u")
        assert 0 < refused.value.retry_after <= 61
        assert time.monotonic() - started < 1.0
    finally:
        await limiter.close()


async def test_a_redis_without_the_script_gets_it_on_first_use(
    pipes: list[RedisPipe], redis_prefix: str
) -> None:
    """A restarted (or flushed) Redis has no cached scripts: the hit must still count."""
    await pipes[0].execute("SCRIPT", "FLUSH")
    window = RedisMovingWindow(pipes[0], prefix=redis_prefix)
    item = parse("1/minute")
    assert await window.hit(item, "k") is True
    assert await window.hit(item, "k") is False
