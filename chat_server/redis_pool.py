"""Redis clients whose connection pools queue bursts instead of failing them.

redis-py's default pool opens up to 100 connections and then fails every further command
at once with "Too many connections". A mass reconnect or a shutdown (hundreds of sockets
registering or leaving presence at the same moment) or a burst of messages (rate-limit
hits and publishes) easily has more than 100 commands in flight: measured in bench/
(`cluster`), 511 presence removals failed that way when a 1,000-socket run ended. With a
blocking pool they wait their turn for one of a bounded set of connections, which also
keeps every instance's share of Redis's connection limit fixed.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis

# Connections one client keeps to Redis at most. Redis answers each command in
# microseconds, so a few dozen connections carry thousands of commands per second; the
# cap bounds what N instances x 4 clients take of Redis's own `maxclients` (10,000).
REDIS_MAX_CONNECTIONS = 64
# How long a command waits for a free pooled connection before it fails like an
# unreachable Redis (callers degrade the same way). Far above any healthy queueing delay.
REDIS_POOL_WAIT_S = 5.0


def blocking_pool(url: str, **options: Any) -> aioredis.BlockingConnectionPool:
    """A connection pool for `url` on which a burst of commands waits for a connection."""
    return aioredis.BlockingConnectionPool.from_url(
        url, max_connections=REDIS_MAX_CONNECTIONS, timeout=REDIS_POOL_WAIT_S, **options
    )


def redis_client(url: str, **options: Any) -> aioredis.Redis:
    """A Redis client on its own `blocking_pool`; closing the client closes the pool."""
    return aioredis.Redis.from_pool(blocking_pool(url, **options))
