"""A small asyncio client for the chat server: for bots, tests and the load generator.

It is the client half of the delivery guarantees of docs/contract.md §7 and talks to the server
over the network only (REST with aiohttp, Socket.IO with python-socketio's AsyncClient):

- **Outbox.** Every `send` gets a `clientMsgId` and stays in an outbox until the server
  acks it. Unacked sends are re-sent with the same id after a reconnect, after an ack
  timeout and after retryable errors; the server answers a repeated id with the original
  message, so a retry never stores a duplicate.
- **Reconnect** with exponential backoff and jitter, our own loop rather than
  python-socketio's, so that every (re)connect is followed by `sync` before new sends go
  out, and so that a refused handshake (expired token) can refresh the token first.
- **Ordered, duplicate-free delivery.** Messages from `new_message`, from send acks and
  from `sync` all go through one place that tracks the last seq per room: each message is
  delivered once, per room in seq order. A message whose seq skips ahead reveals a gap,
  which is filled with `sync`.
- **Token refresh** before the access token expires (POST /api/auth/refresh, rotation),
  then `authenticate` with the fresh token on the live socket so the server extends the
  session without a reconnect; reconnects use the freshest token.

Typical use::

    client = await ChatClient.login("http://localhost:8080", "alice", "secret-password")
    await client.connect()
    await client.send(room_id, "hello")
    message = await client.next_message()
    await client.close()
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import inspect
import json
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import aiohttp
import socketio
import structlog

log = structlog.get_logger(__name__)

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
# An event without an ack after this long is considered lost: a send is re-sent (same
# clientMsgId, so harmless), a `sync` fails the connection attempt.
ACK_TIMEOUT_S = 10.0
# Re-sending after a retryable error (`unavailable`, `internal_error`): backoff from the
# initial delay, doubling, capped. `rate_limited` waits the server's `retryAfter` instead.
SEND_RETRY_DELAY_INITIAL_S = 0.5
SEND_RETRY_DELAY_MAX_S = 15.0
# At most this many sends are on the wire without an ack; the rest wait in the outbox.
MAX_IN_FLIGHT = 64
# When an emit fails although we believed we were connected, wait this long before the
# next try (the disconnect is being processed meanwhile).
EMIT_FAILURE_PAUSE_S = 0.1
# The access token is refreshed once this fraction of its lifetime has passed, leaving the
# rest as a margin for a slow or failing refresh (15-min tokens: refreshed at 12 min).
TOKEN_REFRESH_FRACTION = 0.8
# After a refresh fails for a network reason, try again this soon.
TOKEN_REFRESH_RETRY_S = 2.0
# Timeout of one REST request.
HTTP_TIMEOUT_S = 10.0
# Concurrent sends are emitted by the server in commit order but not strictly, so a
# message may briefly overtake its predecessor. A gap is fetched only if it is still
# open after this grace period.
GAP_FILL_DELAY_S = 0.3
# Delivery receipts (`delivered` {roomId, seq}) are batched: one per room at most this often.
DELIVERY_RECEIPT_DELAY_S = 0.25
# The server broadcasts receipts only in DMs and rooms up to this size (READ_RECEIPT_MAX_
# MEMBERS); in bigger rooms (the lobby) every client confirming every message is waste.
RECEIPT_MAX_MEMBERS = 100
# The server's bound on how many rooms one `sync` may name (schemas.messages.SYNC_MAX_ROOMS).
SYNC_MAX_ROOMS = 500

# Error codes after which re-sending the same message can succeed.
RETRYABLE_CODES = frozenset({"unavailable", "internal_error"})
# Handshake/auth codes that a fresh access token fixes.
TOKEN_CODES = frozenset({"invalid_token", "token_expired", "unauthenticated"})

MessageHandler = Callable[[dict[str, Any]], Awaitable[None] | None]


class ChatClientError(Exception):
    """An error answered by the server (`{error: {code, message}}`) or a client failure."""

    def __init__(
        self,
        code: str,
        message: str = "",
        *,
        status: int | None = None,
        retry_after: float | None = None,
        fields: dict[str, Any] | None = None,
    ):
        super().__init__(f"{code}: {message}" if message else code)
        self.code = code
        self.message = message
        self.status = status
        self.retry_after = retry_after
        self.fields = fields


class AuthError(ChatClientError):
    """Credentials or the login session are no longer valid: log in again."""


class ClientClosed(ChatClientError):
    """The client was closed before the operation completed."""

    def __init__(self) -> None:
        super().__init__("client_closed", "The client was closed")


class _ConnectionLost(Exception):
    """The socket went away while we waited for an ack."""


class _HandshakeRefused(Exception):
    """The server refused the namespace connection (`connect_error`)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code = code


