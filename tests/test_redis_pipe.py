"""The pipelined Redis connection, against real Redis: replies reach their own callers
however many are in flight, and every failure is an exception the caller can degrade on
(and the connection recovers by itself)."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis
from redis import exceptions as redis_errors

from chat_server.redis_pipe import RECONNECT_BACKOFF_S, RedisPipe
from tests.conftest import REDIS_URL


@pytest.fixture()
def prefix(redis_prefix: str) -> str:
    return redis_prefix + ":"


@pytest.fixture()
async def pipe() -> AsyncIterator[RedisPipe]:
    p = RedisPipe(REDIS_URL)
    yield p
    await p.close()


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_concurrent_commands_each_get_their_own_reply(pipe: RedisPipe, prefix: str) -> None:
    n = 300
    await asyncio.gather(*(pipe.execute("SET", f"{prefix}{i}", f"value-{i}") for i in range(n)))
    replies = await asyncio.gather(*(pipe.execute("GET", f"{prefix}{i}") for i in range(n)))
    assert replies == [f"value-{i}".encode() for i in range(n)]


async def test_the_urls_database_is_selected(pipe: RedisPipe, prefix: str) -> None:
    await pipe.execute("SET", prefix + "db", "here")
    db = int(REDIS_URL.rsplit("/", 1)[1])
    same = aioredis.from_url(REDIS_URL)
    other = aioredis.from_url(REDIS_URL.rsplit("/", 1)[0] + f"/{(db + 1) % 16}")
    try:
        assert await same.get(prefix + "db") == b"here"
        assert await other.get(prefix + "db") is None
    finally:
        await same.aclose()
        await other.aclose()


async def test_an_error_reply_fails_only_its_command(pipe: RedisPipe, prefix: str) -> None:
    await pipe.execute("SET", prefix + "s", "not a number")
    results = await asyncio.gather(
        pipe.execute("PING"),
        pipe.execute("INCR", prefix + "s"),
        pipe.execute("PING"),
        return_exceptions=True,
    )
    assert results[0] == b"PONG" and results[2] == b"PONG"
    assert isinstance(results[1], redis_errors.ResponseError)
    assert await pipe.execute("GET", prefix + "s") == b"not a number"


async def test_a_dropped_connection_fails_what_is_in_flight_and_reconnects(
    pipe: RedisPipe, prefix: str
) -> None:
    await pipe.execute("CLIENT", "SETNAME", prefix.replace(":", "-") + "victim")
    # A command still waiting for its reply when the server drops the connection.
    waiting = asyncio.ensure_future(pipe.execute("BLPOP", prefix + "never", 5))
    await asyncio.sleep(0.1)
    admin = aioredis.from_url(REDIS_URL)
    try:
        killed = await admin.execute_command(
            "CLIENT", "KILL", "SKIPME", "yes", "ID", await _client_id(admin, prefix)
        )
        assert killed == 1
    finally:
        await admin.aclose()
    with pytest.raises(redis_errors.ConnectionError):
        await asyncio.wait_for(waiting, 5)
    assert await pipe.execute("PING") == b"PONG"


async def _client_id(admin: aioredis.Redis, prefix: str) -> str:
    name = prefix.replace(":", "-") + "victim"
    for client in await admin.client_list():
        if client.get("name") == name:
            return str(client["id"])
    raise AssertionError("the pipe's connection is not in CLIENT LIST")


async def test_a_late_reply_times_out_and_the_connection_recovers(prefix: str) -> None:
    pipe = RedisPipe(REDIS_URL, command_timeout=0.3)
    try:
        started = time.monotonic()
        with pytest.raises(redis_errors.TimeoutError):
            await pipe.execute("BLPOP", prefix + "never", 3)
        assert time.monotonic() - started < 2.5
        assert await pipe.execute("PING") == b"PONG"
    finally:
        await pipe.close()


async def test_unreachable_redis_fails_fast_and_keeps_failing_fast() -> None:
    pipe = RedisPipe(f"redis://127.0.0.1:{_closed_port()}/0")
    with pytest.raises(redis_errors.ConnectionError, match="cannot connect"):
        await pipe.execute("PING")
    # Within the back-off, no new connection attempt: the caller's fallback runs at once.
    started = time.monotonic()
    with pytest.raises(redis_errors.ConnectionError, match="reconnecting soon"):
        await pipe.execute("PING")
    assert time.monotonic() - started < RECONNECT_BACKOFF_S / 2
    await pipe.close()
