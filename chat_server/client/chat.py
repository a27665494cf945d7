"""`ChatClient`: the thin facade a bot uses, wiring the client's parts together.

Owns: the public API (login/register, connect/close/logout, send/send_dm into the outbox,
next_message/on_message, the bot helpers mixed in from helpers.py, the message changes
mixed in from actions.py), the client's background tasks (send loop, token refresh,
`on_message`/`on_update` dispatch) and ending the session
(revoked, logged out). Must not: hold delivery, retry or ordering rules itself (`Outbox`,
`Ordering`, `Receiver`, `Sender`), talk HTTP (`RestApi`) or manage reconnects
(`Connection`); it only composes them.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import aiohttp

from .actions import MessageActions, UpdateHandler
from .changes import ChangeTracker
from .connection import (
    NAMESPACE,
    RECONNECT_DELAY_INITIAL_S,
    RECONNECT_DELAY_MAX_S,
    Connection,
)
from .errors import AuthError, ChatClientError, ClientClosed
from .helpers import BotHelpers
from .ordering import Ordering
from .outbox import ACK_TIMEOUT_S, Outbox, PendingMessage
from .receiving import Receiver
from .rest import RestApi, Tokens, jwt_claims, new_http_session, request
from .sending import Sender

log = logging.getLogger(__name__)

# After a token refresh fails for a network reason, try again this soon.
TOKEN_REFRESH_RETRY_S = 2.0

MessageHandler = Callable[[dict[str, Any]], Awaitable[None] | None]


@dataclass(slots=True)
class ClientStats:
    """Counters for tests and the load generator (a snapshot)."""

    connects: int = 0
    disconnects: int = 0
    delivered: int = 0
    duplicates: int = 0
    gaps_detected: int = 0
    syncs: int = 0
    resends: int = 0
    refreshes: int = 0
    # Message changes (updates()): delivered, dropped as duplicates, changeSeq gaps seen.
    updates: int = 0
    update_duplicates: int = 0
    change_gaps_detected: int = 0


class ChatClient(MessageActions, BotHelpers):
    """An async chat client with outbox, reconnect, gap filling and token refresh.

    Delivered messages (own and others', room messages and DMs, each once, per room in seq
    order) are put on `messages` (an asyncio.Queue), or passed to `on_message` if given;
    message changes (each once, per room in changeSeq order, live and recovered) likewise
    on `updates_queue` / `updates()`, or passed to `on_update`.
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
        on_update: UpdateHandler | None = None,
        changes_since: dict[str, int] | None = None,
        transports: list[str] | None = None,
        http: aiohttp.ClientSession | None = None,
        ack_timeout_s: float = ACK_TIMEOUT_S,
        reconnect_delay_initial_s: float = RECONNECT_DELAY_INITIAL_S,
        reconnect_delay_max_s: float = RECONNECT_DELAY_MAX_S,
    ):
        """Build a client from tokens (see `login`/`register` for the usual way in).

        `since` maps room ids to the last seq already seen (resuming a bot): messages after
        it are delivered on connect. Rooms not in it start from the newest message.
        `changes_since` likewise maps rooms to the last changeSeq applied.
        `transports` defaults to websocket only; `["polling"]` forces long-polling.
        """
        self.base_url = base_url.rstrip("/")
        claims = jwt_claims(access_token)
        self.user_id: str = str((user or {}).get("id") or claims.get("sub", ""))
        self.username: str = str((user or {}).get("username") or claims.get("name", ""))
        tokens = Tokens.create(access_token, refresh_token, expires_in)
        self._rest = RestApi(self.base_url, tokens, http)
        self._rest.on_refreshed = self._reauthenticate
        self._rest.on_session_over = self._end_session
        self._outbox = Outbox(ack_timeout_s=ack_timeout_s)
        self._conn = Connection(
            self.base_url,
            http=self._rest.session,
            token=lambda: self._rest.tokens.access_token,
            refresh=lambda: self._rest.refresh(force=True),
            on_established=self._catch_up,
            on_lost=self._on_lost,
            transports=transports or ["websocket"],
            call_timeout_s=ack_timeout_s,
            reconnect_delay_initial_s=reconnect_delay_initial_s,
            reconnect_delay_max_s=reconnect_delay_max_s,
        )
        self._receiver = Receiver(
            Ordering(since), self._conn, self._rest, ChangeTracker(changes_since)
        )
        self._sender = Sender(self._outbox, self._conn, self._receiver)
        self._on_message = on_message
        self._on_update = on_update
        self._tasks: list[asyncio.Task[Any]] = []
        self._closed = False
        self._session_over: ChatClientError | None = None
        for event in ("new_message", "new_dm"):
            self._conn.on(event, self._receiver.on_new_message)
        self._conn.on("message_updated", self._receiver.on_message_updated)
        self._conn.on("unread", self._receiver.on_unread)
        self._conn.on("auth_error", lambda data=None: log.info("auth_error data=%r", data))
        self._conn.on("session_revoked", self._on_session_revoked)
        self._conn.on("server_shutdown", self._on_server_shutdown)

    # -- construction ------------------------------------------------------------------

    @classmethod
    async def login(
        cls, base_url: str, email_or_username: str, password: str, **options: Any
    ) -> ChatClient:
        """Log in over REST and return a client (not yet connected)."""
        body = {"email": email_or_username, "password": password}
        return await cls._from_auth(base_url, "/api/auth/login", body, options)

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
        session = http or new_http_session()
        try:
            data = await request(session, "POST", base_url.rstrip("/") + path, json=body)
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
        client._rest.owns_http = http is None
        return client

    # -- state -------------------------------------------------------------------------

    @property
    def access_token(self) -> str:
        return self._rest.tokens.access_token

    @property
    def refresh_token_value(self) -> str:
        return self._rest.tokens.refresh_token

    @property
    def connected(self) -> bool:
        """True while connected, authenticated and caught up (sends go straight out)."""
        return self._conn.ready.is_set()

    @property
    def sid(self) -> str | None:
        """The Socket.IO session id on /chat while connected."""
        return self._conn.sid

    @property
    def pending(self) -> list[str]:
        """clientMsgIds of the sends still waiting for an ack, oldest first."""
        return self._outbox.ids

    @property
    def last_seq(self) -> dict[str, int]:
        """The last seq delivered per tracked room (DMs included)."""
        return self._receiver.ordering.last_seq

    @property
    def messages(self) -> asyncio.Queue[dict[str, Any]]:
        return self._receiver.messages

    @property
    def unread(self) -> dict[str, int]:
        """Unread count per room and DM, kept current by `unread` events and `sync`."""
        return self._receiver.unread

    @property
    def unread_total(self) -> int:
        return sum(self._receiver.unread.values())

    @property
    def stats(self) -> ClientStats:
        ordering = self._receiver.ordering.stats
        changes = self._receiver.changes.stats
        return ClientStats(
            connects=self._conn.connects,
            disconnects=self._conn.disconnects,
            delivered=ordering.delivered,
            duplicates=ordering.duplicates,
            gaps_detected=ordering.gaps_detected,
            syncs=self._receiver.syncs,
            resends=self._outbox.resends,
            refreshes=self._rest.refreshes,
            updates=changes.delivered,
            update_duplicates=changes.duplicates,
            change_gaps_detected=changes.gaps_detected,
        )

    # -- connection --------------------------------------------------------------------

    async def connect(self) -> None:
        """Connect to /chat, catch up with `sync`, and stay connected until `close()`.

        Raises if the first attempt fails (wrong URL, server down, credentials revoked);
        after that, connection losses are handled in the background.
        """
        if self._closed:
            raise ClientClosed()
        if self._tasks:
            raise RuntimeError("connect() was already called")
        await self._conn.start()
        self._tasks = [
            asyncio.create_task(self._sender.run(), name="chat-client-send"),
            asyncio.create_task(self._refresh_loop(), name="chat-client-refresh"),
        ]
        if self._on_message is not None:
            self._tasks.append(
                asyncio.create_task(
                    _dispatch(self._receiver.messages, self._on_message, "on_message"),
                    name="chat-client-dispatch",
                )
            )
        if self._on_update is not None:
            self._tasks.append(
                asyncio.create_task(
                    _dispatch(self._receiver.updates, self._on_update, "on_update"),
                    name="chat-client-dispatch-updates",
                )
            )

    async def wait_connected(self) -> None:
        """Wait until connected and caught up (e.g. after a reconnect); bound it with
        `asyncio.timeout`."""
        await self._conn.ready.wait()

    async def close(self) -> None:
        """Disconnect and stop every background task; unsent messages fail with ClientClosed."""
        if self._closed:
            return
        self._closed = True
        # Stop first: a cancellation that Python 3.11's wait_for loses (its inner wait
        # finishing at the same moment) must still end the loops.
        self._conn.stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._receiver.close()
        await self._conn.close()
        self._outbox.fail_all(ClientClosed())
        await self._rest.close()

    async def logout(self) -> None:
        """End the login session on the server (tokens revoked, sockets dropped), then close."""
        try:
            await self._rest.logout()
        finally:
            self._end_session(AuthError("logged_out", "Logged out"))
            await self.close()

    async def refresh_token(self, *, force: bool = False) -> None:
        """Exchange the refresh token for a new pair and re-authenticate the live socket.
        Raises AuthError when the session is over (refresh token revoked or reused)."""
        await self._rest.refresh(force=force)

    async def __aenter__(self) -> ChatClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- sending -----------------------------------------------------------------------

    def enqueue(
        self,
        room_id: str,
        content: str,
        *,
        client_msg_id: str | None = None,
        message_type: str = "text",
        file_id: str | None = None,
        thread_id: str | None = None,
    ) -> PendingMessage:
        """Put a room message (with thread_id: a reply in that thread) in the outbox without
        waiting; `.future` resolves with the stored message once acked. It is re-sent
        until acked or refused for good."""
        return self._enqueue(
            str(room_id), None, content, client_msg_id, message_type, file_id, thread_id
        )

    def enqueue_dm(
        self,
        user_id: str,
        content: str,
        *,
        client_msg_id: str | None = None,
        message_type: str = "text",
        file_id: str | None = None,
    ) -> PendingMessage:
        """Like `enqueue`, for a direct message to `user_id` (`send_dm`)."""
        return self._enqueue(None, str(user_id), content, client_msg_id, message_type, file_id)

    async def send(self, room_id: str, content: str, **options: Any) -> dict[str, Any]:
        """Send a room message and wait for the server's ack; returns the stored message.

        Options: client_msg_id, message_type ("text", "image", "file"), file_id (from
        `upload`), thread_id (a reply; see `reply`). While disconnected the message waits
        in the outbox. Cancelling this call does not take the message back. Raises
        ChatClientError for a refusal that retrying cannot fix (validation, not found).
        """
        return await asyncio.shield(self.enqueue(room_id, content, **options).future)

    async def send_dm(self, user_id: str, content: str, **options: Any) -> dict[str, Any]:
        """Send a direct message through the outbox (same guarantees and options as `send`);
        returns the stored message (with senderId, recipientId)."""
        return await asyncio.shield(self.enqueue_dm(user_id, content, **options).future)

    def _enqueue(
        self,
        room_id: str | None,
        recipient_id: str | None,
        content: str,
        client_msg_id: str | None,
        message_type: str,
        file_id: str | None,
        thread_id: str | None = None,
    ) -> PendingMessage:
        if self._closed:
            raise ClientClosed()
        if self._session_over is not None:
            raise self._session_over
        return self._sender.enqueue(
            room_id, recipient_id, content, client_msg_id, message_type, file_id, thread_id
        )

    # -- receiving ---------------------------------------------------------------------

    async def next_message(self) -> dict[str, Any]:
        """The next delivered message (when no `on_message` callback was given); bound the
        wait with `asyncio.timeout`."""
        return await self._receiver.messages.get()

    # -- lifecycle hooks ---------------------------------------------------------------

    async def _catch_up(self) -> None:
        await self._receiver.catch_up(first=self._conn.connects == 0)

    def _on_lost(self) -> None:
        self._outbox.connection_lost()

    async def _reauthenticate(self) -> None:
        """After a refresh: give the live socket the fresh token so it is not dropped."""
        if not self._conn.ready.is_set():
            return  # the next (re)connect uses the fresh token anyway
        try:
            ack = await self._conn.call("authenticate", {"token": self.access_token})
        except ChatClientError as exc:
            log.info("reauthenticate_skipped reason=%s", exc.code)
            return
        if not (isinstance(ack, dict) and ack.get("ok")):
            log.warning("reauthenticate_refused ack=%r", ack)

    async def _refresh_loop(self) -> None:
        """Refresh the access token when it is due, retrying network failures."""
        while not self._conn.stop.is_set():
            delay = max(self._rest.tokens.refresh_at - time.monotonic(), 0.0)
            if await self._conn.sleep_or_stop(delay):
                return
            try:
                await self._rest.refresh()
            except AuthError as exc:
                log.warning("session_ended reason=%s", exc.code)
                return
            except (ChatClientError, aiohttp.ClientError, OSError, TimeoutError) as exc:
                log.info("refresh_failed error=%r", exc)
                if await self._conn.sleep_or_stop(TOKEN_REFRESH_RETRY_S):
                    return

    def _end_session(self, error: ChatClientError) -> None:
        """The login session is over (revoked, refresh reused): stop, fail pending sends."""
        if self._session_over is not None:
            return
        self._session_over = error
        self._conn.end_session()
        self._outbox.fail_all(error)

    def _on_session_revoked(self, data: Any = None) -> None:
        reason = data.get("reason") if isinstance(data, dict) else None
        self._end_session(AuthError("session_revoked", str(reason or "Session revoked")))

    def _on_server_shutdown(self, data: Any = None) -> None:
        self._conn.shutdown_hint(data.get("reconnectAfterMs") if isinstance(data, dict) else None)


async def _dispatch(
    queue: asyncio.Queue[Any], handler: Callable[[Any], Awaitable[None] | None], name: str
) -> None:
    """Hand delivered items to a callback, one at a time, in delivery order."""
    while True:
        item = await queue.get()
        try:
            result = handler(item)
            if inspect.isawaitable(result):
                await result
        except Exception:
            log.exception("%s_failed", name)


__all__ = ["NAMESPACE", "ChatClient", "ClientStats", "MessageHandler"]
