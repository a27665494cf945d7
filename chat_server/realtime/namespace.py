"""The `/chat` namespace: one thin `on_<event>` per documented client event (docs/contract.md §6).

Each handler validates its payload with `schemas/`, calls one domain service and answers
the ack with `{ok: true, ...}` or `{ok: false, error: {code, message}}` (the `event`
decorator, realtime/handlers.py). The events that change a stored message are the mixin
`MessageEvents` (realtime/message_events.py).
"""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Awaitable, Callable
from http.cookies import CookieError, SimpleCookie
from typing import Any

import socketio
import structlog

from chat_server import metrics
from chat_server.errors import (
    DATABASE_DOWN,
    ChatError,
    InvalidToken,
    NotFound,
    TooManyConnections,
    Unavailable,
)
from chat_server.realtime.deadlines import Deadlines
from chat_server.realtime.handlers import SocketState, event
from chat_server.realtime.handlers import principal as _who
from chat_server.realtime.message_events import MessageEvents
from chat_server.realtime.rooms import user_room
from chat_server.services.auth import Principal
from chat_server.services.posting import Draft
from chat_server.services.registry import Services

log = structlog.get_logger(__name__)

# docs/contract.md §6: a socket that connected without a token has this long to authenticate.
AUTH_TIMEOUT_S = 10.0
# Grace after an access token's expiry before its socket is dropped, so a client that
# refreshes right at expiry is not cut off by clock skew or a slow round trip.
TOKEN_EXPIRY_GRACE_S = 5.0
ACCESS_COOKIE = "chat_access"
# Our access tokens are ~400 bytes; anything far larger is not one.
MAX_TOKEN_CHARS = 4096