@dataclass(slots=True)
class Tokens:
    """The current login session: tokens and when the access token should be refreshed."""

    access_token: str
    refresh_token: str
    # time.monotonic() deadlines, so wall-clock jumps do not matter.
    expires_at: float
    refresh_at: float

    @classmethod
    def create(
        cls, access_token: str, refresh_token: str, expires_in: float | None = None
    ) -> Tokens:
        """Work out the lifetime from `expiresIn` and the token's own `exp`, whichever is
        sooner: `expiresIn` is immune to clock skew, `exp` to its whole-second rounding."""
        lifetimes = [float(expires_in)] if expires_in is not None else []
        exp = _jwt_claims(access_token).get("exp")
        if isinstance(exp, int | float):
            lifetimes.append(float(exp) - time.time())
        lifetime = max(min(lifetimes), 0.0) if lifetimes else 0.0
        now = time.monotonic()
        return cls(
            access_token=access_token,
            refresh_token=refresh_token,
            expires_at=now + lifetime,
            refresh_at=now + lifetime * TOKEN_REFRESH_FRACTION,
        )


@dataclass(slots=True)
class ClientStats:
    """Counters for tests and the load generator."""

    connects: int = 0
    disconnects: int = 0
    delivered: int = 0
    duplicates: int = 0
    gaps_detected: int = 0
    syncs: int = 0
    resends: int = 0
    refreshes: int = 0


@dataclass(slots=True)
class PendingMessage:
    """A send waiting in the outbox for its ack."""

    client_msg_id: str
    room_id: str
    content: str
    message_type: str
    future: asyncio.Future[dict[str, Any]]
    attempts: int = 0
    failures: int = 0
    in_flight: bool = False
    # time.monotonic() times: when an in-flight send counts as lost, and when a send that
    # failed may go out again.
    ack_deadline: float = 0.0
    not_before: float = 0.0

    def payload(self) -> dict[str, Any]:
        return {
            "roomId": self.room_id,
            "content": self.content,
            "messageType": self.message_type,
            "clientMsgId": self.client_msg_id,
        }


@dataclass(slots=True)
class _RoomState:
    """Delivery state of one room: the last seq delivered and messages waiting for a gap."""

    last_seq: int
    buffer: dict[int, dict[str, Any]] = field(default_factory=dict)
    filling: bool = False


