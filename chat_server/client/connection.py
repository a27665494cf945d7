"""Socket supervision: one python-socketio AsyncClient on `/chat`, kept connected.

Owns: the handshake with the current access token (a refused handshake with a token code
refreshes the token first), the reconnect loop with exponential backoff and jitter (our own,
not python-socketio's, so every (re)connect runs the `on_established` step, `sync`, before
the connection counts as ready and sends go out), the `server_shutdown` reconnect hint,
emitting with an ack (failing fast when the connection drops) and the ready/disconnected
state. Must not: know what is sent or received (handlers are registered by the facade),
keep message state, or talk REST (it gets the token and the refresh as callables).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
import socketio

from .errors import (
    TOKEN_CODES,
    AuthError,
    ChatClientError,
    ClientClosed,
    ConnectionLost,
    HandshakeRefused,
)

log = logging.getLogger(__name__)

NAMESPACE = "/chat"

# Reconnect backoff: the first retry comes after about RECONNECT_DELAY_INITIAL_S, each
# further one doubles up to RECONNECT_DELAY_MAX_S. Every delay is randomised by
# +-RECONNECT_JITTER (a fraction) so that thousands of clients dropped together by a
# restarting instance do not all come back in the same instant.
RECONNECT_DELAY_INITIAL_S = 0.5
RECONNECT_DELAY_MAX_S = 30.0
RECONNECT_JITTER = 0.5
# A handshake (transport + namespace connect) slower than this counts as a failed attempt.
CONNECT_TIMEOUT_S = 10.0
# After a connection loss the old Engine.IO transport may still be closing (waiting for its
# reader to finish); a new connect waits this long for it, then abandons it.
TRANSPORT_SETTLE_S = 5.0
# How often the settle wait looks at the transport (Engine.IO has no event for it).
TRANSPORT_SETTLE_POLL_S = 0.05
# An ack not received after this long fails the call (`ack_timeout`).
CALL_TIMEOUT_S = 10.0


def backoff_delay(
    attempt: int,
    *,
    initial_s: float,
    max_s: float,
    hint_s: float = 0.0,
    rand: Callable[[], float] = random.random,
) -> float:
    """Exponential backoff with jitter; a server_shutdown hint sets a floor on the first."""
    base = min(max_s, initial_s * (2**attempt))
    delay = base * (1 + RECONNECT_JITTER * (2 * rand() - 1))
    if attempt == 0 and hint_s:
        delay = max(delay, hint_s * (1 + RECONNECT_JITTER * rand()))
    return max(delay, 0.0)


class Connection:
    """The supervised socket of one ChatClient."""

    def __init__(
        self,
        base_url: str,
        *,
        http: Callable[[], aiohttp.ClientSession],
        token: Callable[[], str],
        refresh: Callable[[], Awaitable[None]],
        on_established: Callable[[], Awaitable[None]],
        on_lost: Callable[[], None],
        transports: list[str],
        call_timeout_s: float = CALL_TIMEOUT_S,
        reconnect_delay_initial_s: float = RECONNECT_DELAY_INITIAL_S,
        reconnect_delay_max_s: float = RECONNECT_DELAY_MAX_S,
    ):
        self.base_url = base_url
        self._http = http
        self._token = token
        self._refresh = refresh
        self._on_established = on_established
        self._on_lost = on_lost
        self._transports = transports
        self._call_timeout = call_timeout_s
        self._delay_initial = reconnect_delay_initial_s
        self._delay_max = reconnect_delay_max_s
        self.ready = asyncio.Event()  # connected and caught up: sends may go out
        self.stop = asyncio.Event()
        self.connects = 0
        self.disconnects = 0
        self.session_over = False
        self._disconnected = asyncio.Event()
        self._handlers: dict[str, Callable[..., Any]] = {}
        self._sio: socketio.AsyncClient | None = None
        self._connect_error: Any = None
        self._reconnect_hint_s = 0.0
        self._ack_waiters: set[asyncio.Future[Any]] = set()
        self._task: asyncio.Task[None] | None = None

    @property
    def sid(self) -> str | None:
        if self._sio is None or not self._sio.connected:
            return None
        return self._sio.get_sid(NAMESPACE)

    @property
    def socket_connected(self) -> bool:
        return self._sio is not None and self._sio.connected

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Handle a server event (also on sockets made later)."""
        self._handlers[event] = handler
        if self._sio is not None:
            self._sio.on(event, handler, namespace=NAMESPACE)

    async def start(self) -> None:
        """The first connection: raises if it fails; later losses are handled here."""
        self._sio = self._new_socket()
        try:
            await self._establish()
        except socketio.exceptions.ConnectionError as exc:
            raise ChatClientError("connect_failed", str(exc)) from exc
        except HandshakeRefused as exc:
            if exc.code not in TOKEN_CODES:
                raise ChatClientError(exc.code, str(exc)) from None
            # Our token went stale before we connected: one refresh, one more attempt.
            await self._refresh()
            try:
                await self._establish()
            except HandshakeRefused as again:
                raise AuthError(again.code, str(again)) from None
        self._task = asyncio.create_task(self._supervise(), name="chat-client-supervise")

    def end_session(self) -> None:
        """The login session is over: no more reconnects."""
        self.session_over = True
        self._disconnected.set()  # wake the supervisor so it sees the end

    def shutdown_hint(self, after_ms: Any) -> None:
        """`server_shutdown` {reconnectAfterMs}: the next reconnect waits at least this."""
        if isinstance(after_ms, int | float) and after_ms >= 0:
            self._reconnect_hint_s = min(float(after_ms) / 1000, self._delay_max)

    async def sleep_or_stop(self, delay: float | None) -> bool:
        """Sleep, waking early when the client is closed; True if it was closed."""
        try:
            await asyncio.wait_for(self.stop.wait(), delay)
        except TimeoutError:
            return False
        return True

    async def call(self, event: str, data: Any) -> Any:
        """Emit with an ack; fails fast if the socket drops meanwhile."""
        sio = self._sio
        if sio is None or not sio.connected:
            raise ChatClientError("not_connected", "Not connected")
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()

        def on_ack(*args: Any) -> None:
            if not future.done():
                future.set_result(args[0] if args else None)

        self._ack_waiters.add(future)
        try:
            try:
                await sio.emit(event, data, namespace=NAMESPACE, callback=on_ack)
            except socketio.exceptions.SocketIOError as exc:
                raise ChatClientError("not_connected", str(exc)) from None
            try:
                return await asyncio.wait_for(future, self._call_timeout)
            except TimeoutError:
                raise ChatClientError("ack_timeout", f"No ack for {event!r}") from None
            except ConnectionLost:
                raise ChatClientError("connection_lost", f"Disconnected during {event!r}") from None
        finally:
            self._ack_waiters.discard(future)

    async def emit(
        self, event: str, data: Any, callback: Callable[..., None] | None = None
    ) -> bool:
        """Emit without waiting for the ack; False if the socket refused it."""
        sio = self._sio
        if sio is None:
            return False
        try:
            await sio.emit(event, data, namespace=NAMESPACE, callback=callback)
        except Exception as exc:
            if not isinstance(exc, socketio.exceptions.SocketIOError):
                log.warning("emit_failed event=%s error=%r", event, exc)
            return False
        return True

    async def close(self) -> None:
        self.stop.set()
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._sio is not None and self._sio.connected:
            with contextlib.suppress(Exception):
                await self._sio.disconnect()
        self.ready.clear()
        self._fail_waiters(ClientClosed())

    # -- internals ---------------------------------------------------------------------

    def _new_socket(self) -> socketio.AsyncClient:
        """One AsyncClient for the life of this client; reconnection is ours, not its."""
        sio = socketio.AsyncClient(reconnection=False, http_session=self._http())
        sio.on("connect_error", self._on_connect_error, namespace=NAMESPACE)
        sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        for event, handler in self._handlers.items():
            sio.on(event, handler, namespace=NAMESPACE)
        return sio

    async def _establish(self) -> None:
        """One attempt: handshake with the current token, then `on_established` (learn the
        rooms, `sync` what was missed), then let sends flow."""
        sio = self._sio
        assert sio is not None
        await self._settle_transport(sio)
        self._connect_error = None
        self._disconnected.clear()
        try:
            await sio.connect(
                self.base_url,
                auth={"token": self._token()},
                transports=self._transports,
                namespaces=[NAMESPACE],
                wait_timeout=CONNECT_TIMEOUT_S,
            )
        except socketio.exceptions.ConnectionError as exc:
            error = self._connect_error
            if isinstance(error, dict):
                data = error.get("data")
                code = str(
                    (data if isinstance(data, dict) else {}).get("code") or "connect_refused"
                )
                raise HandshakeRefused(code, str(error.get("message", ""))) from exc
            raise
        try:
            await self._on_established()
        except BaseException:
            if sio.connected:
                with contextlib.suppress(Exception):
                    await sio.disconnect()
            raise
        self.connects += 1
        self._reconnect_hint_s = 0.0
        self.ready.set()
        log.debug("chat_client_connected sid=%s", self.sid)

    async def _settle_transport(self, sio: socketio.AsyncClient) -> None:
        """Let a closing transport finish before reusing the client (a connect while it is
        still closing is refused by Engine.IO), forcing it after TRANSPORT_SETTLE_S."""
        deadline = time.monotonic() + TRANSPORT_SETTLE_S
        # Engine.IO exposes no event for this state change: a short, bounded poll.
        while sio.eio.state != "disconnected" and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(TRANSPORT_SETTLE_POLL_S)
        if sio.eio.state != "disconnected":
            await sio.eio.disconnect(abort=True)

    async def _supervise(self) -> None:
        """Reconnect after every connection loss until closed or the session is over."""
        while not self.stop.is_set():
            await self._disconnected.wait()
            if self.stop.is_set() or self.session_over:
                return
            await self._reconnect()

    async def _reconnect(self) -> None:
        attempt = 0
        while not self.stop.is_set() and not self.session_over:
            delay = backoff_delay(
                attempt,
                initial_s=self._delay_initial,
                max_s=self._delay_max,
                hint_s=self._reconnect_hint_s,
            )
            attempt += 1
            if await self.sleep_or_stop(delay):
                return
            try:
                await self._establish()
                return
            except HandshakeRefused as exc:
                log.info("reconnect_refused code=%s attempt=%d", exc.code, attempt)
                if exc.code in TOKEN_CODES:
                    try:
                        await self._refresh()
                    except AuthError:
                        return
                    except (ChatClientError, aiohttp.ClientError, OSError, TimeoutError) as err:
                        log.info("refresh_failed error=%r", err)
            except (
                socketio.exceptions.SocketIOError,
                ChatClientError,
                ConnectionLost,
                aiohttp.ClientError,
                OSError,
                TimeoutError,
                ValueError,
            ) as exc:
                log.info("reconnect_failed error=%r attempt=%d", exc, attempt)
            except Exception:
                # Anything unexpected (a malformed response, say) must not end reconnecting.
                log.exception("reconnect_error attempt=%d", attempt)

    def _fail_waiters(self, error: BaseException) -> None:
        for future in list(self._ack_waiters):
            if not future.done():
                future.set_exception(error)
        self._ack_waiters.clear()

    def _on_connect_error(self, data: Any = None) -> None:
        self._connect_error = data

    def _on_disconnect(self, reason: Any = None) -> None:
        was_ready = self.ready.is_set()
        self.ready.clear()
        self._fail_waiters(ConnectionLost())
        self._on_lost()
        if was_ready:
            self.disconnects += 1
            log.info("chat_client_disconnected reason=%s", reason)
        self._disconnected.set()