class ChatNamespace(MessageEvents, socketio.AsyncNamespace):
    """Every client event of docs/contract.md §6."""

    def __init__(self, namespace: str, services: Callable[[], Services]):
        super().__init__(namespace)
        self._services = services
        self.sockets: dict[str, SocketState] = {}
        # Client events being handled right now; shutdown waits for them to finish.
        self.inflight = 0
        # Set when the instance starts shutting down: new connections are refused.
        self.draining = False
        self._tasks: set[asyncio.Task[Any]] = set()
        # Authentication windows and token expiries, one deadline per socket.
        self._deadlines = Deadlines(self._deadline_passed)

    @property
    def services(self) -> Services:
        return self._services()

    async def trigger_event(self, event_name: str, *args: Any) -> Any:
        if event_name not in ("connect", "disconnect") and not hasattr(
            ChatNamespace, "on_" + event_name
        ):
            return {"ok": False, "error": {"code": "unknown_event", "message": "Unknown event"}}
        return await super().trigger_event(event_name, *args)

    # -- lifecycle ---------------------------------------------------------------------

    async def on_connect(self, sid: str, environ: dict[str, Any], auth: Any = None) -> None:
        """Handshake: authenticate from `auth.token` (or the browser cookie) or wait for
        the `authenticate` event; a bad token is refused with `Invalid token`."""
        state = SocketState()
        try:
            token = _token_from(auth, environ)
            who = await self.services.auth.authenticate(token) if token is not None else None
            if self.draining:
                # Only a handshake already past the HTTP guard (api/middleware.drain_guard).
                raise Unavailable("This instance is shutting down")
            self.sockets[sid] = state
            if who is None:
                self._deadlines.set(sid, AUTH_TIMEOUT_S)
            else:
                await self._admit(sid, state, who)
                state.greet = True
        except Unavailable as exc:
            self._forget(sid)
            metrics.CONNECT_REFUSED.labels(code=exc.code).inc()
            raise socketio.exceptions.ConnectionRefusedError(
                "Service unavailable", {"code": exc.code, "message": exc.message}
            ) from None
        except TooManyConnections as exc:
            self._forget(sid)
            metrics.CONNECT_REFUSED.labels(code=exc.code).inc()
            raise socketio.exceptions.ConnectionRefusedError(
                "Too many connections", {"code": exc.code, "message": exc.message}
            ) from None
        except ChatError as exc:
            self._forget(sid)
            metrics.CONNECT_REFUSED.labels(code=exc.code).inc()
            raise socketio.exceptions.ConnectionRefusedError(
                "Invalid token", {"code": exc.code, "message": exc.message}
            ) from None
        except DATABASE_DOWN as exc:
            self._forget(sid)
            metrics.CONNECT_REFUSED.labels(code="unavailable").inc()
            log.warning("connect_database_unavailable", error=str(exc))
            raise socketio.exceptions.ConnectionRefusedError(
                "Service unavailable", {"code": "unavailable", "message": "Retry shortly"}
            ) from None
        metrics.CONNECTS.inc()
        metrics.ACTIVE_CONNECTIONS.inc()

    async def greet(self, sid: str) -> None:
        """`authenticated` for a handshake login (docs/contract.md §6), called by the server after
        the CONNECT packet: a listener added in a client's `connect` handler sees it too."""
        state = self.sockets.get(sid)
        if state is None or not state.greet or state.principal is None:
            return
        state.greet = False
        who = state.principal
        await self.emit("authenticated", {"userId": who.user_id, "username": who.username}, to=sid)

    async def on_disconnect(self, sid: str, reason: Any = None) -> None:
        state = self._forget(sid)
        if state is None:
            return
        metrics.DISCONNECTS.inc()
        metrics.ACTIVE_CONNECTIONS.dec()
        if state.principal is None:
            return
        who = state.principal
        try:
            await self.services.typing.stop_all(who.user_id)
            await self.services.presence.disconnected(who.user_id, sid)
        except Exception:
            log.warning("disconnect_cleanup_failed", sid=sid, user_id=who.user_id, exc_info=True)

    # -- client events -----------------------------------------------------------------

    @event(auth=False)
    async def on_authenticate(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        """Authenticate a token-less socket, or extend a live one with a fresh token."""
        try:
            who = await self.services.auth.authenticate(data["token"])
            if state.principal is not None and state.principal.user_id != who.user_id:
                raise InvalidToken("Token belongs to another user")
        except ChatError as exc:
            await self.emit("auth_error", {"message": exc.message, "code": exc.code}, to=sid)
            raise
        if state.principal is None:
            await self._admit(sid, state, who)
        else:
            # A fresh token for the same user: keep the stored name learnt on admission.
            state.principal = dataclasses.replace(who, username=state.principal.username)
            self._arm_expiry(sid, state)
        assert state.principal is not None
        body = {"userId": who.user_id, "username": state.principal.username}
        await self.emit("authenticated", body, to=sid)
        return body

    @event()
    async def on_send_message(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        who = _who(state)
        draft = Draft.from_payload(who.user_id, who.username, data)
        message, _ = await self.services.messages.send(draft, data["room_id"])
        return {"message": message}

    @event()
    async def on_sync(self, sid: str, state: SocketState, data: dict[str, Any]) -> dict[str, Any]:
        return await self.services.messages.sync(
            user_id=_who(state).user_id, rooms=data["rooms"], changes=data.get("changes")
        )

    @event()
    async def on_send_dm(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        who = _who(state)
        draft = Draft.from_payload(who.user_id, who.username, data)
        message, _ = await self.services.direct.send(draft, data["recipient_id"])
        return {"message": message}

    @event()
    async def on_join_room(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        who = _who(state)
        room = await self.services.rooms.join(who.user_id, who.username, data["room_id"])
        return {"room": room}

    @event()
    async def on_leave_room(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        await self.services.rooms.leave(_who(state).user_id, data["room_id"])
        return {"roomId": str(data["room_id"])}

    @event()
    async def on_typing_start(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        who = _who(state)
        await self.services.limiter.hit("typing", who.user_id)
        room_id = await self._typing_room(state, data)
        await self.services.typing.start(who.user_id, room_id)
        return {"roomId": room_id}

    @event()
    async def on_typing_stop(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        await self.services.limiter.hit("typing", _who(state).user_id)
        room_id = await self._typing_room(state, data)
        await self.services.typing.stop_requested(_who(state).user_id, room_id)
        return {"roomId": room_id}

    @event()
    async def on_mark_read(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        return await self.services.reads.mark_read(
            _who(state).user_id,
            seq=data["seq"],
            room_id=data.get("room_id"),
            other_user_id=data.get("user_id"),
        )

    @event()
    async def on_delivered(
        self, sid: str, state: SocketState, data: dict[str, Any]
    ) -> dict[str, Any]:
        """The client received everything up to `seq` in a room or DM (delivery receipt)."""
        return await self.services.reads.mark_delivered(
            _who(state).user_id,
            seq=data["seq"],
            room_id=data.get("room_id"),
            other_user_id=data.get("user_id"),
        )

    def session_sids(self, session_id: str) -> list[str]:
        """This instance's sockets of one login session (a logout disconnects them)."""
        return [
            sid
            for sid, state in self.sockets.items()
            if state.principal is not None and state.principal.session_id == session_id
        ]

    async def follow_membership(self, sid: str, room_id: str, joined: bool) -> None:
        """Move one local socket into or out of a room (membership changed elsewhere)."""
        state = self.sockets.get(sid)
        if state is None:
            return
        if joined:
            await self.enter_room(sid, room_id)
            state.rooms.add(room_id)
        else:
            await self.leave_room(sid, room_id)
            state.rooms.discard(room_id)

    # -- internals ---------------------------------------------------------------------

    async def _typing_room(self, state: SocketState, data: dict[str, Any]) -> str:
        """The room typing refers to; it must be one of this socket's rooms."""
        if "user_id" in data:
            room = await self.services.direct.room_with(_who(state).user_id, data["user_id"])
            room_id = str(room) if room else ""
        else:
            room_id = str(data["room_id"])
        if room_id not in state.rooms:
            raise NotFound("Room not found")
        return room_id

    async def _admit(self, sid: str, state: SocketState, who: Principal) -> None:
        """Mark the socket authenticated and enter it into its user room and chat rooms.

        (No per-session room: one Socket.IO room per socket costs ~3 KB per connection;
        a logout finds its session's sockets with `session_sids` instead.)"""
        await self.services.presence.check_capacity(who.user_id)
        state.principal = who
        self._arm_expiry(sid, state)
        await self.enter_room(sid, user_room(who.user_id))
        arrival = await self.services.reads.arrival(who.user_id)
        if arrival.username and arrival.username != who.username:
            # Renamed since the token was issued: events name the user as they are now.
            who = state.principal = dataclasses.replace(who, username=arrival.username)
        for room_id in arrival.room_ids:
            await self.enter_room(sid, room_id)
            state.rooms.add(room_id)
        # What happened while away: unread counts, and DMs received while offline.
        await self.emit("unread", arrival.unread, to=sid)
        for message in arrival.direct_messages:
            await self.emit("new_dm", {"message": message}, to=sid)
        # Last: a handshake refused by a failure above must not leave a ghost connection
        # in the presence registry (a refused socket gets no disconnect handler call).
        await self.services.presence.connected(who.user_id, who.username, sid)

    def _forget(self, sid: str) -> SocketState | None:
        self._deadlines.cancel(sid)
        return self.sockets.pop(sid, None)

    def _arm_expiry(self, sid: str, state: SocketState) -> None:
        """Drop the socket when its access token expires unless a fresh one arrives."""
        assert state.principal is not None
        delay = max(0.0, state.principal.expires_at - time.time()) + TOKEN_EXPIRY_GRACE_S
        self._deadlines.set(sid, delay)

    def _deadline_passed(self, sid: str) -> None:
        """A socket's deadline: authenticate in time, or its token ran out."""
        state = self.sockets.get(sid)
        if state is not None:
            self._spawn(
                self._drop_unauthenticated if state.principal is None else self._drop_expired, sid
            )

    async def close(self) -> None:
        """Shutdown: no more deadlines fire."""
        await self._deadlines.close()

    def _spawn(self, fn: Callable[[str], Awaitable[Any]], sid: str) -> None:
        task = asyncio.ensure_future(fn(sid))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _drop_unauthenticated(self, sid: str) -> None:
        state = self.sockets.get(sid)
        if state is not None and state.principal is None:
            await self.emit(
                "auth_error", {"message": "Authentication timeout", "code": "auth_timeout"}, to=sid
            )
            await self.disconnect(sid)

    async def _drop_expired(self, sid: str) -> None:
        state = self.sockets.get(sid)
        if (
            state is not None
            and state.principal is not None
            and state.principal.expires_at < time.time()
        ):
            await self.emit(
                "auth_error", {"message": "Token expired", "code": "token_expired"}, to=sid
            )
            await self.disconnect(sid)


def _token_from(auth: Any, environ: dict[str, Any]) -> str | None:
    """The handshake token: `auth: {token}` first, then the browser's httpOnly cookie."""
    if isinstance(auth, dict) and "token" in auth:
        token = auth["token"]
        if (
            not isinstance(token, str)
            or not token
            or len(token) > MAX_TOKEN_CHARS
            or not token.isascii()  # ours are; a lone surrogate would crash the JWT decoder
        ):
            raise InvalidToken()
        return token
    raw = environ.get("HTTP_COOKIE")
    if raw:
        try:
            cookie = SimpleCookie(raw)
        except CookieError:
            return None
        if ACCESS_COOKIE in cookie and cookie[ACCESS_COOKIE].value:
            return cookie[ACCESS_COOKIE].value
    return None
