"""A pipelined Redis connection for the per-message hot paths (rate-limit hits, PUBLISH).

Every chat message in a cluster costs a rate-limit hit and a PUBLISH. Through redis-py each
command spent ~100-175 µs of this machine's CPU in the client (pool checkout and return,
packing, a StreamReader read loop, the `limits` wrappers around its scripts); with both on
the message path, a 2-instance cluster through HAProxy failed at 400 msgs/s where the same
cluster with in-process rate limiting passed (bench/README.md, "Fourth round"). Here one
TCP connection carries every command as it comes: Redis answers commands in the order it
received them, so a FIFO of futures pairs replies with callers, with no pool and no lock,
and hiredis (C) parses the replies. ~20-40 µs per command.

What callers can rely on (the same exceptions as redis-py, so their degrade paths hold):
- `ConnectionError` when Redis can't be reached or the connection drops; every command in
  flight on it fails so, and the next command connects again (after a failed attempt,
  commands fail at once for RECONNECT_BACKOFF_S rather than each waiting on a connect).
- `TimeoutError` when a reply is later than `command_timeout`. Replies come in order, so
  everything behind a late reply is late too: the connection is closed and all of them
  fail, and the next command connects again.
- `ResponseError` for an error reply: that command only.

Everything else (presence, the token blacklist, pub/sub listening) keeps redis-py: those
are not per message.
"""

from __future__ import annotations

import asyncio
import ssl
import time
from collections import deque
from typing import Any, cast

import hiredis
from redis import exceptions as redis_errors
from redis.asyncio.connection import SSLConnection, UnixDomainSocketConnection, parse_url

# Connecting to Redis (TCP, TLS, AUTH, SELECT) gives up after this long: a message waits
# for it, so it must fail fast enough for the caller's fallback to be useful.
CONNECT_TIMEOUT_S = 3.0
# A reply later than this fails its command (and those behind it). Redis answers in
# microseconds; this is far above any healthy delay and well below a client's ack timeout.
COMMAND_TIMEOUT_S = 5.0
# After a failed connection attempt, commands fail at once for this long instead of each
# trying (and, with an unreachable host, waiting out CONNECT_TIMEOUT_S) again: callers'
# fallbacks (local rate limiting, skipping a publish) take over without delay.
RECONNECT_BACKOFF_S = 1.0
# How often the oldest command in flight is checked against COMMAND_TIMEOUT_S (one timer
# per connection, not one per command).
TIMEOUT_CHECK_INTERVAL_S = 0.5


class _RespProtocol(asyncio.Protocol):
    """Writes commands and resolves their futures in reply order."""

    def __init__(self, loop: asyncio.AbstractEventLoop, command_timeout: float) -> None:
        self._loop = loop
        self._reader = hiredis.Reader(replyError=redis_errors.ResponseError)
        self._waiting: deque[tuple[asyncio.Future[Any], float]] = deque()
        self._transport: asyncio.Transport | None = None
        self._command_timeout = command_timeout
        self._timer: asyncio.TimerHandle | None = None
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's TCP transport is not an asyncio.Transport subclass, but has its methods.
        self._transport = cast(asyncio.Transport, transport)
        self._timer = self._loop.call_later(TIMEOUT_CHECK_INTERVAL_S, self._check_timeout)

    def data_received(self, data: bytes) -> None:
        self._reader.feed(data)
        waiting = self._waiting
        while True:
            try:
                reply = self._reader.gets()
            except hiredis.ProtocolError as exc:
                self._fail(redis_errors.ConnectionError(f"Redis protocol error: {exc}"))
                return
            if reply is False:
                return
            if not waiting:
                self._fail(redis_errors.ConnectionError("Redis sent a reply nobody asked for"))
                return
            future, _ = waiting.popleft()
            if future.done():  # its caller was cancelled: the reply is dropped
                continue
            if isinstance(reply, redis_errors.ResponseError):
                future.set_exception(reply)
            else:
                future.set_result(reply)

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(
            redis_errors.ConnectionError(f"Redis connection lost: {exc or 'closed by server'}")
        )

    def send(self, args: tuple[Any, ...]) -> asyncio.Future[Any]:
        """Write one command; its reply resolves the returned future."""
        if self.closed or self._transport is None:
            raise redis_errors.ConnectionError("Redis connection is closed")
        future: asyncio.Future[Any] = self._loop.create_future()
        self._transport.write(hiredis.pack_command(args))
        self._waiting.append((future, time.monotonic()))
        return future

    def close(self) -> None:
        self._fail(redis_errors.ConnectionError("Redis connection closed"))

    def _check_timeout(self) -> None:
        if self.closed:
            return
        if self._waiting and time.monotonic() - self._waiting[0][1] > self._command_timeout:
            self._fail(
                redis_errors.TimeoutError(f"no reply from Redis within {self._command_timeout} s")
            )
            return
        self._timer = self._loop.call_later(TIMEOUT_CHECK_INTERVAL_S, self._check_timeout)

    def _fail(self, exc: Exception) -> None:
        """Close for good: every command in flight fails with `exc`."""
        self.closed = True
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._transport is not None:
            self._transport.close()
        while self._waiting:
            future, _ = self._waiting.popleft()
            if not future.done():
                future.set_exception(exc)