class ChatClient:
    """An async chat client with outbox, reconnect, gap filling and token refresh.

    Delivered messages (own and others', each once, per room in seq order) are put on
    `messages` (an asyncio.Queue), or passed to `on_message` when one is given.
    """

    def __init__(
        self,
        base_url: str,
        *,
        access_token: str,
        refresh_token: str,
        expires_in: float | None = None,
        user: dict[str, Any] | None = None,
        on_message: MessageHandler | None = None,
        since: dict[str, int] | None = None,
        transports: list[str] | None = None,
        http: aiohttp.ClientSession | None = None,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        reconnect_delay_initial_s: float = RECONNECT_DELAY_INITIAL_S,
        reconnect_delay_max_s: float = RECONNECT_DELAY_MAX_S,
    ):
        """Build a client from tokens (see `login`/`register` for the usual way in).

        `since` maps room ids to the last seq already seen (resuming a bot): messages after
        it are delivered on connect. Rooms not in it start from the newest message.
        `transports` defaults to websocket only; `["polling"]` forces long-polling.
        """
        self.base_url = base_url.rstrip("/")
        self._tokens = Tokens.create(access_token, refresh_token, expires_in)
        claims = _jwt_claims(access_token)
        self.user_id: str = str((user or {}).get("id") or claims.get("sub", ""))
        self.username: str = str((user or {}).get("username") or claims.get("name", ""))
        self.messages: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        self.unread: dict[str, int] = {}
        self.stats = ClientStats()
        self._on_message = on_message
        self._transports = transports or ["websocket"]
        self._own_http = http is None
        self._http = http
        self._ack_timeout = ack_timeout_s
        self._delay_initial = reconnect_delay_initial_s
        self._delay_max = reconnect_delay_max_s
        self._log = log.bind(user_id=self.user_id)

        self._rooms: dict[str, _RoomState] = {
            room: _RoomState(last_seq=seq) for room, seq in (since or {}).items()
        }
        self._outbox: dict[str, PendingMessage] = {}
        self._ack_waiters: set[asyncio.Future[Any]] = set()
        self._ready = asyncio.Event()  # connected, synced: sends may go out
        self._disconnected = asyncio.Event()
        self._wake_sender = asyncio.Event()
        self._stop = asyncio.Event()
        self._refresh_lock = asyncio.Lock()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._main_tasks: list[asyncio.Task[Any]] = []
        self._connect_error: Any = None
        self._reconnect_hint_s = 0.0
        self._closed = False
        self._session_over: ChatClientError | None = None
        self._sio: socketio.AsyncClient | None = None
        self._handlers_extra: dict[str, Callable[..., Any]] = {}
        self._undelivered: dict[str, int] = {}  # room -> highest seq not yet receipted
        self._no_receipts: set[str] = set()  # rooms too big for delivery receipts

    # -- construction ------------------------------------------------------------------

    @classmethod
    async def login(
        cls, base_url: str, email_or_username: str, password: str, **options: Any
    ) -> ChatClient:
        """Log in over REST and return a client (not yet connected)."""
        return await cls._from_auth(
            base_url, "/api/auth/login", {"email": email_or_username, "password": password}, options
        )

    @classmethod
    async def register(
        cls, base_url: str, email: str, username: str, password: str, **options: Any
    ) -> ChatClient:
        """Create an account over REST and return a client for it (not yet connected)."""
        body = {"email": email, "username": username, "password": password}
        return await cls._from_auth(base_url, "/api/auth/register", body, options)

    @classmethod
    async def _from_auth(
        cls, base_url: str, path: str, body: dict[str, Any], options: dict[str, Any]
    ) -> ChatClient:
        http: aiohttp.ClientSession | None = options.pop("http", None)
        session = http or _new_http_session()
        try:
            data = await _request(session, "POST", base_url.rstrip("/") + path, json=body)
        except BaseException:
            if http is None:
                await session.close()
            raise
        client = cls(
            base_url,
            access_token=data["accessToken"],
            refresh_token=data["refreshToken"],
            expires_in=data.get("expiresIn"),
            user=data.get("user"),
            http=session,
            **options,
        )
        client._own_http = http is None
        return client

    # -- public API --------------------------------------------------------------------

    @property
    def access_token(self) -> str:
        return self._tokens.access_token

    @property
    def refresh_token_value(self) -> str:
        return self._tokens.refresh_token

    @property
    def connected(self) -> bool:
        """True while connected, authenticated and caught up (sends go straight out)."""
        return self._ready.is_set()

    @property
    def sid(self) -> str | None:
        """The Socket.IO session id on /chat while connected."""
        if self._sio is None or not self._sio.connected:
            return None
        return self._sio.get_sid(NAMESPACE)

    @property
    def pending(self) -> list[str]:
        """clientMsgIds of the sends still waiting for an ack, oldest first."""
        return list(self._outbox)

    @property
    def last_seq(self) -> dict[str, int]:
        """The last seq delivered per room."""
        return {room: state.last_seq for room, state in self._rooms.items()}

    async def connect(self) -> None:
        """Connect to /chat, catch up with `sync`, and stay connected until `close()`.

        Raises if the first attempt fails (wrong URL, server down, credentials revoked);
        after that, connection losses are handled in the background.
        """
        if self._closed:
            raise ClientClosed()
        if self._main_tasks:
            raise RuntimeError("connect() was already called")
        self._sio = self._new_socket()
        try:
            await self._establish()
        except socketio.exceptions.ConnectionError as exc:
            raise ChatClientError("connect_failed", str(exc)) from exc
        except _HandshakeRefused as exc:
            if exc.code not in TOKEN_CODES:
                raise ChatClientError(exc.code, str(exc)) from None
            # Our token went stale before we connected: one refresh, one more attempt.
            await self.refresh_token(force=True)
            try:
                await self._establish()
            except _HandshakeRefused as again:
                raise AuthError(again.code, str(again)) from None
        self._main_tasks = [
            asyncio.create_task(self._supervise(), name="chat-client-supervise"),
            asyncio.create_task(self._send_loop(), name="chat-client-send"),
            asyncio.create_task(self._refresh_loop(), name="chat-client-refresh"),
        ]
        if self._on_message is not None:
            self._main_tasks.append(
                asyncio.create_task(self._dispatch(), name="chat-client-dispatch")
            )

    async def wait_connected(self) -> None:
        """Wait until the client is connected and caught up (e.g. after a reconnect);
        bound it with `asyncio.timeout`."""
        await self._ready.wait()

    def enqueue(
        self,
        room_id: str,
        content: str,
        *,
        client_msg_id: str | None = None,
        message_type: str = "text",
    ) -> PendingMessage:
        """Put a message in the outbox without waiting; `.future` resolves with the stored
        message once acked. It is re-sent until acked or refused for good."""
        if self._closed:
            raise ClientClosed()
        if self._session_over is not None:
            raise self._session_over
        client_msg_id = client_msg_id or str(uuid.uuid4())
        existing = self._outbox.get(client_msg_id)
        if existing is not None:
            return existing
        item = PendingMessage(
            client_msg_id=client_msg_id,
            room_id=str(room_id),
            content=content,
            message_type=message_type,
            future=asyncio.get_running_loop().create_future(),
        )
        # A caller that stopped waiting must not cause "exception never retrieved" noise.
        item.future.add_done_callback(_retrieve)
        self._outbox[client_msg_id] = item
        self._wake_sender.set()
        return item

    async def send(
        self,
        room_id: str,
        content: str,
        *,
        client_msg_id: str | None = None,
        message_type: str = "text",
    ) -> dict[str, Any]:
        """Send a message and wait for the server's ack; returns the stored message.

        While disconnected the message waits in the outbox. Cancelling this call does not
        take the message back: it stays in the outbox and is still delivered. Raises
        ChatClientError for a refusal that retrying cannot fix (validation, not found).
        """
        item = self.enqueue(
            room_id, content, client_msg_id=client_msg_id, message_type=message_type
        )
        return await asyncio.shield(item.future)

    async def next_message(self) -> dict[str, Any]:
        """The next delivered message (when no `on_message` callback was given); bound the
        wait with `asyncio.timeout`."""
        return await self.messages.get()

    async def call(self, event: str, data: Any = None) -> Any:
        """Emit any client event on the live socket and return its ack (for bots: join_room,
        typing, ...). Raises ChatClientError if not connected or the ack does not come."""
        return await self._call(event, data)

    def on(self, event: str, handler: Callable[..., Any]) -> None:
        """Register a handler for another server event (presence, user_typing, ...)."""
        self._handlers_extra[event] = handler
        if self._sio is not None:
            self._sio.on(event, handler, namespace=NAMESPACE)

    async def history(
        self,
        room_id: str,
        *,
        before: int | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> dict[str, Any]:
        """One page of a room's history over REST: {messages, hasMore, lastSeq}."""
        params = {
            k: str(v)
            for k, v in (("before", before), ("after", after), ("limit", limit))
            if v is not None
        }
        return await self._api("GET", f"/api/rooms/{room_id}/messages", params=params)

    async def rooms(self) -> list[dict[str, Any]]:
        """The rooms the user can see (REST), with lastSeq, isMember and unreadCount."""
        body = await self._api("GET", "/api/rooms")
        return list(body["rooms"])

    async def refresh_token(self, *, force: bool = False) -> None:
        """Exchange the refresh token for a new pair and re-authenticate the live socket.

        Without `force`, does nothing unless the token is due (so concurrent callers refresh
        once). Raises AuthError when the session is over (refresh token revoked or reused).
        """
        async with self._refresh_lock:
            if not force and time.monotonic() < self._tokens.refresh_at:
                return
            try:
                data = await _request(
                    self._session(),
                    "POST",
                    self.base_url + "/api/auth/refresh",
                    json={"refreshToken": self._tokens.refresh_token},
                )
            except AuthError as exc:
                self._end_session(exc)
                raise
            self._tokens = Tokens.create(
                data["accessToken"], data["refreshToken"], data.get("expiresIn")
            )
            self.stats.refreshes += 1
            self._log.debug("token_refreshed")
        if self._ready.is_set():
            try:
                ack = await self._call("authenticate", {"token": self._tokens.access_token})
            except ChatClientError as exc:
                # The reconnect that follows a lost connection uses the fresh token anyway.
                self._log.info("reauthenticate_skipped", reason=exc.code)
                return
            if not (isinstance(ack, dict) and ack.get("ok")):
                self._log.warning("reauthenticate_refused", ack=ack)

    async def close(self) -> None:
        """Disconnect and stop every background task; unsent messages fail with ClientClosed."""
        if self._closed:
            return
        self._closed = True
        self._stop.set()
        tasks = [*self._main_tasks, *self._tasks]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._sio is not None and self._sio.connected:
            with contextlib.suppress(Exception):
                await self._sio.disconnect()
        self._ready.clear()
        self._fail_waiters(ClientClosed())
        for item in self._outbox.values():
            if not item.future.done():
                item.future.set_exception(ClientClosed())
        self._outbox.clear()
        if self._own_http and self._http is not None:
            await self._http.close()

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- connection lifecycle ----------------------------------------------------------

    def _new_socket(self) -> socketio.AsyncClient:
        """One AsyncClient for the life of this ChatClient; reconnection is ours, not its."""
        sio = socketio.AsyncClient(reconnection=False, http_session=self._session())
        sio.on("connect_error", self._on_connect_error, namespace=NAMESPACE)
        sio.on("disconnect", self._on_disconnect, namespace=NAMESPACE)
        sio.on("new_message", self._on_new_message, namespace=NAMESPACE)
        sio.on("new_dm", self._on_new_message, namespace=NAMESPACE)
        sio.on("unread", self._on_unread, namespace=NAMESPACE)
        sio.on("auth_error", self._on_auth_error, namespace=NAMESPACE)
        sio.on("session_revoked", self._on_session_revoked, namespace=NAMESPACE)
        sio.on("server_shutdown", self._on_server_shutdown, namespace=NAMESPACE)
        for event, handler in self._handlers_extra.items():
            sio.on(event, handler, namespace=NAMESPACE)
        return sio

    async def _establish(self) -> None:
        """One connection attempt: handshake with the current token, learn the rooms,
        `sync` what was missed, then let the outbox flush."""
        sio = self._require_socket()
        await self._settle_transport(sio)
        self._connect_error = None
        self._disconnected.clear()
        try:
            await sio.connect(
                self.base_url,
                auth={"token": self._tokens.access_token},
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
                raise _HandshakeRefused(code, str(error.get("message", ""))) from exc
            raise
        try:
            await self._load_rooms()
            await self._sync(self._rooms)
        except BaseException:
            if sio.connected:
                with contextlib.suppress(Exception):
                    await sio.disconnect()
            raise
        self.stats.connects += 1
        self._reconnect_hint_s = 0.0
        self._ready.set()
        self._wake_sender.set()
        self._log.debug("chat_client_connected", sid=self.sid, pending=len(self._outbox))

    async def _settle_transport(self, sio: socketio.AsyncClient) -> None:
        """Let a closing transport finish before reusing the client (a connect while it is
        still closing is refused by Engine.IO), forcing it after TRANSPORT_SETTLE_S."""
        deadline = time.monotonic() + TRANSPORT_SETTLE_S
        # Engine.IO exposes no event for this state change: a short, bounded poll.
        while sio.eio.state != "disconnected" and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if sio.eio.state != "disconnected":
            await sio.eio.disconnect(abort=True)

    async def _supervise(self) -> None:
        """Reconnect after every connection loss until closed or the session is over."""
        while not self._stop.is_set():
            await self._disconnected.wait()
            if self._stop.is_set() or self._session_over is not None:
                return
            await self._reconnect()

    async def _reconnect(self) -> None:
        attempt = 0
        while not self._stop.is_set() and self._session_over is None:
            delay = self._backoff(attempt)
            attempt += 1
            if await self._sleep_or_stop(delay):
                return
            try:
                await self._establish()
                return
            except _HandshakeRefused as exc:
                self._log.info("reconnect_refused", code=exc.code, attempt=attempt)
                if exc.code in TOKEN_CODES:
                    try:
                        await self.refresh_token(force=True)
                    except AuthError:
                        return
                    except (ChatClientError, aiohttp.ClientError, OSError, TimeoutError) as err:
                        self._log.info("refresh_failed", error=str(err))
            except (
                socketio.exceptions.SocketIOError,
                ChatClientError,
                _ConnectionLost,
                aiohttp.ClientError,
                OSError,
                TimeoutError,
                ValueError,
            ) as exc:
                self._log.info("reconnect_failed", error=repr(exc), attempt=attempt)
            except Exception:
                # Anything unexpected (a malformed response, say) must not end reconnecting.
                self._log.exception("reconnect_error", attempt=attempt)

    def _backoff(self, attempt: int) -> float:
        """Exponential backoff with jitter; a server_shutdown hint sets a floor."""
        base = min(self._delay_max, self._delay_initial * (2**attempt))
        delay = base * (1 + RECONNECT_JITTER * (2 * random.random() - 1))  # noqa: S311
        if attempt == 0 and self._reconnect_hint_s:
            delay = max(delay, self._reconnect_hint_s * (1 + RECONNECT_JITTER * random.random()))  # noqa: S311
        return max(delay, 0.0)

    async def _sleep_or_stop(self, delay: float) -> bool:
        """Sleep, waking early when the client is closed; True if it was closed."""
        try:
            await asyncio.wait_for(self._stop.wait(), delay)
        except TimeoutError:
            return False
        return True

    async def _load_rooms(self) -> None:
        """Start tracking rooms the user is a member of but we have not seen yet.

        On the first connect a room starts from its newest message (a new client does not
        replay history). A room found on a later connect (joined while we were away)
        starts from what the user has not read, so nothing sent meanwhile is skipped.
        """
        first = self.stats.connects == 0
        for room in await self.rooms():
            room_id = str(room["id"])
            if not room.get("isMember") or room_id in self._rooms:
                continue
            last = int(room.get("lastSeq", 0))
            unread = 0 if first else int(room.get("unreadCount", 0))
            self._rooms[room_id] = _RoomState(last_seq=max(last - unread, 0))
            if int(room.get("memberCount", 0)) > RECEIPT_MAX_MEMBERS:
                self._no_receipts.add(room_id)

    async def _refresh_loop(self) -> None:
        """Refresh the access token when it is due, retrying network failures."""
        while not self._stop.is_set():
            delay = max(self._tokens.refresh_at - time.monotonic(), 0.0)
            if await self._sleep_or_stop(delay):
                return
            try:
                await self.refresh_token()
            except AuthError as exc:
                self._log.warning("session_ended", reason=exc.code)
                return
            except (ChatClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                self._log.info("refresh_failed", error=repr(exc))
                if await self._sleep_or_stop(TOKEN_REFRESH_RETRY_S):
                    return

    def _end_session(self, error: ChatClientError) -> None:
        """The login session is over (revoked, refresh reused): stop and fail pending sends."""
        if self._session_over is not None:
            return
        self._session_over = error
        self._disconnected.set()  # wake the supervisor so it sees the end
        for item in list(self._outbox.values()):
            if not item.future.done():
                item.future.set_exception(error)
        self._outbox.clear()

    # -- socket events -----------------------------------------------------------------

    def _on_connect_error(self, data: Any = None) -> None:
        self._connect_error = data

    def _on_disconnect(self, reason: Any = None) -> None:
        was_ready = self._ready.is_set()
        self._ready.clear()
        for item in self._outbox.values():
            item.in_flight = False
        self._fail_waiters(_ConnectionLost())
        if was_ready:
            self.stats.disconnects += 1
            self._log.info(
                "chat_client_disconnected", reason=str(reason), pending=len(self._outbox)
            )
        self._disconnected.set()

    def _on_new_message(self, data: Any = None) -> None:
        message = data.get("message") if isinstance(data, dict) else None
        if isinstance(message, dict):
            self._ingest(message)

    def _on_unread(self, data: Any = None) -> None:
        if isinstance(data, dict) and isinstance(data.get("roomId"), str):
            count = data.get("unread", data.get("count"))
            if isinstance(count, int):
                self.unread[data["roomId"]] = count

    def _on_auth_error(self, data: Any = None) -> None:
        self._log.info("auth_error", data=data)

    def _on_session_revoked(self, data: Any = None) -> None:
        reason = data.get("reason") if isinstance(data, dict) else None
        self._end_session(AuthError("session_revoked", str(reason or "Session revoked")))

    def _on_server_shutdown(self, data: Any = None) -> None:
        after_ms = data.get("reconnectAfterMs") if isinstance(data, dict) else None
        if isinstance(after_ms, int | float) and after_ms >= 0:
            self._reconnect_hint_s = min(float(after_ms) / 1000, self._delay_max)

    # -- sending -----------------------------------------------------------------------

    async def _send_loop(self) -> None:
        """Emit outbox items in order while connected; a few may await acks at once."""
        while not self._stop.is_set():
            await self._ready.wait()
            self._wake_sender.clear()
            item, wait_s = self._next_to_send(time.monotonic())
            if item is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake_sender.wait(), wait_s)
                continue
            if not await self._emit(item):
                # Not connected after all (the disconnect is being processed): pause
                # rather than spin until `_ready` is cleared.
                await self._sleep_or_stop(EMIT_FAILURE_PAUSE_S)

    def _next_to_send(self, now: float) -> tuple[PendingMessage | None, float | None]:
        """The oldest item that may go out now, else how long until one may."""
        in_flight = 0
        soonest: float | None = None
        candidate: PendingMessage | None = None
        for item in self._outbox.values():
            if item.in_flight and now >= item.ack_deadline:
                item.in_flight = False  # its ack is overdue: consider it lost
                self._log.info("ack_timeout", client_msg_id=item.client_msg_id)
            if item.in_flight:
                in_flight += 1
                due = item.ack_deadline - now
            elif now >= item.not_before:
                if candidate is None:
                    candidate = item
                continue
            else:
                due = item.not_before - now
            soonest = due if soonest is None else min(soonest, due)
        if candidate is not None and in_flight < MAX_IN_FLIGHT:
            return candidate, None
        return None, soonest

    async def _emit(self, item: PendingMessage) -> bool:
        """Put one outbox item on the wire; False if the socket refused it."""
        sio = self._require_socket()
        item.in_flight = True
        item.attempts += 1
        attempt = item.attempts
        if attempt > 1:
            self.stats.resends += 1
        item.ack_deadline = time.monotonic() + self._ack_timeout

        def on_ack(*args: Any) -> None:
            self._on_send_ack(item, attempt, args[0] if args else None)

        try:
            await sio.emit("send_message", item.payload(), namespace=NAMESPACE, callback=on_ack)
        except Exception as exc:
            # Not connected any more: it goes out again after the reconnect.
            item.in_flight = False
            if not isinstance(exc, socketio.exceptions.SocketIOError):
                self._log.warning("emit_failed", error=repr(exc))
            return False
        return True

    def _on_send_ack(self, item: PendingMessage, attempt: int, response: Any) -> None:
        if item.future.done():
            return
        if (
            isinstance(response, dict)
            and response.get("ok") is True
            and isinstance(response.get("message"), dict)
        ):
            message = response["message"]
            self._outbox.pop(item.client_msg_id, None)
            item.future.set_result(message)
            self._ingest(message)
            self._wake_sender.set()
            return
        if attempt != item.attempts:
            return  # a late answer to an attempt we already re-sent
        error = response.get("error") if isinstance(response, dict) else None
        error = (
            error if isinstance(error, dict) else {"code": "internal_error", "message": "Bad ack"}
        )
        code = str(error.get("code", "internal_error"))
        now = time.monotonic()
        item.in_flight = False
        if code in RETRYABLE_CODES or code in TOKEN_CODES:
            item.failures += 1
            delay = min(
                SEND_RETRY_DELAY_MAX_S, SEND_RETRY_DELAY_INITIAL_S * 2 ** (item.failures - 1)
            )
            item.not_before = now + delay * (1 + RECONNECT_JITTER * random.random())  # noqa: S311
            self._log.info("send_retry_scheduled", code=code, client_msg_id=item.client_msg_id)
        elif code == "rate_limited":
            retry_after = error.get("retryAfter")
            item.not_before = now + (
                float(retry_after) if isinstance(retry_after, int | float) else 1.0
            )
        else:
            self._outbox.pop(item.client_msg_id, None)
            item.future.set_exception(
                ChatClientError(code, str(error.get("message", "")), fields=error.get("fields"))
            )
        self._wake_sender.set()

    # -- receiving ---------------------------------------------------------------------

    def _ingest(self, message: dict[str, Any]) -> None:
        """Deliver a message once, in seq order per room; buffer it if it comes early."""
        room_id, seq = message.get("roomId"), message.get("seq")
        if not isinstance(room_id, str) or not isinstance(seq, int) or isinstance(seq, bool):
            self._log.warning("message_without_seq", message_id=message.get("id"))
            return
        state = self._rooms.get(room_id)
        if state is None:
            # A room we did not know of (joined while connected): it starts here.
            state = self._rooms[room_id] = _RoomState(last_seq=seq - 1)
        if seq <= state.last_seq or seq in state.buffer:
            self.stats.duplicates += 1
            return
        state.buffer[seq] = message
        self._drain(state)
        if state.buffer and not state.filling:
            self.stats.gaps_detected += 1
            state.filling = True
            self._spawn(self._fill_gap(room_id, state))

    def _drain(self, state: _RoomState) -> None:
        while state.last_seq + 1 in state.buffer:
            state.last_seq += 1
            self._deliver(state.buffer.pop(state.last_seq))

    def _deliver(self, message: dict[str, Any]) -> None:
        self.stats.delivered += 1
        self.messages.put_nowait(message)
        room_id, seq = message["roomId"], message["seq"]
        if room_id in self._no_receipts:
            return
        if not self._undelivered:
            self._spawn(self._send_delivery_receipts())
        self._undelivered[room_id] = max(seq, self._undelivered.get(room_id, 0))

    async def _send_delivery_receipts(self) -> None:
        """Tell the server what arrived (senders show "delivered"); best effort: a receipt
        lost with the connection is superseded by the next one."""
        await asyncio.sleep(DELIVERY_RECEIPT_DELAY_S)
        receipts, self._undelivered = self._undelivered, {}
        sio = self._sio
        if sio is None or not sio.connected:
            return
        for room_id, seq in receipts.items():
            with contextlib.suppress(socketio.exceptions.SocketIOError):
                await sio.emit("delivered", {"roomId": room_id, "seq": seq}, namespace=NAMESPACE)

    async def _fill_gap(self, room_id: str, state: _RoomState) -> None:
        """Fetch what is missing before the buffered messages with `sync`."""
        try:
            await asyncio.sleep(GAP_FILL_DELAY_S)
            while state.buffer and self._rooms.get(room_id) is state:
                if not self._ready.is_set():
                    return  # the sync after the reconnect fills it
                before = state.last_seq
                await self._sync({room_id: state})
                if state.last_seq == before:
                    self._log.warning("gap_not_filled", room_id=room_id, last_seq=before)
                    return
        except (ChatClientError, _ConnectionLost, socketio.exceptions.SocketIOError) as exc:
            self._log.info("gap_fill_failed", room_id=room_id, error=repr(exc))
        finally:
            state.filling = False

    async def _sync(self, rooms: dict[str, _RoomState]) -> None:
        """Ask the server for everything after our last seq in each room, page by page."""
        todo = {room: state for room, state in rooms.items()}
        while todo:
            batch = dict(list(todo.items())[:SYNC_MAX_ROOMS])
            ack = await self._call("sync", {"rooms": {r: s.last_seq for r, s in batch.items()}})
            if not (isinstance(ack, dict) and ack.get("ok") is True):
                error = ack.get("error", {}) if isinstance(ack, dict) else {}
                raise ChatClientError(
                    str(error.get("code", "sync_failed")), str(error.get("message", ""))
                )
            self.stats.syncs += 1
            for room_id in ack.get("errors", {}):
                # No longer a member (left, removed): stop tracking it.
                self._rooms.pop(room_id, None)
                todo.pop(room_id, None)
            for room_id, page in ack.get("rooms", {}).items():
                state = batch.get(room_id)
                if state is None:
                    continue
                if isinstance(page.get("unread"), int):
                    self.unread[room_id] = page["unread"]
                self._apply_page(
                    state, page["messages"], page.get("lastSeq"), page.get("hasMore", False)
                )
                if not page.get("hasMore") or not page["messages"]:
                    todo.pop(room_id, None)
            for room_id in batch:
                if room_id not in ack.get("rooms", {}):
                    todo.pop(room_id, None)

    def _apply_page(
        self, state: _RoomState, messages: Iterable[dict[str, Any]], last_seq: Any, has_more: bool
    ) -> None:
        """Merge a server page that covers everything after `state.last_seq` up to its end.

        Such a page is authoritative for its range: a seq it does not contain does not
        exist (so it is not waited for), and buffered early arrivals slot in by seq.
        """
        page = [m for m in messages if isinstance(m, dict) and isinstance(m.get("seq"), int)]
        for message in page:
            if message["seq"] > state.last_seq:
                state.buffer.setdefault(message["seq"], message)
        if has_more:
            covered = max((m["seq"] for m in page), default=state.last_seq)
        else:
            covered = (
                last_seq
                if isinstance(last_seq, int)
                else max((m["seq"] for m in page), default=state.last_seq)
            )
        for seq in sorted(s for s in state.buffer if s <= covered):
            state.last_seq = max(state.last_seq, seq - 1)
            self._deliver(state.buffer.pop(seq))
            state.last_seq = seq
        state.last_seq = max(state.last_seq, covered)
        self._drain(state)

    async def _dispatch(self) -> None:
        """Hand delivered messages to `on_message`, one at a time, in delivery order."""
        assert self._on_message is not None
        while True:
            message = await self.messages.get()
            try:
                result = self._on_message(message)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                self._log.exception("on_message_failed", message_id=message.get("id"))

    # -- plumbing ----------------------------------------------------------------------

    async def _call(self, event: str, data: Any) -> Any:
        """Emit with an ack; fails fast with _ConnectionLost if the socket drops meanwhile."""
        sio = self._require_socket()
        if not sio.connected:
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
                return await asyncio.wait_for(future, self._ack_timeout)
            except TimeoutError:
                raise ChatClientError("ack_timeout", f"No ack for {event!r}") from None
            except _ConnectionLost:
                raise ChatClientError("connection_lost", f"Disconnected during {event!r}") from None
        finally:
            self._ack_waiters.discard(future)

    def _fail_waiters(self, error: BaseException) -> None:
        for future in list(self._ack_waiters):
            if not future.done():
                future.set_exception(error)
        self._ack_waiters.clear()

    async def _api(self, method: str, path: str, **kwargs: Any) -> Any:
        """A REST call with the current access token; refreshes once on a 401."""
        for attempt in range(2):
            headers = {"Authorization": f"Bearer {self._tokens.access_token}"}
            try:
                return await _request(
                    self._session(), method, self.base_url + path, headers=headers, **kwargs
                )
            except AuthError as exc:
                if attempt or exc.code not in TOKEN_CODES:
                    raise
                await self.refresh_token(force=True)
        raise AssertionError("unreachable")

    def _session(self) -> aiohttp.ClientSession:
        if self._http is None:
            self._http = _new_http_session()
            self._own_http = True
        return self._http

    def _require_socket(self) -> socketio.AsyncClient:
        if self._sio is None:
            raise ChatClientError("not_connected", "connect() was not called")
        return self._sio

    def _spawn(self, coro: Awaitable[Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _new_http_session() -> aiohttp.ClientSession:
    # No session-wide timeout: the same session carries the long-lived websocket. REST calls
    # set their own (`_request`), Engine.IO its own for polling.
    return aiohttp.ClientSession()


async def _request(session: aiohttp.ClientSession, method: str, url: str, **kwargs: Any) -> Any:
    """One REST call: the JSON body, or ChatClientError with the server's error object."""
    kwargs.setdefault("timeout", aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S))
    async with session.request(method, url, **kwargs) as resp:
        try:
            body = await resp.json(content_type=None)
        except (ValueError, aiohttp.ContentTypeError):
            body = None
        if 200 <= resp.status < 300:
            return body
        error = body.get("error") if isinstance(body, dict) else None
        error = error if isinstance(error, dict) else {}
        code = str(error.get("code") or f"http_{resp.status}")
        retry_after = _seconds(error.get("retryAfter") or resp.headers.get("Retry-After"))
        cls = AuthError if resp.status == 401 else ChatClientError
        raise cls(
            code,
            str(error.get("message", resp.reason or "")),
            status=resp.status,
            retry_after=retry_after,
            fields=error.get("fields"),
        )


def _seconds(value: Any) -> float | None:
    """A Retry-After value in seconds (the HTTP-date form is not used by our server)."""
    try:
        return float(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _retrieve(future: asyncio.Future[Any]) -> None:
    if not future.cancelled():
        future.exception()


def _jwt_claims(token: str) -> dict[str, Any]:
    """The claims of a JWT, unverified: the client only reads its own token's `exp`, `sub`
    and `name` (the server is the one that verifies)."""
    try:
        payload = token.split(".")[1]
        data = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}