class RedisPipe:
    """One pipelined connection to the Redis at `url`, opened on first use and again
    after it failed. Safe to share between any number of concurrent callers."""

    def __init__(
        self,
        url: str,
        *,
        connect_timeout: float = CONNECT_TIMEOUT_S,
        command_timeout: float = COMMAND_TIMEOUT_S,
    ) -> None:
        self._params = parse_url(url)
        self._connect_timeout = connect_timeout
        self._command_timeout = command_timeout
        self._protocol: _RespProtocol | None = None
        self._connecting: asyncio.Future[_RespProtocol] | None = None
        self._retry_at = 0.0

    async def execute(self, *args: Any) -> Any:
        """Send one command and return its reply (bytes, int, list, None...)."""
        protocol = self._protocol
        if protocol is None or protocol.closed:
            protocol = await self._connect()
        return await protocol.send(args)

    async def close(self) -> None:
        """Close the connection; commands in flight fail with ConnectionError."""
        if self._connecting is not None and not self._connecting.done():
            self._connecting.cancel()
        if self._protocol is not None:
            self._protocol.close()
            self._protocol = None

    async def _connect(self) -> _RespProtocol:
        """One connection attempt shared by every caller that needs it at that moment."""
        if self._connecting is None or self._connecting.done():
            if time.monotonic() < self._retry_at:
                raise redis_errors.ConnectionError("Redis unavailable (reconnecting soon)")
            self._connecting = asyncio.ensure_future(self._open())
        try:
            return await asyncio.shield(self._connecting)
        except (OSError, TimeoutError, redis_errors.ResponseError) as exc:
            # ResponseError: AUTH or SELECT refused (wrong password, no such database).
            self._retry_at = time.monotonic() + RECONNECT_BACKOFF_S
            raise redis_errors.ConnectionError(f"cannot connect to Redis: {exc!r}") from exc

    async def _open(self) -> _RespProtocol:
        loop = asyncio.get_running_loop()
        params = self._params
        cls = params.get("connection_class")

        def factory() -> _RespProtocol:
            return _RespProtocol(loop, self._command_timeout)

        async with asyncio.timeout(self._connect_timeout):
            if cls is UnixDomainSocketConnection:
                _, protocol = await loop.create_unix_connection(factory, params["path"])
            else:
                tls = ssl.create_default_context() if cls is SSLConnection else None
                _, protocol = await loop.create_connection(
                    factory, params.get("host", "localhost"), params.get("port", 6379), ssl=tls
                )
            try:
                handshake = []
                if params.get("password") is not None:
                    user = params.get("username")
                    secret = params["password"]
                    handshake.append(
                        protocol.send(("AUTH", user, secret) if user else ("AUTH", secret))
                    )
                if params.get("db"):
                    handshake.append(protocol.send(("SELECT", params["db"])))
                for reply in handshake:
                    await reply
            except BaseException:
                protocol.close()
                raise
        self._protocol = protocol
        return protocol
